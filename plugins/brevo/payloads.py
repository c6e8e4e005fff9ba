"""Request bodies Brevo expects and the reading of its error answers.

Kept apart from the brick so each body can be checked on its own against Brevo's published spec
(``sendSmtpEmail``, ``createContact``, ``requestContactImport``) and so the rule "only the fields
of the minimised view, never the hub id" is visible in one place.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import httpx

from contracts import BrickError, Channel, ContactView, CustomerField, PayloadRejected, SendRequest
from hub.sdk.http import VendorError
from plugins.brevo.settings import BrevoSettings

__all__ = [
    "EXT_ID_ATTRIBUTE",
    "MAILIN_CUSTOM",
    "blacklist_flags",
    "contact_attributes",
    "contact_body",
    "error_reader",
    "import_body",
    "redact",
    "send_body",
    "view_values",
]

#: The custom header Brevo echoes, unchanged, in every transactional webhook event: it carries
#: the pseudonym so an outcome maps back to the person without any contact point.
MAILIN_CUSTOM = "X-Mailin-custom"
#: Brevo stores a contact's ``ext_id`` in this attribute; imports address contacts by it.
EXT_ID_ATTRIBUTE = "EXT_ID"
#: Brevo caps recipient names at 70 characters.
_NAME_LIMIT = 70


def send_body(request: SendRequest, settings: BrevoSettings) -> dict[str, Any]:
    """The ``POST /smtp/email`` body for one templated message to one person.

    The idempotency key goes in ``headers.idempotencyKey`` (Brevo refuses a second request with a
    key it has seen, so a retried send cannot deliver twice); the pseudonym in the custom header
    Brevo echoes in webhooks; the scenario as a tag, for Brevo's own statistics.
    """
    if request.channel is not Channel.EMAIL:
        raise PayloadRejected(
            f"Brevo sends email only, not {request.channel.value}", field="channel"
        )
    template_id = settings.templates.get(request.template)
    if template_id is None:
        raise PayloadRejected(
            f"template {request.template!r} has no Brevo template id: add it to "
            "[bricks.brevo] templates",
            field="template",
        )
    view = request.recipient
    if view.email is None:
        raise PayloadRejected(
            "recipient view has no email: allow the 'email' field for this brick", field="email"
        )
    recipient: dict[str, str] = {"email": view.email}
    name = " ".join(part for part in (view.first_name, view.last_name) if part)
    if name:
        recipient["name"] = name[:_NAME_LIMIT]
    body: dict[str, Any] = {
        "templateId": template_id,
        "to": [recipient],
        "headers": {
            "idempotencyKey": request.idempotency_key,
            MAILIN_CUSTOM: view.pseudonym,
        },
        "tags": [request.scenario],
    }
    if request.variables:
        body["params"] = dict(request.variables)
    sender = _sender(settings)
    if sender is not None:
        body["sender"] = sender
    return body


def _sender(settings: BrevoSettings) -> dict[str, Any] | None:
    """Only when configured: otherwise the Brevo template's own sender applies."""
    if settings.sender_id is not None:
        return {"id": settings.sender_id}
    if settings.sender_email is not None:
        sender: dict[str, Any] = {"email": settings.sender_email}
        if settings.sender_name:
            sender["name"] = settings.sender_name
        return sender
    return None


def contact_attributes(view: ContactView, settings: BrevoSettings) -> dict[str, str]:
    """The view's fields under their configured Brevo attribute names (absent fields skipped)."""
    return _attributes(view, _attribute_names(settings))


def _attribute_names(settings: BrevoSettings) -> list[tuple[str, str]]:
    """(view attribute, Brevo attribute) pairs, read once per batch rather than per contact."""
    return [(field.value, attribute) for field, attribute in settings.attributes.items()]


def _attributes(view: ContactView, names: list[tuple[str, str]]) -> dict[str, str]:
    attributes: dict[str, str] = {}
    for field_name, attribute in names:
        value = getattr(view, field_name)
        if value is not None:
            attributes[attribute] = value
    return attributes


def contact_body(view: ContactView, settings: BrevoSettings) -> dict[str, Any]:
    """``POST /contacts`` with ``updateEnabled``: creates or updates, keyed by ``ext_id``."""
    body: dict[str, Any] = {"ext_id": view.pseudonym}
    if view.email is not None:
        body["email"] = view.email
    attributes = contact_attributes(view, settings)
    if attributes:
        body["attributes"] = attributes
    body.update(blacklist_flags(view, settings))
    if settings.list_ids:
        body["listIds"] = list(settings.list_ids)
    body["updateEnabled"] = True
    return body


def blacklist_flags(view: ContactView, settings: BrevoSettings) -> dict[str, bool]:
    """Brevo's unsubscribe flags for the channels the person opted out of in the hub.

    Only ever ``true``: a channel not opted out leaves Brevo's flag alone, so the hub never
    re-subscribes someone who unsubscribed in Brevo itself. SMS only when the phone is mapped
    to a Brevo attribute (otherwise Brevo holds no number to block).
    """
    flags: dict[str, bool] = {}
    if Channel.EMAIL in view.opted_out:
        flags["emailBlacklisted"] = True
    if Channel.SMS in view.opted_out and CustomerField.PHONE in settings.attributes:
        flags["smsBlacklisted"] = True
    return flags


def import_body(views: Sequence[ContactView], settings: BrevoSettings) -> dict[str, Any]:
    """``POST /contacts/import``: one asynchronous Brevo job for a large batch.

    Its rows cannot carry per-contact unsubscribe flags, so the brick sends contacts with
    ``opted_out`` channels one by one (``contact_body``) instead.

    Existing contacts are updated, empty values never erase Brevo's data, and the account owner
    is not emailed for every automated sync.
    """
    names = _attribute_names(settings)
    rows: list[dict[str, Any]] = []
    for view in views:
        row: dict[str, Any] = {}
        if view.email is not None:
            row["email"] = view.email
        row["attributes"] = {EXT_ID_ATTRIBUTE: view.pseudonym, **_attributes(view, names)}
        rows.append(row)
    return {
        "jsonBody": rows,
        "listIds": list(settings.list_ids),
        "updateExistingContacts": True,
        "emptyContactsAttributes": False,
        "disableNotification": True,
    }


def view_values(view: ContactView) -> list[str]:
    """Every personal value of a view: what must never reach an error message."""
    return [
        value
        for customer_field in CustomerField
        if isinstance(value := getattr(view, customer_field.value), str) and value
    ]


def redact(error: BrickError, values: Iterable[str]) -> BrickError:
    """Strip values the vendor may have echoed (a name, an address) from an error's message.

    ``hub.sdk.http.scrub`` already removes anything shaped like an email or a phone number; names
    have no shape, so the brick removes the exact values it sent.
    """
    message = error.message
    for value in sorted(set(values), key=len, reverse=True):
        if len(value) >= 2:
            message = re.sub(re.escape(value), "<redacted>", message, flags=re.IGNORECASE)
    if message != error.message:
        error.message = message
        error.args = (message,)
    return error


#: Words of Brevo's error messages that name a request property, and the hub's word for it.
_FIELD_WORDS: tuple[tuple[str, str], ...] = (
    (r"template[ _]?id|template", "template"),
    (r"params", "variables"),
    (r"ext_id", "pseudonym"),
    (r"sender", "sender"),
    (r"email|to(?=\s+(?:is|are)\b)", "email"),
    (r"sms|phone|mobile", "phone"),
)


def error_reader(settings: BrevoSettings) -> Callable[[httpx.Response], VendorError]:
    """A ``describe`` for ``hub.sdk.http.request`` reading Brevo's ``{code, message}`` bodies.

    ``code`` becomes ``vendor_code``; for a refused payload (400/422) the field Brevo's message
    (or ``metadata.duplicate_identifiers``) names is reported under the hub's field name, so a
    dead letter says "phone" rather than "SMS".
    """
    words = [
        (rf"\b{re.escape(attribute)}\b", customer_field.value)
        for customer_field, attribute in settings.attributes.items()
    ]
    words += [(rf"\b(?:{pattern})\b", name) for pattern, name in _FIELD_WORDS]

    def describe(response: httpx.Response) -> VendorError:
        try:
            body: Any = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            return (response.reason_phrase or f"HTTP {response.status_code}", None, None)
        message = str(body.get("message") or response.reason_phrase or "")
        code = body.get("code")
        vendor_code = str(code) if isinstance(code, str | int) else None
        field = None
        if response.status_code in (400, 422):
            field = _named_field(body, message, words)
        return (message, vendor_code, field)

    return describe


def _named_field(body: dict[str, Any], message: str, words: list[tuple[str, str]]) -> str | None:
    metadata = body.get("metadata")
    if isinstance(metadata, dict):
        duplicates = metadata.get("duplicate_identifiers")
        if isinstance(duplicates, list) and duplicates and isinstance(duplicates[0], str):
            message = duplicates[0]
    for pattern, name in words:
        if re.search(pattern, message, flags=re.IGNORECASE):
            return name
    return None
