"""Status callbacks: Twilio's signature algorithm, and every status mapped to its outcome."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlencode

import pytest

from contracts import Channel, OutcomeType, PayloadRejected, WebhookRejected
from plugins.twilio.tests.support import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    MESSAGE_SID,
    PHONE,
    PUBLIC_BASE_URL,
    brick,
)
from plugins.twilio.webhooks import (
    STATUS_OUTCOMES,
    form_params,
    parse_status_callback,
    signature_for,
    url_variants,
)

URL = f"{PUBLIC_BASE_URL}/webhooks/twilio"

# Twilio's documented example (helper libraries' test suites): token "12345", this URL and
# these POST parameters sign to "RSOYDt4T1cUTdK1PDd93/VVr8B8="; the same URL with an explicit
# default port signs to "kvajT1Ptam85bY51eRf/AJRuM3w=".
DOC_URL = "https://mycompany.com/myapp.php?foo=1&bar=2"
DOC_PARAMS = {
    "CallSid": "CA1234567890ABCDE",
    "Caller": "+14158675309",
    "Digits": "1234",
    "From": "+14158675309",
    "To": "+18005551212",
}


def callback(status: str, error_code: str | None = None, **extra: str) -> bytes:
    params = {
        "AccountSid": ACCOUNT_SID,
        "ApiVersion": "2010-04-01",
        "From": "+14155552345",
        "MessageSid": MESSAGE_SID,
        "MessageStatus": status,
        "SmsSid": MESSAGE_SID,
        "SmsStatus": status,
        "To": PHONE,
        **extra,
    }
    if error_code is not None:
        params["ErrorCode"] = error_code
    return urlencode(params).encode()


def signed(body: bytes, url: str = URL, token: str = AUTH_TOKEN) -> dict[str, str]:
    return {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Twilio-Signature": signature_for(token, url, form_params(body)),
    }


def test_documented_example_signature() -> None:
    assert signature_for("12345", DOC_URL, DOC_PARAMS.items()) == "RSOYDt4T1cUTdK1PDd93/VVr8B8="
    with_port = DOC_URL.replace(".com", ".com:443")
    assert signature_for("12345", with_port, DOC_PARAMS.items()) == "kvajT1Ptam85bY51eRf/AJRuM3w="


def test_the_brick_verifies_the_documented_example(tmp_path: Path) -> None:
    twilio = brick(tmp_path, auth_token="12345")
    body = urlencode(DOC_PARAMS).encode()
    twilio.verify(DOC_URL, {"x-twilio-signature": "RSOYDt4T1cUTdK1PDd93/VVr8B8="}, body)
    # Twilio may have signed with the default port while the hub saw none, and vice versa.
    twilio.verify(DOC_URL, {"X-Twilio-Signature": "kvajT1Ptam85bY51eRf/AJRuM3w="}, body)
    twilio.verify(
        DOC_URL.replace(".com", ".com:1234"),
        {"X-Twilio-Signature": "RSOYDt4T1cUTdK1PDd93/VVr8B8="},
        body,
    )


def test_url_variants() -> None:
    assert url_variants("https://h.example/a?b=1") == [
        "https://h.example/a?b=1",
        "https://h.example:443/a?b=1",
    ]
    assert url_variants("http://h.example:8080/a") == [
        "http://h.example:8080/a",
        "http://h.example/a",
    ]
    assert url_variants("https://h.example:99999/a") == ["https://h.example:99999/a"]


def test_parameters_are_sorted_and_repeated_names_sign_every_value() -> None:
    params = [("b", "2"), ("a", "y"), ("a", "x"), ("c", "")]
    expected = signature_for(AUTH_TOKEN, URL, [("a", "x"), ("a", "y"), ("b", "2"), ("c", "")])
    assert signature_for(AUTH_TOKEN, URL, params) == expected
    # The signed text is the URL followed by name+value pairs, no separators.
    raw = hmac.new(AUTH_TOKEN.encode(), (URL + "axayb2c").encode(), hashlib.sha1).digest()
    assert expected == base64.b64encode(raw).decode()
    assert signature_for(AUTH_TOKEN, URL, [("a", "x")]) != signature_for(AUTH_TOKEN, URL, [])


def test_signature_covers_url_and_every_parameter(tmp_path: Path) -> None:
    twilio = brick(tmp_path)
    body = callback("delivered")
    headers = signed(body)
    twilio.verify(URL, headers, body)
    with pytest.raises(WebhookRejected):
        twilio.verify(URL, headers, callback("undelivered"))
    with pytest.raises(WebhookRejected):
        twilio.verify(URL + "?x=1", headers, body)
    with pytest.raises(WebhookRejected):
        twilio.verify(URL, headers, body + b"&Extra=")  # a blank parameter is signed too
    with pytest.raises(WebhookRejected):
        twilio.verify(URL, signed(body, token="another-token"), body)
    with pytest.raises(WebhookRejected, match="missing"):
        twilio.verify(URL, {}, body)


def test_webhook_url_is_accepted_when_a_proxy_rewrote_the_url(tmp_path: Path) -> None:
    public = "https://edge.example.org/hooks/twilio?site=1"
    twilio = brick(tmp_path, webhook_url=public)
    body = callback("delivered")
    twilio.verify("http://10.0.0.5:8000/webhooks/twilio", signed(body, url=public), body)
    with pytest.raises(WebhookRejected):
        brick(tmp_path).verify("http://10.0.0.5:8000/webhooks/twilio", signed(body, public), body)


def test_webhooks_rule_signatures_are_refused_with_a_clear_reason(tmp_path: Path) -> None:
    body = callback("delivered")
    headers = {
        **signed(body),
        "X-Twilio-Webhooks-Signature-Settings": "key=k,algorithm=HMAC_SHA256",
    }
    with pytest.raises(WebhookRejected, match="Webhooks Rule"):
        brick(tmp_path).verify(URL, headers, body)


def test_non_utf8_bodies_do_not_crash_verification(tmp_path: Path) -> None:
    body = b"\xff\xfe=\x80&MessageSid=%FF"
    brick(tmp_path).verify(URL, signed(body), body)
    with pytest.raises(PayloadRejected):
        brick(tmp_path).parse({}, body)


NOW = datetime(2026, 1, 15, 11, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("status", "code", "expected"),
    [
        ("delivered", None, OutcomeType.DELIVERED),
        ("read", None, OutcomeType.OPENED),
        ("canceled", None, OutcomeType.FAILED),
        ("undelivered", "30003", OutcomeType.BOUNCED_SOFT),
        ("undelivered", "30005", OutcomeType.BOUNCED_HARD),
        ("undelivered", "30006", OutcomeType.BOUNCED_HARD),
        ("failed", "21211", OutcomeType.BOUNCED_HARD),
        ("failed", "21610", OutcomeType.UNSUBSCRIBED),
        ("undelivered", "30007", OutcomeType.FAILED),
        ("failed", "30008", OutcomeType.FAILED),
        ("failed", None, OutcomeType.FAILED),
        ("undelivered", "not-a-code", OutcomeType.FAILED),
    ],
)
def test_final_statuses_become_outcomes(
    status: str, code: str | None, expected: OutcomeType
) -> None:
    payload = parse_status_callback(callback(status, code), account_sid=ACCOUNT_SID, now=NOW)
    assert payload.events == []
    [outcome] = payload.outcomes
    assert outcome.type is expected
    assert outcome.channel is Channel.SMS
    assert outcome.pseudonym is None
    assert outcome.vendor_message_id == MESSAGE_SID
    assert outcome.vendor_event_id == f"{MESSAGE_SID}:{status}"
    assert outcome.vendor_status == status
    assert outcome.occurred_at == NOW
    if code is not None and code.isdigit():
        assert outcome.reason == f"Twilio error {code}"
    assert PHONE not in outcome.model_dump_json()


@pytest.mark.parametrize(
    "status",
    ["accepted", "scheduled", "queued", "sending", "sent", "partially_delivered", "receiving"],
)
def test_intermediate_statuses_carry_no_outcome(status: str) -> None:
    assert parse_status_callback(callback(status), account_sid=ACCOUNT_SID).outcomes == []


def test_an_inbound_stop_reply_names_nobody_and_carries_no_outcome() -> None:
    """Twilio's incoming-message webhook: the only identifier is the sender's phone number,
    which must not leave the brick; Twilio blocks the number itself and the next send to it
    fails with 21610, which the core (knowing the customer) turns into the unsubscribe."""
    body = urlencode(
        {
            "AccountSid": ACCOUNT_SID,
            "MessageSid": MESSAGE_SID,
            "SmsMessageSid": MESSAGE_SID,
            "SmsSid": MESSAGE_SID,
            "SmsStatus": "received",
            "Body": "STOP",
            "OptOutType": "STOP",
            "From": PHONE,
            "To": "+14155552345",
            "NumMedia": "0",
            "NumSegments": "1",
            "ApiVersion": "2010-04-01",
        }
    ).encode()
    assert parse_status_callback(body, account_sid=ACCOUNT_SID).outcomes == []


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"", "missing"),
        (b"MessageStatus=delivered", "missing"),
        (urlencode({"MessageSid": "SM1", "MessageStatus": "delivered"}).encode(), "SID"),
        (urlencode({"MessageSid": MESSAGE_SID, "MessageStatus": "exploded"}).encode(), "unknown"),
        (
            b"MessageSid="
            + MESSAGE_SID.encode() * 1
            + b"&MessageStatus=delivered&MessageStatus=sent",
            "more than once",
        ),
        (callback("delivered", AccountSid="AC" + "f" * 32), "another"),
        (b'{"MessageSid": "x"}', "missing"),
    ],
)
def test_malformed_callbacks_are_rejected(body: bytes, reason: str) -> None:
    with pytest.raises(PayloadRejected, match=reason):
        parse_status_callback(body, account_sid=ACCOUNT_SID)


def test_the_status_table_covers_the_specs_enum() -> None:
    spec_statuses = {
        "queued", "sending", "sent", "failed", "delivered", "undelivered", "receiving",
        "received", "accepted", "scheduled", "read", "partially_delivered", "canceled",
    }  # fmt: skip
    for status in spec_statuses:
        parse_status_callback(callback(status), account_sid=ACCOUNT_SID)
    assert set(STATUS_OUTCOMES) <= spec_statuses
