"""Sending: the form Twilio receives, Basic auth, templates, and how refusals are reported."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs

import httpx
import pytest
import respx

from contracts import (
    AuthFailed,
    Channel,
    OutcomeType,
    PayloadRejected,
    Permanent,
    RateLimited,
    RecipientOptedOut,
    Retryable,
    SendStatus,
)
from plugins.twilio import UNSUBSCRIBED_CODES, outcome_for_error_code
from plugins.twilio.tests.support import (
    ACCOUNT,
    ACCOUNT_SID,
    AUTH_TOKEN,
    BASE_URL,
    CONTENT_SID,
    FIRST_NAME,
    MESSAGE_SID,
    MESSAGES,
    PHONE,
    PUBLIC_BASE_URL,
    SERVICE_SID,
    brick,
    created,
    send_request,
    twilio_error,
)


@pytest.fixture
def router() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_mocked=True) as mocked:
        yield mocked


def form_of(request: httpx.Request) -> dict[str, str]:
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    parsed = parse_qs(request.content.decode(), keep_blank_values=True, strict_parsing=True)
    assert all(len(values) == 1 for values in parsed.values())
    return {key: values[0] for key, values in parsed.items()}


def run_send(tmp_path: Path, request=None, **overrides):
    twilio = brick(tmp_path, **overrides)
    try:
        return asyncio.run(twilio.send(request or send_request()))
    finally:
        asyncio.run(twilio.aclose())


def test_body_send_with_from_number_and_status_callback(
    router: respx.MockRouter, tmp_path: Path
) -> None:
    route = router.post(MESSAGES).mock(return_value=httpx.Response(201, json=created()))
    result = run_send(tmp_path)
    assert result.status is SendStatus.ACCEPTED
    assert result.vendor_message_id == MESSAGE_SID
    sent = route.calls.last.request
    assert form_of(sent) == {
        "To": PHONE,
        "From": "+14155552345",
        "Body": f"Hello {FIRST_NAME}, welcome to Demo Shop! Reply STOP to opt out.",
        "StatusCallback": f"{PUBLIC_BASE_URL}/webhooks/twilio",
    }
    expected = base64.b64encode(f"{ACCOUNT_SID}:{AUTH_TOKEN}".encode()).decode()
    assert sent.headers["authorization"] == f"Basic {expected}"
    assert "marketing-hub/" in sent.headers["user-agent"]


def test_messaging_service_replaces_from(router: respx.MockRouter, tmp_path: Path) -> None:
    route = router.post(MESSAGES).mock(return_value=httpx.Response(201, json=created()))
    run_send(tmp_path, from_number=None, messaging_service_sid=SERVICE_SID)
    form = form_of(route.calls.last.request)
    assert form["MessagingServiceSid"] == SERVICE_SID
    assert "From" not in form


def test_bare_content_sid_passes_the_request_variables_only(
    router: respx.MockRouter, tmp_path: Path
) -> None:
    route = router.post(MESSAGES).mock(return_value=httpx.Response(201, json=created()))
    run_send(tmp_path, send_request("content", variables={"1": "Ada", "2": 3, "3": True}))
    form = form_of(route.calls.last.request)
    assert form["ContentSid"] == CONTENT_SID
    assert json.loads(form["ContentVariables"]) == {"1": "Ada", "2": "3", "3": "true"}
    assert "Body" not in form
    assert FIRST_NAME not in route.calls.last.request.content.decode()


def test_content_template_without_variables_omits_content_variables(
    router: respx.MockRouter, tmp_path: Path
) -> None:
    route = router.post(MESSAGES).mock(return_value=httpx.Response(201, json=created()))
    run_send(tmp_path, send_request("content", variables={}))
    form = form_of(route.calls.last.request)
    assert form["ContentSid"] == CONTENT_SID
    assert "ContentVariables" not in form


def test_mapped_content_variables_take_the_first_name_from_the_view(
    router: respx.MockRouter, tmp_path: Path
) -> None:
    route = router.post(MESSAGES).mock(return_value=httpx.Response(201, json=created()))
    run_send(tmp_path, send_request("content-mapped", variables={"cart": "https://x.test/c"}))
    form = form_of(route.calls.last.request)
    assert json.loads(form["ContentVariables"]) == {"1": FIRST_NAME, "2": "https://x.test/c"}


def test_first_name_is_sent_only_when_the_template_uses_it(
    router: respx.MockRouter, tmp_path: Path
) -> None:
    route = router.post(MESSAGES).mock(return_value=httpx.Response(201, json=created()))
    run_send(tmp_path, send_request("plain", variables={"code": "1234"}))
    content = route.calls.last.request.content.decode()
    assert FIRST_NAME not in content
    assert form_of(route.calls.last.request)["Body"] == "Your code is 1234."


@pytest.mark.parametrize(
    ("status_callback", "webhook_url", "public", "expected"),
    [
        (True, None, PUBLIC_BASE_URL + "/", f"{PUBLIC_BASE_URL}/webhooks/twilio"),
        (True, "https://edge.example.org/tw?x=1", None, "https://edge.example.org/tw?x=1"),
        (True, None, None, None),
        (False, "https://edge.example.org/tw", PUBLIC_BASE_URL, None),
    ],
)
def test_status_callback_url(
    router: respx.MockRouter,
    tmp_path: Path,
    status_callback: bool,
    webhook_url: str | None,
    public: str | None,
    expected: str | None,
) -> None:
    route = router.post(MESSAGES).mock(return_value=httpx.Response(201, json=created()))
    twilio = brick(
        tmp_path, public_base_url=public, status_callback=status_callback, webhook_url=webhook_url
    )
    asyncio.run(twilio.send(send_request()))
    assert form_of(route.calls.last.request).get("StatusCallback") == expected


def test_missing_phone_is_a_rejection_naming_the_field(tmp_path: Path) -> None:
    with respx.mock(assert_all_mocked=True) as router:
        with pytest.raises(PayloadRejected) as caught:
            run_send(tmp_path, send_request(phone=None))
        assert caught.value.field == "phone"
        assert not router.calls


@pytest.mark.parametrize(
    ("request_kwargs", "field"),
    [
        ({"template": "nope"}, "template"),
        ({"first_name": None}, "first_name"),
        ({"template": "plain", "variables": {}}, "variables"),
        ({"template": "content-mapped", "variables": {}}, "variables"),
    ],
)
def test_template_problems_are_rejected_before_any_call(
    tmp_path: Path, request_kwargs: dict, field: str
) -> None:
    with respx.mock(assert_all_mocked=True) as router, pytest.raises(PayloadRejected) as caught:
        run_send(tmp_path, send_request(**request_kwargs))
    assert caught.value.field == field
    assert PHONE not in caught.value.message
    assert not router.calls


def test_a_body_over_1600_characters_is_rejected(tmp_path: Path) -> None:
    with respx.mock(assert_all_mocked=True), pytest.raises(PayloadRejected, match="1600"):
        run_send(tmp_path, send_request("plain", variables={"code": "x" * 1600}))


def test_other_channels_are_refused(tmp_path: Path) -> None:
    with respx.mock(assert_all_mocked=True), pytest.raises(PayloadRejected, match="sms"):
        run_send(tmp_path, send_request(channel=Channel.EMAIL))


def test_21610_is_an_opt_out_the_core_records(
    router: respx.MockRouter, tmp_path: Path
) -> None:
    router.post(MESSAGES).mock(
        return_value=httpx.Response(
            400, json=twilio_error(21610, "Attempt to send to unsubscribed recipient")
        )
    )
    with pytest.raises(RecipientOptedOut) as caught:
        run_send(tmp_path)
    assert caught.value.vendor_code == "21610"
    assert caught.value.field == "phone"
    assert "unsubscribed recipient" in caught.value.message
    assert caught.value.vendor_code in UNSUBSCRIBED_CODES
    assert outcome_for_error_code(caught.value.vendor_code) is OutcomeType.UNSUBSCRIBED


@pytest.mark.parametrize("code", [21211, 21614, 21635])
def test_invalid_to_names_the_phone_and_never_echoes_it(
    router: respx.MockRouter, tmp_path: Path, code: int
) -> None:
    router.post(MESSAGES).mock(
        return_value=httpx.Response(
            400, json=twilio_error(code, f"The 'To' number {PHONE} is not a valid phone number.")
        )
    )
    with pytest.raises(PayloadRejected) as caught:
        run_send(tmp_path)
    assert caught.value.field == "phone"
    assert caught.value.vendor_code == str(code)
    assert PHONE not in str(caught.value) and PHONE[1:] not in repr(caught.value)


def test_20429_is_a_rate_limit_with_retry_after(router: respx.MockRouter, tmp_path: Path) -> None:
    router.post(MESSAGES).mock(
        return_value=httpx.Response(
            429, headers={"Retry-After": "3"}, json=twilio_error(20429, "Too Many Requests", 429)
        )
    )
    with pytest.raises(RateLimited) as caught:
        run_send(tmp_path)
    assert caught.value.retry_after == 3
    assert caught.value.vendor_code == "20429"


def test_20429_under_another_status_is_still_a_rate_limit(
    router: respx.MockRouter, tmp_path: Path
) -> None:
    router.post(MESSAGES).mock(
        return_value=httpx.Response(400, json=twilio_error(20429, "Too Many Requests", 400))
    )
    with pytest.raises(RateLimited):
        run_send(tmp_path)


def test_a_success_without_sid_is_permanent_to_avoid_a_duplicate(
    router: respx.MockRouter, tmp_path: Path
) -> None:
    router.post(MESSAGES).mock(return_value=httpx.Response(201, json={"status": "queued"}))
    with pytest.raises(Permanent):
        run_send(tmp_path)


def test_batch_is_sequential_with_one_result_per_input(
    router: respx.MockRouter, tmp_path: Path
) -> None:
    answers = iter(
        [
            httpx.Response(201, json=created("SM" + "01" * 16)),
            httpx.Response(
                400, json=twilio_error(21610, "Attempt to send to unsubscribed recipient")
            ),
            httpx.Response(201, json=created("SM" + "03" * 16)),
        ]
    )
    route = router.post(MESSAGES).mock(side_effect=lambda request: next(answers))
    twilio = brick(tmp_path)
    requests = [send_request(key=f"000{i}") for i in range(1, 4)] + [send_request(phone=None)]
    results = asyncio.run(twilio.send_batch(requests))
    assert [r.request_id for r in results] == [r.request_id for r in requests]
    assert [r.status for r in results] == [
        SendStatus.ACCEPTED,
        SendStatus.REJECTED,
        SendStatus.ACCEPTED,
        SendStatus.REJECTED,
    ]
    assert results[1].error is not None and results[1].error.code == "RecipientOptedOut"
    assert results[1].error.message.endswith("(Twilio error 21610)")
    assert results[3].error is not None and results[3].error.code == "PayloadRejected"
    assert route.call_count == 3


def test_batch_raises_when_the_first_call_fails(router: respx.MockRouter, tmp_path: Path) -> None:
    router.post(MESSAGES).mock(return_value=httpx.Response(401, json=twilio_error(20003, "Auth")))
    with pytest.raises(AuthFailed):
        asyncio.run(brick(tmp_path).send_batch([send_request(), send_request(key="0002")]))


def test_batch_stops_after_a_call_wide_failure_without_losing_sent_ones(
    router: respx.MockRouter, tmp_path: Path
) -> None:
    answers = iter(
        [
            httpx.Response(201, json=created()),
            httpx.Response(503, json=twilio_error(20500, "Internal Server Error", 503)),
        ]
    )
    route = router.post(MESSAGES).mock(side_effect=lambda request: next(answers))
    requests = [send_request(key=f"000{i}") for i in range(1, 5)]
    results = asyncio.run(brick(tmp_path).send_batch(requests))
    assert route.call_count == 2
    assert [r.status for r in results] == [SendStatus.ACCEPTED] + [SendStatus.FAILED] * 3
    assert all(r.error is not None and r.error.retryable for r in results[1:])
    assert [r.error.code for r in results[2:] if r.error] == ["NotAttempted", "NotAttempted"]


def test_timeouts_are_retryable(router: respx.MockRouter, tmp_path: Path) -> None:
    router.post(MESSAGES).mock(side_effect=httpx.ReadTimeout("slow"))
    with pytest.raises(Retryable):
        run_send(tmp_path)


@pytest.mark.parametrize(
    ("answer", "ok", "words"),
    [
        (httpx.Response(200, json={"sid": ACCOUNT_SID, "status": "active"}), True, "active"),
        (httpx.Response(200, json={"sid": ACCOUNT_SID, "status": "suspended"}), False, "suspended"),
        (httpx.Response(401, json=twilio_error(20003, "Authenticate", 401)), False, "rejected"),
        (httpx.Response(503, text="down"), False, "failed"),
    ],
)
def test_check_fetches_the_account(
    tmp_path: Path, answer: httpx.Response, ok: bool, words: str
) -> None:
    with respx.mock(assert_all_mocked=True, base_url=BASE_URL) as router:
        router.get(ACCOUNT).mock(return_value=answer)
        twilio = brick(tmp_path)
        status = asyncio.run(twilio.check())
        asyncio.run(twilio.aclose())
    assert status.ok is ok
    assert words in status.detail
    assert AUTH_TOKEN not in status.detail


def test_check_never_raises_on_a_network_error(tmp_path: Path) -> None:
    with respx.mock(assert_all_mocked=True) as router:
        router.get(ACCOUNT).mock(side_effect=httpx.ConnectError("refused"))
        status = asyncio.run(brick(tmp_path).check())
    assert not status.ok


def test_check_warns_when_delivery_reports_cannot_be_requested(tmp_path: Path) -> None:
    with respx.mock(assert_all_mocked=True) as router:
        router.get(ACCOUNT).mock(return_value=httpx.Response(200, json={"status": "active"}))
        status = asyncio.run(brick(tmp_path, public_base_url=None).check())
    assert status.ok
    assert "no delivery reports" in status.detail


def test_aclose_closes_the_client_and_a_later_send_opens_a_new_one(tmp_path: Path) -> None:
    twilio = brick(tmp_path)
    first = twilio._client()
    asyncio.run(twilio.aclose())
    assert first.is_closed
    assert twilio._client() is not first
    asyncio.run(twilio.aclose())


def test_a_doubled_dollar_renders_one_and_values_are_not_reinterpreted(
    router: respx.MockRouter, tmp_path: Path
) -> None:
    route = router.post(MESSAGES).mock(return_value=httpx.Response(201, json=created()))
    run_send(
        tmp_path,
        send_request("price", variables={"code": "$first_name"}),
        templates={"price": "Save $$5 with $code"},
    )
    assert form_of(route.calls.last.request)["Body"] == "Save $5 with $first_name"
