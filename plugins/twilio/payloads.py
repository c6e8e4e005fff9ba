"""What goes to Twilio and how Twilio's answers are read: the form body, the error body.

The form carries the recipient's phone number and, only when the configured template uses it,
the first name; nothing else about the person (Twilio has no field for the pseudonym, and the
hub's id never leaves the core). Errors are reduced to Twilio's numeric code plus a scrubbed
message, because Twilio echoes the ``To`` number in some messages ("The 'To' number +336... is
not a valid phone number").
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from string import Template
from typing import Any

import httpx

from contracts import PayloadRejected, SendRequest
from hub.sdk.http import VendorError
from plugins.twilio.codes import INVALID_PHONE_CODES
from plugins.twilio.settings import (
    BODY_MAX_CHARS,
    CONTENT_SID,
    ContentTemplate,
    TwilioSettings,
    template_names,
)

__all__ = ["CONTACT_PLACEHOLDERS", "describe_error", "message_form", "messages_path"]

#: Placeholders filled from the contact view rather than from the request's variables: the
#: customer fields this brick declares besides the phone number.
CONTACT_PLACEHOLDERS: frozenset[str] = frozenset({"first_name"})


def messages_path(account_sid: str) -> str:
    """``POST`` target of the Message resource (spec: ``CreateMessage``)."""
    return f"/2010-04-01/Accounts/{account_sid}/Messages.json"


def account_path(account_sid: str) -> str:
    """``GET`` target of the Account resource (spec: ``FetchAccount``), used by ``check``."""
    return f"/2010-04-01/Accounts/{account_sid}.json"


def _text(value: Any) -> str:
    """Variables are scalars; booleans read as JSON does (``true``), not as Python (``True``)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _values_for(names: list[str], request: SendRequest) -> dict[str, str]:
    """The value of each placeholder: contact fields from the view, others from variables.

    A placeholder without a value refuses the payload (``PayloadRejected``): an SMS reading
    "Hello ${first_name}" must never go out. Contact fields missing from the view name the field,
    so the operator knows to allow it (or to change the template).
    """
    values: dict[str, str] = {}
    for name in names:
        contact_value = (
            getattr(request.recipient, name, None) if name in CONTACT_PLACEHOLDERS else None
        )
        if contact_value is not None:
            values[name] = contact_value
        elif name in request.variables:
            values[name] = _text(request.variables[name])
        elif name in CONTACT_PLACEHOLDERS:
            raise PayloadRejected(
                f"template {request.template!r} uses ${{{name}}}: allow the {name!r} field "
                "for this brick or remove the placeholder",
                field=name,
            )
        else:
            raise PayloadRejected(
                f"template {request.template!r} needs the variable {name!r}, which the send "
                "request does not carry",
                field="variables",
            )
    return values


def _render(text: str, request: SendRequest) -> str:
    return Template(text).substitute(_values_for(template_names(text), request))


def _content_variables(spec: ContentTemplate | str, request: SendRequest) -> dict[str, str]:
    if isinstance(spec, ContentTemplate) and spec.variables is not None:
        return {key: _render(text, request) for key, text in spec.variables.items()}
    return {key: _text(value) for key, value in request.variables.items()}


def message_form(
    settings: TwilioSettings, request: SendRequest, phone: str, status_callback: str | None
) -> dict[str, str]:
    """The ``application/x-www-form-urlencoded`` parameters of one ``CreateMessage`` call."""
    spec = settings.templates.get(request.template)
    if spec is None:
        raise PayloadRejected(
            f"unknown template {request.template!r}: add it to the brick's 'templates' setting",
            field="template",
        )
    form: dict[str, str] = {"To": phone}
    if settings.messaging_service_sid is not None:
        form["MessagingServiceSid"] = settings.messaging_service_sid
    else:
        assert settings.from_number is not None  # exactly one sender: the settings validator
        form["From"] = settings.from_number
    if isinstance(spec, ContentTemplate) or CONTENT_SID.match(spec):
        form["ContentSid"] = spec.content_sid if isinstance(spec, ContentTemplate) else spec
        variables = _content_variables(spec, request)
        if variables:
            # Twilio refuses an empty or null-valued ContentVariables (error 21656): omit it.
            form["ContentVariables"] = json.dumps(
                variables, ensure_ascii=False, separators=(",", ":"), sort_keys=True
            )
    else:
        body = _render(spec, request)
        if not body.strip():
            raise PayloadRejected(f"template {request.template!r} renders an empty body")
        if len(body) > BODY_MAX_CHARS:
            raise PayloadRejected(
                f"template {request.template!r} renders {len(body)} characters; Twilio accepts "
                f"at most {BODY_MAX_CHARS}",
                field="variables",
            )
        form["Body"] = body
    if status_callback is not None:
        form["StatusCallback"] = status_callback
    return form


def describe_error(response: httpx.Response) -> VendorError:
    """Read Twilio's error body ``{code, message, more_info, status}``.

    Returns (message, code, field): ``field`` is ``"phone"`` when the code says the ``To``
    number is unusable. The message is scrubbed by ``hub.sdk.http`` before it goes anywhere.
    """
    try:
        body: Any = response.json()
    except ValueError:
        return (response.reason_phrase or f"HTTP {response.status_code}", None, None)
    if not isinstance(body, Mapping):
        return (response.reason_phrase or f"HTTP {response.status_code}", None, None)
    raw_code = body.get("code")
    code = None if raw_code is None or isinstance(raw_code, bool) else str(raw_code)
    message = body.get("message")
    if not isinstance(message, str) or not message:
        message = response.reason_phrase or f"HTTP {response.status_code}"
    field = "phone" if code in INVALID_PHONE_CODES else None
    return (f"{message} (Twilio error {code})" if code else message, code, field)
