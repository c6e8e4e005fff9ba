"""Customer events: one envelope, typed payloads per event type.

The envelope says who (identifiers or a brick pseudonym), what (``type``), when and from where;
the payload is validated against the model registered for ``type``. Built-in types are below;
plugins add namespaced ones (``acme.loyalty_points_earned``) through ``hub_register_event_types``.
De-duplication key: ``(source, id)``.
"""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from contracts.customers import Consent, Contact, Identifier, _require_aware

__all__ = [
    "BUILTIN_EVENT_TYPES",
    "EVENT_TYPE_PATTERN",
    "CartAbandoned",
    "CustomerLoggedIn",
    "CustomerSignedUp",
    "CustomerUpdated",
    "EventEnvelope",
    "LineItem",
    "OrderPlaced",
    "PageViewed",
]

#: ``namespace.name`` in lower snake case, e.g. ``cart.abandoned``.
EVENT_TYPE_PATTERN = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")

_CURRENCY = re.compile(r"^[A-Z]{3}$")


class _Payload(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LineItem(_Payload):
    sku: str = Field(min_length=1, max_length=128)
    name: str | None = Field(default=None, max_length=512)
    quantity: Decimal = Field(gt=0)
    unit_price: Decimal = Field(ge=0)
    url: str | None = Field(default=None, max_length=2048)
    image_url: str | None = Field(default=None, max_length=2048)


class _Basket(_Payload):
    items: list[LineItem] = Field(min_length=1)
    total: Decimal = Field(ge=0)
    currency: str = Field(description="ISO 4217 code, e.g. EUR")

    @field_validator("currency")
    @classmethod
    def _iso_currency(cls, value: str) -> str:
        if not _CURRENCY.fullmatch(value):
            raise ValueError("must be a three-letter ISO 4217 code such as EUR")
        return value


class CartAbandoned(_Basket):
    """A cart left without an order after the shop's abandonment delay."""

    cart_id: str = Field(min_length=1, max_length=128)
    cart_url: str | None = Field(default=None, max_length=2048)
    updated_at: datetime

    _aware = field_validator("updated_at")(_require_aware)


class OrderPlaced(_Basket):
    order_id: str = Field(min_length=1, max_length=128)
    cart_id: str | None = Field(default=None, max_length=128)


class CustomerSignedUp(_Payload):
    """A new account or newsletter sign-up, with the consents given at that moment."""

    method: str = Field(default="account", max_length=64, description="account, newsletter...")
    consents: list[Consent] = Field(default_factory=list)


class CustomerUpdated(_Payload):
    """A source's new picture of the person (profile fields, consents, extra identifiers)."""

    contact: Contact


class CustomerLoggedIn(_Payload):
    """The person authenticated: the event's verified identifiers prove who holds the cookies
    it carries, so the hub links them (and replays their parked page views)."""

    method: str = Field(
        default="password", min_length=1, max_length=64, description="password, sso, magic_link..."
    )


class PageViewed(_Payload):
    """A page seen on the site; often anonymous (a site cookie only) until a login links it."""

    url: str = Field(min_length=1, max_length=2048)
    title: str | None = Field(default=None, max_length=1024)
    referrer: str | None = Field(default=None, max_length=2048)


BUILTIN_EVENT_TYPES: dict[str, type[BaseModel]] = {
    "cart.abandoned": CartAbandoned,
    "order.placed": OrderPlaced,
    "customer.signed_up": CustomerSignedUp,
    "customer.updated": CustomerUpdated,
    "customer.logged_in": CustomerLoggedIn,
    "page.viewed": PageViewed,
}


class EventEnvelope(BaseModel):
    """What every event carries, whatever its type.

    Exactly one way to find the customer: natural ``identifiers`` (resolved through the
    vault's keyed digests) or the ``pseudonym`` the emitting brick knows the person by.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(min_length=1, max_length=256, description="The source's own event id.")
    type: str = Field(max_length=128)
    source: str = Field(min_length=1, max_length=64, description="Brick or system that emitted it.")
    occurred_at: datetime
    identifiers: list[Identifier] = Field(default_factory=list)
    pseudonym: str | None = Field(default=None, min_length=16, max_length=128)
    payload: dict[str, Any] = Field(default_factory=dict)

    _aware = field_validator("occurred_at")(_require_aware)

    @field_validator("type")
    @classmethod
    def _namespaced(cls, value: str) -> str:
        if not EVENT_TYPE_PATTERN.fullmatch(value):
            raise ValueError("must look like 'namespace.name' in lower snake case")
        return value

    @model_validator(mode="after")
    def _one_customer_reference(self) -> EventEnvelope:
        if bool(self.identifiers) == (self.pseudonym is not None):
            raise ValueError("give either identifiers or a pseudonym to find the customer")
        return self
