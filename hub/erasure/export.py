"""``hub contacts export`` (GDPR art. 15 access, art. 20 portability): everything the hub holds
on a person, as one JSON document.

The person is the customer named plus every customer merged into them. Sections: the profile
(decrypted), free-form attributes, identifiers (kind, namespace, source, times; the value when
the hub can recover it: emails and phones held in the vault, cookies matched on evidence;
other kinds are stored as keyed digests only and shown as a digest prefix), the whole consent
history, events with their payloads opened, sends, delivery outcomes, pressure-ledger rows and
refused decisions, scenario jobs, audit rows about them, merges, the bricks holding them
(``sink_contacts``) and the pseudonym each brick knows them by, and their GDPR requests.

Building the document writes an ``audit_log`` row (action ``export``, the section names), in
the caller's transaction: the export itself is a disclosure of personal data.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlmodel import Session, SQLModel, col, or_, select

from contracts import CustomerField, IdentifierKind
from hub.audit import current_actor, record_audit
from hub.contacts.attributes import read_attributes
from hub.erasure.local import family_of
from hub.events.store import read_events
from hub.identity.cookies import linked_cookies
from hub.identity.service import IdentityService
from hub.storage.models import (
    AuditEntry,
    BrickPseudonym,
    ConsentEntry,
    Customer,
    CustomerEvent,
    ErasureRequest,
    ErasureStep,
    IdentityMerge,
    Job,
    LedgerEntry,
    OutcomeRecord,
    PressureDecision,
    SendRecord,
    SinkContact,
)

__all__ = ["SECTIONS", "export_person"]

SECTIONS = (
    "profile", "attributes", "identifiers", "consents", "events", "sends", "outcomes",
    "pressure_ledger", "pressure_decisions", "jobs", "audit", "merges", "bricks", "requests",
)
_DIGEST_PREFIX = 12


def _rows(session: Session, model: type[SQLModel], column: str, ids: Sequence[str],
          order: str) -> list[dict[str, Any]]:
    query = (
        select(model)
        .where(col(getattr(model, column)).in_(list(ids)))
        .order_by(col(getattr(model, order)))
    )
    return [_plain(row.model_dump()) for row in session.exec(query)]


def _plain(values: dict[str, Any]) -> dict[str, Any]:
    return {
        k: v.isoformat() if isinstance(v, datetime) else v
        for k, v in values.items()
        if not isinstance(v, bytes)
    }


def _identifiers(
    session: Session, identity: IdentityService, family: Sequence[str], now: datetime
) -> list[dict[str, Any]]:
    known: dict[str, str] = {}
    profiles = identity.read_profiles(session, family, [CustomerField.EMAIL, CustomerField.PHONE])
    for profile in profiles.values():
        for field, value in profile.items():
            known[identity.keys.digest(field.value, "", value)] = value
    for cookies in linked_cookies(session, identity, family[:1], now=now).values():
        for cookie in cookies:
            known[identity.keys.digest(cookie.kind.value, cookie.namespace, cookie.value)] = (
                cookie.value
            )
    found = []
    for customer_id in family:
        for entry in identity.identifiers_of(session, customer_id):
            found.append(
                {
                    "customer_id": customer_id,
                    "kind": entry.kind,
                    "namespace": entry.namespace,
                    "value": known.get(entry.digest),
                    "digest_prefix": "#" + entry.digest[:_DIGEST_PREFIX],
                    "source": entry.source,
                    "verified": entry.verified,
                    "first_seen_at": entry.first_seen_at.isoformat(),
                    "last_seen_at": entry.last_seen_at.isoformat(),
                    "expires_at": entry.expires_at.isoformat() if entry.expires_at else None,
                    "recoverable": entry.kind
                    in (IdentifierKind.EMAIL.value, IdentifierKind.PHONE.value)
                    or entry.kind.endswith("cookie"),
                }
            )
    return found


def _events(session: Session, identity: IdentityService, family: Sequence[str]) -> list[Any]:
    ids = [
        row
        for row in session.exec(
            select(CustomerEvent.id).where(col(CustomerEvent.customer_id).in_(list(family)))
        )
        if row is not None
    ]
    return [
        {
            "id": event.id,
            "customer_id": event.customer_id,
            "type": event.type,
            "source": event.source,
            "source_event_id": event.source_event_id,
            "occurred_at": event.occurred_at.isoformat(),
            "payload": event.payload,
        }
        for event in read_events(session, identity.vault, ids)
    ]


def export_person(
    session: Session,
    identity: IdentityService,
    customer_id: str,
    *,
    now: datetime,
    actor: str | None = None,
) -> dict[str, Any]:
    """The document (see the module docstring); raises ``LookupError`` for an unknown id."""
    if session.get(Customer, customer_id) is None:
        raise LookupError("no customer with this id")
    family = family_of(session, customer_id)
    customers = {
        c.id: c for c in session.exec(select(Customer).where(col(Customer.id).in_(family)))
    }
    profiles = identity.read_profiles(session, family, list(CustomerField))
    attributes = read_attributes(session, identity.vault, family)
    requests = _rows(session, ErasureRequest, "customer_id", family, "id")
    steps = _rows(session, ErasureStep, "request_id", [r["id"] for r in requests], "request_id")
    merges = [
        _plain(row.model_dump())
        for row in session.exec(
            select(IdentityMerge)
            .where(
                or_(
                    col(IdentityMerge.survivor_id).in_(family),
                    col(IdentityMerge.absorbed_id).in_(family),
                )
            )
            .order_by(col(IdentityMerge.id))
        )
    ]
    document: dict[str, Any] = {
        "customer_id": family[0],
        "generated_at": now.isoformat(),
        "customers": [
            {
                "id": c,
                "status": customers[c].status,
                "merged_into": customers[c].merged_into,
                "created_at": customers[c].created_at.isoformat(),
                "updated_at": customers[c].updated_at.isoformat(),
            }
            for c in family
        ],
        "profile": {c: {f.value: v for f, v in sorted(profiles[c].items())} for c in family},
        "attributes": attributes,
        "identifiers": _identifiers(session, identity, family, now),
        "consents": _rows(session, ConsentEntry, "customer_id", family, "recorded_at"),
        "events": _events(session, identity, family),
        "sends": _rows(session, SendRecord, "customer_id", family, "created_at"),
        "outcomes": _rows(session, OutcomeRecord, "customer_id", family, "occurred_at"),
        "pressure_ledger": _rows(session, LedgerEntry, "customer_id", family, "at"),
        "pressure_decisions": _rows(session, PressureDecision, "customer_id", family, "at"),
        "jobs": _rows(session, Job, "customer_id", family, "due_at"),
        "audit": _rows(session, AuditEntry, "customer_id", family, "at"),
        "merges": merges,
        "bricks": {
            "holdings": _rows(session, SinkContact, "customer_id", family, "sink"),
            "pseudonyms": _rows(session, BrickPseudonym, "customer_id", family, "brick"),
        },
        "requests": {"requests": requests, "steps": steps},
    }
    record_audit(
        session,
        action="export",
        customer_id=family[0],
        fields=SECTIONS,
        actor=actor or current_actor(),
    )
    return document
