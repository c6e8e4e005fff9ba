"""hub.sdk.webhooks: signatures, tokens and replay windows: forgeries out, genuine calls in."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from contracts import WebhookRejected
from hub.sdk.webhooks import (
    check_timestamp,
    constant_time_equals,
    get_header,
    hmac_signature,
    require_header,
    verify_hmac,
    verify_token,
)

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def test_constant_time_equals() -> None:
    assert constant_time_equals("abc", "abc")
    assert constant_time_equals(b"abc", "abc")
    assert not constant_time_equals("abc", "abd")
    assert not constant_time_equals("abc", "abcd")


def test_headers_are_case_insensitive() -> None:
    headers = {"X-Twilio-Signature": "s1"}
    assert get_header(headers, "x-twilio-signature") == "s1"
    assert get_header(headers, "missing") is None
    with pytest.raises(WebhookRejected, match="missing X-Other header"):
        require_header(headers, "X-Other")


def test_hmac_matches_the_standard_library() -> None:
    expected = hmac.new(b"secret", b"body", hashlib.sha1).digest()
    assert hmac_signature("secret", "body", algorithm="sha1", encoding="base64") == (
        base64.b64encode(expected).decode()
    )
    assert hmac_signature(b"secret", b"body") == hmac.new(b"secret", b"body", "sha256").hexdigest()


@given(st.binary(max_size=200), st.binary(min_size=1, max_size=200))
def test_verify_hmac_accepts_genuine_and_rejects_tampered(body: bytes, extra: bytes) -> None:
    signature = hmac_signature("k" * 32, body)
    verify_hmac("k" * 32, body, signature)
    with pytest.raises(WebhookRejected):
        verify_hmac("k" * 32, body + extra, signature)
    with pytest.raises(WebhookRejected):
        verify_hmac("other-key", body, signature)


def test_verify_hmac_needs_a_signature() -> None:
    with pytest.raises(WebhookRejected, match="missing signature"):
        verify_hmac("k", b"x", None)


def test_verify_token() -> None:
    verify_token("s3cret-token", "s3cret-token")
    with pytest.raises(WebhookRejected, match="does not match"):
        verify_token("s3cret-token", "s3cret-tokem")
    with pytest.raises(WebhookRejected, match="missing"):
        verify_token("s3cret-token", "")


@pytest.mark.parametrize(
    "sent_at",
    [
        NOW - timedelta(minutes=4),
        (NOW - timedelta(minutes=4)).timestamp(),
        int((NOW + timedelta(minutes=4)).timestamp() * 1000),
        "2026-11-25T11:58:00Z",
        str(int(NOW.timestamp())),
    ],
)
def test_timestamps_inside_the_tolerance_pass(sent_at: object) -> None:
    check_timestamp(sent_at, tolerance=timedelta(minutes=5), now=NOW)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "sent_at", [NOW - timedelta(minutes=6), NOW + timedelta(hours=1), "yesterday", 1e30]
)
def test_replays_and_junk_are_rejected(sent_at: object) -> None:
    with pytest.raises(WebhookRejected):
        check_timestamp(sent_at, tolerance=timedelta(minutes=5), now=NOW)  # type: ignore[arg-type]
