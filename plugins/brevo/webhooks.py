"""Brevo transactional webhooks: who may call, and what each event means for the hub.

Brevo does not sign webhook payloads. A call is accepted only when it presents the shared
``webhook_token``: as ``Authorization: Bearer <token>`` (Brevo's webhook ``auth`` option,
``{"type": "bearer", "token": ...}``) or as a ``token`` query parameter of the URL. A captured
call replayed later is refused by the age of its events' ``ts_event``.

Payload (one object, or a list of them for a "batched" webhook)::

    {"event": "hard_bounce", "email": "...", "id": 12, "date": "...", "ts": 1604933619,
     "message-id": "<...@smtp-relay.mailin.fr>", "ts_event": 1604933654, "ts_epoch": ...,
     "X-Mailin-custom": "<pseudonym>", "tags": ["welcome"], "reason": "...", "link": "..."}

The recipient's address is read by nobody here: the person is named by the pseudonym the brick
put in ``X-Mailin-custom`` when it sent the message, and the address is scrubbed from free text.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

from contracts import (
    Channel,
    Outcome,
    OutcomeType,
    PayloadRejected,
    WebhookPayload,
    WebhookRejected,
)
from hub.sdk.http import scrub
from hub.sdk.webhooks import check_timestamp, get_header, verify_token
from plugins.brevo.payloads import MAILIN_CUSTOM

__all__ = ["EVENT_OUTCOMES", "parse_events", "presented_token", "reject_stale", "verify_call"]

#: Brevo's transactional event words and the contract outcome each one reports (None: no
#: outcome, the event is acknowledged and dropped).
EVENT_OUTCOMES: Mapping[str, OutcomeType | None] = {
    # Brevo took the request: the send's own result already says "accepted".
    "request": None,
    "delivered": OutcomeType.DELIVERED,
    "opened": OutcomeType.OPENED,
    "unique_opened": OutcomeType.OPENED,
    # Opens reported by mail privacy proxies (Apple MPP): kept, vendor_status tells them apart.
    "proxy_open": OutcomeType.OPENED,
    "unique_proxy_open": OutcomeType.OPENED,
    "click": OutcomeType.CLICKED,
    "hard_bounce": OutcomeType.BOUNCED_HARD,
    "soft_bounce": OutcomeType.BOUNCED_SOFT,
    # The address does not exist or cannot exist: as final as a hard bounce.
    "invalid_email": OutcomeType.BOUNCED_HARD,
    # Brevo refused to send because the contact is on its block list (an earlier unsubscribe,
    # hard bounce or complaint, already reported when it happened, or a manual block). Nothing
    # new is learnt about the address, so it is a failed send, not a consent-revoking bounce.
    "blocked": OutcomeType.FAILED,
    "error": OutcomeType.FAILED,
    "spam": OutcomeType.COMPLAINED,
    "unsubscribed": OutcomeType.UNSUBSCRIBED,
    # Delivery delayed, Brevo keeps trying: delivered / soft_bounce / hard_bounce follows.
    "deferred": None,
}

_PSEUDONYM = re.compile(r"^[A-Za-z0-9_.:-]{16,128}$")
_EMAIL_LIKE = re.compile(r"[^\s@/?&=#]+@[^\s@/?&=#]+")
_MAX_TS = 253_402_300_799  # 9999-12-31T23:59:59Z


def presented_token(url: str, headers: Mapping[str, str]) -> str | None:
    """The token of a call: the bearer header wins; else the ``token`` query parameter."""
    authorization = get_header(headers, "Authorization")
    if authorization:
        scheme, _, credentials = authorization.strip().partition(" ")
        return credentials.strip() if scheme.lower() == "bearer" else None
    try:
        query = urlsplit(url).query
    except ValueError:
        return None
    tokens = [value for key, value in parse_qsl(query, keep_blank_values=True) if key == "token"]
    return tokens[0] if len(tokens) == 1 else None


def verify_call(
    token: str | None,
    url: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    tolerance: timedelta,
    now: datetime | None = None,
) -> None:
    """Raise ``WebhookRejected`` unless the call carries the token and no stale event."""
    if not token:
        raise WebhookRejected("webhook_token is not configured for the brevo brick")
    verify_token(token, presented_token(url, headers))
    reject_stale(body, tolerance=tolerance, now=now)


def reject_stale(body: bytes, *, tolerance: timedelta, now: datetime | None = None) -> None:
    """Refuse a replay: any event whose ``ts_event`` lies outside the tolerance.

    A body that is not readable JSON passes here: ``parse`` refuses it with ``PayloadRejected``,
    as it does an event without a timestamp, so neither can be replayed into an outcome.
    """
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return
    for event in data if isinstance(data, list) else [data]:
        if isinstance(event, dict):
            seconds = _event_seconds(event)
            if seconds is not None:
                check_timestamp(seconds, tolerance=tolerance, now=now)


def _event_seconds(event: Mapping[str, Any]) -> float | None:
    """``ts_event`` (UTC seconds), else ``ts_epoch`` (UTC milliseconds); None if unusable."""
    for key, scale in (("ts_event", 1), ("ts_epoch", 1000)):
        value = event.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool):
            seconds = value / scale
            if 0 <= seconds <= _MAX_TS:
                return float(seconds)
    return None


def parse_events(body: bytes) -> WebhookPayload:
    """Turn a verified body into outcomes; ``PayloadRejected`` for anything malformed."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise PayloadRejected("webhook body is not JSON") from exc
    events = data if isinstance(data, list) else [data]
    outcomes: list[Outcome] = []
    for index, event in enumerate(events):
        if not isinstance(event, dict):
            raise PayloadRejected(f"event {index} is not a JSON object")
        outcome = _outcome(event, index)
        if outcome is not None:
            outcomes.append(outcome)
    return WebhookPayload(outcomes=outcomes)


def _outcome(event: dict[str, Any], index: int) -> Outcome | None:
    word = event.get("event")
    if not isinstance(word, str) or not word:
        raise PayloadRejected(f"event {index} has no 'event' name", field="event")
    if word not in EVENT_OUTCOMES:
        # A word Brevo added after this brick was written: acknowledged, not guessed at.
        return None
    outcome_type = EVENT_OUTCOMES[word]
    if outcome_type is None:
        return None
    seconds = _event_seconds(event)
    if seconds is None:
        raise PayloadRejected(f"event {index} has no usable ts_event", field="ts_event")
    email = event.get("email") if isinstance(event.get("email"), str) else None
    message_id = normalise_message_id(event.get("message-id"))
    return Outcome(
        type=outcome_type,
        channel=Channel.EMAIL,
        pseudonym=_pseudonym(event),
        vendor_message_id=message_id,
        vendor_event_id=_event_id(word, message_id, event, seconds),
        vendor_status=word,
        occurred_at=datetime.fromtimestamp(seconds, UTC),
        reason=_reason(event.get("reason"), email),
        url=_clean_link(event.get("link"), email) if outcome_type is OutcomeType.CLICKED else None,
    )


def normalise_message_id(value: object) -> str | None:
    """Brevo's message id in one form (``<...>``) whether it came from the API or a webhook."""
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    if not text.startswith("<"):
        text = f"<{text}>"
    return text if len(text) <= 256 else None


def _pseudonym(event: Mapping[str, Any]) -> str | None:
    """The pseudonym the brick put in ``X-Mailin-custom``; anything else there is ignored."""
    wanted = MAILIN_CUSTOM.lower()
    for key, value in event.items():
        if key.lower() == wanted and isinstance(value, str) and _PSEUDONYM.fullmatch(value):
            return value
    return None


def _event_id(word: str, message_id: str | None, event: Mapping[str, Any], seconds: float) -> str:
    """Brevo gives no per-event id (``id`` is the webhook's): derive a stable one for dedup.

    A retried delivery of the same event yields the same id; the link is hashed in, never kept.
    """
    epoch = event.get("ts_epoch")
    instant = epoch if isinstance(epoch, int) and not isinstance(epoch, bool) else seconds
    link = event.get("link") if isinstance(event.get("link"), str) else ""
    material = "\x1f".join((word, message_id or "", str(instant), link))
    return "brevo-" + hashlib.sha256(material.encode("utf-8")).hexdigest()[:40]


def _reason(value: object, email: str | None) -> str | None:
    """Bounce texts often quote the address: remove it (and anything email- or phone-shaped)."""
    if not isinstance(value, str) or not value.strip():
        return None
    text = value
    if email:
        text = re.sub(re.escape(email), "<email>", text, flags=re.IGNORECASE)
    return scrub(text)


def _clean_link(value: object, email: str | None) -> str | None:
    """The clicked URL without any query parameter or fragment carrying the address.

    Tracking links often carry the recipient (``?uid=ada@...``); those parts are dropped, the
    rest (path, utm parameters) is kept for click reports.
    """
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        parts = urlsplit(value.strip())
    except ValueError:
        return None

    def personal(text: str) -> bool:
        plain = unquote(unquote(text)).lower()
        return bool(_EMAIL_LIKE.search(plain)) or bool(email and email.lower() in plain)

    if personal(parts.netloc) or personal(parts.path):
        return None
    query = urlencode(
        [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not personal(k + v)]
    )
    fragment = "" if personal(parts.fragment) else parts.fragment
    link = urlunsplit((parts.scheme, parts.netloc, parts.path, query, fragment))
    return link if len(link) <= 2048 else None
