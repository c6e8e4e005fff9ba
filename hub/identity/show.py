"""What the hub knows of a customer's identity, for ``hub identity show`` and ``merges``.

Identifiers are stored as keyed digests, so the hub cannot print them back. For emails and
phone numbers it can recognise the one held (encrypted) in the vault of the customer, or of a
customer merged into them, by digesting it again: that value is returned for the caller to
mask (``contact_point``, never shown as is). Other kinds (cookies, shop and CRM ids) are
shown by the first characters of their digest, enough to tell two apart.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, or_, select

from contracts import CustomerField, IdentifierKind
from hub.identity.merges import MOVED_TABLES, absorbed_into, follow_merges
from hub.identity.service import IdentityService
from hub.storage.models import Customer, IdentityMerge

__all__ = [
    "DIGEST_PREFIX",
    "IdentifierView",
    "IdentityNotFound",
    "IdentityView",
    "MergeView",
    "describe_identity",
    "list_merges",
]

DIGEST_PREFIX = 12
_CONTACT_KINDS = {IdentifierKind.EMAIL.value: CustomerField.EMAIL,
                  IdentifierKind.PHONE.value: CustomerField.PHONE}  # fmt: skip


class IdentityNotFound(Exception):
    pass


@dataclass(frozen=True)
class IdentifierView:
    kind: str
    namespace: str
    #: ``#`` + the digest's first characters: safe to show, stable, not reversible.
    digest_prefix: str
    source: str
    verified: bool
    first_seen_at: datetime
    last_seen_at: datetime
    expires_at: datetime | None
    live: bool
    #: The email or phone in clear when the vault holds it: callers MUST mask it.
    contact_point: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class MergeView:
    id: int
    action: str
    survivor_id: str
    absorbed_id: str
    evidence: str
    source: str
    source_reference: str | None
    at: datetime
    actor: str
    reason: str | None
    refers_to: int | None
    #: The unmerge that undid this merge, if any.
    undone_by: int | None
    #: Rows moved per table (the ids are in the log, not shown).
    moved: dict[str, int]

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "action": self.action,
            "survivor": self.survivor_id,
            "absorbed": self.absorbed_id,
            "evidence": self.evidence,
            "source": self.source,
            "source_reference": self.source_reference,
            "at": self.at.isoformat(),
            "actor": self.actor,
            "reason": self.reason,
            "refers_to": self.refers_to,
            "undone_by": self.undone_by,
            "moved": self.moved,
        }


@dataclass(frozen=True)
class IdentityView:
    customer_id: str
    status: str
    merged_into: str | None
    #: The active customer this one ends up in (itself unless merged).
    resolves_to: str
    identifiers: list[IdentifierView]
    merges: list[MergeView]


def _views(session: Session, rows: list[IdentityMerge]) -> list[MergeView]:
    ids = [row.id for row in rows if row.action == "merge"]
    undone = {
        row.refers_to: row.id
        for row in session.exec(
            select(IdentityMerge).where(col(IdentityMerge.refers_to).in_(ids or [-1]))
        )
    }
    views = []
    for row in rows:
        assert row.id is not None
        moved = json.loads(row.moved)
        views.append(
            MergeView(
                id=row.id,
                action=row.action,
                survivor_id=row.survivor_id,
                absorbed_id=row.absorbed_id,
                evidence=row.evidence,
                source=row.source,
                source_reference=row.source_reference,
                at=row.at,
                actor=row.actor,
                reason=row.reason,
                refers_to=row.refers_to,
                undone_by=undone.get(row.id),
                moved={name: len(moved.get(name, [])) for name in MOVED_TABLES},
            )
        )
    return views


def list_merges(session: Session, *, customer_id: str | None = None) -> list[MergeView]:
    """The merge log, oldest first; with ``customer_id``, the entries naming that customer."""
    query = select(IdentityMerge).order_by(col(IdentityMerge.id))
    if customer_id is not None:
        query = query.where(
            or_(IdentityMerge.survivor_id == customer_id, IdentityMerge.absorbed_id == customer_id)
        )
    return _views(session, list(session.exec(query)))


def _contact_points(
    session: Session, identity: IdentityService, customer_id: str
) -> set[tuple[str, str]]:
    """(kind, value) of the emails and phones in the vaults of this customer and of every
    customer merged into them (their identifiers moved here; their vaults did not)."""
    holders = sorted(absorbed_into(session, [customer_id]))
    profiles = identity.read_profiles(session, holders, _CONTACT_KINDS.values())
    return {(f.value, value) for profile in profiles.values() for f, value in profile.items()}


def describe_identity(
    session: Session, identity: IdentityService, customer_id: str, *, now: datetime
) -> IdentityView:
    """Raises ``IdentityNotFound`` for an unknown id."""
    customer = session.get(Customer, customer_id, populate_existing=True)
    if customer is None:
        raise IdentityNotFound(f"no customer {customer_id}")
    known = _contact_points(session, identity, customer_id)
    identifiers = []
    for entry in identity.identifiers_of(session, customer_id):
        point = None
        for kind, value in known:
            digest = identity.keys.digest(kind, entry.namespace, value)
            if kind == entry.kind and digest == entry.digest:
                point = value
        identifiers.append(
            IdentifierView(
                kind=entry.kind,
                namespace=entry.namespace,
                digest_prefix="#" + entry.digest[:DIGEST_PREFIX],
                source=entry.source,
                verified=entry.verified,
                first_seen_at=entry.first_seen_at,
                last_seen_at=entry.last_seen_at,
                expires_at=entry.expires_at,
                live=entry.expires_at is None or entry.expires_at > now,
                contact_point=point,
            )
        )
    return IdentityView(
        customer_id=customer.id,
        status=customer.status,
        merged_into=customer.merged_into,
        resolves_to=follow_merges(session, [customer.id])[customer.id],
        identifiers=identifiers,
        merges=list_merges(session, customer_id=customer_id),
    )
