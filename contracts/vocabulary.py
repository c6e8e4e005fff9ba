"""The shared vocabulary: channels, kinds, purposes, customer fields and identifier kinds.

These enums are the words config, bricks and the core agree on. They are ``StrEnum`` so they
serialise as plain strings in TOML, JSON and database rows.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = [
    "PII_FIELDS",
    "Channel",
    "ConsentStatus",
    "CustomerField",
    "IdentifierKind",
    "MessageKind",
    "Purpose",
]


class Channel(StrEnum):
    """A way to reach a person. Consent and pressure are kept per channel."""

    EMAIL = "email"
    SMS = "sms"
    PUSH = "push"


class MessageKind(StrEnum):
    """Why a message is sent; decides which consent and pressure rules apply.

    Transactional messages (order confirmation, password reset) need no marketing consent;
    service messages (account notices) neither, but both are still recorded.
    """

    MARKETING = "marketing"
    TRANSACTIONAL = "transactional"
    SERVICE = "service"


class Purpose(StrEnum):
    """A processing purpose a brick declares and a consent can cover (GDPR art. 6)."""

    MARKETING = "marketing"
    TRANSACTIONAL = "transactional"
    PROFILING = "profiling"
    ANALYTICS = "analytics"


class ConsentStatus(StrEnum):
    GRANTED = "granted"
    DENIED = "denied"


class CustomerField(StrEnum):
    """A customer attribute a brick may be allowed to receive (deny by default)."""

    EMAIL = "email"
    PHONE = "phone"
    FIRST_NAME = "first_name"
    LAST_NAME = "last_name"
    PUSH_TOKEN = "push_token"  # noqa: S105 - a field name, not a secret
    LOCALE = "locale"
    TIME_ZONE = "time_zone"


#: Fields that identify a person on their own: they live only encrypted in the vault.
PII_FIELDS: frozenset[CustomerField] = frozenset(
    {
        CustomerField.EMAIL,
        CustomerField.PHONE,
        CustomerField.FIRST_NAME,
        CustomerField.LAST_NAME,
        CustomerField.PUSH_TOKEN,
    }
)


class IdentifierKind(StrEnum):
    """A natural identifier that can point at a customer.

    The core stores only keyed digests of their values; ``namespace`` (see ``Identifier``)
    separates e.g. two shops' customer ids or two partners' cookies.
    """

    EMAIL = "email"
    PHONE = "phone"
    SHOP_CUSTOMER_ID = "shop_customer_id"
    CRM_ID = "crm_id"
    SITE_COOKIE = "site_cookie"
    PARTNER_COOKIE = "partner_cookie"
