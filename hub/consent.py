"""Consent: append-only records per channel and purpose; the latest statement wins.

Transactional and service messages need no marketing consent; marketing without a granted
consent for that channel is refused. The customer's status comes first: an erased or suppressed
person gets nothing, an objection (art. 21) refuses marketing whatever the consents say
(``hub.erasure.state``). Nothing is ever updated in place, so the history of what
a person agreed to, when and through which wording stays provable.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from contracts import Channel, Consent, ConsentStatus, MessageKind, Purpose
from hub.erasure.state import status_refusal, statuses
from hub.storage.db import chunks
from hub.storage.models import ConsentEntry, table
from hub.storage.types import utcnow
from hub.sync.feed import touch_customers

__all__ = [
    "ConsentVerdict",
    "current_consents",
    "current_consents_many",
    "may_contact",
    "record_consents",
    "record_consents_many",
]

Key = tuple[Channel, Purpose]


def current_consents_many(
    session: Session, customer_ids: Sequence[str]
) -> dict[str, dict[Key, ConsentEntry]]:
    """The latest record per (channel, purpose), for each customer."""
    ids = sorted(set(customer_ids))
    latest: dict[str, dict[Key, ConsentEntry]] = {c: {} for c in ids}
    for chunk in chunks(ids):
        rows = session.exec(
            select(ConsentEntry)
            .where(col(ConsentEntry.customer_id).in_(chunk))
            .order_by(col(ConsentEntry.recorded_at), col(ConsentEntry.id))
        )
        for row in rows:
            latest[row.customer_id][(Channel(row.channel), Purpose(row.purpose))] = row
    return latest


def current_consents(session: Session, customer_id: str) -> dict[Key, ConsentEntry]:
    return current_consents_many(session, [customer_id])[customer_id]


def record_consents_many(
    session: Session, items: Sequence[tuple[str, Sequence[Consent]]]
) -> list[int]:
    """Append the statements that change something; returns how many were appended per item.

    A statement older than the current one for the same channel and purpose is kept for the
    history but does not become current (ordering is by ``recorded_at``).
    """
    now = utcnow()
    stored = current_consents_many(session, [c for c, consents in items if consents])
    latest: dict[str, dict[Key, tuple[str, datetime]]] = {
        c: {k: (e.status, e.recorded_at) for k, e in by_key.items()} for c, by_key in stored.items()
    }
    rows: list[dict[str, object]] = []
    counts = []
    for customer_id, consents in items:
        appended = 0
        for consent in consents:
            key = (consent.channel, consent.purpose)
            current = latest[customer_id].get(key)
            if current is not None and current[0] == consent.status.value:
                continue
            rows.append(
                {
                    "customer_id": customer_id,
                    "channel": consent.channel.value,
                    "purpose": consent.purpose.value,
                    "status": consent.status.value,
                    "source": consent.source,
                    "wording_version": consent.wording_version,
                    "recorded_at": consent.recorded_at,
                    "stored_at": now,
                }
            )
            if current is None or consent.recorded_at >= current[1]:
                latest[customer_id][key] = (consent.status.value, consent.recorded_at)
            appended += 1
        counts.append(appended)
    if rows:
        session.execute(table(ConsentEntry).insert(), rows)
        # A consent change changes what a contact sink may hold: it is a change for the feed.
        touch_customers(session, {str(row["customer_id"]) for row in rows}, now)
    return counts


def record_consents(session: Session, customer_id: str, consents: Sequence[Consent]) -> int:
    return record_consents_many(session, [(customer_id, consents)])[0]


@dataclass(frozen=True)
class ConsentVerdict:
    allowed: bool
    reason: str


def may_contact(
    session: Session, customer_id: str, channel: Channel, kind: MessageKind
) -> ConsentVerdict:
    """May the hub contact this customer on ``channel`` for a message of ``kind``?"""
    refusal = status_refusal(
        statuses(session, [customer_id]).get(customer_id), marketing=kind is MessageKind.MARKETING
    )
    if refusal is not None:
        return ConsentVerdict(False, refusal)
    if kind is not MessageKind.MARKETING:
        return ConsentVerdict(True, f"{kind.value} messages need no marketing consent")
    entry = current_consents(session, customer_id).get((channel, Purpose.MARKETING))
    if entry is None:
        return ConsentVerdict(False, f"no marketing consent recorded for {channel.value}")
    if entry.status != ConsentStatus.GRANTED.value:
        return ConsentVerdict(
            False, f"marketing consent for {channel.value} was denied (source: {entry.source})"
        )
    return ConsentVerdict(True, f"marketing consent for {channel.value} granted")
