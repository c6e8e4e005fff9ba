"""Find the customer an event is about, creating one only on a real identifier.

Rules (docs/events.md, "Identity resolution"):

* ``pseudonym``: looked up among the pseudonyms the hub issued to the brick named by the
  event's ``source``; a pseudonym of another brick, or an unknown one, is refused.
* ``identifiers``: resolved through the identity service's keyed digests, as a
  ``Claim.asserted`` dated by ``occurred_at`` (rules in ``hub.identity.resolution``). A new
  customer is created only when the event carries an email, phone, shop customer id or CRM id.
  Cookies are linked only when the event proves identity (a verified identifier of one of
  those kinds: a login, a purchase, a newsletter click); a cookie-only event is anonymous
  traffic and may only reach a customer the cookie is already linked to. Otherwise it is
  refused (``UnknownCookies``) and parked under each cookie's digest: the hub replays it by
  itself once a verified link attaches one of them (``hub.identity.parked``).
* Verified identifiers naming two customers merge them (logged, reversible); unverified ones
  naming different customers are refused.
* ``customer.updated`` also attaches the contact's identifiers to that customer.
* An event about an erased person (a suppressed contact point, or a pseudonym the hub issued
  to them) is refused as ``SuppressedContact``, whose payload intake does not keep
  (docs/privacy-rights.md).

Resolution is set-based: one pseudonym query, and one ``resolve_claims`` per run of
consecutive events from the same source, so a batch behaves as if its events came one by one
(a cookie linked by an earlier event of the batch resolves a later cookie-only event).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import tuple_
from sqlmodel import Session, col, select

from contracts import CustomerUpdated, EventEnvelope, Identifier, IdentifierKind
from hub.contacts.apply import normalise_locale
from hub.erasure.state import erased_pseudonyms
from hub.events.validate import CheckedEvent, EventRejected
from hub.identity.merges import follow_merges
from hub.identity.normalize import InvalidIdentifier
from hub.identity.resolution import CREATING_KINDS, Claim
from hub.identity.service import (
    IdentityConflict,
    IdentityService,
    NormalisedIdentifier,
    Resolution,
)
from hub.storage.db import chunks
from hub.storage.models import BrickPseudonym, IdentifierEntry
from hub.storage.types import utcnow

__all__ = ["CREATING_KINDS", "SuppressedContact", "UnknownCookies", "resolve_customers"]

_PAIR_CHUNK = 400


class UnknownCookies(EventRejected):
    """A cookie-only event whose cookies are linked to nobody: refused, and parked under the
    digest of each cookie (``digests``) until a verified link attaches one of them."""

    def __init__(self, field: str, reason: str, digests: Sequence[str]) -> None:
        super().__init__(field, reason)
        self.digests = tuple(digests)


class SuppressedContact(EventRejected):
    """An event about a person the hub erased: refused, and dead-lettered without its payload
    (it would put the erased person's data back in the database)."""

    def __init__(self, field: str) -> None:
        super().__init__(
            field,
            "names a person erased at their request (GDPR art. 17): the event is refused and "
            "its content is not kept",
        )


def _normalise(
    identity: IdentityService, identifiers: Sequence[Identifier], prefix: str
) -> list[NormalisedIdentifier]:
    group = []
    for index, identifier in enumerate(identifiers):
        try:
            group.append(identity.normalise(identifier))
        except InvalidIdentifier as exc:
            raise EventRejected(f"{prefix}.{index}.value", f"{exc.kind}: {exc.reason}") from None
    return group


def _check_profile(update: CustomerUpdated) -> None:
    """The contact checks ``apply_contacts`` would fail on, run before anything is written."""
    contact = update.contact
    if contact.locale:
        try:
            normalise_locale(contact.locale)
        except ValueError as exc:
            raise EventRejected("payload.contact.locale", str(exc)) from None
    if contact.time_zone:
        try:
            ZoneInfo(contact.time_zone.strip())
        except (ZoneInfoNotFoundError, ValueError):
            raise EventRejected(
                "payload.contact.time_zone", "not an IANA time zone such as Europe/Paris"
            ) from None


def _pseudonym_owners(
    session: Session, pairs: Sequence[tuple[str, str]]
) -> dict[tuple[str, str], str]:
    owners: dict[tuple[str, str], str] = {}
    unique = sorted(set(pairs))
    key = tuple_(col(BrickPseudonym.brick), col(BrickPseudonym.pseudonym))
    for start in range(0, len(unique), _PAIR_CHUNK):
        chunk = unique[start : start + _PAIR_CHUNK]
        for row in session.exec(select(BrickPseudonym).where(key.in_(chunk))):
            owners[(row.brick, row.pseudonym)] = row.customer_id
    # A merged customer's pseudonyms name the survivor: vendors keep the ids they were given.
    final = follow_merges(session, owners.values())
    return {pair: final[customer] for pair, customer in owners.items()}


def _anchors(session: Session, customer_ids: Sequence[str]) -> dict[str, NormalisedIdentifier]:
    """One live identifier per customer, to attach new identifiers to a known customer through
    ``resolve_many`` (which works on digests and never needs the plaintext)."""
    now = utcnow()
    anchors: dict[str, NormalisedIdentifier] = {}
    for chunk in chunks(sorted(set(customer_ids))):
        for entry in session.exec(
            select(IdentifierEntry)
            .where(col(IdentifierEntry.customer_id).in_(chunk))
            .order_by(col(IdentifierEntry.first_seen_at))
        ):
            if entry.expires_at is not None and entry.expires_at <= now:
                continue
            anchors.setdefault(
                entry.customer_id,
                NormalisedIdentifier(
                    IdentifierKind(entry.kind), entry.namespace, "", entry.verified, entry.digest
                ),
            )
    return anchors


@dataclass
class _Group:
    """Identifiers to resolve together; ``blame`` is the field named if they cannot be."""

    identifiers: list[NormalisedIdentifier]
    blame: str
    source: str
    envelope: EventEnvelope
    #: Known from a pseudonym: an anchor identifier of theirs goes first in the group.
    customer: str | None = None

    def claim(self) -> Claim:
        return Claim.asserted(
            self.identifiers,
            create=self.customer is None,
            seen_at=self.envelope.occurred_at,
            evidence=f"event {self.envelope.type}"[:64],
            reference=self.envelope.id,
        )


def _prepare(
    session: Session, identity: IdentityService, events: Sequence[CheckedEvent]
) -> list[_Group | str | EventRejected]:
    """Per event: a group to resolve, a customer id known from a pseudonym, or a rejection."""
    pseudonyms = _pseudonym_owners(
        session,
        [(c.envelope.source, c.envelope.pseudonym) for c in events if c.envelope.pseudonym],
    )
    erased = erased_pseudonyms(
        session,
        [
            (c.envelope.source, c.envelope.pseudonym)
            for c in events
            if c.envelope.pseudonym and (c.envelope.source, c.envelope.pseudonym) not in pseudonyms
        ],
    )
    prepared: list[_Group | str | EventRejected] = []
    for checked in events:
        envelope = checked.envelope
        update = checked.model if isinstance(checked.model, CustomerUpdated) else None
        try:
            if update is not None:
                _check_profile(update)
            extra = (
                _normalise(identity, update.contact.identifiers, "payload.contact.identifiers")
                if update is not None
                else []
            )
            if envelope.pseudonym:
                customer = pseudonyms.get((envelope.source, envelope.pseudonym))
                if (envelope.source, envelope.pseudonym) in erased:
                    raise SuppressedContact("pseudonym")
                if customer is None:
                    raise EventRejected(
                        "pseudonym", f"not a pseudonym the hub issued to brick {envelope.source!r}"
                    )
                blame = "payload.contact.identifiers"
                prepared.append(
                    _Group(extra, blame, envelope.source, envelope, customer) if extra else customer
                )
                continue
            group = _normalise(identity, envelope.identifiers, "identifiers") + extra
            prepared.append(_Group(group, "identifiers", envelope.source, envelope))
        except EventRejected as exc:
            prepared.append(exc)
    anchored = [g for g in prepared if isinstance(g, _Group) and g.customer]
    anchors = _anchors(session, [g.customer for g in anchored if g.customer])
    for index, item in enumerate(prepared):
        if isinstance(item, _Group) and item.customer:
            anchor = anchors.get(item.customer)
            if anchor is None:
                prepared[index] = EventRejected(
                    item.blame, "the customer has no live identifier to attach these to"
                )
            else:
                item.identifiers.insert(0, anchor)
    return prepared


def _refusal(
    result: Resolution | IdentityConflict | None, group: _Group
) -> EventRejected:
    if isinstance(result, IdentityConflict):
        return EventRejected(group.blame, str(result))
    if result is None and not any(n.kind in CREATING_KINDS for n in group.identifiers):
        return UnknownCookies(
            group.blame,
            "no customer is known by these identifiers, and cookies alone cannot create one "
            "(send an email, phone, shop customer id or CRM id with the event); the event is "
            "replayed by itself once a verified event or link attaches one of its cookies",
            [n.digest for n in group.identifiers],
        )
    return EventRejected(group.blame, "the identifiers name another customer than the pseudonym")


def resolve_customers(
    session: Session,
    identity: IdentityService,
    events: Sequence[CheckedEvent],
    *,
    linked: set[str] | None = None,
) -> list[str | EventRejected]:
    """The customer id of each event, in order, or why it cannot be resolved.

    Every check that can refuse an event runs before ``resolve_claims`` writes anything for
    it. ``linked`` (when given) receives the digests of the cookies this batch linked or
    renewed on proof, whose parked events the caller replays.
    """
    prepared = _prepare(session, identity, events)
    results: list[str | EventRejected] = []
    runs: list[list[tuple[int, _Group]]] = []
    for index, item in enumerate(prepared):
        if not isinstance(item, _Group):
            results.append(item)
            continue
        results.append(EventRejected("event", "not resolved"))  # replaced below
        if runs and runs[-1][-1][1].source == item.source:
            runs[-1].append((index, item))
        else:
            runs.append([(index, item)])
    merged = False
    for run in runs:
        resolved = identity.resolve_claims(
            session, [g.claim() for _, g in run], source=run[0][1].source
        )
        for (index, group), result in zip(run, resolved, strict=True):
            if isinstance(result, Resolution) and result.suppressed:
                results[index] = SuppressedContact(group.blame)
            elif isinstance(result, Resolution) and (
                group.customer in (None, result.customer_id) or result.merges
            ):
                results[index] = result.customer_id
                merged = merged or bool(result.merges)
                if linked is not None:
                    linked.update(result.linked, result.refreshed)
            else:
                results[index] = _refusal(result, group)
    if merged:  # an earlier event of the batch may name a customer merged away since
        final = follow_merges(session, [r for r in results if isinstance(r, str)])
        results = [final[r] if isinstance(r, str) else r for r in results]
    return results
