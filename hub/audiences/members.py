"""Who is in an audience at a given instant: orders in SQL, then values, attributes, consent.

Frequency and recency come straight from the plain columns of ``customer_events`` (one
``GROUP BY`` query), so most customers are ruled out without decrypting anything. Only the
remaining candidates have their order payloads (monetary value) and attributes opened, chunk
by chunk, so memory stays bounded whatever the customer base. Customers who are not ``active``
(erased, suppressed, merged into another) are never members.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation

from sqlalchemy import func
from sqlmodel import Session, col, select

from contracts import ConsentStatus, Purpose
from hub.audiences.model import AudienceSettings, OrderCriteria
from hub.consent import current_consents_many
from hub.contacts.attributes import read_attributes
from hub.events.store import read_events
from hub.identity.vault import Vault
from hub.storage.models import Customer, CustomerEvent

__all__ = ["ORDER_EVENT", "AudienceMembers", "compute_members"]

ORDER_EVENT = "order.placed"
_CHUNK = 1000


@dataclass(frozen=True)
class AudienceMembers:
    name: str
    at: datetime
    #: Hub customer ids, sorted; they never leave the core.
    members: list[str]
    #: Matched every criterion but have not granted the audience's purpose.
    without_consent: int


def _order_candidates(session: Session, orders: OrderCriteria, at: datetime) -> list[str]:
    since = at - orders.within
    query = (
        select(CustomerEvent.customer_id)
        .join(Customer, col(Customer.id) == col(CustomerEvent.customer_id))
        .where(
            CustomerEvent.type == ORDER_EVENT,
            col(CustomerEvent.occurred_at) >= since,
            col(CustomerEvent.occurred_at) <= at,
            Customer.status == "active",
        )
        .group_by(col(CustomerEvent.customer_id))
        .having(func.count() >= orders.min_count)
        .order_by(col(CustomerEvent.customer_id))
    )
    if orders.last_within is not None:
        query = query.having(func.max(CustomerEvent.occurred_at) >= at - orders.last_within)
    return list(session.exec(query))


def _active_customers(session: Session) -> list[str]:
    return list(
        session.exec(
            select(Customer.id).where(Customer.status == "active").order_by(col(Customer.id))
        )
    )


def _chunks(ids: Sequence[str]) -> Iterator[Sequence[str]]:
    for start in range(0, len(ids), _CHUNK):
        yield ids[start : start + _CHUNK]


def _order_value(
    session: Session, vault: Vault, ids: Sequence[str], orders: OrderCriteria, at: datetime
) -> dict[str, Decimal]:
    """Sum of the order totals in ``orders.currency`` within the window, per customer."""
    event_ids = list(
        session.exec(
            select(CustomerEvent.id).where(
                col(CustomerEvent.customer_id).in_(ids),
                CustomerEvent.type == ORDER_EVENT,
                col(CustomerEvent.occurred_at) >= at - orders.within,
                col(CustomerEvent.occurred_at) <= at,
            )
        )
    )
    totals: dict[str, Decimal] = {}
    for event in read_events(session, vault, [i for i in event_ids if i is not None]):
        if event.payload.get("currency") != orders.currency:
            continue
        try:
            amount = Decimal(str(event.payload.get("total")))
        except InvalidOperation:
            continue  # validated at intake; an unreadable total simply does not count
        totals[event.customer_id] = totals.get(event.customer_id, Decimal(0)) + amount
    return totals


def _consented(session: Session, ids: Sequence[str], purpose: Purpose) -> set[str]:
    """Customers whose most recent statement for ``purpose`` (any channel) is a grant."""
    granted = set()
    for customer_id, statements in current_consents_many(session, ids).items():
        latest = [entry for (_, p), entry in statements.items() if p is purpose]
        if latest and max(latest, key=lambda e: (e.recorded_at, e.id or 0)).status == (
            ConsentStatus.GRANTED.value
        ):
            granted.add(customer_id)
    return granted


def compute_members(
    session: Session, vault: Vault, name: str, audience: AudienceSettings, *, at: datetime
) -> AudienceMembers:
    orders = audience.orders
    candidates = _order_candidates(session, orders, at) if orders else _active_customers(session)
    members: list[str] = []
    without_consent = 0
    for chunk in _chunks(candidates):
        matching = list(chunk)
        if orders is not None and orders.min_total is not None:
            totals = _order_value(session, vault, matching, orders, at)
            matching = [c for c in matching if totals.get(c, Decimal(0)) >= orders.min_total]
        if audience.attributes and matching:
            attributes = read_attributes(session, vault, matching)
            matching = [
                c
                for c in matching
                if all(
                    condition.matches(attributes[c].get(attribute))
                    for attribute, condition in audience.attributes.items()
                )
            ]
        consented = _consented(session, matching, audience.purpose) if matching else set()
        without_consent += len(matching) - len(consented)
        members.extend(c for c in matching if c in consented)
    return AudienceMembers(
        name=name, at=at, members=sorted(members), without_consent=without_consent
    )
