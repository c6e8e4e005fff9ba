"""Resolve natural identifiers to opaque customer ids, and issue per-brick pseudonyms.

Customer ids are random (160 bits), never derived from an email or phone, so an id leaks nothing
and survives a change of address. Identifiers are stored only as keyed digests. Resolution is
set-based (``resolve_claims``): one lookup query and bulk writes per batch, so importing or
syncing a million contacts costs a few thousand statements, not tens of millions. The rules of
who is who, and which links a batch may make, are in ``hub.identity.resolution``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence, Set
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from contracts import Identifier, IdentifierKind
from hub.erasure.state import suppressed_digests
from hub.erasure.suppression import resolve_around_suppressions
from hub.identity.cookies import remember_cookies
from hub.identity.keys import KeyRing
from hub.identity.merges import follow_merges, merge_customers
from hub.identity.normalize import normalize_identifier
from hub.identity.profiles import ProfileStore
from hub.identity.resolution import (
    Claim,
    IdentityConflict,
    NormalisedIdentifier,
    Planned,
    Planner,
    new_customer_id,
)
from hub.identity.vault import Vault
from hub.storage.db import chunks
from hub.storage.models import BrickPseudonym, Customer, CustomerKey, IdentifierEntry, table
from hub.storage.types import utcnow

__all__ = [
    "Claim",
    "IdentityConflict",
    "IdentityService",
    "NormalisedIdentifier",
    "Resolution",
    "new_customer_id",
]

#: Kinds whose verified presence makes a customer the survivor of a merge.
_STRONG_KINDS = (IdentifierKind.EMAIL.value, IdentifierKind.CRM_ID.value)


@dataclass(frozen=True)
class Resolution:
    customer_id: str
    created: bool
    new_identifiers: int
    #: Normalised value per identifier kind (the last one given when a kind repeats).
    values: dict[IdentifierKind, str]
    #: Digests of cookies linked (or moved) to the customer by this claim, on proof.
    linked: tuple[str, ...] = ()
    #: Digests of cookies already linked to the customer whose link this claim renewed.
    refreshed: tuple[str, ...] = ()
    #: Ids of the ``identity_merges`` rows this claim caused.
    merges: tuple[int, ...] = ()
    #: The claim named an erased person's contact point: ``customer_id`` is a suppressed
    #: record holding nothing else, and the caller must write nothing for it (hub.erasure).
    suppressed: bool = False


class IdentityService(ProfileStore):
    def __init__(
        self,
        keys: KeyRing,
        vault: Vault,
        *,
        default_region: str | None,
        link_ttl: timedelta,
        junk: Set[str] = frozenset(),
    ) -> None:
        super().__init__(vault)
        self.keys = keys
        self.default_region = default_region
        self.link_ttl = link_ttl
        self.junk = frozenset(junk)

    def __repr__(self) -> str:
        return f"<IdentityService region={self.default_region}>"

    # -- identifiers -------------------------------------------------------------------------
    def normalise(self, identifier: Identifier) -> NormalisedIdentifier:
        """Raises ``InvalidIdentifier`` (naming the kind, never the value)."""
        value = normalize_identifier(
            identifier.kind, identifier.value, default_region=self.default_region, junk=self.junk
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
        entry = session.get(IdentifierEntry, digest, populate_existing=True)
        if entry is None or (entry.expires_at is not None and entry.expires_at <= utcnow()):
            return None
        return entry.customer_id

    def identifiers_of(self, session: Session, customer_id: str) -> list[IdentifierEntry]:
        return list(
            session.exec(
                select(IdentifierEntry)
                .where(IdentifierEntry.customer_id == customer_id)
                .order_by(col(IdentifierEntry.kind), col(IdentifierEntry.first_seen_at))
                .execution_options(populate_existing=True)
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
        customers with nothing verified to say they are one person).
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
        """Resolve each group as what a source asserts (``Claim.asserted``), in order."""
        claims = [Claim.asserted(group, create=create) for group in groups]
        return self.resolve_claims(session, claims, source=source, now=now)

    def resolve_claims(
        self,
        session: Session,
        claims: Sequence[Claim],
        *,
        source: str,
        now: datetime | None = None,
    ) -> list[Resolution | IdentityConflict | None]:
        """Resolve each claim to one customer, in order, as one set operation.

        Later claims see what earlier ones created, linked and merged (the same email twice in
        a file is one person). ``None``: nobody is named and the claim may not create.
        """
        now = now or utcnow()
        digests = sorted({n.digest for claim in claims for n in claim.identifiers})
        suppressed = suppressed_digests(session, digests)
        if suppressed:  # an erased person's contact point is never resolved like a live one
            return resolve_around_suppressions(
                self, session, claims, suppressed, source=source, now=now
            )
        known: dict[str, IdentifierEntry] = {}
        for chunk in chunks(digests):
            for entry in session.exec(
                select(IdentifierEntry)
                .where(col(IdentifierEntry.digest).in_(chunk))
                .execution_options(populate_existing=True)
            ):
                known[entry.digest] = entry
        refused: dict[int, IdentityConflict] = {}
        while True:  # re-planned without the claims whose merge cannot happen (rare)
            planner = Planner(
                known,
                now=now,
                link_ttl=self.link_ttl,
                choose_survivor=lambda named, plan: self._survivor(session, named, plan),
            )
            planned: list[Planned | IdentityConflict | None] = [
                refused.get(i) or planner.plan(claim, source) for i, claim in enumerate(claims)
            ]
            blocked = self._unmergeable(session, planner, claims, set(refused))
            if not blocked:
                break
            refused.update(blocked)
        self._write(session, planner, now)
        merge_ids = [
            merge_customers(
                session,
                self.vault,
                planner.final(m.survivor),
                m.absorbed,
                evidence=m.claim.evidence,
                source=m.source,
                reference=m.claim.reference,
                now=now,
            ).id
            for m in planner.merges
        ]
        remember_cookies(
            session,
            self,
            [replace(c, customer_id=planner.final(c.customer_id)) for c in planner.cookies],
            left=planner.left,
            now=now,
        )
        return [self._result(p, planner, merge_ids) for p in planned]

    @staticmethod
    def _result(
        planned: Planned | IdentityConflict | None, planner: Planner, merge_ids: list[int | None]
    ) -> Resolution | IdentityConflict | None:
        if not isinstance(planned, Planned):
            return planned
        return Resolution(
            planner.final(planned.customer_id),
            planned.created,
            planned.attached,
            planned.values,
            tuple(dict.fromkeys(planned.linked)),
            tuple(dict.fromkeys(planned.refreshed)),
            tuple(i for i in (merge_ids[m] for m in planned.merges) if i is not None),
        )

    @staticmethod
    def _unmergeable(
        session: Session, planner: Planner, claims: Sequence[Claim], refused: set[int]
    ) -> dict[int, IdentityConflict]:
        """Claims whose planned merge involves a customer that is not active (one who objected,
        hub.erasure): merges join active customers only, so such a claim is a conflict."""
        existing = {c for m in planner.merges for c in (m.survivor, m.absorbed)}
        existing -= set(planner.new_customers)
        if not existing:
            return {}
        statuses = dict(
            session.execute(
                select(Customer.id, Customer.status).where(col(Customer.id).in_(sorted(existing)))
            ).all()
        )
        blocked: dict[int, IdentityConflict] = {}
        for merge in planner.merges:
            stuck = sorted(
                {statuses[c] for c in (merge.survivor, merge.absorbed)
                 if statuses.get(c, "active") != "active"}
            )
            if stuck:
                index = next(
                    i for i, claim in enumerate(claims) if claim is merge.claim and i not in refused
                )
                blocked[index] = IdentityConflict(
                    "verified identifiers name customers who cannot be merged "
                    f"(one is {', '.join(stuck)})"
                )
        return blocked

    def _survivor(self, session: Session, named: set[str], planner: Planner) -> str:
        """Who stays when several customers are one person: the one known by a verified email
        or CRM id, else the oldest (ties: the smaller id). Customers merged earlier in the
        batch count with the one they went into; customers new in this batch are the newest.
        """
        members = {c: {c} for c in named}
        for absorbed in planner.merged_into:
            final = planner.final(absorbed)
            if final in members:
                members[final].add(absorbed)
        everyone = sorted(set().union(*members.values()))
        created = {c: planner.now for c in planner.new_customers}
        strong = {
            row["customer_id"]
            for row in planner.rows.values()
            if row["verified"] and row["kind"] in _STRONG_KINDS
        }
        for chunk in chunks(everyone):
            for row in session.execute(
                select(Customer.id, Customer.created_at).where(col(Customer.id).in_(chunk))
            ):
                created[row[0]] = row[1]
            strong.update(
                session.exec(
                    select(IdentifierEntry.customer_id).where(
                        col(IdentifierEntry.customer_id).in_(chunk),
                        col(IdentifierEntry.kind).in_(_STRONG_KINDS),
                        IdentifierEntry.verified == True,  # noqa: E712 - SQL comparison
                    )
                )
            )
        return min(
            named,
            key=lambda c: (not (members[c] & strong), created.get(c, planner.now), c),
        )

    def _write(self, session: Session, planner: Planner, now: datetime) -> None:
        if planner.new_customers:
            session.execute(
                table(Customer).insert(),
                [
                    {"id": c, "status": "active", "created_at": now, "updated_at": now}
                    for c in planner.new_customers
                ],
            )
            keys = []
            for customer_id in planner.new_customers:
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
        # A row that exists (expired, or linked to someone else) is overwritten; brand-new
        # digests are inserted; rows kept by their customer get only their changed columns.
        inserted = [r for d, r in planner.rows.items() if d not in planner.stored]
        overwritten = [r for d, r in planner.rows.items() if d in planner.stored]
        if inserted:
            session.execute(table(IdentifierEntry).insert(), inserted)
        if overwritten:
            session.execute(update(IdentifierEntry), overwritten)
        by_columns: dict[frozenset[str], list[dict[str, object]]] = {}
        for change in planner.changes.values():
            by_columns.setdefault(frozenset(change), []).append(change)
        for changes in by_columns.values():
            session.execute(update(IdentifierEntry), changes)
        for chunk in chunks(sorted(planner.touched)):
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
        """The customer a brick's pseudonym names; a merged customer's pseudonym names the
        survivor it was merged into (vendors keep the ids they were given)."""
        row = session.get(BrickPseudonym, (brick, pseudonym))
        if row is None:
            return None
        return follow_merges(session, [row.customer_id])[row.customer_id]
