"""Delivery outcomes: stored against the send they concern; opt-outs reach every brick.

A vendor reports what became of a message (delivered, opened, bounced...) naming it by its own
message id and the person by the brick's pseudonym. The core maps each outcome back to the send
(``sends``: brick + vendor message id), else to the customer (``brick_pseudonyms``), and stores
it once per vendor event id, so a webhook the vendor retries is not counted twice. An outcome
the core cannot map is still stored (``customer_id`` empty) and counted: nothing is dropped.

A hard bounce, a complaint or an unsubscribe means the channel must not be used for marketing
any more, whichever brick sends next: the core records the channel's marketing consent as
denied (with an audit row), commits, and only then tells every *other* enabled contact sink
that holds the person, through a minimised view whose ``opted_out`` lists the channel. A sink
that cannot be told is dead-lettered (``kind="propagation"``); the consent change stands.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from contracts import (
    CONSENT_REVOKING_OUTCOMES,
    BrickContext,
    BrickError,
    Capability,
    Consent,
    ConsentStatus,
    Outcome,
    Purpose,
)
from hub.audit import record_audit
from hub.config import ConfiguredBrick
from hub.consent import record_consents
from hub.coroutines import run_coroutine
from hub.dead_letters import store_dead_letter
from hub.egress import BrickNotEnabled, build_view
from hub.logs import get_logger
from hub.retries import RetryPolicy, call_with_retries
from hub.runtime import Runtime
from hub.storage.db import session_scope
from hub.storage.models import BrickPseudonym, OutcomeRecord, SendRecord, table
from hub.storage.types import utcnow

__all__ = ["OutcomeReport", "Revocation", "record_outcomes", "tell_sink"]

log = get_logger(__name__)


@dataclass(frozen=True)
class Revocation:
    """A marketing consent an outcome withdrew, and what telling the other bricks gave."""

    customer_id: str
    channel: str
    reported_by: str
    outcome: str
    propagated_to: tuple[str, ...] = ()
    #: Brick name -> dead letter id, for the sinks that could not be told.
    failed: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class OutcomeReport:
    """``stored``: new rows (matched or not); ``duplicates``: vendor events seen before;
    ``unmatched``: stored rows the core could not tie to a send or a customer."""

    stored: int
    duplicates: int
    unmatched: int
    #: Stored outcomes per type (``bounced_hard``...): what metrics count.
    by_type: dict[str, int] = field(default_factory=dict)
    revocations: list[Revocation] = field(default_factory=list)

    @property
    def propagation_failures(self) -> int:
        return sum(len(revocation.failed) for revocation in self.revocations)


def record_outcomes(
    runtime: Runtime,
    brick: str,
    outcomes: Sequence[Outcome],
    *,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> OutcomeReport:
    """Store ``outcomes`` reported by ``brick``; revoke and propagate consent where due.

    Synchronous (database work and, for revocations, the sinks' calls on a private event
    loop): call it from a worker thread in async code. ``sleep`` paces the core's retries of
    a sink's call (tests pass a no-op).
    """
    engine = runtime.ready_engine()
    stored: list[Outcome] = []
    pending: list[Revocation] = []
    duplicates = unmatched = 0
    with session_scope(engine) as session:
        for outcome in outcomes:
            request_id, customer_id = _match(session, runtime, brick, outcome)
            if not _insert(session, brick, outcome, request_id, customer_id):
                duplicates += 1
                continue
            stored.append(outcome)
            if customer_id is None:
                unmatched += 1
            elif outcome.type in CONSENT_REVOKING_OUTCOMES:
                revocation = _revoke(session, brick, outcome, customer_id, request_id)
                if revocation is not None:
                    pending.append(revocation)
    for outcome in stored:
        runtime.plugins.notify("hub_outcome_recorded", brick=brick, outcome=outcome)
    revocations = [_propagate(runtime, revocation, sleep) for revocation in pending]
    by_type = Counter(outcome.type.value for outcome in stored)
    log.info(
        "outcomes recorded",
        brick=brick,
        stored=len(stored),
        duplicates=duplicates,
        unmatched=unmatched,
        revoked=len(revocations),
    )
    return OutcomeReport(len(stored), duplicates, unmatched, dict(by_type), revocations)


def _match(
    session: Session, runtime: Runtime, brick: str, outcome: Outcome
) -> tuple[str | None, str | None]:
    """(request id, customer id): by the send's vendor message id, else by pseudonym."""
    if outcome.vendor_message_id:
        row = session.execute(
            select(SendRecord.request_id, SendRecord.customer_id)
            .where(SendRecord.brick == brick)
            .where(SendRecord.vendor_message_id == outcome.vendor_message_id)
            .limit(1)
        ).first()
        if row is not None:
            return row[0], row[1]
    if outcome.pseudonym:
        return None, runtime.identity.customer_for_pseudonym(session, brick, outcome.pseudonym)
    return None, None


def _insert(
    session: Session,
    brick: str,
    outcome: Outcome,
    request_id: str | None,
    customer_id: str | None,
) -> bool:
    """Insert the row; ``False`` when the vendor event was stored before (a retried webhook).

    The unique key decides, inside a savepoint, so two deliveries racing on one event cannot
    both store it. Events without a vendor id cannot be told apart: each call keeps its row.
    """
    now = utcnow()
    row = {
        "brick": brick,
        "type": outcome.type.value,
        "channel": outcome.channel.value,
        "customer_id": customer_id,
        "request_id": request_id,
        "vendor_message_id": outcome.vendor_message_id,
        "vendor_event_id": outcome.vendor_event_id,
        "vendor_status": outcome.vendor_status,
        "reason": outcome.reason,
        "occurred_at": outcome.occurred_at,
        "received_at": now,
    }
    try:
        with session.begin_nested():
            session.execute(insert(table(OutcomeRecord)).values(**row))
    except IntegrityError:
        return False
    return True


def _revoke(
    session: Session, brick: str, outcome: Outcome, customer_id: str, request_id: str | None
) -> Revocation | None:
    """Deny the channel's marketing consent; ``None`` when it was already denied.

    The statement is dated when the vendor saw it (never in the future), so a consent the
    person gave again *after* the bounce or unsubscribe still wins, as it should.
    """
    consent = Consent(
        channel=outcome.channel,
        purpose=Purpose.MARKETING,
        status=ConsentStatus.DENIED,
        source=f"{brick}:{outcome.type.value}",
        recorded_at=min(outcome.occurred_at, utcnow()),
    )
    if record_consents(session, customer_id, [consent]) == 0:
        return None
    record_audit(
        session,
        action="consent_revoked",
        customer_id=customer_id,
        brick=brick,
        pseudonym=outcome.pseudonym,
        fields=[f"consent.{outcome.channel.value}"],
        purpose=Purpose.MARKETING.value,
        request_id=request_id,
    )
    return Revocation(customer_id, outcome.channel.value, brick, outcome.type.value)


def _sinks_holding(runtime: Runtime, revocation: Revocation) -> list[ConfiguredBrick]:
    """Enabled contact sinks, other than the reporting brick, that ever received the person."""
    candidates = [
        configured
        for name, configured in runtime.bricks.items()
        if name != revocation.reported_by
        and configured.enabled
        and Capability.CONTACT_SINK in configured.cls.capabilities
    ]
    if not candidates:
        return []
    with session_scope(runtime.engine) as session:
        holders = set(
            session.execute(
                select(BrickPseudonym.brick).where(
                    BrickPseudonym.customer_id == revocation.customer_id
                )
            ).scalars()
        )
    return [configured for configured in candidates if configured.name in holders]


def _propagate(
    runtime: Runtime, revocation: Revocation, sleep: Callable[[float], Awaitable[None]]
) -> Revocation:
    """Tell each sink holding the person; a failure is dead-lettered, never raised."""
    told: list[str] = []
    failed: dict[str, int] = {}
    for configured in _sinks_holding(runtime, revocation):
        reason = tell_sink(runtime, configured, revocation.customer_id, sleep=sleep)
        if reason is None:
            told.append(configured.name)
            continue
        with session_scope(runtime.engine) as session:
            entry = store_dead_letter(
                session,
                runtime.vault,
                kind="propagation",
                source=configured.name,
                reference=revocation.customer_id,
                reason=reason,
                payload={
                    "customer_id": revocation.customer_id,
                    "brick": configured.name,
                    "channel": revocation.channel,
                    "reported_by": revocation.reported_by,
                    "outcome": revocation.outcome,
                },
            )
        failed[configured.name] = entry.id or 0
        log.warning(
            "opt-out not propagated",
            brick=configured.name,
            reported_by=revocation.reported_by,
            dead_letter_id=entry.id,
        )
    return Revocation(
        revocation.customer_id,
        revocation.channel,
        revocation.reported_by,
        revocation.outcome,
        tuple(told),
        failed,
    )


def tell_sink(
    runtime: Runtime,
    configured: ConfiguredBrick,
    customer_id: str,
    *,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> str | None:
    """Upsert the sink's minimised view (egress audited); the failure's reason, or ``None``.

    The view carries the person's *current* opt-outs, so a replayed propagation
    (``hub events replay``) tells the sink today's state, not the state of the failed call.
    """
    purpose = Purpose.MARKETING if Purpose.MARKETING in configured.purposes else None
    purpose = purpose or min(configured.purposes, default=Purpose.MARKETING)
    try:
        with session_scope(runtime.engine) as session:
            view = build_view(
                session,
                runtime.identity,
                configured,
                customer_id,
                purpose=purpose,
                request_id=uuid.uuid4().hex,
            )
    except BrickNotEnabled as exc:
        return str(exc)
    policy = RetryPolicy.from_settings(runtime.settings.sending)

    async def upsert() -> Any:
        # A private instance on a private loop: the runtime's shared instance may hold an
        # HTTP client bound to another event loop (the server's).
        sink: Any = configured.cls(
            configured.settings,  # type: ignore[arg-type]  # enabled bricks have settings
            BrickContext(
                name=configured.name,
                data_dir=Path(runtime.settings.data_dir),
                public_base_url=runtime.settings.public_base_url,
            ),
        )
        try:
            return await call_with_retries(
                lambda: sink.upsert([view]), policy, what=f"{configured.name}.upsert", sleep=sleep
            )
        finally:
            await sink.aclose()

    try:
        results = run_coroutine(upsert())
    except BrickError as exc:
        return f"{type(exc).__name__}: {exc.message}"[:1000]
    except Exception as exc:  # a broken plugin must not undo the consent change
        return f"{type(exc).__name__} in {configured.name}.upsert"
    if len(results) != 1:
        return f"{configured.name}.upsert answered {len(results)} results for 1 contact"
    error = getattr(results[0], "error", None)
    if error:
        return f"refused by {configured.name}: {error}"[:1000]
    return None

