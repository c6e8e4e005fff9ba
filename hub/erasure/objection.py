"""``hub contacts forget ID --object`` (GDPR art. 21) and its explicit withdrawal.

An objection is a sticky status, ``objected``, not a consent statement: nothing is deleted,
and no later consent statement can lift it by accident (an import granting email marketing
adds a consent row, which stays history while the objection holds). What it blocks:

* every marketing send, on every channel (``hub.consent.may_contact``), scenario steps
  included; transactional and service messages still go;
* the DMP: audiences take only active customers, and no view is built for profiling
  (``hub.egress.build_view``);
* contact syncs, which push active customers only.

Only ``hub contacts forget ID --object --withdraw`` lifts it (the person asked, or the
objection was recorded by mistake); the customer is active again with their consents as they
stand. Both are recorded as ``erasure_requests`` rows (action ``object`` / ``withdraw``) and
audited.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import update
from sqlmodel import Session

from hub.audit import current_actor, record_audit
from hub.erasure.state import ACTIVE, OBJECTED
from hub.identity.merges import follow_merges
from hub.storage.models import Customer, ErasureRequest, table

__all__ = ["OBJECT_ACTION", "WITHDRAW_ACTION", "Objection", "ObjectionRefused", "object_to"]

OBJECT_ACTION = "object"
WITHDRAW_ACTION = "withdraw"


class ObjectionRefused(ValueError):
    """The customer's status does not allow it; the message says which and what to do."""


@dataclass(frozen=True)
class Objection:
    customer_id: str
    status: str
    request_id: int
    withdrawn: bool

    def as_dict(self) -> dict[str, Any]:
        return {
            "customer_id": self.customer_id,
            "status": self.status,
            "request": self.request_id,
            "action": WITHDRAW_ACTION if self.withdrawn else OBJECT_ACTION,
        }


def object_to(
    session: Session,
    customer_id: str,
    *,
    withdraw: bool = False,
    reason: str | None = None,
    actor: str | None = None,
    now: datetime,
) -> Objection:
    """Record an objection (or withdraw one) in the caller's transaction.

    A merged customer's objection is the person's: it lands on the customer it was merged
    into. Raises ``LookupError`` (unknown id) or ``ObjectionRefused``.
    """
    actor = actor or current_actor()
    if session.get(Customer, customer_id) is None:
        raise LookupError("no customer with this id")
    target = follow_merges(session, [customer_id])[customer_id]
    customer = session.get(Customer, target, populate_existing=True, with_for_update=True)
    assert customer is not None
    before, after = (OBJECTED, ACTIVE) if withdraw else (ACTIVE, OBJECTED)
    if customer.status != before:
        if withdraw:
            raise ObjectionRefused(f"customer {target} is {customer.status}, not objected")
        if customer.status == OBJECTED:
            raise ObjectionRefused(f"customer {target} already objected")
        raise ObjectionRefused(
            f"customer {target} is {customer.status}: only an active customer can object"
        )
    session.execute(
        update(table(Customer))
        .where(table(Customer).c.id == target)
        .values(status=after, updated_at=now)
    )
    action = WITHDRAW_ACTION if withdraw else OBJECT_ACTION
    request = ErasureRequest(
        customer_id=target,
        action=action,
        reason=reason[:1000] if reason else None,
        actor=actor,
        status="done",
        requested_at=now,
        completed_at=now,
    )
    session.add(request)
    session.flush()
    assert request.id is not None
    record_audit(
        session,
        action="withdraw_objection" if withdraw else "object",
        customer_id=target,
        request_id=f"erasure:{request.id}",
        actor=actor,
    )
    return Objection(target, after, request.id, withdraw)
