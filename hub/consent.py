"""Consent: append-only records per channel and purpose; the latest statement wins.

Transactional and service messages need no marketing consent; marketing without a granted
consent for that channel is refused. Nothing is ever updated in place, so the history of what
a person agreed to, when and through which wording stays provable.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlmodel import Session, col, select

from contracts import Channel, Consent, ConsentStatus, MessageKind, Purpose
from hub.storage.models import ConsentEntry

__all__ = ["ConsentVerdict", "current_consents", "may_contact", "record_consents"]


def current_consents(
    session: Session, customer_id: str
) -> dict[tuple[Channel, Purpose], ConsentEntry]:
    """The latest record per (channel, purpose)."""
    rows = session.exec(
        select(ConsentEntry)
        .where(ConsentEntry.customer_id == customer_id)
        .order_by(col(ConsentEntry.recorded_at), col(ConsentEntry.id))
    )
    latest: dict[tuple[Channel, Purpose], ConsentEntry] = {}
    for row in rows:
        latest[(Channel(row.channel), Purpose(row.purpose))] = row
    return latest


def record_consents(session: Session, customer_id: str, consents: Iterable[Consent]) -> int:
    """Append the statements that change something; returns how many were appended.

    A statement older than the current one for the same channel and purpose is kept for the
    history but does not become current (ordering is by ``recorded_at``).
    """
    latest = current_consents(session, customer_id)
    appended = 0
    for consent in consents:
        current = latest.get((consent.channel, consent.purpose))
        if current is not None and current.status == consent.status.value:
            continue
        entry = ConsentEntry(
            customer_id=customer_id,
            channel=consent.channel.value,
            purpose=consent.purpose.value,
            status=consent.status.value,
            source=consent.source,
            wording_version=consent.wording_version,
            recorded_at=consent.recorded_at,
        )
        session.add(entry)
        if current is None or consent.recorded_at >= current.recorded_at:
            latest[(consent.channel, consent.purpose)] = entry
        appended += 1
    session.flush()
    return appended


@dataclass(frozen=True)
class ConsentVerdict:
    allowed: bool
    reason: str


def may_contact(
    session: Session, customer_id: str, channel: Channel, kind: MessageKind
) -> ConsentVerdict:
    """May the hub contact this customer on ``channel`` for a message of ``kind``?"""
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
