"""``hub bricks decommission|reinstate|list``: taking a brick out of service, in the database.

A decommission is a ``brick_decommissions`` row without ``reinstated_at``. From the moment it
commits, every runtime marks the brick ``decommissioned`` whatever config says (the check runs
each time the engine is made ready, so a running worker or server sees it at its next unit of
work), and every door that checks ``ConfiguredBrick.enabled`` refuses it: sends fall back to
the next enabled sender of the channel or fail naming the brick, syncs refuse it, webhooks and
polls stop, no view is built for it. No file of the core or of config changes, and the brick
can then be uninstalled: the row (and the audit history) stays, naming it.

``--erase-remote`` then asks the brick to erase every customer it holds (``hub.erasure.
holdings``), one ``erasure_requests`` row (action ``decommission``) and one step per customer,
through the same step machinery as ``hub contacts forget`` (``hub.erasure.remote``): the core's
retries, an ``erase`` audit row per call, a per-customer status, and resumption (run the
command again, or ``hub contacts forget --resume``). The row's status tells where it stands:
``decommissioned`` (no remote erasure asked), ``erasing``, ``erased``, ``erase_failed``;
``reinstated`` once ``hub bricks reinstate`` brought the brick back.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import insert, select, update
from sqlmodel import Session, col
from sqlmodel import select as orm_select

from contracts import Capability
from hub.audit import current_actor, record_audit
from hub.erasure.holdings import held_at_brick
from hub.erasure.local import NOT_APPLICABLE
from hub.erasure.remote import DONE, FAILED, PENDING, StepResult, load_steps, run_steps
from hub.erasure.state import ERASED, statuses
from hub.runtime import Runtime
from hub.storage.db import chunks, session_scope
from hub.storage.models import (
    BrickDecommission,
    BrickPseudonym,
    ErasureRequest,
    ErasureStep,
    SinkContact,
    table,
)
from hub.storage.types import utcnow

__all__ = [
    "DECOMMISSION_ACTION",
    "DecommissionRefused",
    "active_decommission",
    "decommission",
    "erase_remote",
    "known_bricks",
    "pending_erasures",
    "reinstate",
]

DECOMMISSION_ACTION = "decommission"
_DECOMMISSIONS = table(BrickDecommission)
_REQUESTS = table(ErasureRequest)


class DecommissionRefused(ValueError):
    """The brick cannot be decommissioned or reinstated as asked; the message says why."""


def active_decommission(session: Session, name: str) -> BrickDecommission | None:
    """The decommission of ``name`` in force (not reinstated), if any."""
    return session.exec(
        orm_select(BrickDecommission)
        .where(BrickDecommission.brick == name, col(BrickDecommission.reinstated_at).is_(None))
        .order_by(col(BrickDecommission.id).desc())
    ).first()


def known_bricks(session: Session, runtime: Runtime) -> set[str]:
    """Installed bricks, plus those the database remembers (held data, pseudonyms, rows)."""
    names = set(runtime.bricks)
    names.update(session.execute(select(table(SinkContact).c.sink).distinct()).scalars())
    names.update(session.execute(select(table(BrickPseudonym).c.brick).distinct()).scalars())
    names.update(session.execute(select(_DECOMMISSIONS.c.brick).distinct()).scalars())
    return names


def _check_erasable(runtime: Runtime, name: str) -> None:
    configured = runtime.bricks.get(name)
    if configured is None:
        raise DecommissionRefused(
            f"--erase-remote: brick {name!r} is not installed, so it cannot be asked to erase"
        )
    if Capability.CONTACT_SINK not in configured.cls.capabilities:
        raise DecommissionRefused(
            f"--erase-remote: brick {name!r} has no erase call (it is not a contact sink); "
            "decommission it without --erase-remote"
        )
    if configured.settings is None:
        raise DecommissionRefused(
            f"--erase-remote: brick {name!r} is {configured.status} in config: enable it "
            "(with its credentials) so it can be asked to erase"
        )


@dataclass(frozen=True)
class Decommissioned:
    id: int
    brick: str
    at: datetime
    status: str
    erase_remote: bool
    already: bool


def decommission(
    runtime: Runtime,
    name: str,
    *,
    erase_remote: bool = False,
    reason: str | None = None,
    actor: str | None = None,
) -> Decommissioned:
    """Record the decommission (or find the one in force); raises ``DecommissionRefused``."""
    actor = actor or current_actor()
    engine = runtime.ready_engine()
    now = utcnow()
    with session_scope(engine) as session:
        if name not in known_bricks(session, runtime):
            installed = ", ".join(sorted(runtime.bricks)) or "none"
            raise DecommissionRefused(f"no brick named {name!r} (installed: {installed})")
        if erase_remote:
            _check_erasable(runtime, name)
        row = active_decommission(session, name)
        already = row is not None
        if row is None:
            row = BrickDecommission(
                brick=name,
                actor=actor,
                reason=reason[:1000] if reason else None,
                erase_remote=erase_remote,
                status="erasing" if erase_remote else "decommissioned",
                at=now,
            )
            session.add(row)
            session.flush()
            record_audit(session, action="decommission", brick=name, actor=actor,
                         request_id=f"decommission:{row.id}")
        elif erase_remote and row.status != "erased":
            row.erase_remote, row.status = True, "erasing"
        assert row.id is not None
        result = Decommissioned(row.id, name, row.at, row.status, row.erase_remote, already)
    runtime.ready_engine()  # the runtime sees it at once
    return result


def pending_erasures(runtime: Runtime, name: str, decommission_id: int) -> list[StepResult]:
    """The steps to run: unfinished ones from earlier runs, plus new ones for every customer
    the brick still holds and no step covers yet."""
    earlier = [
        s for s in load_steps(runtime, brick=name, statuses=[PENDING, FAILED])
        if s.action == DECOMMISSION_ACTION
    ]
    covered = {s.customer_id for s in earlier}
    now, actor = utcnow(), current_actor()
    with session_scope(runtime.engine) as session:
        held = held_at_brick(session, name)
        state = statuses(session, held)
        wanted = sorted(c for c in held if c not in covered and state.get(c) != ERASED)
        new_ids: list[int] = []
        for chunk in chunks(wanted):
            result = session.execute(
                insert(_REQUESTS).returning(_REQUESTS.c.id, sort_by_parameter_order=True),
                [
                    {
                        "customer_id": c,
                        "action": DECOMMISSION_ACTION,
                        "reason": f"brick {name} decommissioned (#{decommission_id})",
                        "actor": actor,
                        "status": PENDING,
                        "requested_at": now,
                    }
                    for c in chunk
                ],
            )
            ids = [row[0] for row in result]
            new_ids.extend(ids)
            session.execute(
                insert(table(ErasureStep)),
                [
                    {
                        "request_id": request_id,
                        "brick": name,
                        "pseudonym": held[c],
                        "status": PENDING,
                        "attempts": 0,
                        "last_error": None,
                        "updated_at": now,
                    }
                    for request_id, c in zip(ids, chunk, strict=True)
                ],
            )
    return earlier + load_steps(runtime, request_ids=new_ids)


async def erase_remote(
    runtime: Runtime,
    name: str,
    decommission_id: int,
    *,
    steps: list[StepResult] | None = None,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    progress: Callable[[StepResult], None] | None = None,
) -> list[StepResult]:
    """Ask the decommissioned brick to erase every customer it holds; resumable. ``steps``:
    what ``pending_erasures`` returned, when the caller needed the count first."""
    if steps is None:
        steps = pending_erasures(runtime, name, decommission_id)
    results = await run_steps(runtime, steps, sleep=sleep, progress=progress)
    complete = all(s.status in (DONE, NOT_APPLICABLE) for s in results)
    with session_scope(runtime.engine) as session:
        session.execute(
            update(_DECOMMISSIONS)
            .where(_DECOMMISSIONS.c.id == decommission_id)
            .values(status="erased" if complete else "erase_failed")
        )
    return results


def reinstate(runtime: Runtime, name: str, *, actor: str | None = None) -> Decommissioned:
    """Bring a decommissioned brick back (config decides again whether it is enabled)."""
    actor = actor or current_actor()
    engine = runtime.ready_engine()
    with session_scope(engine) as session:
        row = active_decommission(session, name)
        if row is None:
            raise DecommissionRefused(f"brick {name!r} is not decommissioned")
        row.reinstated_at, row.status = utcnow(), "reinstated"
        record_audit(session, action="reinstate", brick=name, actor=actor,
                     request_id=f"decommission:{row.id}")
        assert row.id is not None
        result = Decommissioned(row.id, name, row.at, row.status, row.erase_remote, True)
    runtime.ready_engine()
    return result
