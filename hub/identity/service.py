"""Resolve natural identifiers to opaque customer ids, and issue per-brick pseudonyms.

Customer ids are random (160 bits), never derived from an email or phone, so an id leaks nothing
and survives a change of address. Identifiers are stored only as keyed digests. Resolution is
set-based (``resolve_many``): one lookup query and bulk inserts per batch, so importing or
syncing a million contacts costs a few thousand statements, not tens of millions.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from contracts import Identifier, IdentifierKind
from hub.identity.keys import KeyRing
from hub.identity.normalize import normalize_identifier
from hub.identity.profiles import ProfileStore
from hub.identity.vault import Vault
from hub.storage.db import chunks
from hub.storage.models import BrickPseudonym, Customer, CustomerKey, IdentifierEntry, table
from hub.storage.types import utcnow

__all__ = [
    "IdentityConflict",
    "IdentityService",
    "NormalisedIdentifier",
    "Resolution",
    "new_customer_id",
]

#: Cookies expire (``identity.link_ttl``) unless verified.
_EXPIRING = frozenset({IdentifierKind.SITE_COOKIE, IdentifierKind.PARTNER_COOKIE})


def new_customer_id() -> str:
    """``cus_`` + 160 random bits in base32: opaque, unguessable, meaningless."""
    return "cus_" + base64.b32encode(secrets.token_bytes(20)).decode("ascii").lower()


class IdentityConflict(Exception):
    """The identifiers given point at different customers; merging needs verified evidence."""


@dataclass(frozen=True)
class NormalisedIdentifier:
    kind: IdentifierKind
    namespace: str
    value: str
    verified: bool
    digest: str


@dataclass(frozen=True)
class Resolution:
    customer_id: str
    created: bool
    new_identifiers: int
    #: Normalised value per identifier kind (the last one given when a kind repeats).
    values: dict[IdentifierKind, str]



class IdentityService(ProfileStore):
    def __init__(
        self,
        keys: KeyRing,
        vault: Vault,
        *,
        default_region: str | None,
        link_ttl: timedelta,
    ) -> None:
        super().__init__(vault)
        self.keys = keys
        self.default_region = default_region
        self.link_ttl = link_ttl

    def __repr__(self) -> str:
        return f"<IdentityService region={self.default_region}>"

    # -- identifiers -------------------------------------------------------------------------
    def normalise(self, identifier: Identifier) -> NormalisedIdentifier:
        """Raises ``InvalidIdentifier`` (naming the kind, never the value)."""
        value = normalize_identifier(
            identifier.kind, identifier.value, default_region=self.default_region
        )
        return NormalisedIdentifier(
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

    def identifiers_of(self, session: Session, customer_id: str) -> list[IdentifierEntry]:
        return list(
            session.exec(
                select(IdentifierEntry)
                .where(IdentifierEntry.customer_id == customer_id)
                .order_by(col(IdentifierEntry.kind), col(IdentifierEntry.first_seen_at))
            )
        )

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

        Raises ``InvalidIdentifier`` or ``IdentityConflict`` (identifiers of *different*
        customers: merging is a separate, logged, reversible operation).
        """
        group = [self.normalise(identifier) for identifier in identifiers]
        [result] = self.resolve_many(session, [group], source=source, create=create, now=now)
        if isinstance(result, IdentityConflict):
            raise result
        return result

    def resolve_many(
        self,
        session: Session,
        groups: Sequence[Sequence[NormalisedIdentifier]],
        *,
        source: str,
        create: bool = True,
        now: datetime | None = None,
    ) -> list[Resolution | IdentityConflict | None]:
        """Resolve each group of identifiers to one customer, in order, as one set operation.

        Later groups see the customers created by earlier ones (the same email twice in a file
        is one person). New identifiers are attached to their group's customer; a group whose
        identifiers belong to different customers yields an ``IdentityConflict``.
        """
        now = now or utcnow()
        digests = sorted({n.digest for group in groups for n in group})
        known: dict[str, IdentifierEntry] = {}
        for chunk in chunks(digests):
            for entry in session.exec(
                select(IdentifierEntry)
                .where(col(IdentifierEntry.digest).in_(chunk))
                .execution_options(populate_existing=True)
            ):
                known[entry.digest] = entry
        owner = {
            d: e.customer_id for d, e in known.items() if e.expires_at is None or e.expires_at > now
        }
        seen_live = set(owner)
        new_customers: list[str] = []
        new_entries: dict[str, dict[str, object]] = {}
        results: list[Resolution | IdentityConflict | None] = []
        for group in groups:
            owners = {owner[n.digest] for n in group if n.digest in owner}
            if len(owners) > 1:
                kinds = sorted({n.kind.value for n in group if n.digest in owner})
                results.append(
                    IdentityConflict(
                        f"identifiers ({', '.join(kinds)}) belong to different customers"
                    )
                )
                continue
            if owners:
                customer_id, created = owners.pop(), False
            elif create:
                customer_id, created = new_customer_id(), True
                new_customers.append(customer_id)
            else:
                results.append(None)
                continue
            fresh = 0
            for item in group:
                if item.digest in owner:
                    continue
                owner[item.digest] = customer_id
                fresh += 1
                expiring = item.kind in _EXPIRING and not item.verified
                new_entries[item.digest] = {
                    "digest": item.digest,
                    "customer_id": customer_id,
                    "kind": item.kind.value,
                    "namespace": item.namespace,
                    "source": source,
                    "verified": item.verified,
                    "first_seen_at": now,
                    "last_seen_at": now,
                    "expires_at": now + self.link_ttl if expiring else None,
                }
            values = {n.kind: n.value for n in group}
            results.append(Resolution(customer_id, created, fresh, values))
        self._write_resolution(session, new_customers, new_entries, known, seen_live, now)
        return results

    def _write_resolution(
        self,
        session: Session,
        new_customers: list[str],
        new_entries: dict[str, dict[str, object]],
        known: dict[str, IdentifierEntry],
        seen_live: set[str],
        now: datetime,
    ) -> None:
        if new_customers:
            session.execute(
                table(Customer).insert(),
                [
                    {"id": c, "status": "active", "created_at": now, "updated_at": now}
                    for c in new_customers
                ],
            )
            keys = []
            for customer_id in new_customers:
                _, wrapped = self.vault.new_data_key(customer_id)
                keys.append(
                    {
                        "customer_id": customer_id,
                        "wrapped_key": wrapped,
                        "master_key_id": self.keys.master_key_id,
                        "created_at": now,
                    }
                )
            session.execute(table(CustomerKey).insert(), keys)
        # An expired link's row is reused for its new owner; brand-new digests are inserted.
        reused = [row for digest, row in new_entries.items() if digest in known]
        inserted = [row for digest, row in new_entries.items() if digest not in known]
        if reused:
            session.execute(update(IdentifierEntry), reused)
        if inserted:
            session.execute(table(IdentifierEntry).insert(), inserted)
        touched = sorted(seen_live)
        for chunk in chunks(touched):
            session.execute(
                update(IdentifierEntry)
                .where(col(IdentifierEntry.digest).in_(chunk))
                .values(last_seen_at=now)
                .execution_options(synchronize_session=False)
            )

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
