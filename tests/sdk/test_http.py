"""hub.sdk.http: every vendor answer and transport failure becomes the right contract error."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest
import respx
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from contracts import (
    AuthFailed,
    PayloadRejected,
    Permanent,
    RateLimited,
    Retryable,
)
from hub.sdk.http import (
    HttpBrickSettings,
    build_client,
    error_for_response,
    parse_retry_after,
    request,
    scrub,
    user_agent,
)

pytestmark = pytest.mark.anyio

BASE = "https://api.vendor.test/v1"


def _settings(**extra: object) -> HttpBrickSettings:
    return HttpBrickSettings(base_url=BASE, **extra)


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (408, Retryable),
        (500, Retryable),
        (502, Retryable),
        (503, Retryable),
        (401, AuthFailed),
        (403, AuthFailed),
        (400, PayloadRejected),
        (404, PayloadRejected),
        (409, PayloadRejected),
        (422, PayloadRejected),
        (405, Permanent),
        (418, Permanent),
    ],
)
def test_status_maps_to_contract_error(status: int, expected: type) -> None:
    error = error_for_response(httpx.Response(status, json={"message": "nope", "code": "x1"}))
    assert type(error) is expected
    assert error is not None
    assert error.vendor_code == "x1"
    assert f"HTTP {status}" in error.message


@pytest.mark.parametrize("status", [200, 201, 202, 204])
def test_success_is_no_error(status: int) -> None:
    assert error_for_response(httpx.Response(status)) is None


def test_429_reads_retry_after_seconds() -> None:
    error = error_for_response(httpx.Response(429, headers={"Retry-After": "7"}))
    assert isinstance(error, RateLimited)
    assert error.retry_after == 7


def test_429_falls_back_to_the_vendor_reset_header() -> None:
    response = httpx.Response(429, headers={"x-sib-ratelimit-reset": "12"})
    error = error_for_response(response, reset_header="x-sib-ratelimit-reset")
    assert isinstance(error, RateLimited)
    assert error.retry_after == 12
    assert error_for_response(response).retry_after is None  # type: ignore[union-attr]


def test_retry_after_http_date() -> None:
    now = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
    later = format_datetime(now + timedelta(seconds=90), usegmt=True)
    assert parse_retry_after(later, now=now) == 90
    assert parse_retry_after("garbage") is None
    assert parse_retry_after(None) is None
    assert parse_retry_after("-5") == 0


def test_describe_hook_names_the_field() -> None:
    def describe(response: httpx.Response) -> tuple[str, str | None, str | None]:
        return ("email is invalid", "invalid_parameter", "email")

    error = error_for_response(httpx.Response(400), describe=describe)
    assert isinstance(error, PayloadRejected)
    assert error.field == "email"
    assert error.vendor_code == "invalid_parameter"


def test_vendor_messages_are_scrubbed_of_contact_points() -> None:
    body = {"message": "Contact ada@example.org / +33 6 12 34 56 78 already exists"}
    error = error_for_response(httpx.Response(400, json=body))
    assert error is not None
    assert "ada@example.org" not in error.message
    assert "12 34 56" not in error.message
    assert "<email>" in error.message


@given(st.text(max_size=2000))
def test_scrub_never_grows_past_the_cap(text: str) -> None:
    assert len(scrub(text)) <= 300


def test_default_describe_handles_non_json_and_error_lists() -> None:
    plain = error_for_response(httpx.Response(400, text="<html>bad</html>"))
    assert plain is not None
    listed = error_for_response(httpx.Response(400, json={"errors": ["Bad app_id"]}))
    assert listed is not None
    assert "Bad app_id" in listed.message


def test_settings_validate_the_base_url() -> None:
    assert _settings().base_url == BASE
    assert HttpBrickSettings(base_url=BASE + "/").base_url == BASE
    with pytest.raises(ValidationError) as caught:
        HttpBrickSettings(base_url="api.vendor.test")
    assert caught.value.errors()[0]["loc"] == ("base_url",)
    with pytest.raises(ValidationError):
        _settings(timeout_seconds=0)


async def test_client_has_base_url_timeouts_and_user_agent() -> None:
    client = build_client(
        _settings(timeout_seconds=3),
        brick_name="acme",
        brick_version="1.2.3",
        headers={"api-key": "k"},
    )
    async with client, respx.mock(assert_all_mocked=True) as mock:
        route = mock.get(f"{BASE}/ping").respond(200, json={})
        await client.get("/ping")
        sent = route.calls.last.request
        assert sent.headers["User-Agent"].endswith("acme/1.2.3")
        assert sent.headers["User-Agent"] == user_agent("acme", "1.2.3")
        assert sent.headers["api-key"] == "k"
        assert client.timeout.read == 3


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (httpx.ReadTimeout("slow"), Retryable),
        (httpx.ConnectTimeout("slow"), Retryable),
        (httpx.ConnectError("refused"), Retryable),
        (httpx.RemoteProtocolError("eof"), Retryable),
        (httpx.UnsupportedProtocol("ftp"), Permanent),
    ],
)
async def test_transport_failures_map(exc: Exception, expected: type) -> None:
    async with build_client(_settings(), brick_name="a1", brick_version="1.0.0") as client:
        with respx.mock(assert_all_mocked=True) as mock:
            mock.post(f"{BASE}/send").mock(side_effect=exc)
            with pytest.raises(expected) as caught:
                await request(client, "POST", "/send", json={})
    assert type(caught.value) is expected
    assert caught.value.__cause__ is exc


async def test_request_returns_2xx_and_raises_mapped_errors() -> None:
    async with build_client(_settings(), brick_name="a1", brick_version="1.0.0") as client:
        with respx.mock(assert_all_mocked=True) as mock:
            mock.get(f"{BASE}/ok").respond(200, json={"id": "m1"})
            mock.get(f"{BASE}/limited").respond(429, headers={"Retry-After": "3"})
            assert (await request(client, "GET", "/ok")).json() == {"id": "m1"}
            with pytest.raises(RateLimited) as caught:
                await request(client, "GET", "/limited")
    assert caught.value.retry_after == 3


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        ("550 5.1.1 mailbox does not exist", "550 5.1.1 mailbox does not exist"),
        ("call 06 12 34 56 78 now", "call <phone> now"),
        ("to +1 (415) 555-2345", "to <phone>"),
        ("error 21610 for +14155552345", "error 21610 for <phone>"),
    ],
)
def test_scrub_keeps_status_codes_and_removes_phone_numbers(text: str, kept: str) -> None:
    assert scrub(text) == kept


def test_values_the_brick_sent_are_redacted_from_vendor_messages() -> None:
    body = {"message": "Contact Adaconf Lovelaceconf has token pt-0001"}
    error = error_for_response(
        httpx.Response(400, json=body), redact=["Adaconf", "pt-0001", None, ""]
    )
    assert error is not None
    assert "Adaconf" not in error.message and "pt-0001" not in error.message
    assert "Lovelaceconf" in error.message  # only what was listed
