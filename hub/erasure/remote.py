"""The erase calls owed to bricks: one ``erasure_steps`` row each, made through the core's
retries, recorded one by one, and resumable.

A step is ``pending`` until tried, then ``done`` or ``failed`` (with the error; ``hub contacts
forget --resume`` tries every failed or pending step again), or ``not_applicable`` when the
brick cannot be asked (no erase call, or no longer installed). Each call writes, in the
transaction that records its step, an ``audit_log`` row (action ``erase``: brick, pseudonym,
request id; never a value). A confirmed erase updates ``sink_contacts``: an erased person's
row goes; a decommissioned brick's customer (still active in the hub) keeps a row in state
``erased``, so the brick no longer counts as holding them. A request is ``done`` when all its
steps are done or not applicable, ``failed`` while one failed.

The call is made outside any transaction: a crash between the vendor's answer and the record
leaves the step ``pending``, and erasing twice is harmless (bricks treat a missing contact as
erased).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert, select, update

from contracts import BrickError, ContactSink
from hub.audit import current_actor, record_audit
from hub.erasure.holdings import ERASED_AT_SINK
from hub.erasure.local import NOT_APPLICABLE, step_status
from hub.erasure.state import ERASE_ACTION
from hub.logs import get_logger
from hub.retries import RetryPolicy, call_with_retries
from hub.runtime import Runtime
from hub.storage.db import chunks, session_scope
from hub.storage.models import ErasureRequest, ErasureStep, SinkContact, table
from hub.storage.types import utcnow

__all__ = ["DONE", "FAILED", "StepResult", "load_steps", "run_steps", "settle_requests"]

DONE = "done"
FAILED = "failed"
PENDING = "pending"
log = get_logger(__name__)

_STEPS = table(ErasureStep)
_REQUESTS = table(ErasureRequest)
_SINKS = table(SinkContact)


@dataclass(frozen=True)
class StepResult:
    request_id: int
    customer_id: str
    action: str
    brick: str
    pseudonym: str
    status: str
    attempts: int
    error: str | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "request": self.request_id,
            "customer_id": self.customer_id,
            "brick": self.brick,
            "pseudonym": self.pseudonym,
            "status": self.status,
            "attempts": self.attempts,
            "error": self.error,
        }


def load_steps(
    runtime: Runtime,
    *,
    request_ids: Sequence[int] | None = None,
    statuses: Sequence[str] | None = None,
    brick: str | None = None,
) -> list[StepResult]:
    """Steps (with their request's customer and action), by request then brick."""
    query = select(
        _STEPS, _REQUESTS.c.customer_id, _REQUESTS.c.action
    ).join(_REQUESTS, _REQUESTS.c.id == _STEPS.c.request_id)
    if statuses is not None:
        query = query.where(_STEPS.c.status.in_(statuses))
    if brick is not None:
        query = query.where(_STEPS.c.brick == brick)
    found: list[StepResult] = []
    with runtime.engine.connect() as connection:
        groups = chunks(sorted(set(request_ids))) if request_ids is not None else [None]
        for chunk in groups:
            ranged = query if chunk is None else query.where(_STEPS.c.request_id.in_(chunk))
            for row in connection.execute(ranged):
                found.append(
                    StepResult(
                        row.request_id, row.customer_id, row.action, row.brick, row.pseudonym,
                        row.status, row.attempts, row.last_error,
                    )
                )
    return sorted(found, key=lambda s: (s.request_id, s.brick))


async def _erase(
    runtime: Runtime,
    step: StepResult,
    policy: RetryPolicy,
    sleep: Callable[[float], Awaitable[None]],
) -> tuple[str, str | None]:
    status, note = step_status(runtime.bricks, step.brick)
    if status == NOT_APPLICABLE:
        return NOT_APPLICABLE, note
    try:
        brick = runtime.brick(step.brick, erasing=True)
    except KeyError as exc:
        return FAILED, f"{exc.args[0]}; enable it in config, then `hub contacts forget --resume`"
    if not isinstance(brick, ContactSink):
        return NOT_APPLICABLE, f"brick {step.brick!r} does not implement erase"
    try:
        await call_with_retries(
            lambda: brick.erase(step.pseudonym), policy, what=f"{step.brick}.erase", sleep=sleep
        )
    except BrickError as exc:
        return FAILED, f"{type(exc).__name__}: {exc.message}"[:1000]
    except Exception as exc:  # a brick bug must not stop the other steps
        log.exception("erase call crashed", brick=step.brick, error_type=type(exc).__name__)
        return FAILED, f"{type(exc).__name__} in brick {step.brick!r} (details in the log)"
    return DONE, None


def _record(runtime: Runtime, step: StepResult, status: str, error: str | None,
            actor: str, now: datetime) -> StepResult:
    with session_scope(runtime.engine) as session:
        attempts = step.attempts + (0 if status == NOT_APPLICABLE else 1)
        session.execute(
            update(_STEPS)
            .where(_STEPS.c.request_id == step.request_id, _STEPS.c.brick == step.brick)
            .values(status=status, attempts=attempts, last_error=error, updated_at=now)
        )
        if status == NOT_APPLICABLE:
            return _with(step, status, attempts, error)
        record_audit(
            session,
            action="erase",
            customer_id=step.customer_id,
            brick=step.brick,
            pseudonym=step.pseudonym,
            request_id=f"erasure:{step.request_id}",
            actor=actor,
        )
        if status == DONE:
            session.execute(
                delete(_SINKS).where(
                    _SINKS.c.sink == step.brick, _SINKS.c.customer_id == step.customer_id
                )
            )
            if step.action != ERASE_ACTION:  # the customer stays: remember the brick is clean
                session.execute(
                    insert(_SINKS).values(
                        sink=step.brick,
                        customer_id=step.customer_id,
                        pseudonym=step.pseudonym,
                        state=ERASED_AT_SINK,
                        view_digest=None,
                        fields="",
                        updated_at=now,
                    )
                )
    return _with(step, status, attempts, error)


def _with(step: StepResult, status: str, attempts: int, error: str | None) -> StepResult:
    return StepResult(
        step.request_id, step.customer_id, step.action, step.brick, step.pseudonym,
        status, attempts, error,
    )


def settle_requests(runtime: Runtime, request_ids: Sequence[int]) -> None:
    """Each request's status from its steps: done, failed or pending."""
    now = utcnow()
    with session_scope(runtime.engine) as session:
        for chunk in chunks(sorted(set(request_ids))):
            states: dict[int, set[str]] = {i: set() for i in chunk}
            for row in session.execute(
                select(_STEPS.c.request_id, _STEPS.c.status).where(
                    _STEPS.c.request_id.in_(chunk)
                )
            ):
                states[row.request_id].add(row.status)
            for request_id, seen in states.items():
                if seen <= {DONE, NOT_APPLICABLE}:
                    values: dict[str, Any] = {"status": DONE, "completed_at": now}
                else:
                    values = {"status": FAILED if FAILED in seen else PENDING}
                session.execute(
                    update(_REQUESTS).where(_REQUESTS.c.id == request_id).values(**values)
                )


async def run_steps(
    runtime: Runtime,
    steps: Sequence[StepResult],
    *,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    progress: Callable[[StepResult], None] | None = None,
    actor: str | None = None,
) -> list[StepResult]:
    """Try each step (pending or failed) once, through the core's retries; returns the steps
    as recorded, in order. Requests are settled at the end."""
    policy = RetryPolicy.from_settings(runtime.settings.sending)
    actor = actor or current_actor()
    done: list[StepResult] = []
    for step in steps:
        if step.status in (DONE, NOT_APPLICABLE):
            done.append(step)
            continue
        status, error = await _erase(runtime, step, policy, sleep)
        recorded = _record(runtime, step, status, error, actor, utcnow())
        done.append(recorded)
        if progress is not None:
            progress(recorded)
    settle_requests(runtime, [s.request_id for s in steps])
    return done
