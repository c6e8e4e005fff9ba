"""Twilio's callbacks: the ``X-Twilio-Signature`` check and status words mapped to outcomes.

Signature (Twilio's documented algorithm, the one its helper libraries implement): take the full
URL Twilio requested, query string included, append every POST parameter sorted by name as
``name + value`` (no separators; a name sent twice contributes each value, values sorted), HMAC-SHA1
the UTF-8 text with the Auth Token as key, base64 the digest. Twilio is inconsistent about the
port, so, like its libraries, a signature is accepted for the URL without an explicit port or with
the scheme's default port (``:443`` / ``:80``).

Twilio signs no timestamp, so a captured callback could be replayed; the damage is nil because
the core de-duplicates outcomes on ``vendor_event_id`` = ``MessageSid:MessageStatus``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from urllib.parse import parse_qsl, urlsplit, urlunsplit

from pydantic import ValidationError

from contracts import (
    Channel,
    Outcome,
    OutcomeType,
    PayloadRejected,
    WebhookPayload,
    WebhookRejected,
)
from hub.sdk.webhooks import constant_time_equals, get_header, hmac_signature, require_header
from plugins.twilio.codes import outcome_for_error_code

__all__ = [
    "FINAL_STATUSES",
    "INBOUND_STATUSES",
    "INTERMEDIATE_STATUSES",
    "SIGNATURE_HEADER",
    "STATUS_OUTCOMES",
    "form_params",
    "parse_status_callback",
    "signature_for",
    "url_variants",
    "verify_signature",
]

SIGNATURE_HEADER = "X-Twilio-Signature"
#: Present when a Webhooks Rule re-signs callbacks with a shared key (HMAC-SHA256).
_RULE_SETTINGS_HEADER = "X-Twilio-Webhooks-Signature-Settings"

#: Final statuses of an outbound message that are outcomes in their own right.
STATUS_OUTCOMES: Mapping[str, OutcomeType] = {
    "delivered": OutcomeType.DELIVERED,
    "read": OutcomeType.OPENED,  # read receipts: WhatsApp / RCS only
    "canceled": OutcomeType.FAILED,  # a scheduled message cancelled before it went out
}
#: Final failures: the outcome depends on ``ErrorCode`` (see ``codes.outcome_for_error_code``).
FINAL_STATUSES: frozenset[str] = frozenset({"undelivered", "failed"})
#: Steps on the way (and ``partially_delivered``, which names no final state of one message).
INTERMEDIATE_STATUSES: frozenset[str] = frozenset(
    {"accepted", "scheduled", "queued", "sending", "sent", "partially_delivered"}
)
#: Statuses of messages people send *to* the hub's number (incoming message webhooks).
INBOUND_STATUSES: frozenset[str] = frozenset({"receiving", "received"})
_KNOWN = frozenset(STATUS_OUTCOMES) | FINAL_STATUSES | INTERMEDIATE_STATUSES | INBOUND_STATUSES

_MESSAGE_SID = re.compile(r"^[A-Z]{2}[0-9a-fA-F]{32}$")
_ERROR_CODE = re.compile(r"^[0-9]{1,10}$")


def form_params(body: bytes) -> list[tuple[str, str]]:
    """The POST parameters of a form body, blank values kept (they are signed too).

    Never raises: bytes that are not UTF-8 are decoded with replacement characters, so a
    signature over them simply does not match instead of crashing the endpoint.
    """
    text = body.decode("utf-8", errors="replace")
    return parse_qsl(text, keep_blank_values=True, errors="replace")


def signature_for(auth_token: str, url: str, params: Iterable[tuple[str, str]]) -> str:
    """``X-Twilio-Signature`` of a request to ``url`` with these POST parameters."""
    by_name: dict[str, list[str]] = {}
    for name, value in params:
        by_name.setdefault(name, []).append(value)
    data = url + "".join(
        name + value for name in sorted(by_name) for value in sorted(by_name[name])
    )
    return hmac_signature(auth_token, data, algorithm="sha1", encoding="base64")


def url_variants(url: str) -> list[str]:
    """``url`` as given, without its port, and with the scheme's default port made explicit."""
    variants = [url]
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return variants
    default = {"https": 443, "http": 80}.get(parts.scheme)
    if port is not None:
        host = parts.netloc.rsplit(":", 1)[0]
        variants.append(urlunsplit(parts._replace(netloc=host)))
    elif default is not None and parts.netloc:
        variants.append(urlunsplit(parts._replace(netloc=f"{parts.netloc}:{default}")))
    return variants


def verify_signature(
    auth_token: str, urls: Iterable[str], headers: Mapping[str, str], body: bytes
) -> None:
    """Raise ``WebhookRejected`` unless the signature matches one of ``urls`` (port variants)."""
    if get_header(headers, _RULE_SETTINGS_HEADER):
        raise WebhookRejected(
            "callback signed by a Twilio Webhooks Rule shared key, which this brick does not "
            "verify: remove the rule for the hub's webhook URL"
        )
    presented = require_header(headers, SIGNATURE_HEADER).strip()
    params = form_params(body)
    matched = False
    for candidate in dict.fromkeys(variant for url in urls for variant in url_variants(url)):
        # Every candidate is computed and compared: no early exit on the first match needed,
        # the comparison itself is constant-time.
        matched |= constant_time_equals(signature_for(auth_token, candidate, params), presented)
    if not matched:
        raise WebhookRejected("X-Twilio-Signature does not match")


def _single(params: list[tuple[str, str]], *names: str) -> str | None:
    """The value of the first of ``names`` present; a name sent twice is ambiguous."""
    for name in names:
        values = [value for key, value in params if key == name]
        if len(values) > 1:
            raise PayloadRejected(f"{name} appears more than once")
        if values and values[0]:
            return values[0]
    return None


def parse_status_callback(
    body: bytes, *, account_sid: str, now: datetime | None = None
) -> WebhookPayload:
    """Turn one status callback (or incoming message webhook) into outcomes.

    Intermediate statuses and incoming messages carry no outcome. The outcome names the message
    (``MessageSid``), not the person: Twilio echoes nothing the hub could use as a pseudonym, so
    the core maps ``vendor_message_id`` back to its send record. Phone numbers in the callback
    (``To``, ``From``) are never read.
    """
    params = form_params(body)
    sid = _single(params, "MessageSid", "SmsSid")
    status = _single(params, "MessageStatus", "SmsStatus")
    if sid is None or status is None:
        raise PayloadRejected("not a Twilio message callback: MessageSid or MessageStatus missing")
    if not _MESSAGE_SID.match(sid):
        raise PayloadRejected("MessageSid is not a Twilio message SID")
    status = status.lower()
    if status not in _KNOWN:
        raise PayloadRejected("unknown MessageStatus (not one Twilio documents)")
    callback_account = _single(params, "AccountSid")
    if callback_account is not None and callback_account != account_sid:
        raise PayloadRejected("callback for another Twilio account")
    if status in INTERMEDIATE_STATUSES or status in INBOUND_STATUSES:
        return WebhookPayload()
    raw_code = _single(params, "ErrorCode")
    code = raw_code if raw_code is not None and _ERROR_CODE.match(raw_code) else None
    if status in FINAL_STATUSES:
        outcome_type = outcome_for_error_code(code)
    else:
        outcome_type = STATUS_OUTCOMES[status]
    if code is not None:
        reason: str | None = f"Twilio error {code}"
    elif status == "canceled":
        reason = "canceled before it was sent"
    else:
        reason = None
    try:
        outcome = Outcome(
            type=outcome_type,
            channel=Channel.SMS,
            vendor_message_id=sid,
            vendor_event_id=f"{sid}:{status}",
            vendor_status=status,
            # Twilio sends no event time (RawDlrDoneDate has no time zone and minute precision).
            occurred_at=now or datetime.now(UTC),
            reason=reason,
        )
    except ValidationError as exc:  # pragma: no cover - every field is checked above
        raise PayloadRejected("callback does not fit the outcome contract") from exc
    return WebhookPayload(outcomes=[outcome])
