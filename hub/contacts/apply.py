"""Apply one ``Contact`` (from an import row, a source brick, an event) to the core.

Shared by ``hub contacts import``, contact sync and ``customer.updated`` events so a person is
normalised, resolved and stored the same way whatever door they came through.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlmodel import Session

from contracts import Contact, CustomerField, IdentifierKind
from hub.consent import record_consents
from hub.identity.normalize import InvalidIdentifier
from hub.identity.service import IdentityConflict, IdentityService

__all__ = ["AppliedContact", "ContactRejected", "apply_contact", "normalise_locale"]

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
        raise ContactRejected(
            "time_zone", "not an IANA time zone such as Europe/Paris"
        ) from None
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


def apply_contact(
    session: Session,
    identity: IdentityService,
    contact: Contact,
    *,
    source: str,
    now: datetime | None = None,
) -> AppliedContact:
    """Resolve (or create) the customer, then store profile fields and consents.

    Raises ``ContactRejected``; run it inside a savepoint so a rejection leaves no trace.
    """
    try:
        resolution = identity.resolve(session, contact.identifiers, source=source, now=now)
    except InvalidIdentifier as exc:
        raise ContactRejected(exc.kind, exc.reason) from None
    except IdentityConflict as exc:
        raise ContactRejected("identifiers", str(exc)) from None
    assert resolution is not None  # create=True always resolves
    profile = _profile(contact, resolution.values)
    changed = identity.write_profile(session, resolution.customer_id, profile, now=now)
    consents = record_consents(session, resolution.customer_id, contact.consents)
    if resolution.created:
        status: Literal["created", "updated", "unchanged"] = "created"
    elif changed or consents or resolution.new_identifiers:
        status = "updated"
    else:
        status = "unchanged"
    return AppliedContact(resolution.customer_id, status)
