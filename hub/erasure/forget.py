"""``hub contacts forget`` (GDPR art. 17): the local erasure, then the erase calls, then resume.

The local part (``hub.erasure.local``) commits first, in one transaction: once it has, the
person is gone from the hub whatever happens to the calls. The erase calls follow, one step per
brick (``hub.erasure.remote``); a step that failed after the core's retries stays ``failed``
and ``forget --resume`` tries it again. Forgetting someone already erased makes no new local
change and retries their unfinished steps.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from sqlmodel import Session, select

from hub.audit import current_actor
from hub.erasure.local import erase_locally, family_of
from hub.erasure.remote import FAILED, PENDING, StepResult, load_steps, run_steps
from hub.erasure.remote import settle_requests as settle
from hub.erasure.state import ERASE_ACTION, ERASED
from hub.runtime import Runtime
from hub.storage.db import session_scope
from hub.storage.models import Customer, ErasureRequest
from hub.storage.types import utcnow

__all__ = ["ForgetReport", "PersonNotFound", "forget", "resume"]


class PersonNotFound(LookupError):
    """Nobody matches; the message says why (never the value looked up)."""


@dataclass
class ForgetReport:
    customer_id: str
    #: Every customer erased: the one named (or the one it was merged into) first.
    customers: list[str]
    requests: dict[str, int]
    steps: list[StepResult]
    removed: dict[str, int] = field(default_factory=dict)
    suppressions: int = 0
    dead_letters: int = 0
    #: The person was erased before: nothing local was done again.
    already_erased: bool = False

    @property
    def complete(self) -> bool:
        return not any(s.status in (FAILED, PENDING) for s in self.steps)

    def as_dict(self) -> dict[str, Any]:
        return {
            "customer_id": self.customer_id,
            "status": ERASED,
            "already_erased": self.already_erased,
            "customers": self.customers,
            "requests": self.requests,
            "removed": self.removed,
            "suppressions": self.suppressions,
            "dead_letters": self.dead_letters,
            "steps": [s.as_dict() for s in self.steps],
            "complete": self.complete,
        }


def _earlier(session: Session, customers: list[str]) -> dict[str, int]:
    """The latest erase request of each customer."""
    found: dict[str, int] = {}
    for row in session.exec(
        select(ErasureRequest)
        .where(ErasureRequest.action == ERASE_ACTION)
        .where(ErasureRequest.customer_id.in_(customers))  # type: ignore[attr-defined]
        .order_by(ErasureRequest.id)  # type: ignore[arg-type]
    ):
        found[row.customer_id] = row.id or 0
    return found


async def forget(
    runtime: Runtime,
    customer_id: str,
    *,
    reason: str | None = None,
    actor: str | None = None,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> ForgetReport:
    """Erase the person locally (one transaction), then ask every brick holding them to erase.

    Raises ``PersonNotFound`` for an unknown id.
    """
    actor = actor or current_actor()
    engine = runtime.ready_engine()
    with session_scope(engine) as session:
        customer = session.get(Customer, customer_id)
        if customer is None:
            raise PersonNotFound("no customer with this id")
        if customer.status == ERASED:
            customers = family_of(session, customer_id)
            report = ForgetReport(customer_id, customers, _earlier(session, customers), [],
                                  already_erased=True)
        else:
            local = erase_locally(
                session, runtime.identity, runtime.bricks, customer_id,
                reason=reason, actor=actor, now=utcnow(),
            )
            report = ForgetReport(
                customer_id, local.customers, local.requests, [], local.removed,
                local.suppressions, local.dead_letters,
            )
    steps = load_steps(runtime, request_ids=list(report.requests.values()))
    report.steps = await run_steps(runtime, steps, sleep=sleep, actor=actor)
    settle(runtime, list(report.requests.values()))
    return report


async def resume(
    runtime: Runtime,
    *,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    progress: Callable[[StepResult], None] | None = None,
) -> list[StepResult]:
    """Try every pending or failed erase step of every request again."""
    runtime.ready_engine()
    steps = load_steps(runtime, statuses=[PENDING, FAILED])
    return await run_steps(runtime, steps, sleep=sleep, progress=progress)

