"""What the OneSignal brick sends and how it reads the answers.

Pure functions, no I/O: the brick module does the HTTP. Every body names the person by the
brick's pseudonym only (OneSignal's ``external_id`` alias); the push token travels only in the
Users API call that links it to that alias, never in a notification.
"""

from __future__ import annotations

import json
import re
import uuid
from string import Template
from typing import Any

import httpx

from contracts import ContactView, PayloadRejected, SendRequest
from hub.sdk.http import VendorError, scrub
from plugins.onesignal.settings import LANGUAGES, InlineTemplate, OneSignalSettings

__all__ = [
    "ALIAS_LABEL",
    "CUSTOM_DATA_LIMIT",
    "describe",
    "idempotency_uuid",
    "language_for",
    "notification_body",
    "read_notification",
    "subscription_type_for",
    "user_body",
]

#: The alias OneSignal reserves for "your own user id": ours is the brick's pseudonym.
ALIAS_LABEL = "external_id"
#: OneSignal's documented cap on ``custom_data`` for push, in bytes of JSON.
CUSTOM_DATA_LIMIT = 2048
#: Fixed namespace so the same hub key always gives the same OneSignal key (see
#: ``idempotency_uuid``); changing it would let a retry after an upgrade deliver twice.
_IDEMPOTENCY_NAMESPACE = uuid.UUID("6f1c2a4e-8d3b-4f0a-9c51-2b7e0d9a4c13")
_APNS_TOKEN = re.compile(r"^[0-9a-fA-F]{64}$")


def idempotency_uuid(key: str) -> str:
    """The hub's idempotency key as the UUID OneSignal requires (v3: name-based, stable).

    OneSignal only accepts UUIDs as ``idempotency_key`` (documented: "v3 or v4"), while the
    hub's keys are free strings (a SHA-256 hex by default). A name-based v3 UUID maps each hub
    key to one OneSignal key, in every process and after restarts, so a retried send is
    recognised and not delivered twice (OneSignal keeps keys for 30 days).
    """
    return str(uuid.uuid3(_IDEMPOTENCY_NAMESPACE, key))


def language_for(locale: str | None) -> str | None:
    """OneSignal's language code for a BCP 47 / POSIX locale, or None if it has none.

    OneSignal picks each person's text from ``contents`` by this code; an unsupported
    language is left unset so OneSignal keeps the device's own language.
    """
    if not locale:
        return None
    parts = [p for p in re.split(r"[-_.@]", locale.strip()) if p]
    if not parts:
        return None
    primary = parts[0].lower()
    rest = {p.lower() for p in parts[1:]}
    if primary == "zh":
        return "zh-Hant" if rest & {"hant", "tw", "hk", "mo"} else "zh-Hans"
    primary = {"no": "nb", "nn": "nb", "iw": "he", "in": "id"}.get(primary, primary)
    return primary if primary in LANGUAGES else None


def subscription_type_for(token: str, configured: str) -> str:
    """The Users API subscription type for a push token.

    ``auto`` recognises the two mobile shapes: 64 hex characters is an APNs device token
    (``iOSPush``), anything else without a scheme an FCM registration token (``AndroidPush``).
    Web push endpoints (URLs) are refused: a web subscription also needs the browser's
    encryption keys, which only OneSignal's Web SDK can register.
    """
    if configured != "auto":
        return configured
    if "://" in token:
        raise PayloadRejected(
            "push_token is a web push endpoint: let OneSignal's Web SDK register web "
            "subscriptions (OneSignal.login with the pseudonym), or set subscription_type",
            field="push_token",
        )
    return "iOSPush" if _APNS_TOKEN.match(token) else "AndroidPush"


def user_body(view: ContactView, settings: OneSignalSettings) -> dict[str, Any]:
    """``POST /apps/{app_id}/users``: the pseudonym as ``external_id`` and what the view allows.

    With a push token, the (type, token) subscription is created or moved onto this user,
    which links a device the app registered anonymously to the pseudonym.
    """
    body: dict[str, Any] = {"identity": {ALIAS_LABEL: view.pseudonym}}
    language = language_for(view.locale)
    if language:
        body["properties"] = {"language": language}
    if view.push_token:
        kind = subscription_type_for(view.push_token, settings.subscription_type)
        body["subscriptions"] = [{"type": kind, "token": view.push_token}]
    return body


def _render(text: str, variables: dict[str, str], template: str) -> str:
    try:
        return Template(text).substitute(variables)
    except KeyError as exc:
        raise PayloadRejected(
            f"template {template!r} needs the variable {exc.args[0]!r}", field="variables"
        ) from None
    except ValueError:
        raise PayloadRejected(
            f"template {template!r} has a malformed '$' placeholder", field="template"
        ) from None


def _content(request: SendRequest, inline: InlineTemplate) -> dict[str, Any]:
    variables = {
        k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in request.variables.items()
    }
    body: dict[str, Any] = {
        "contents": {
            lang: _render(t, variables, request.template) for lang, t in inline.contents.items()
        },
    }
    if inline.headings:
        body["headings"] = {
            lang: _render(t, variables, request.template) for lang, t in inline.headings.items()
        }
    if inline.url:
        body["url"] = _render(inline.url, variables, request.template)
    return body


def notification_body(request: SendRequest, settings: OneSignalSettings) -> dict[str, Any]:
    """``POST /notifications``: one push to the person whose ``external_id`` is the pseudonym."""
    template = settings.templates.get(request.template)
    if template is None:
        raise PayloadRejected(
            f"unknown template {request.template!r}: map it in bricks.onesignal.templates",
            field="template",
        )
    body: dict[str, Any] = {
        "app_id": str(settings.app_id),
        "include_aliases": {ALIAS_LABEL: [request.recipient.pseudonym]},
        "target_channel": "push",
        "idempotency_key": idempotency_uuid(request.idempotency_key),
        "name": request.scenario,
    }
    if isinstance(template, InlineTemplate):
        body.update(_content(request, template))
    else:
        body["template_id"] = str(template)
        if request.variables:
            custom = json.dumps(request.variables, separators=(",", ":"))
            if len(custom.encode()) > CUSTOM_DATA_LIMIT:
                raise PayloadRejected(
                    f"variables are {len(custom.encode())} bytes of JSON; OneSignal accepts "
                    f"{CUSTOM_DATA_LIMIT} for push",
                    field="variables",
                )
            body["custom_data"] = dict(request.variables)
    if settings.android_channel_id is not None:
        body["android_channel_id"] = str(settings.android_channel_id)
    if settings.ttl_seconds is not None:
        body["ttl"] = settings.ttl_seconds
    return body


def _error_text(errors: object) -> str:
    """A short, scrubbed description of OneSignal's polymorphic ``errors`` field."""
    if isinstance(errors, list):
        parts = []
        for item in errors:
            if isinstance(item, dict):
                parts.append(str(item.get("title") or item.get("message") or item.get("code")))
            else:
                parts.append(str(item))
        return scrub("; ".join(p for p in parts if p)) or "no reason given"
    if isinstance(errors, dict):
        # Keys only: the values list identifiers (our pseudonym, player ids).
        return scrub("invalid: " + ", ".join(sorted(str(k) for k in errors)))
    if isinstance(errors, str) and errors:
        return scrub(errors)
    return "no reason given"


def read_notification(response: httpx.Response) -> str:
    """The notification id of a 200 answer, or ``PayloadRejected`` when nothing was sent.

    OneSignal answers 200 even when it created nothing: ``id`` is then empty and ``errors``
    says why (e.g. "All included players are not subscribed"). With one recipient, an
    ``invalid_aliases`` entry also means this person will not get it, id or not.
    """
    try:
        answer = response.json()
    except ValueError:
        raise PayloadRejected("OneSignal answered 200 without a JSON body") from None
    if not isinstance(answer, dict):
        raise PayloadRejected("OneSignal answered 200 with an unexpected body")
    errors = answer.get("errors")
    if isinstance(errors, dict) and errors.get("invalid_aliases"):
        raise PayloadRejected(
            "the pseudonym is not an external_id with a subscribed push subscription in this "
            "OneSignal app (link it with the contact sink or OneSignal.login in the app)",
            vendor_code="invalid_aliases",
        )
    notification_id = answer.get("id")
    if not isinstance(notification_id, str) or not notification_id:
        text = _error_text(errors)
        code = "not_subscribed" if "not subscribed" in text.lower() else "not_created"
        raise PayloadRejected(f"OneSignal created no notification: {text}", vendor_code=code)
    return notification_id


def describe(response: httpx.Response) -> VendorError:
    """Read OneSignal's error bodies: ``{"errors": [...]}`` strings, objects or a map."""
    try:
        body = response.json()
    except ValueError:
        return (response.reason_phrase or f"HTTP {response.status_code}", None, None)
    if isinstance(body, dict) and "errors" in body:
        errors = body["errors"]
        code = None
        if isinstance(errors, list) and errors and isinstance(errors[0], dict):
            raw = errors[0].get("code")
            code = None if raw is None else str(raw)[:64]
        return (_error_text(errors), code, None)
    if isinstance(body, dict) and isinstance(body.get("message"), str) and body["message"]:
        return (scrub(body["message"]), None, None)
    return (response.reason_phrase or f"HTTP {response.status_code}", None, None)
