"""Normalise natural identifiers before they are digested.

The hub finds a customer by the keyed digest (HMAC) of an identifier, so two spellings of the
same identifier ("John@Example.COM " and "john@example.com") must normalise to one string, or
the same person silently becomes two customers. Placeholder values that sources send instead of
a real identifier ("null", "guest", "0000") are rejected here, or every guest would merge into
one customer.

Errors never repeat the offending value: it is personal data, and messages end up in logs and
dead-letter tables.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Set

import phonenumbers
from email_validator import EmailNotValidError, validate_email

from contracts.vocabulary import IdentifierKind
from hub.identity.junk import PLACEHOLDER_REASON, is_junk

__all__ = [
    "InvalidIdentifier",
    "is_junk",
    "normalize_email",
    "normalize_identifier",
    "normalize_phone",
]

#: Longest opaque identifier (ids, cookies) accepted; longer values are garbage, not ids.
MAX_OPAQUE_LENGTH = 256

#: email_validator's messages may quote characters or the domain of the input, so they are never
#: passed on: each is mapped, by a fixed fragment, to a fixed detail (first match wins).
_EMAIL_DETAILS: tuple[tuple[str, str], ...] = (
    ("must have an @-sign", "missing @"),
    ("exactly one @-sign", "more than one @"),
    ("at-sign", "look-alike @ character"),
    ("too long", "too long"),
    ("something before the @-sign", "nothing before the @"),
    ("something after the @-sign", "nothing after the @"),
    ("should have a period", "the domain needs a dot"),
    ("special-use or reserved", "reserved domain"),
    ("top-level domain", "invalid top-level domain"),
    ("quot", "quoted addresses are not accepted"),
    ("display name", "extra text around the address"),
    ("angle bracket", "extra text around the address"),
    ("anything after the email address", "extra text around the address"),
    ("bracket", "IP address domains are not accepted"),
    ("period", "misplaced dot"),
    ("hyphen", "misplaced hyphen"),
    ("before the @-sign", "invalid characters before the @"),
    ("after the @-sign", "invalid domain"),
)
_EMAIL_GENERIC = "not a valid email address"

_PHONE_NEEDS_COUNTRY = "needs a country code (+...) or a default region"
_PHONE_NOT_A_NUMBER = "not a phone number"
_PHONE_INVALID = "not a valid number for its region"


class InvalidIdentifier(ValueError):
    """An identifier value that cannot be normalised.

    Only the kind and a fixed reason are kept, never the value, so the exception is safe to
    log and to store with a dead letter.
    """

    def __init__(self, kind: IdentifierKind | str, reason: str) -> None:
        self.kind: str = str(kind)
        self.reason: str = reason
        super().__init__(f"{self.kind}: {reason}")

    def __reduce__(self) -> tuple[type[InvalidIdentifier], tuple[str, str]]:
        # Default exception pickling replays ``args`` (the message), not our two arguments.
        return type(self), (self.kind, self.reason)


def _reject_junk(kind: IdentifierKind | str, value: str, junk: Set[str]) -> None:
    if is_junk(value, junk):
        raise InvalidIdentifier(kind, PLACEHOLDER_REASON)


def _email_reason(message: str) -> str:
    """Turn an email_validator message into a reason that holds no part of the input."""
    for fragment, detail in _EMAIL_DETAILS:
        if fragment in message:
            return f"{_EMAIL_GENERIC} ({detail})"
    return _EMAIL_GENERIC


def _validated_email(address: str) -> str:
    try:
        # No deliverability check: normalising must be pure and never touch the network.
        valid = validate_email(address, check_deliverability=False)
    except EmailNotValidError as exc:
        # ``from None``: the chained exception's message may quote the address.
        raise InvalidIdentifier(IdentifierKind.EMAIL, _email_reason(str(exc))) from None
    return valid.normalized.lower()


def normalize_email(raw: str, junk: Set[str] = frozenset()) -> str:
    """Return the canonical form of an email address: validated, then entirely lower-cased.

    The local part is lower-cased too: RFC 5321 lets it be case-sensitive, but no real mailbox
    provider is, and case variants of one address must reach one customer.
    """
    stripped = raw.strip()
    _reject_junk(IdentifierKind.EMAIL, stripped, junk)
    normalized = _validated_email(stripped)
    # Lower-casing can, for rare non-ASCII letters, yield a string that validates differently;
    # refuse those so that normalisation is idempotent (a stored digest must stay findable).
    # ASCII addresses are stable by construction, so only others pay for the second check.
    if not normalized.isascii() and _validated_email(normalized) != normalized:
        raise InvalidIdentifier(IdentifierKind.EMAIL, f"{_EMAIL_GENERIC} (unstable letter case)")
    return normalized


def normalize_phone(
    raw: str, default_region: str | None, junk: Set[str] = frozenset()
) -> str:
    """Return a phone number in E.164 ("+33612345678").

    ``default_region`` (ISO 3166 alpha-2, e.g. "FR") is the country assumed for numbers written
    in national form, as customers type them ("06 12 34 56 78").
    """
    stripped = raw.strip()
    _reject_junk(IdentifierKind.PHONE, stripped, junk)
    try:
        number = phonenumbers.parse(stripped, default_region)
    except phonenumbers.NumberParseException as exc:
        if exc.error_type == phonenumbers.NumberParseException.INVALID_COUNTRY_CODE:
            reason = _PHONE_NEEDS_COUNTRY
        else:
            reason = _PHONE_NOT_A_NUMBER
        raise InvalidIdentifier(IdentifierKind.PHONE, reason) from None
    if not phonenumbers.is_valid_number(number):
        raise InvalidIdentifier(IdentifierKind.PHONE, _PHONE_INVALID)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _normalize_opaque(kind: IdentifierKind, raw: str, junk: Set[str]) -> str:
    """Opaque ids and cookies: only trimmed, as their case may be significant to the source."""
    stripped = raw.strip()
    if len(stripped) > MAX_OPAQUE_LENGTH:
        raise InvalidIdentifier(kind, f"longer than {MAX_OPAQUE_LENGTH} characters")
    _reject_junk(kind, stripped, junk)
    # Control and invisible format characters make look-alike ids that digest differently;
    # lone surrogates cannot even be encoded to be digested.
    if any(unicodedata.category(char) in {"Cc", "Cf", "Cs"} for char in stripped):
        raise InvalidIdentifier(kind, "contains control or invisible characters")
    return stripped


def normalize_identifier(
    kind: IdentifierKind | str,
    value: str,
    *,
    default_region: str | None,
    junk: Set[str] = frozenset(),
) -> str:
    """Normalise ``value`` as an identifier of ``kind``; the single entry point for callers.

    ``default_region`` is only used for phone numbers; it is required (possibly ``None``) so
    that every caller decides consciously how national phone numbers are read. ``junk`` adds
    the installation's placeholders (``[identity] junk_values``, folded) to the built-in ones.
    """
    try:
        known = IdentifierKind(kind)
    except ValueError:
        raise InvalidIdentifier(str(kind), "unknown identifier kind") from None
    if known is IdentifierKind.EMAIL:
        return normalize_email(value, junk)
    if known is IdentifierKind.PHONE:
        return normalize_phone(value, default_region, junk)
    return _normalize_opaque(known, value, junk)
