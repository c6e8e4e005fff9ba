"""Resolve natural identifiers to opaque customer ids; keep PII in the vault; issue pseudonyms.

Customer ids are random (160 bits), never derived from an email or phone, so an id leaks nothing
and survives a change of address. Identifiers are stored only as keyed digests.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from contracts import PII_FIELDS, CustomerField, Identifier, IdentifierKind
from hub.identity.keys import KeyRing
from hub.identity.normalize import normalize_identifier
from hub.identity.vault import Vault
from hub.storage.models import (
    BrickPseudonym,
    Customer,
    CustomerKey,
    IdentifierEntry,
    VaultEntry,
)
from hub.storage.types import utcnow

__all__ = [
    "IdentityConflict",
    "IdentityService",
    "Resolution",
    "new_customer_id",
]

#: Identifiers a person can be reached at: long-lived, kept until erasure.
_CONTACT_POINTS = frozenset({IdentifierKind.EMAIL, IdentifierKind.PHONE})
#: Cookies expire (``identity.link_ttl``) unless verified.
_EXPIRING = frozenset({IdentifierKind.SITE_COOKIE, IdentifierKind.PARTNER_COOKIE})


def new_customer_id() -> str:
    """``cus_`` + 160 random bits in base32: opaque, unguessable, meaningless."""
    return "cus_" + base64.b32encode(secrets.token_bytes(20)).decode("ascii").lower()


class IdentityConflict(Exception):
    """The identifiers given point at different customers; merging needs verified evidence."""


@dataclass(frozen=True)
class Resolution:
    customer_id: str
    created: bool
    new_identifiers: int
    #: Normalised value per identifier kind (the last one given when a kind repeats).
    values: dict[IdentifierKind, str]


@dataclass(frozen=True)
class _Normalised:
    kind: IdentifierKind
    namespace: str
    value: str
    verified: bool
    digest: str


class IdentityService:
    def __init__(
        self,
        keys: KeyRing,
        vault: Vault,
        *,
        default_region: str | None,
        link_ttl: timedelta,
    ) -> None:
        self.keys = keys
        self.vault = vault
        self.default_region = default_region
        self.link_ttl = link_ttl

    def __repr__(self) -> str:
        return f"<IdentityService region={self.default_region}>"

    # -- identifiers -------------------------------------------------------------------------
    def normalise(self, identifier: Identifier) -> _Normalised:
        """Raises ``InvalidIdentifier`` (naming the kind, never the value)."""
        value = normalize_identifier(
            identifier.kind, identifier.value, default_region=self.default_region
        )
        return _Normalised(
            identifier.kind,
            identifier.namespace,
            value,
            identifier.verified,
            self.keys.digest(identifier.kind.value, identifier.namespace, value),
        )

    def find(self, session: Session, identifier: Identifier) -> str | None:
        digest = self.normalise(identifier).digest
        entry = session.get(IdentifierEntry, digest)
        if entry is None or (entry.expires_at is not None and entry.expires_at <= utcnow()):
            return None
        return entry.customer_id

    def resolve(
        self,
        session: Session,
        identifiers: Iterable[Identifier],
        *,
        source: str,
        create: bool = True,
        now: datetime | None = None,
    ) -> Resolution | None:
        """Find the one customer these identifiers name, creating it when allowed.

        New identifiers are attached to that customer. Identifiers of *different* customers
        raise ``IdentityConflict``: merging is a separate, logged, reversible operation.
        """
        now = now or utcnow()
        normalised = [self.normalise(identifier) for identifier in identifiers]
        wanted = {n.digest: n for n in normalised}
        rows = session.exec(
            select(IdentifierEntry).where(col(IdentifierEntry.digest).in_(list(wanted)))
        ).all()
        live = [r for r in rows if r.expires_at is None or r.expires_at > now]
        owners = {r.customer_id for r in live}
        if len(owners) > 1:
            kinds = sorted({r.kind for r in live})
            raise IdentityConflict(
                f"identifiers ({', '.join(kinds)}) belong to different customers"
            )
        created = False
        if owners:
            customer_id = owners.pop()
        elif create:
            customer_id = self._create_customer(session, now)
            created = True
        else:
            return None
        for row in live:
            row.last_seen_at = now
            session.add(row)
        stale = {r.digest: r for r in rows if r not in live}
        fresh = [n for d, n in wanted.items() if d not in {r.digest for r in live}]
        for item in fresh:
            expires = now + self.link_ttl if item.kind in _EXPIRING and not item.verified else None
            entry = stale.get(item.digest) or IdentifierEntry(digest=item.digest)
            entry.customer_id = customer_id
            entry.kind = item.kind.value
            entry.namespace = item.namespace
            entry.source = source
            entry.verified = item.verified
            entry.first_seen_at = now
            entry.last_seen_at = now
            entry.expires_at = expires
            session.add(entry)
        session.flush()
        values = {n.kind: n.value for n in normalised}
        return Resolution(customer_id, created, len(fresh), values)

    def identifiers_of(self, session: Session, customer_id: str) -> list[IdentifierEntry]:
        return list(
            session.exec(
                select(IdentifierEntry)
                .where(IdentifierEntry.customer_id == customer_id)
                .order_by(col(IdentifierEntry.kind), col(IdentifierEntry.first_seen_at))
            )
        )

    def _create_customer(self, session: Session, now: datetime) -> str:
        customer_id = new_customer_id()
        _, wrapped = self.vault.new_data_key(customer_id)
        session.add(Customer(id=customer_id, created_at=now, updated_at=now))
        session.flush()
        session.add(
            CustomerKey(
                customer_id=customer_id,
                wrapped_key=wrapped,
                master_key_id=self.keys.master_key_id,
                created_at=now,
            )
        )
        return customer_id

    # -- profile -----------------------------------------------------------------------------
    def _data_key(self, session: Session, customer_id: str) -> bytes:
        key = session.get(CustomerKey, customer_id)
        if key is None:
            raise LookupError("customer has no data key (erased or unknown)")
        return self.vault.unwrap(customer_id, key.wrapped_key)

    def write_profile(
        self,
        session: Session,
        customer_id: str,
        values: Mapping[CustomerField, str | None],
        *,
        now: datetime | None = None,
    ) -> list[CustomerField]:
        """Store the given fields (``None`` = leave as is); returns the fields that changed."""
        now = now or utcnow()
        customer = session.get(Customer, customer_id)
        if customer is None:
            raise LookupError("unknown customer")
        current = self.read_profile(session, customer_id, values.keys())
        changed = [f for f, v in values.items() if v is not None and current.get(f) != v]
        if not changed:
            return []
        data_key = self._data_key(session, customer_id) if PII_FIELDS & set(changed) else b""
        for field in changed:
            value = values[field]
            assert value is not None
            if field in PII_FIELDS:
                blob = self.vault.encrypt_field(data_key, customer_id, field.value, value)
                entry = session.get(VaultEntry, (customer_id, field.value))
                if entry is None:
                    entry = VaultEntry(customer_id=customer_id, field=field.value, ciphertext=blob)
                entry.ciphertext = blob
                entry.updated_at = now
                session.add(entry)
            else:
                setattr(customer, field.value, value)
        customer.updated_at = now
        session.add(customer)
        session.flush()
        return changed

    def read_profile(
        self, session: Session, customer_id: str, fields: Iterable[CustomerField]
    ) -> dict[CustomerField, str]:
        """Decrypt the requested fields that are set. Callers decide who may see them."""
        wanted = set(fields)
        customer = session.get(Customer, customer_id)
        if customer is None:
            raise LookupError("unknown customer")
        profile: dict[CustomerField, str] = {}
        for field in wanted - PII_FIELDS:
            value = getattr(customer, field.value)
            if value is not None:
                profile[field] = value
        pii = wanted & PII_FIELDS
        if pii:
            entries = session.exec(
                select(VaultEntry).where(
                    VaultEntry.customer_id == customer_id,
                    col(VaultEntry.field).in_([f.value for f in pii]),
                )
            ).all()
            if entries:
                data_key = self._data_key(session, customer_id)
                for entry in entries:
                    profile[CustomerField(entry.field)] = self.vault.decrypt_field(
                        data_key, customer_id, entry.field, entry.ciphertext
                    )
        return profile

    # -- pseudonyms --------------------------------------------------------------------------
    def pseudonym_for(self, session: Session, brick: str, customer_id: str) -> str:
        """The brick's stable pseudonym for this customer, recorded for the reverse lookup."""
        pseudonym = self.keys.pseudonym(brick, customer_id)
        if session.get(BrickPseudonym, (brick, pseudonym)) is None:
            try:
                with session.begin_nested():
                    session.add(
                        BrickPseudonym(brick=brick, pseudonym=pseudonym, customer_id=customer_id)
                    )
            except IntegrityError:
                pass  # another worker recorded the same mapping first: it is identical
        return pseudonym

    def customer_for_pseudonym(self, session: Session, brick: str, pseudonym: str) -> str | None:
        row = session.get(BrickPseudonym, (brick, pseudonym))
        return row.customer_id if row else None
