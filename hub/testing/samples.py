"""Test data for conformance checks: distinctive values, fixed times, the hub id's shape.

Every sample value is distinctive on purpose: the kit proves a brick leaked nothing by searching
requests and error messages for these exact strings, so they must never occur by accident (a
vendor default, a template variable). ``created_at`` is fixed so golden request snapshots are
byte-stable from run to run.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime

from contracts import (
    Brick,
    Channel,
    ContactView,
    CustomerField,
    MessageKind,
    SendRequest,
)

__all__ = [
    "CONTACT_POINTS",
    "CREATED_AT",
    "HUB_ID_PATTERN",
    "PSEUDONYM",
    "PUBLIC_BASE_URL",
    "SAMPLE_VALUES",
    "full_view",
    "make_send_request",
    "view_values",
    "view_with",
]

#: A valid brick pseudonym (>= 16 characters) that is easy to spot in a payload.
PSEUDONYM = "ps_conformance0123456789abcdef"

#: The shape of the hub's own customer ids (``cus_`` + 160 bits in lower-case base32, see
#: ``hub.identity.service.new_customer_id``). No request to a vendor may ever carry one.
HUB_ID_PATTERN = re.compile(r"cus_[a-z2-7]{32}")

#: Where the kit says vendors reach the hub (``BrickContext.public_base_url``), so bricks that
#: put a callback URL in their requests (Twilio's ``StatusCallback``) produce stable snapshots.
PUBLIC_BASE_URL = "https://hub.conformance.example"

#: Fixed send time of every sample request: snapshots must not change with the clock.
CREATED_AT = datetime(2026, 1, 15, 10, 0, tzinfo=UTC)

SAMPLE_VALUES: Mapping[CustomerField, str] = {
    CustomerField.EMAIL: "ada.conformance@example.org",
    CustomerField.PHONE: "+33612345678",
    CustomerField.FIRST_NAME: "Adaconf",
    CustomerField.LAST_NAME: "Lovelaceconf",
    CustomerField.PUSH_TOKEN: "pt-conformance-token-0001",
    CustomerField.LOCALE: "fr-FR",
    CustomerField.TIME_ZONE: "Europe/Paris",
}

#: The field that reaches a person on each channel: what a brick needs at the very least.
CONTACT_POINTS: Mapping[Channel, CustomerField] = {
    Channel.EMAIL: CustomerField.EMAIL,
    Channel.SMS: CustomerField.PHONE,
    Channel.PUSH: CustomerField.PUSH_TOKEN,
}


def view_with(fields: Iterable[CustomerField], pseudonym: str = PSEUDONYM) -> ContactView:
    """A view carrying only ``fields`` (each set to its sample value) and the pseudonym."""
    values = {CustomerField(field).value: SAMPLE_VALUES[CustomerField(field)] for field in fields}
    return ContactView(pseudonym=pseudonym, **values)


def full_view(brick_cls: type[Brick], pseudonym: str = PSEUDONYM) -> ContactView:
    """Everything the brick declares it can use: the most a configuration could allow it."""
    return view_with(brick_cls.fields, pseudonym)


def view_values(view: ContactView) -> dict[CustomerField, str]:
    """The personal values a view carries (the pseudonym excluded), by field."""
    return {field: getattr(view, field.value) for field in view.fields_present()}


def make_send_request(
    view: ContactView,
    *,
    channel: Channel,
    kind: MessageKind = MessageKind.MARKETING,
    scenario: str = "conformance",
    template: str = "welcome-1",
    variables: Mapping[str, str | int | float | bool] | None = None,
    request_id: str = "req-conformance-0001",
    idempotency_key: str = "idem-conformance-0001",
) -> SendRequest:
    """A ``SendRequest`` with fixed ids and time, so the vendor request is reproducible."""
    return SendRequest(
        request_id=request_id,
        idempotency_key=idempotency_key,
        channel=channel,
        kind=kind,
        scenario=scenario,
        template=template,
        variables=dict(variables or {}),
        recipient=view,
        created_at=CREATED_AT,
    )
