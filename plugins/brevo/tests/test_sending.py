"""Transactional sends: template mapping, body shape, idempotency, batch results, errors."""

from __future__ import annotations

import asyncio

import httpx
import pytest
import respx

from contracts import (
    AuthFailed,
    Channel,
    PayloadRejected,
    RateLimited,
    Retryable,
    SendStatus,
)
from plugins.brevo.tests.helpers import (
    BASE,
    EMAIL,
    PSEUDONYM,
    make_brick,
    send_request,
    sent_json,
    view,
)

MESSAGE_ID = "<202601151000.1234567@smtp-relay.mailin.fr>"


def test_send_maps_template_and_carries_key_pseudonym_and_scenario() -> None:
    brick = make_brick()
    with respx.mock(base_url=BASE, assert_all_mocked=True) as mock:
        route = mock.post("/smtp/email").respond(201, json={"messageId": MESSAGE_ID})
        result = asyncio.run(brick.send(send_request()))
    assert result.status is SendStatus.ACCEPTED
    assert result.vendor_message_id == MESSAGE_ID
    body = sent_json(route)
    assert body == {
        "templateId": 12,
        "to": [{"email": EMAIL, "name": "Ada Lovelace"}],
        "headers": {"idempotencyKey": "idem-0001-abcdef", "X-Mailin-custom": PSEUDONYM},
        "tags": ["welcome"],
        "params": {"coupon": "HELLO10"},
        "sender": {"email": "shop@example.net", "name": "Demo Shop"},
    }
    request = route.calls[0].request
    assert request.headers["api-key"] == "xkeysib-test-0123456789"
    assert request.url.path == "/v3/smtp/email"


def test_unknown_template_is_rejected_before_any_call() -> None:
    brick = make_brick()
    with respx.mock(base_url=BASE, assert_all_mocked=True, assert_all_called=False) as mock:
        route = mock.post("/smtp/email").respond(201, json={"messageId": MESSAGE_ID})
        with pytest.raises(PayloadRejected) as caught:
            asyncio.run(brick.send(send_request(template="no-such-template")))
    assert caught.value.field == "template"
    assert "no-such-template" in caught.value.message
    assert not route.called


def test_view_without_email_names_the_field() -> None:
    brick = make_brick()
    with respx.mock(base_url=BASE, assert_all_mocked=True), pytest.raises(PayloadRejected) as c:
        asyncio.run(brick.send(send_request(recipient=view(email=None))))
    assert c.value.field == "email"


def test_non_email_channel_is_refused() -> None:
    with pytest.raises(PayloadRejected) as caught:
        asyncio.run(make_brick().send(send_request(channel=Channel.SMS)))
    assert caught.value.field == "channel"


def test_template_sender_is_kept_when_none_configured_and_sender_id_wins() -> None:
    with respx.mock(base_url=BASE, assert_all_mocked=True) as mock:
        route = mock.post("/smtp/email").respond(201, json={"messageId": MESSAGE_ID})
        asyncio.run(make_brick(sender_email=None, sender_name=None).send(send_request()))
        asyncio.run(make_brick(sender_id=9).send(send_request()))
    assert "sender" not in sent_json(route, 0)
    assert sent_json(route, 1)["sender"] == {"id": 9}


def test_minimal_view_sends_no_name_and_empty_variables_no_params() -> None:
    recipient = view(first_name=None, last_name=None)
    with respx.mock(base_url=BASE, assert_all_mocked=True) as mock:
        route = mock.post("/smtp/email").respond(201, json={"messageId": MESSAGE_ID})
        asyncio.run(make_brick().send(send_request(recipient=recipient, variables={})))
    body = sent_json(route)
    assert body["to"] == [{"email": EMAIL}]
    assert "params" not in body


def test_long_names_are_cut_to_brevo_limit() -> None:
    recipient = view(first_name="A" * 60, last_name="B" * 60)
    with respx.mock(base_url=BASE, assert_all_mocked=True) as mock:
        route = mock.post("/smtp/email").respond(201, json={"messageId": MESSAGE_ID})
        asyncio.run(make_brick().send(send_request(recipient=recipient)))
    assert len(sent_json(route)["to"][0]["name"]) == 70


def test_message_id_without_brackets_is_normalised() -> None:
    with respx.mock(base_url=BASE, assert_all_mocked=True) as mock:
        mock.post("/smtp/email").respond(202, json={"messageId": "abc.123@relay"})
        result = asyncio.run(make_brick().send(send_request()))
    assert result.vendor_message_id == "<abc.123@relay>"


def test_batch_gives_one_result_per_input_in_order() -> None:
    requests = [
        send_request("idem-0001-aaaaaa"),
        send_request("idem-0002-bbbbbb", template="missing"),
        send_request("idem-0003-cccccc"),
        send_request("idem-0004-dddddd"),
    ]
    answers = iter(
        [
            httpx.Response(201, json={"messageId": "<one@relay>"}),
            httpx.Response(
                400, json={"code": "invalid_parameter", "message": "email is not valid"}
            ),
            httpx.Response(201, json={"messageId": "<four@relay>"}),
        ]
    )
    with respx.mock(base_url=BASE, assert_all_mocked=True) as mock:
        route = mock.post("/smtp/email").mock(side_effect=lambda request: next(answers))
        results = asyncio.run(make_brick().send_batch(requests))
    assert [r.request_id for r in results] == [r.request_id for r in requests]
    assert [r.status for r in results] == [
        SendStatus.ACCEPTED,
        SendStatus.REJECTED,
        SendStatus.REJECTED,
        SendStatus.ACCEPTED,
    ]
    assert results[1].error is not None and results[1].error.code == "PayloadRejected"
    assert results[2].error is not None and results[2].error.code == "invalid_parameter"
    assert results[3].vendor_message_id == "<four@relay>"
    keys = [sent_json(route, i)["headers"]["idempotencyKey"] for i in range(3)]
    assert keys == ["idem-0001-aaaaaa", "idem-0003-cccccc", "idem-0004-dddddd"]


@pytest.mark.parametrize(
    ("response", "error"),
    [
        (httpx.Response(429, headers={"x-sib-ratelimit-reset": "12"}), RateLimited),
        (httpx.Response(503), Retryable),
        (
            httpx.Response(401, json={"code": "unauthorized", "message": "Key not found"}),
            AuthFailed,
        ),
    ],
)
def test_batch_raises_when_the_whole_call_fails(response: httpx.Response, error: type) -> None:
    with respx.mock(base_url=BASE, assert_all_mocked=True) as mock:
        mock.post("/smtp/email").mock(return_value=response)
        with pytest.raises(error):
            asyncio.run(make_brick().send_batch([send_request(), send_request("idem-0002-x")]))


def test_rate_limit_reads_brevo_reset_header() -> None:
    with respx.mock(base_url=BASE, assert_all_mocked=True) as mock:
        mock.post("/smtp/email").respond(429, headers={"x-sib-ratelimit-reset": "42"})
        with pytest.raises(RateLimited) as caught:
            asyncio.run(make_brick().send(send_request()))
    assert caught.value.retry_after == 42


def test_vendor_error_names_field_and_keeps_no_personal_data() -> None:
    answer = {"code": "invalid_parameter", "message": f"email {EMAIL} of Lovelace is not valid"}
    with respx.mock(base_url=BASE, assert_all_mocked=True) as mock:
        mock.post("/smtp/email").respond(400, json=answer)
        with pytest.raises(PayloadRejected) as caught:
            asyncio.run(make_brick().send(send_request()))
    error = caught.value
    assert error.field == "email"
    assert error.vendor_code == "invalid_parameter"
    assert EMAIL not in error.message and "Lovelace" not in error.message
    assert "Lovelace" not in str(error) and EMAIL not in repr(error)


@pytest.mark.parametrize(
    ("message", "field"),
    [
        ("Invalid template id", "template"),
        ("params is not valid", "variables"),
        ("sender is invalid / inactive", "sender"),
        ("Invalid phone number", "phone"),
        ("Invalid SMS attribute", "phone"),
        ("FIRSTNAME is too long", "first_name"),
        ("Something odd happened", None),
    ],
)
def test_error_field_is_read_from_brevo_message(message: str, field: str | None) -> None:
    with respx.mock(base_url=BASE, assert_all_mocked=True) as mock:
        mock.post("/smtp/email").respond(
            400, json={"code": "invalid_parameter", "message": message}
        )
        with pytest.raises(PayloadRejected) as caught:
            asyncio.run(make_brick().send(send_request()))
    assert caught.value.field == field


def test_check_reports_key_health_without_raising() -> None:
    brick = make_brick()
    with respx.mock(base_url=BASE, assert_all_mocked=True) as mock:
        route = mock.get("/account")
        route.return_value = httpx.Response(200, json={"email": "owner@example.net"})
        ok = asyncio.run(brick.check())
        route.return_value = httpx.Response(401, json={"code": "unauthorized", "message": "no"})
        refused = asyncio.run(brick.check())
        route.side_effect = httpx.ConnectError("down")
        down = asyncio.run(brick.check())
    assert ok.ok and not refused.ok and not down.ok
    assert "API key" in refused.detail
    assert "owner@example.net" not in ok.detail + refused.detail + down.detail


def test_client_is_lazy_and_closed() -> None:
    brick = make_brick()
    assert brick._client is None
    with respx.mock(base_url=BASE, assert_all_mocked=True) as mock:
        mock.post("/smtp/email").respond(201, json={"messageId": MESSAGE_ID})
        asyncio.run(brick.send(send_request()))
    client = brick._client
    assert client is not None
    asyncio.run(brick.aclose())
    assert client.is_closed and brick._client is None
