"""Find a customer by hub id, email or phone, and describe what the hub holds on them."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, col, select

from contracts import CustomerField, Identifier, IdentifierKind
from hub.consent import current_consents
from hub.erasure.state import suppressed_digests
from hub.identity.normalize import InvalidIdentifier
from hub.identity.service import IdentityService
from hub.storage.models import BrickPseudonym, Customer

__all__ = ["CustomerNotFound", "describe_customer", "find_customer"]


class CustomerNotFound(Exception):
    pass


def find_customer(
    session: Session,
    identity: IdentityService,
    *,
    customer_id: str | None = None,
    email: str | None = None,
    phone: str | None = None,
) -> str:
    """The customer named by exactly one of id, email or phone; raises ``ValueError`` (a bad
    option, naming it) or ``CustomerNotFound`` (saying when the address is suppressed: its
    person was erased earlier)."""
    given = [v for v in (customer_id, email, phone) if v]
    if len(given) != 1:
        raise ValueError("give exactly one of CUSTOMER_ID, --email or --phone")
    if customer_id:
        if session.get(Customer, customer_id) is None:
            raise CustomerNotFound("no customer with this id")
        return customer_id
    kind = IdentifierKind.EMAIL if email else IdentifierKind.PHONE
    identifier = Identifier(kind=kind, value=email or phone or "")
    try:
        found = identity.find(session, identifier)
        digest = identity.normalise(identifier).digest
    except InvalidIdentifier as exc:
        raise ValueError(f"--{kind.value}: {exc}") from None
    if found is None:
        if suppressed_digests(session, [digest]):
            raise CustomerNotFound(f"this {kind.value} belongs to a person erased earlier")
        raise CustomerNotFound(f"no customer with this {kind.value}")
    return found


def describe_customer(
    session: Session, identity: IdentityService, customer_id: str
) -> dict[str, Any]:
    """Everything about one customer, PII in clear: callers mask or audit before showing."""
    customer = session.get(Customer, customer_id)
    if customer is None:
        raise CustomerNotFound("no customer with this id")
    profile = identity.read_profile(session, customer_id, list(CustomerField))
    consents = current_consents(session, customer_id)
    pseudonyms = session.exec(
        select(BrickPseudonym)
        .where(BrickPseudonym.customer_id == customer_id)
        .order_by(col(BrickPseudonym.brick))
    )
    return {
        "customer_id": customer.id,
        "status": customer.status,
        "created_at": customer.created_at.isoformat(),
        "updated_at": customer.updated_at.isoformat(),
        "fields": {f.value: v for f, v in sorted(profile.items())},
        "identifiers": [
            {
                "kind": entry.kind,
                "namespace": entry.namespace,
                "source": entry.source,
                "verified": entry.verified,
                "first_seen_at": entry.first_seen_at.isoformat(),
                "expires_at": entry.expires_at.isoformat() if entry.expires_at else None,
            }
            for entry in identity.identifiers_of(session, customer_id)
        ],
        "consents": [
            {
                "channel": channel.value,
                "purpose": purpose.value,
                "status": entry.status,
                "source": entry.source,
                "wording_version": entry.wording_version,
                "recorded_at": entry.recorded_at.isoformat(),
            }
            for (channel, purpose), entry in sorted(consents.items())
        ],
        "pseudonyms": {row.brick: row.pseudonym for row in pseudonyms},
    }
