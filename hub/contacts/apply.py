"""Apply one ``Contact`` (from an import row, a source brick, an event) to the core.

Shared by ``hub contacts import``, contact sync and ``customer.updated`` events so a person is
normalised, resolved and stored the same way whatever door they came through.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlmodel import Session

from contracts import Contact, CustomerField, IdentifierKind
from hub.consent import record_consents_many
from hub.contacts.attributes import AttributeProblem, check_attributes, write_attributes
from hub.identity.normalize import InvalidIdentifier
from hub.identity.service import IdentityConflict, IdentityService

__all__ = [
    "AppliedContact",
    "ContactRejected",
    "apply_contact",
    "apply_contacts",
    "normalise_locale",
]

_LOCALE = re.compile(r"^([a-zA-Z]{2,3})(?:[-_]([a-zA-Z]{2}|\d{3}))?$")


class ContactRejected(Exception):
    """A contact cannot be stored as it is. ``field`` names the culprit; never the value."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


@dataclass(frozen=True)
class AppliedContact:
    customer_id: str
    status: Literal["created", "updated", "unchanged"]
    #: The contact names an erased person's contact point: ``customer_id`` is a suppressed
    #: record (``created`` when this contact made it) and nothing of the contact was stored.
    suppressed: bool = False


def normalise_locale(value: str) -> str:
    """``fr_fr`` -> ``fr-FR``; raises ``ValueError`` for anything that is not a locale tag."""
    match = _LOCALE.fullmatch(value.strip())
    if not match:
        raise ValueError("not a locale tag such as fr or fr-FR")
    language, region = match.groups()
    return language.lower() + (f"-{region.upper()}" if region else "")


def _check_time_zone(value: str) -> str:
    try:
        ZoneInfo(value.strip())
    except (ZoneInfoNotFoundError, ValueError):
        raise ContactRejected("time_zone", "not an IANA time zone such as Europe/Paris") from None
    return value.strip()


def _profile(contact: Contact, normalised: dict[IdentifierKind, str]) -> dict[CustomerField, str]:
    """Profile fields to store; raises ``ContactRejected`` for a bad locale or time zone."""
    profile: dict[CustomerField, str] = {}
    if IdentifierKind.EMAIL in normalised:
        profile[CustomerField.EMAIL] = normalised[IdentifierKind.EMAIL]
    if IdentifierKind.PHONE in normalised:
        profile[CustomerField.PHONE] = normalised[IdentifierKind.PHONE]
    for field in (CustomerField.FIRST_NAME, CustomerField.LAST_NAME, CustomerField.PUSH_TOKEN):
        value = getattr(contact, field.value)
        if value is not None and value.strip():
            profile[field] = value.strip()
    if contact.locale:
        try:
            profile[CustomerField.LOCALE] = normalise_locale(contact.locale)
        except ValueError as exc:
            raise ContactRejected("locale", str(exc)) from None
    if contact.time_zone:
        profile[CustomerField.TIME_ZONE] = _check_time_zone(contact.time_zone)
    return profile


def apply_contacts(
    session: Session,
    identity: IdentityService,
    contacts: Sequence[Contact],
    *,
    source: str,
    now: datetime | None = None,
) -> list[AppliedContact | ContactRejected]:
    """Resolve (or create) each customer, then store profile fields and consents, set-wise.

    Every check that can reject a contact runs before anything is written, so a rejected
    contact leaves no trace; the result list is in input order.
    """
    results: list[AppliedContact | ContactRejected | None] = [None] * len(contacts)
    accepted: list[tuple[int, Contact, dict[CustomerField, str]]] = []
    attributes: dict[int, dict[str, object]] = {}
    groups = []
    for index, contact in enumerate(contacts):
        try:
            group = [identity.normalise(identifier) for identifier in contact.identifiers]
            profile = _profile(contact, {n.kind: n.value for n in group})
            attributes[index] = check_attributes(contact.attributes)
        except InvalidIdentifier as exc:
            results[index] = ContactRejected(exc.kind, exc.reason)
            continue
        except AttributeProblem as exc:
            results[index] = ContactRejected(exc.field, exc.reason)
            continue
        except ContactRejected as exc:
            results[index] = exc
            continue
        accepted.append((index, contact, profile))
        groups.append(group)
    resolutions = identity.resolve_many(session, groups, source=source, now=now)
    writes = []
    for (index, contact, profile), resolution in zip(accepted, resolutions, strict=True):
        if isinstance(resolution, IdentityConflict):
            results[index] = ContactRejected("identifiers", str(resolution))
        elif resolution is not None and resolution.suppressed:
            results[index] = AppliedContact(
                resolution.customer_id,
                "created" if resolution.created else "unchanged",
                suppressed=True,
            )
        elif resolution is not None:
            writes.append((index, contact, profile, resolution))
    changed = identity.write_profiles(
        session, [(r.customer_id, profile) for _, _, profile, r in writes], now=now
    )
    consents = record_consents_many(
        session, [(r.customer_id, contact.consents) for _, contact, _, r in writes]
    )
    extras = write_attributes(
        session,
        identity.vault,
        [(r.customer_id, attributes[index]) for index, _, _, r in writes],
        now=now,
    )
    for (index, _, _, resolution), fields, appended, extra in zip(
        writes, changed, consents, extras, strict=True
    ):
        if resolution.created:
            status: Literal["created", "updated", "unchanged"] = "created"
        elif fields or appended or extra or resolution.new_identifiers:
            status = "updated"
        else:
            status = "unchanged"
        results[index] = AppliedContact(resolution.customer_id, status)
    done = [r for r in results if r is not None]
    assert len(done) == len(contacts), "every contact gets a result"
    return done


def apply_contact(
    session: Session,
    identity: IdentityService,
    contact: Contact,
    *,
    source: str,
    now: datetime | None = None,
) -> AppliedContact:
    """One contact; raises ``ContactRejected`` (and writes nothing) when it cannot be stored."""
    [result] = apply_contacts(session, identity, [contact], source=source, now=now)
    if isinstance(result, ContactRejected):
        raise result
    return result
