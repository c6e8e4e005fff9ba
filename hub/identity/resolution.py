"""Who a group of identifiers names, and which links it may make: the rules, in memory.

The identity service hands this planner the identifier rows a batch touches; the planner walks
the batch's claims in order (so later claims see what earlier ones linked) and returns what to
write. Nothing here touches the database, which keeps the rules readable and testable.

The rules (docs/identity-and-privacy.md, "Cookie matching" and "Merges and unmerge"):

* identifiers of a *creating* kind (email, phone, shop customer id, CRM id) name the customer;
  a *verified* one (the source proved the person controls it) outranks an unverified one;
* other kinds (site and partner cookies) are devices, not people: they are attached to a
  customer only on proof (``Claim.proof``: an event carrying a verified creating identifier, or
  a link source's login / purchase / newsletter click). Without proof a cookie is only used to
  look up the customer it is already linked to. On proof a cookie linked to someone else moves
  to the proven customer (the last verified login on a device wins); people never merge on a
  cookie. A cookie link lives ``link_ttl`` after it was last seen on proof;
* verified identifiers naming two customers are one person: the customers are merged (the
  survivor is chosen by the caller) and the merge is logged so it can be undone;
* an unverified identifier naming another customer than the verified ones is a conflict.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from contracts import IdentifierKind
from hub.storage.models import IdentifierEntry

__all__ = [
    "CREATING_KINDS",
    "Claim",
    "CookieLink",
    "IdentityConflict",
    "NormalisedIdentifier",
    "Planned",
    "Planner",
    "new_customer_id",
]

#: Identifier kinds that may create a customer: a system of record vouches for them.
CREATING_KINDS = frozenset(
    {
        IdentifierKind.EMAIL,
        IdentifierKind.PHONE,
        IdentifierKind.SHOP_CUSTOMER_ID,
        IdentifierKind.CRM_ID,
    }
)


def new_customer_id() -> str:
    """``cus_`` + 160 random bits in base32: opaque, unguessable, meaningless."""
    return "cus_" + base64.b32encode(secrets.token_bytes(20)).decode("ascii").lower()


class IdentityConflict(Exception):
    """The identifiers given point at different customers, and nothing verified says they are
    one person (merging needs verified evidence)."""


@dataclass(frozen=True)
class NormalisedIdentifier:
    kind: IdentifierKind
    namespace: str
    #: Empty for an anchor read back from the database (only its digest is known).
    value: str = field(repr=False)
    verified: bool
    digest: str


@dataclass(frozen=True)
class Claim:
    """Identifiers said to be one person, and what they may do.

    ``proof``: cookies may be linked (and moved) to the customer. ``cookie_lookup``: cookies
    may name the customer. ``create``: a new customer may be made when nobody is named.
    ``seen_at`` dates the evidence (a cookie link expires ``link_ttl`` after it).
    """

    identifiers: tuple[NormalisedIdentifier, ...]
    proof: bool
    cookie_lookup: bool
    create: bool
    seen_at: datetime | None = None
    evidence: str = "verified identifiers"
    reference: str | None = None

    @classmethod
    def asserted(
        cls,
        identifiers: Sequence[NormalisedIdentifier],
        *,
        create: bool = True,
        seen_at: datetime | None = None,
        evidence: str = "verified identifiers",
        reference: str | None = None,
    ) -> Claim:
        """What an event, an import row or a synced contact says: proof is a verified
        identifier of a creating kind; cookies alone only look a customer up, never create."""
        creating = [n for n in identifiers if n.kind in CREATING_KINDS]
        return cls(
            tuple(identifiers),
            proof=any(n.verified for n in creating),
            cookie_lookup=not creating,
            create=create and bool(creating),
            seen_at=seen_at,
            evidence=evidence,
            reference=reference,
        )

    @classmethod
    def linked(
        cls,
        identifiers: Sequence[NormalisedIdentifier],
        *,
        evidence: str,
        seen_at: datetime,
        reference: str | None = None,
    ) -> Claim:
        """What a link source reports on verifying evidence (login, purchase...): any known
        identifier names the customer; a customer is created only for a verified creating one."""
        return cls(
            tuple(identifiers),
            proof=True,
            cookie_lookup=True,
            create=any(n.verified and n.kind in CREATING_KINDS for n in identifiers),
            seen_at=seen_at,
            evidence=evidence,
            reference=reference,
        )


@dataclass(frozen=True)
class CookieLink:
    """A cookie linked on proof: its value is kept sealed in the vault (hub.identity.cookies)."""

    customer_id: str
    kind: IdentifierKind
    namespace: str
    value: str = field(repr=False)
    expires_at: datetime
    digest: str


@dataclass
class Planned:
    """One claim's outcome before the writes: ``merges`` index ``Planner.merges``."""

    customer_id: str
    created: bool
    attached: int
    values: dict[IdentifierKind, str]
    linked: list[str] = field(default_factory=list)
    refreshed: list[str] = field(default_factory=list)
    merges: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class PlannedMerge:
    survivor: str
    absorbed: str
    claim: Claim
    source: str


def _live(entry: IdentifierEntry, now: datetime) -> bool:
    return entry.expires_at is None or entry.expires_at > now


class Planner:
    """Walks claims in order over the rows they touch; ``choose_survivor`` picks who stays
    when verified identifiers name several customers."""

    def __init__(
        self,
        known: dict[str, IdentifierEntry],
        *,
        now: datetime,
        link_ttl: timedelta,
        choose_survivor: Callable[[set[str], Planner], str],
    ) -> None:
        self.now = now
        self.link_ttl = link_ttl
        self.choose_survivor = choose_survivor
        self.stored = set(known)  # digests that have a row, live or not
        self.owner = {d: e.customer_id for d, e in known.items() if _live(e, now)}
        self.expiry = {d: e.expires_at for d, e in known.items() if _live(e, now)}
        self.verified = {d for d, e in known.items() if e.verified and _live(e, now)}
        #: digest -> full row to insert or to overwrite (a new link, a moved or revived one).
        self.rows: dict[str, dict[str, Any]] = {}
        #: digest -> changed columns of a row kept by its customer (refresh, verification).
        self.changes: dict[str, dict[str, Any]] = {}
        self.touched: set[str] = set()
        self.new_customers: list[str] = []
        self.merges: list[PlannedMerge] = []
        self.merged_into: dict[str, str] = {}
        self.cookies: list[CookieLink] = []
        #: Customers a cookie moved away from: their vault copy of it must go.
        self.left: set[str] = set()

    # -- resolving ---------------------------------------------------------------------------
    def plan(self, claim: Claim, source: str) -> Planned | IdentityConflict | None:
        unique: dict[str, NormalisedIdentifier] = {}
        for item in claim.identifiers:
            seen = unique.get(item.digest)
            if seen is None or (item.verified and not seen.verified):
                unique[item.digest] = item
        items = list(unique.values())
        anchors = [n for n in items if n.kind in CREATING_KINDS and n.verified]
        plain = [n for n in items if n.kind in CREATING_KINDS and not n.verified]
        cookies = [n for n in items if n.kind not in CREATING_KINDS]
        named = self._named(claim, anchors, plain, cookies)
        if isinstance(named, IdentityConflict):
            return named
        created = False
        if not named:
            if not claim.create:
                return None
            customer, created = new_customer_id(), True
            self.new_customers.append(customer)
        elif len(named) == 1:
            customer = next(iter(named))
        else:
            customer = self.choose_survivor(named, self)
        planned = Planned(customer, created, 0, {n.kind: n.value for n in items})
        for absorbed in sorted(named - {customer}):
            planned.merges.append(self._merge(customer, absorbed, claim, source))
        for item in anchors + plain:
            if item.digest in self.owner:
                self._keep(item)
            else:
                self._write(item, customer, source, None, item.verified)
                planned.attached += 1
        for item in cookies:
            self._cookie(item, customer, claim, source, planned)
        return planned

    def _owners(self, items: Sequence[NormalisedIdentifier]) -> set[str]:
        return {self.owner[n.digest] for n in items if n.digest in self.owner}

    def _named(
        self,
        claim: Claim,
        anchors: list[NormalisedIdentifier],
        plain: list[NormalisedIdentifier],
        cookies: list[NormalisedIdentifier],
    ) -> set[str] | IdentityConflict:
        """The customers the claim names (several only through verified identifiers)."""
        verified, unverified = self._owners(anchors), self._owners(plain)
        if verified:
            if unverified - verified:
                return self._conflict(anchors + plain)
            return verified
        if unverified:
            return unverified if len(unverified) == 1 else self._conflict(plain)
        if claim.cookie_lookup:
            found = self._owners(cookies)
            return found if len(found) <= 1 else self._conflict(cookies)
        return set()

    def _conflict(self, items: Sequence[NormalisedIdentifier]) -> IdentityConflict:
        kinds = sorted({n.kind.value for n in items if n.digest in self.owner})
        return IdentityConflict(f"identifiers ({', '.join(kinds)}) belong to different customers")

    # -- writing (in memory) -----------------------------------------------------------------
    def _row(
        self,
        item: NormalisedIdentifier,
        customer: str,
        source: str,
        expires_at: datetime | None,
        verified: bool,
    ) -> dict[str, Any]:
        return {
            "digest": item.digest,
            "customer_id": customer,
            "kind": item.kind.value,
            "namespace": item.namespace,
            "source": source[:64],
            "verified": verified,
            "first_seen_at": self.now,
            "last_seen_at": self.now,
            "expires_at": expires_at,
        }

    def _write(
        self,
        item: NormalisedIdentifier,
        customer: str,
        source: str,
        expires_at: datetime | None,
        verified: bool,
    ) -> None:
        self.rows[item.digest] = self._row(item, customer, source, expires_at, verified)
        self.changes.pop(item.digest, None)
        self.touched.discard(item.digest)
        self.owner[item.digest] = customer
        self.expiry[item.digest] = expires_at
        if verified:
            self.verified.add(item.digest)
        else:
            self.verified.discard(item.digest)

    def _change(self, digest: str, **values: Any) -> None:
        if digest in self.rows:
            self.rows[digest].update(values)
        else:
            self.changes.setdefault(digest, {"digest": digest, "last_seen_at": self.now})
            self.changes[digest].update(values)
            self.touched.discard(digest)

    def _keep(self, item: NormalisedIdentifier) -> None:
        """A known identifier of the customer seen again: touched, verified when it now is."""
        if item.verified and item.digest not in self.verified:
            self.verified.add(item.digest)
            self._change(item.digest, verified=True)
        elif item.digest not in self.rows and item.digest not in self.changes:
            self.touched.add(item.digest)

    def _cookie(
        self,
        item: NormalisedIdentifier,
        customer: str,
        claim: Claim,
        source: str,
        planned: Planned,
    ) -> None:
        if not claim.proof:
            if item.digest in self.owner and self.owner[item.digest] == customer:
                self._keep(item)
            return
        seen = min(claim.seen_at or self.now, self.now)
        expires_at = seen + self.link_ttl
        if expires_at <= self.now:
            return  # evidence older than a link lives: it proves nothing any more
        current = self.owner.get(item.digest)
        if current == customer:
            kept = self.expiry.get(item.digest)
            if kept is None or expires_at > kept:
                self.expiry[item.digest] = expires_at
                self._change(item.digest, expires_at=expires_at, verified=True)
                self.verified.add(item.digest)
            else:
                self._keep(item)
            planned.refreshed.append(item.digest)
        else:
            if current is not None:
                self.left.add(current)
            self._write(item, customer, source, expires_at, True)
            planned.linked.append(item.digest)
            planned.attached += 1
        if item.value:
            final = self.expiry.get(item.digest) or expires_at
            self.cookies.append(
                CookieLink(customer, item.kind, item.namespace, item.value, final, item.digest)
            )

    def _merge(self, survivor: str, absorbed: str, claim: Claim, source: str) -> int:
        """Later claims of the batch see the absorbed customer's identifiers as the survivor's;
        the rows themselves move when the merge runs, after this batch's rows are written."""
        for digest, owner in self.owner.items():
            if owner == absorbed:
                self.owner[digest] = survivor
        self.merged_into[absorbed] = survivor
        self.merges.append(PlannedMerge(survivor, absorbed, claim, source))
        return len(self.merges) - 1

    def final(self, customer: str) -> str:
        """Where ``customer`` ended up after this batch's merges."""
        while customer in self.merged_into:
            customer = self.merged_into[customer]
        return customer
