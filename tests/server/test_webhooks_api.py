"""POST /webhooks/{brick}: 404 unless an enabled receiver; 401 before anything is stored;
400 naming the field with the body dead-lettered; 200 with counts, outcomes then events."""

from __future__ import annotations

import base64
import json
from typing import Any

import httpx
import pytest
from sqlmodel import select

from contracts import Channel, MessageKind
from hub.consent import may_contact
from hub.dead_letters import list_dead_letters, open_payload
from hub.server import create_app
from hub.storage.db import session_scope
from hub.storage.models import CustomerEvent, DeadLetter, OutcomeRecord
from tests.server.conftest import HOOK, WHEN, cart_event, settings
from tests.server.fakes import FakeHook, FakeSink, Hub, add_customer

pytestmark = pytest.mark.anyio


def _outcome(kind: str = "delivered", **fields: Any) -> dict[str, Any]:
    return {"type": kind, "channel": "email", "vendor_status": kind, "occurred_at": WHEN, **fields}


def _count(hub: Hub, model: type) -> int:
    with session_scope(hub.runtime.engine) as session:
        return len(list(session.exec(select(model))))


async def test_outcomes_and_events_are_stored(client: httpx.AsyncClient, hub: Hub) -> None:
    body = {
        "outcomes": [_outcome(vendor_event_id="v1"), _outcome("opened", vendor_event_id="v2")],
        "events": [cart_event("hook-1", source="fake_hook")],
    }
    response = await client.post("/webhooks/fake_hook", json=body, headers=HOOK)
    assert response.status_code == 200, response.text
    assert response.json() == {
        "outcomes": {"stored": 2, "duplicates": 0, "unmatched": 2},
        "events": {"accepted": 1, "duplicates": 0, "rejected": 0, "dead_letters": []},
    }
    again = await client.post("/webhooks/fake_hook", json=body, headers=HOOK)
    assert again.json()["outcomes"]["duplicates"] == 2 and again.json()["events"]["duplicates"] == 1
    assert _count(hub, OutcomeRecord) == 2 and _count(hub, CustomerEvent) == 1


async def test_a_brick_cannot_post_events_of_another_source(client: httpx.AsyncClient) -> None:
    body = {"events": [cart_event("hook-2", source="shop")]}
    response = await client.post("/webhooks/fake_hook", json=body, headers=HOOK)
    events = response.json()["events"]
    assert (events["accepted"], events["duplicates"], events["rejected"]) == (0, 0, 1)
    assert len(events["dead_letters"]) == 1  # the refused event is kept, with its reason


async def test_an_unsubscribe_blocks_marketing_and_reaches_the_sink(
    client: httpx.AsyncClient, hub: Hub
) -> None:
    runtime = hub.runtime
    customer = add_customer(runtime)
    with session_scope(runtime.engine) as session:
        pseudonym = runtime.identity.pseudonym_for(session, "fake_hook", customer)
        runtime.identity.pseudonym_for(session, "fake_sink", customer)
    # Dated ahead of the consent add_customer just granted (the core clamps it to now).
    later = "2099-01-01T00:00:00+00:00"
    body = {"outcomes": [_outcome("unsubscribed", pseudonym=pseudonym, occurred_at=later)]}
    response = await client.post("/webhooks/fake_hook", json=body, headers=HOOK)
    assert response.json()["outcomes"] == {"stored": 1, "duplicates": 0, "unmatched": 0}
    with session_scope(runtime.engine) as session:
        verdict = may_contact(session, customer, Channel.EMAIL, MessageKind.MARKETING)
    assert not verdict.allowed and "fake_hook:unsubscribed" in verdict.reason
    assert [view.opted_out for view in FakeSink.views] == [frozenset({Channel.EMAIL})]
    metrics = (await client.get("/metrics")).text
    assert 'hub_outcomes_total{brick="fake_hook",type="unsubscribed"} 1.0' in metrics


@pytest.mark.parametrize("name", ["nobody", "fake_sink", "outbox", "twilio", "UPPER", "a" * 300])
async def test_only_enabled_receivers_have_a_webhook(client: httpx.AsyncClient, name: str) -> None:
    response = await client.post(f"/webhooks/{name}", json={}, headers=HOOK)
    assert response.status_code == 404 and response.json()["field"] == "brick"


@pytest.mark.parametrize("token", [None, "", "wrong-token-0123456789"])
async def test_unverified_calls_are_401_and_store_nothing(
    client: httpx.AsyncClient, hub: Hub, token: str | None
) -> None:
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["X-Fake-Token"] = token
    body = {"outcomes": [_outcome()], "events": [cart_event("x", source="fake_hook")]}
    response = await client.post("/webhooks/fake_hook", json=body, headers=headers)
    assert response.status_code == 401 and "X-Fake-Token" in response.json()["error"]
    for model in (OutcomeRecord, CustomerEvent, DeadLetter):
        assert _count(hub, model) == 0
    assert "the call could not be verified" in response.json()["error"]


async def test_an_unreadable_body_is_400_and_dead_lettered(
    client: httpx.AsyncClient, hub: Hub
) -> None:
    body = json.dumps({"outcomes": [_outcome("exploded")]}).encode()
    response = await client.post("/webhooks/fake_hook", content=body, headers=HOOK)
    assert response.status_code == 400
    answer = response.json()
    assert answer["field"] == "outcomes.0.type" and answer["dead_letter_id"]
    with session_scope(hub.runtime.engine) as session:
        [letter] = list_dead_letters(session, kind="webhook")
        assert letter.source == "fake_hook" and letter.field == "outcomes.0.type"
        assert letter.payload != body and b"exploded" not in letter.payload  # sealed
        opened = open_payload(hub.runtime.vault, letter)
    assert base64.b64decode(opened["body_base64"]) == body
    assert opened["content_type"] == "application/json"


async def test_a_parse_that_crashes_is_still_a_400_with_the_body_kept(
    client: httpx.AsyncClient, hub: Hub, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(self: Any, headers: Any, body: bytes) -> Any:
        raise KeyError("boom")

    monkeypatch.setattr(FakeHook, "parse", broken)
    response = await client.post("/webhooks/fake_hook", content=b"{}", headers=HOOK)
    assert response.status_code == 400 and "KeyError" in response.json()["error"]
    assert _count(hub, DeadLetter) == 1


async def test_a_verify_that_crashes_refuses_the_call(
    client: httpx.AsyncClient, hub: Hub, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(self: Any, url: str, headers: Any, body: bytes) -> None:
        raise ValueError("boom")

    monkeypatch.setattr(FakeHook, "verify", broken)
    response = await client.post("/webhooks/fake_hook", json={}, headers=HOOK)
    assert response.status_code == 401 and _count(hub, DeadLetter) == 0


async def test_webhook_bodies_are_size_limited(hub: Hub) -> None:
    app = create_app(hub.runtime, settings(max_body_bytes=1024))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://h") as c:
        response = await c.post("/webhooks/fake_hook", content=b"x" * 2000, headers=HOOK)
    assert response.status_code == 413 and FakeHook.urls == []


@pytest.mark.parametrize(
    ("trust", "headers", "url"),
    [
        (False, {}, "http://hub.test/webhooks/fake_hook?token=t&b=2"),
        (
            False,
            {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "hooks.example.com"},
            "http://hub.test/webhooks/fake_hook?token=t&b=2",
        ),
        (
            True,
            {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "hooks.example.com"},
            "https://hooks.example.com/webhooks/fake_hook?token=t&b=2",
        ),
        (
            True,
            {"X-Forwarded-Proto": "https, http", "X-Forwarded-Host": "a.example, b.example"},
            "https://a.example/webhooks/fake_hook?token=t&b=2",
        ),
        (True, {"X-Forwarded-Proto": "gopher"}, "http://hub.test/webhooks/fake_hook?token=t&b=2"),
    ],
)
async def test_verify_sees_the_url_the_vendor_called(
    hub: Hub, trust: bool, headers: dict[str, str], url: str
) -> None:
    app = create_app(hub.runtime, settings(trust_forwarded_headers=trust))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://hub.test") as c:
        response = await c.post(
            "/webhooks/fake_hook?token=t&b=2", json={}, headers={**HOOK, **headers}
        )
    assert response.status_code == 200
    assert FakeHook.urls == [url]
