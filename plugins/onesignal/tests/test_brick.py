"""The OneSignal brick against a mocked OneSignal API (respx; nothing leaves the machine)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
import respx

from contracts import (
    AuthFailed,
    BrickContext,
    Channel,
    ContactView,
    MessageKind,
    PayloadRejected,
    RateLimited,
    Retryable,
    SendRequest,
    SendStatus,
)
from plugins.onesignal import OneSignalBrick, hub_register_bricks
from plugins.onesignal.payloads import idempotency_uuid

BASE = "https://onesignal.test"
APP_ID = "8250eaf6-1a58-489e-b136-7c74a864b434"
API_KEY = "os_v2_app_brick_test_key"
PSEUDONYM = "ps_brick_test_0123456789"
TOKEN = "fcm-token:APA91bBrickTestToken"
NOTIFICATION_ID = "b98881cc-1e94-4366-bbd9-db8f3429292b"
USERS = f"/apps/{APP_ID}/users"

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def make_request(key: str = "k" * 64, request_id: str = "req-brick-0001") -> SendRequest:
    return SendRequest(
        request_id=request_id,
        idempotency_key=key,
        channel=Channel.PUSH,
        kind=MessageKind.MARKETING,
        scenario="welcome",
        template="welcome-1",
        variables={"coupon": "HELLO10"},
        recipient=ContactView(pseudonym=PSEUDONYM, push_token=TOKEN, locale="fr-FR"),
        created_at=datetime(2026, 1, 15, tzinfo=UTC),
    )


@pytest.fixture
async def brick(tmp_path: Path) -> AsyncIterator[OneSignalBrick]:
    settings = OneSignalBrick.Settings.model_validate(
        {
            "base_url": BASE,
            "app_id": APP_ID,
            "api_key": API_KEY,
            "templates": {"welcome-1": "be4a8044-bbd6-11e4-a581-000c2940e62c"},
        }
    )
    instance = OneSignalBrick(settings, BrickContext(name="onesignal", data_dir=tmp_path))
    yield instance
    await instance.aclose()


@pytest.fixture
def api() -> AsyncIterator[respx.Router]:
    with respx.mock(base_url=BASE, assert_all_mocked=True, assert_all_called=False) as router:
        yield router


def test_registers_itself() -> None:
    registered: list[type] = []
    hub_register_bricks(registered.append)
    assert registered == [OneSignalBrick]


async def test_send_posts_one_push_with_key_auth(brick: OneSignalBrick, api: respx.Router) -> None:
    route = api.post("/notifications", params={"c": "push"}).respond(
        200, json={"id": NOTIFICATION_ID, "external_id": None}
    )
    result = await brick.send(make_request())
    assert result.status is SendStatus.ACCEPTED
    assert result.vendor_message_id == NOTIFICATION_ID
    sent = route.calls.last.request
    assert sent.headers["Authorization"] == f"Key {API_KEY}"
    body = json.loads(sent.content)
    assert body["include_aliases"] == {"external_id": [PSEUDONYM]}
    assert body["target_channel"] == "push"
    assert body["idempotency_key"] == idempotency_uuid("k" * 64)
    assert TOKEN not in sent.content.decode() and TOKEN not in str(sent.url)


async def test_retry_of_the_same_send_carries_the_same_key(
    brick: OneSignalBrick, api: respx.Router
) -> None:
    route = api.post("/notifications").mock(
        side_effect=[
            httpx.Response(503, json={"errors": ["Service Unavailable"]}),
            httpx.Response(200, json={"id": NOTIFICATION_ID}),
        ]
    )
    with pytest.raises(Retryable):
        await brick.send(make_request())
    await brick.send(make_request())
    keys = [json.loads(call.request.content)["idempotency_key"] for call in route.calls]
    assert keys[0] == keys[1] == idempotency_uuid("k" * 64)


async def test_empty_id_is_not_a_send(brick: OneSignalBrick, api: respx.Router) -> None:
    api.post("/notifications").respond(
        200, json={"id": "", "errors": ["All included players are not subscribed"]}
    )
    with pytest.raises(PayloadRejected, match="not subscribed") as caught:
        await brick.send(make_request())
    assert caught.value.vendor_code == "not_subscribed"


async def test_invalid_alias_is_rejected(brick: OneSignalBrick, api: respx.Router) -> None:
    api.post("/notifications").respond(
        200,
        json={"id": NOTIFICATION_ID, "errors": {"invalid_aliases": {"external_id": [PSEUDONYM]}}},
    )
    with pytest.raises(PayloadRejected) as caught:
        await brick.send(make_request())
    assert caught.value.vendor_code == "invalid_aliases"


async def test_rate_limit_and_auth_errors(brick: OneSignalBrick, api: respx.Router) -> None:
    api.post("/notifications").mock(
        side_effect=[
            httpx.Response(
                429, headers={"Retry-After": "12"}, json={"errors": ["API rate limit exceeded."]}
            ),
            httpx.Response(
                403,
                json={"errors": ["Access denied: include a valid API key"]},
            ),
        ]
    )
    with pytest.raises(RateLimited) as limited:
        await brick.send(make_request())
    assert limited.value.retry_after == 12
    assert "rate limit" in limited.value.message
    with pytest.raises(AuthFailed):
        await brick.send(make_request())


async def test_other_channels_are_refused_without_a_call(
    brick: OneSignalBrick, api: respx.Router
) -> None:
    request = make_request().model_copy(update={"channel": Channel.EMAIL})
    with pytest.raises(PayloadRejected) as caught:
        await brick.send(request)
    assert caught.value.field == "channel"
    assert not api.calls


async def test_send_batch_one_result_per_input_in_order(
    brick: OneSignalBrick, api: respx.Router
) -> None:
    api.post("/notifications").mock(
        side_effect=[
            httpx.Response(200, json={"id": NOTIFICATION_ID}),
            httpx.Response(
                200, json={"id": "", "errors": ["All included players are not subscribed"]}
            ),
            httpx.Response(400, json={"errors": ["template_id not found"]}),
        ]
    )
    requests = [make_request(f"key-{i:04d}-batch", f"req-batch-{i:04d}") for i in range(3)]
    results = await brick.send_batch(requests)
    assert [r.request_id for r in results] == [r.request_id for r in requests]
    assert [r.status for r in results] == [
        SendStatus.ACCEPTED,
        SendStatus.REJECTED,
        SendStatus.REJECTED,
    ]
    assert results[1].error is not None and results[1].error.code == "PayloadRejected"
    assert results[1].error.message.endswith("[not_subscribed]")
    assert results[2].error is not None and "template_id not found" in results[2].error.message


async def test_send_batch_raises_when_the_whole_call_fails(
    brick: OneSignalBrick, api: respx.Router
) -> None:
    api.post("/notifications").mock(
        side_effect=[
            httpx.Response(200, json={"id": NOTIFICATION_ID}),
            httpx.Response(401, json={"errors": ["Invalid API key"]}),
        ]
    )
    with pytest.raises(AuthFailed):
        await brick.send_batch([make_request("key-a-0001"), make_request("key-b-0001")])


async def test_upsert_links_the_pseudonym_to_the_push_subscription(
    brick: OneSignalBrick, api: respx.Router
) -> None:
    route = api.post(USERS).mock(
        side_effect=[
            httpx.Response(201, json={"identity": {"external_id": PSEUDONYM}}),
            httpx.Response(200, json={"identity": {"external_id": PSEUDONYM}}),
        ]
    )
    views = [
        ContactView(pseudonym=PSEUDONYM, push_token=TOKEN, locale="fr-FR"),
        ContactView(pseudonym=PSEUDONYM),
    ]
    results = await brick.upsert(views)
    assert [(r.created, r.error) for r in results] == [(True, None), (False, None)]
    first, second = (json.loads(call.request.content) for call in route.calls)
    assert first == {
        "identity": {"external_id": PSEUDONYM},
        "properties": {"language": "fr"},
        "subscriptions": [{"type": "AndroidPush", "token": TOKEN}],
    }
    assert second == {"identity": {"external_id": PSEUDONYM}}


async def test_upsert_item_errors_do_not_stop_the_batch(
    brick: OneSignalBrick, api: respx.Router
) -> None:
    api.post(USERS).mock(
        side_effect=[
            httpx.Response(
                409, json={"errors": [{"code": "user-2", "title": "Alias claimed by another user"}]}
            ),
            httpx.Response(202, json={}),
        ]
    )
    views = [
        ContactView(pseudonym=PSEUDONYM, push_token=TOKEN),
        ContactView(pseudonym=PSEUDONYM, push_token="https://updates.push.services.mozilla.com/x"),
        ContactView(pseudonym="ps_other_0123456789"),
    ]
    results = await brick.upsert(views)
    assert results[0].error is not None and "Alias claimed" in results[0].error
    assert results[1].error is not None and "web push" in results[1].error
    assert "mozilla" not in results[1].error
    assert results[2].error is None and results[2].created is False
    assert len(api.calls) == 2  # the web push endpoint never left the hub


async def test_upsert_raises_on_credentials(brick: OneSignalBrick, api: respx.Router) -> None:
    api.post(USERS).respond(401, json={"errors": [{"title": "Unauthorized"}]})
    with pytest.raises(AuthFailed):
        await brick.upsert([ContactView(pseudonym=PSEUDONYM)])


@pytest.mark.parametrize("status", [200, 404])
async def test_erase_deletes_by_external_id(
    brick: OneSignalBrick, api: respx.Router, status: int
) -> None:
    route = api.delete(f"{USERS}/by/external_id/{PSEUDONYM}").respond(status, json={})
    await brick.erase(PSEUDONYM)
    assert route.called


async def test_erase_escapes_the_pseudonym(brick: OneSignalBrick, api: respx.Router) -> None:
    route = api.delete(url__regex=r".*/users/by/external_id/ps%2Fslash.*").respond(200)
    await brick.erase("ps/slash_0123456789abc")
    assert route.called


async def test_erase_errors(brick: OneSignalBrick, api: respx.Router) -> None:
    api.delete(f"{USERS}/by/external_id/{PSEUDONYM}").mock(
        side_effect=[httpx.Response(500), httpx.ConnectError("down"), httpx.Response(401)]
    )
    with pytest.raises(Retryable):
        await brick.erase(PSEUDONYM)
    with pytest.raises(Retryable):
        await brick.erase(PSEUDONYM)
    with pytest.raises(AuthFailed):
        await brick.erase(PSEUDONYM)


async def test_check_lists_one_template(brick: OneSignalBrick, api: respx.Router) -> None:
    route = api.get("/templates", params={"app_id": APP_ID, "limit": "1"}).mock(
        side_effect=[
            httpx.Response(200, json={"templates": [], "total_count": 0}),
            httpx.Response(401, json={"errors": ["Invalid API key"]}),
            httpx.ConnectError("down"),
        ]
    )
    healthy = await brick.check()
    assert healthy.ok
    assert route.calls.last.request.headers["Authorization"] == f"Key {API_KEY}"
    refused = await brick.check()
    assert not refused.ok and refused.detail.startswith("AuthFailed")
    unreachable = await brick.check()
    assert not unreachable.ok and unreachable.detail.startswith("Retryable")
    assert all(API_KEY not in s.detail for s in (healthy, refused, unreachable))


async def test_aclose_is_idempotent_and_the_client_is_lazy(brick: OneSignalBrick) -> None:
    assert brick._client is None
    brick._http()
    await brick.aclose()
    await brick.aclose()
    assert brick._client is None
