"""Event intake: validate, de-duplicate, resolve, store — one door for files, polls, webhooks.

Every event either ends up in ``customer_events`` (accepted), is recognised as one already
stored under the same (source, id) (a duplicate: counted, not an error), or is refused with
the field and reason and kept, sealed, in ``dead_letters``. Nothing is dropped.

Events are stored in batches of 500, one transaction each; in that same transaction the
scheduler (``hub.scenarios.schedule.on_events``) plans and cancels scenario jobs, so an event
and the jobs it causes commit together. Observers (``hub_event_received``) hear about stored
events only after the commit.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from contracts import Contact, CustomerSignedUp, CustomerUpdated, EventEnvelope
from hub.consent import record_consents_many
from hub.contacts.apply import AppliedContact, ContactRejected, apply_contacts
from hub.dead_letters import store_dead_letter
from hub.events.resolve import SuppressedContact, resolve_customers
from hub.events.store import NewEvent, existing_keys, insert_events
from hub.events.stored import StoredEvent
from hub.events.validate import CheckedEvent, EventRejected, check_event, event_reference
from hub.identity.parked import park_letter, replay_parked
from hub.logs import get_logger
from hub.runtime import Runtime
from hub.scenarios.schedule import on_events
from hub.storage.db import session_scope
from hub.storage.types import utcnow

__all__ = [
    "BATCH_SIZE",
    "DEAD_LETTER_KIND",
    "IntakeReport",
    "Rejection",
    "ingest_events",
    "ingest_in_session",
    "notify_stored",
]

log = get_logger(__name__)

BATCH_SIZE = 500
DEAD_LETTER_KIND = "event"

RawEvent = Mapping[str, Any] | EventEnvelope


@dataclass(frozen=True)
class Rejection:
    """Event number ``index`` (in the caller's sequence) was refused; ``dead_letter_id`` is
    ``None`` only when the caller asked not to dead-letter (a replay keeps its own letter)."""

    index: int
    field: str | None
    reason: str
    dead_letter_id: int | None


@dataclass
class IntakeReport:
    accepted: int = 0
    duplicates: int = 0
    rejected: list[Rejection] = field(default_factory=list)
    stored: list[StoredEvent] = field(default_factory=list)
    #: The envelopes of ``stored`` (payload normalised), for the observers after commit.
    envelopes: list[EventEnvelope] = field(default_factory=list, repr=False)

    def merge(self, other: IntakeReport) -> None:
        self.accepted += other.accepted
        self.duplicates += other.duplicates
        self.rejected.extend(other.rejected)
        self.stored.extend(other.stored)
        self.envelopes.extend(other.envelopes)


def _dead_letter_payload(raw: Any) -> Any:
    if isinstance(raw, BaseModel):
        return raw.model_dump(mode="json")
    if isinstance(raw, Mapping):
        return dict(raw)
    return raw


def _check_all(
    runtime: Runtime,
    items: Sequence[tuple[int, Any]],
    source: str,
    event_types: Mapping[str, type[BaseModel]],
) -> tuple[list[tuple[int, CheckedEvent]], list[tuple[int, EventRejected]]]:
    checked: list[tuple[int, CheckedEvent]] = []
    refused: list[tuple[int, EventRejected]] = []
    for index, raw in items:
        try:
            event = check_event(raw, event_types)
            if source in runtime.bricks and event.envelope.source != source:
                # A brick speaks only for itself: it cannot inject another brick's events
                # (nor reach customers through another brick's pseudonyms).
                raise EventRejected(
                    "source", f"events delivered by brick {source!r} must name it as source"
                )
        except EventRejected as exc:
            refused.append((index, exc))
            continue
        checked.append((index, event))
    return checked, refused


def _apply_profiles(
    session: Session,
    runtime: Runtime,
    events: Sequence[tuple[int, CheckedEvent, str]],
) -> dict[int, EventRejected]:
    """``customer.signed_up`` and ``customer.updated`` contacts, set-wise.

    A sign-up's identifiers are the contact points the person just gave (the address typed
    in the form): they become the profile's email / phone with the consents, exactly like a
    contact update; a sign-up named only by a pseudonym records its consents alone.
    """
    signed = [
        (c, e)
        for _, e, c in events
        if isinstance(e.model, CustomerSignedUp) and not e.envelope.identifiers
    ]
    if signed:
        record_consents_many(
            session,
            [(c, e.model.consents) for c, e in signed],  # type: ignore[attr-defined]
        )
    by_source: dict[str, list[tuple[int, str, Contact]]] = {}
    for index, event, customer in events:
        if isinstance(event.model, CustomerSignedUp) and event.envelope.identifiers:
            contact = Contact(
                identifiers=list(event.envelope.identifiers), consents=event.model.consents
            )
            by_source.setdefault(event.envelope.source, []).append((index, customer, contact))
        elif isinstance(event.model, CustomerUpdated):
            contact = event.model.contact
            if event.envelope.identifiers:
                merged = [*event.envelope.identifiers, *contact.identifiers]
                contact = contact.model_copy(update={"identifiers": merged})
            by_source.setdefault(event.envelope.source, []).append((index, customer, contact))
    refused: dict[int, EventRejected] = {}
    for event_source, updates in by_source.items():
        results = apply_contacts(
            session, runtime.identity, [c for _, _, c in updates], source=event_source
        )
        refused.update(_contact_refusals(updates, results))
    return refused


def _contact_refusals(
    updates: Sequence[tuple[int, str, Contact]],
    results: Sequence[AppliedContact | ContactRejected],
) -> dict[int, EventRejected]:
    refused: dict[int, EventRejected] = {}
    for (index, customer, _), result in zip(updates, results, strict=True):
        if isinstance(result, ContactRejected):
            refused[index] = EventRejected(f"payload.contact.{result.field}", result.reason)
        elif result.customer_id != customer:
            refused[index] = EventRejected(
                "payload.contact.identifiers", "belong to another customer than the event's"
            )
    return refused


def ingest_in_session(
    session: Session,
    runtime: Runtime,
    items: Sequence[tuple[int, Any]],
    *,
    source: str,
    event_types: Mapping[str, type[BaseModel]] | None = None,
    dead_letters: bool = True,
) -> IntakeReport:
    """Take ``(index, raw event)`` pairs into ``session`` (the caller commits, then calls
    ``notify_stored``). With ``dead_letters=False`` rejections are only reported."""
    types = event_types if event_types is not None else runtime.plugins.event_types()
    report = IntakeReport()
    checked, refused = _check_all(runtime, items, source, types)
    stored_keys = existing_keys(session, [(e.envelope.source, e.envelope.id) for _, e in checked])
    fresh: list[tuple[int, CheckedEvent]] = []
    for index, event in checked:
        key = (event.envelope.source, event.envelope.id)
        if key in stored_keys:
            report.duplicates += 1
        else:
            stored_keys.add(key)  # a second copy later in the batch is a duplicate too
            fresh.append((index, event))
    linked: set[str] = set()  # cookies linked on proof: their parked events come back below
    customers = resolve_customers(session, runtime.identity, [e for _, e in fresh], linked=linked)
    resolved: list[tuple[int, CheckedEvent, str]] = []
    for (index, event), customer in zip(fresh, customers, strict=True):
        if isinstance(customer, EventRejected):
            refused.append((index, customer))
        else:
            resolved.append((index, event, customer))
    profile_refusals = _apply_profiles(session, runtime, resolved)
    refused.extend(profile_refusals.items())
    accepted = [item for item in resolved if item[0] not in profile_refusals]
    now = utcnow()
    report.stored = insert_events(
        session,
        runtime.vault,
        [
            NewEvent(
                c,
                e.envelope.type,
                e.envelope.source,
                e.envelope.id,
                e.envelope.occurred_at,
                e.payload,
            )
            for _, e, c in accepted
        ],
        now=now,
    )
    report.envelopes = [e.envelope for _, e, _ in accepted]
    report.accepted = len(accepted)
    on_events(session, runtime, report.stored)
    raw_by_index = dict(items)
    for index, exc in sorted(refused, key=lambda item: item[0]):
        letter_id = None
        if dead_letters:
            raw = raw_by_index[index]
            letter_id = store_dead_letter(
                session,
                runtime.vault,
                kind=DEAD_LETTER_KIND,
                source=source,
                reference=event_reference(raw),
                field=exc.field[:128],
                reason=exc.reason,
                # An erased person's event leaves a trace, never their data again.
                payload=None if isinstance(exc, SuppressedContact) else _dead_letter_payload(raw),
            ).id
            park_letter(session, letter_id, exc)
        report.rejected.append(Rejection(index, exc.field, exc.reason, letter_id))
    if linked:
        replay_parked(session, runtime, linked, report)
    return report


def notify_stored(runtime: Runtime, report: IntakeReport) -> None:
    """After commit: tell observers about each stored event (a failing plugin is logged)."""
    for envelope in report.envelopes:
        runtime.plugins.notify("hub_event_received", event=envelope)


def _store_batch(
    runtime: Runtime,
    items: Sequence[tuple[int, Any]],
    source: str,
    event_types: Mapping[str, type[BaseModel]],
) -> IntakeReport:
    engine = runtime.ready_engine()
    for attempt in (1, 2):
        try:
            with session_scope(engine) as session:
                return ingest_in_session(
                    session, runtime, items, source=source, event_types=event_types
                )
        except IntegrityError:
            # A concurrent writer stored one of these events (or created the same person)
            # first; the retry sees its rows and counts them as duplicates.
            if attempt == 2:
                raise
            log.info("event batch collided with a concurrent writer, retrying", size=len(items))
    raise AssertionError("unreachable")


def ingest_events(runtime: Runtime, raw_events: Sequence[RawEvent], *, source: str) -> IntakeReport:
    """Validate, de-duplicate, resolve and store ``raw_events`` (dicts or envelopes).

    ``source`` names the door they came through (``api``, ``file:x.jsonl``, a brick): it is
    kept on dead letters (a replay goes back through the same door), and when it names a
    brick, every event must carry that brick as its ``source``.
    """
    event_types = runtime.plugins.event_types()
    report = IntakeReport()
    for start in range(0, len(raw_events), BATCH_SIZE):
        items = list(enumerate(raw_events[start : start + BATCH_SIZE], start))
        part = _store_batch(runtime, items, source, event_types)
        notify_stored(runtime, part)
        report.merge(part)
    if report.rejected or report.accepted:
        log.info(
            "events ingested",
            source=source,
            accepted=report.accepted,
            duplicates=report.duplicates,
            rejected=len(report.rejected),
        )
    return report
