"""Customers as bricks see them: identifiers in, minimised views out.

The hub's own customer id never appears here. Inbound, a brick describes a person by natural
identifiers (``Contact``); outbound, the core hands a brick a ``ContactView`` holding the brick's
own pseudonym and only the fields that brick is allowed to receive.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    field_validator,
    model_serializer,
)

from contracts.vocabulary import (
    Channel,
    ConsentStatus,
    CustomerField,
    IdentifierKind,
    Purpose,
)

__all__ = ["Consent", "Contact", "ContactView", "Identifier"]

_FROZEN = ConfigDict(extra="forbid", frozen=True)


def _require_aware(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        raise ValueError("must include a time zone offset (e.g. 2026-01-31T10:00:00+00:00)")
    return value


class Identifier(BaseModel):
    """A natural identifier: an email, a phone number, a shop customer id, a cookie..."""

    model_config = _FROZEN

    kind: IdentifierKind
    value: str = Field(min_length=1, max_length=512, repr=False)
    namespace: str = Field(
        default="",
        max_length=64,
        description="Separates identifier spaces: the shop for shop ids, the partner for cookies.",
    )
    verified: bool = Field(
        default=False,
        description="True when the source proved the person controls it (login, purchase, "
        "double opt-in). Only verified identifiers may merge two customers.",
    )


class Consent(BaseModel):
    """One consent statement for a channel and purpose; the core keeps them append-only."""

    model_config = _FROZEN

    channel: Channel
    purpose: Purpose = Purpose.MARKETING
    status: ConsentStatus
    source: str = Field(min_length=1, max_length=128)
    wording_version: str | None = Field(default=None, max_length=64)
    recorded_at: datetime

    _aware = field_validator("recorded_at")(_require_aware)


class Contact(BaseModel):
    """A person as a source describes them (an import row, a shop customer, a CRM record).

    Carries PII: the core normalises it, stores it encrypted and never logs it.
    """

    model_config = ConfigDict(extra="forbid")

    identifiers: list[Identifier] = Field(min_length=1)
    first_name: str | None = Field(default=None, max_length=256, repr=False)
    last_name: str | None = Field(default=None, max_length=256, repr=False)
    push_token: str | None = Field(default=None, max_length=512, repr=False)
    locale: str | None = Field(default=None, max_length=35)
    time_zone: str | None = Field(default=None, max_length=64)
    consents: list[Consent] = Field(default_factory=list)
    attributes: dict[str, Any] = Field(default_factory=dict)
    updated_at: datetime | None = None

    _aware = field_validator("updated_at")(_require_aware)


class ContactView(BaseModel):
    """The minimised view of a customer built for one brick.

    ``pseudonym`` is stable for (customer, brick) and differs between bricks, so two vendors
    cannot join their data. Every other attribute is present only if config allows that brick
    to receive it; absent fields are ``None``.

    ``opted_out`` lists the channels the person must not receive marketing on (their current
    marketing consent there is denied: an unsubscribe, a complaint, a hard bounce, a STOP). A
    contact sink should mark the contact unsubscribed on those channels at the vendor (e.g.
    Brevo's ``emailBlacklisted``), so a campaign run from the vendor's own tool respects it too.
    It never re-subscribes anyone: a channel absent from it says nothing either way. The core
    fills it only for bricks that hold contacts (``ContactSink``); a message's recipient view
    needs no consent history.
    """

    model_config = _FROZEN

    pseudonym: str = Field(min_length=16)
    email: str | None = Field(default=None, repr=False)
    phone: str | None = Field(default=None, repr=False)
    first_name: str | None = Field(default=None, repr=False)
    last_name: str | None = Field(default=None, repr=False)
    push_token: str | None = Field(default=None, repr=False)
    locale: str | None = None
    time_zone: str | None = None
    opted_out: frozenset[Channel] = frozenset()

    @model_serializer(mode="wrap")
    def _omit_empty_opt_outs(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """Dumps stay as they were before ``opted_out`` existed unless it says something; in
        JSON the channels are sorted, so the same view always serialises the same way."""
        data: dict[str, Any] = handler(self)
        if not self.opted_out:
            data.pop("opted_out", None)
        elif isinstance(data.get("opted_out"), list):
            data["opted_out"] = sorted(data["opted_out"])
        return data

    def fields_present(self) -> list[CustomerField]:
        """The customer fields this view actually carries (for egress audit rows)."""
        return [f for f in CustomerField if getattr(self, f.value) is not None]
