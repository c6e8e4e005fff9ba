"""The ``sends`` table: one row per (brick, idempotency key), claimed before a brick is called.

The row is what makes a send safe to repeat. A second call with the same key finds it: an
accepted send is reported again without reaching the vendor (Twilio, SMTP and other vendors
without an idempotency key would deliver twice); a send still ``pending`` (in flight in another
process, or cut off by a crash) is reported ``in_doubt`` and never blindly re-sent; a send that
was refused, deferred or failed may be attempted again, each attempt counted.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import insert, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from hub.storage.models import SendRecord, table
from hub.storage.types import utcnow

__all__ = ["Claim", "SendState", "claim_send", "finish_send"]

_SENDS = table(SendRecord)


class SendState(StrEnum):
    PENDING = "pending"
    """Claimed: the core is deciding or the brick call is in flight."""
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    FAILED = "failed"
    REFUSED = "refused"
    DEFERRED = "deferred"
    IN_DOUBT = "in_doubt"
    """Was in flight when its process stopped: an operator decides (never re-sent blindly)."""


#: States from which a new attempt under the same key may start.
RETRYABLE_STATES = frozenset(
    {SendState.REJECTED, SendState.FAILED, SendState.REFUSED, SendState.DEFERRED}
)


@dataclass(frozen=True)
class Claim:
    """The outcome of claiming a key: ours to send (``attempt`` >= 1) or someone else's."""

    request_id: str
    attempt: int
    state: SendState
    vendor_message_id: str | None = None

    @property
    def ours(self) -> bool:
        return self.state is SendState.PENDING and self.attempt > 0


def claim_send(
    engine: Engine,
    *,
    request_id: str,
    idempotency_key: str,
    brick: str,
    customer_id: str,
    channel: str,
    scenario: str,
    kind: str,
    template: str,
    now: datetime | None = None,
) -> Claim:
    """Insert the row, or take over a finished attempt; report an accepted or pending one.

    Both steps are single statements (an insert guarded by the unique key, then a conditional
    update), so two processes racing on one key cannot both win. ``now`` stamps the row (a
    simulation's virtual clock; default the real time).
    """
    now = now or utcnow()
    row = {
        "request_id": request_id,
        "idempotency_key": idempotency_key,
        "brick": brick,
        "customer_id": customer_id,
        "channel": channel,
        "scenario": scenario,
        "kind": kind,
        "template": template,
        "status": SendState.PENDING.value,
        "attempts": 1,
        "created_at": now,
        "updated_at": now,
    }
    try:
        with engine.begin() as connection:
            connection.execute(insert(_SENDS).values(**row))
        return Claim(request_id, 1, SendState.PENDING)
    except IntegrityError:
        pass
    key = (_SENDS.c.brick == brick) & (_SENDS.c.idempotency_key == idempotency_key)
    with engine.begin() as connection:
        taken = connection.execute(
            update(_SENDS)
            .where(key, _SENDS.c.status.in_([s.value for s in RETRYABLE_STATES]))
            .values(
                status=SendState.PENDING.value,
                attempts=_SENDS.c.attempts + 1,
                error_code=None,
                error_message=None,
                updated_at=now,
            )
            .returning(_SENDS.c.request_id, _SENDS.c.attempts)
        ).first()
        if taken is not None:
            return Claim(taken.request_id, taken.attempts, SendState.PENDING)
        existing = connection.execute(
            select(_SENDS.c.request_id, _SENDS.c.status, _SENDS.c.vendor_message_id).where(key)
        ).one()
    state = SendState(existing.status)
    if state is SendState.PENDING:
        state = SendState.IN_DOUBT  # someone else's attempt: never ours to repeat
    return Claim(existing.request_id, 0, state, existing.vendor_message_id)


def finish_send(
    engine: Engine,
    request_id: str,
    state: SendState,
    *,
    reservation_id: int | None = None,
    vendor_message_id: str | None = None,
    error_code: str | None = None,
    error_message: str | None = None,
    now: datetime | None = None,
) -> None:
    """Record how the attempt ended (error text is already free of personal data)."""
    with engine.begin() as connection:
        connection.execute(
            update(_SENDS)
            .where(_SENDS.c.request_id == request_id)
            .values(
                status=state.value,
                reservation_id=reservation_id,
                vendor_message_id=vendor_message_id,
                error_code=error_code,
                error_message=None if error_message is None else error_message[:1000],
                updated_at=now or utcnow(),
            )
        )
