"""POST /events: token, content type, size, shape; 202 with intake's report per event."""

from __future__ import annotations

import json

import httpx
import pytest
from sqlmodel import select

from hub.server import create_app
from hub.storage.db import session_scope
from hub.storage.models import CustomerEvent, DeadLetter
from tests.server.conftest import AUTH, cart_event, settings
from tests.server.fakes import API_TOKEN, Hub

pytestmark = pytest.mark.anyio


def _events(hub: Hub) -> list[CustomerEvent]:
    with session_scope(hub.runtime.engine) as session:
        return list(session.exec(select(CustomerEvent)))


async def test_one_event_is_accepted(client: httpx.AsyncClient, hub: Hub) -> None:
    response = await client.post("/events", json=cart_event(), headers=AUTH)
    assert response.status_code == 202
    assert response.json() == {"accepted": 1, "duplicates": 0, "rejected": []}
    [stored] = _events(hub)
    assert (stored.type, stored.source, stored.source_event_id) == ("cart.abandoned", "shop", "e-1")
    assert [event.id for event in hub.observer.events] == ["e-1"]


@pytest.mark.parametrize("shape", ["list", "batch"])
async def test_batches_report_each_event(client: httpx.AsyncClient, hub: Hub, shape: str) -> None:
    events = [cart_event("e-1"), cart_event("e-2", type="cart.nope"), cart_event("e-1")]
    body = events if shape == "list" else {"events": events}
    response = await client.post("/events", json=body, headers=AUTH)
    assert response.status_code == 202
    report = response.json()
    assert (report["accepted"], report["duplicates"]) == (1, 1)
    [rejected] = report["rejected"]
    assert (rejected["index"], rejected["field"]) == (1, "type")
    assert "unknown event type" in rejected["reason"] and rejected["dead_letter_id"]


async def test_a_replayed_event_is_a_duplicate(client: httpx.AsyncClient, hub: Hub) -> None:
    await client.post("/events", json=cart_event(), headers=AUTH)
    again = await client.post("/events", json=cart_event(), headers=AUTH)
    assert again.json() == {"accepted": 0, "duplicates": 1, "rejected": []}
    assert len(_events(hub)) == 1


async def test_rejections_never_echo_personal_data(client: httpx.AsyncClient) -> None:
    bad = cart_event(identifiers=[{"kind": "email", "value": "not-an-email-ada@@x"}])
    response = await client.post("/events", json=bad, headers=AUTH)
    assert response.status_code == 202
    assert "ada@@x" not in response.text and response.json()["rejected"][0]["field"]


@pytest.mark.parametrize(
    ("headers", "problem"),
    [
        ({}, "missing bearer token"),
        ({"Authorization": "Basic abc"}, "missing bearer token"),
        ({"Authorization": "Bearer "}, "missing bearer token"),
        ({"Authorization": f"Bearer {API_TOKEN}x"}, "invalid bearer token"),
        ({"Authorization": f"Bearer {API_TOKEN[:-1]}"}, "invalid bearer token"),
    ],
)
async def test_bad_or_missing_token_is_401(
    client: httpx.AsyncClient, hub: Hub, headers: dict[str, str], problem: str
) -> None:
    response = await client.post("/events", json=cart_event(), headers=headers)
    assert response.status_code == 401 and problem in response.json()["error"]
    assert _events(hub) == []


async def test_without_a_configured_token_events_are_closed(hub: Hub) -> None:
    from hub.config.model import ServerSettings

    app = create_app(hub.runtime, ServerSettings())
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://h") as c:
        response = await c.post("/events", json=cart_event(), headers=AUTH)
    assert response.status_code == 401 and "api_token" in response.json()["error"]


@pytest.mark.parametrize(
    ("content_type", "status"),
    [
        ("text/plain", 415),
        ("application/x-www-form-urlencoded", 415),
        ("", 415),
        ("application/json; charset=utf-8", 202),
        ("application/cloudevents+json", 202),
    ],
)
async def test_content_type(client: httpx.AsyncClient, content_type: str, status: int) -> None:
    headers = {**AUTH, "Content-Type": content_type}
    response = await client.post("/events", content=json.dumps(cart_event()), headers=headers)
    assert response.status_code == status
    if status == 415:
        assert response.json()["field"] == "Content-Type"


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        (b"", "body", "empty"),
        (b"{not json", "body", "not valid JSON"),
        (b"\xff\xfe{}", "body", "UTF-8"),
        (b"[NaN]", "body", "not valid JSON"),
        (b"1" * 5000, "body", "not valid JSON"),
        (b"[" * 40 + b"]" * 40, "body", "deeper"),
        (b"[" * 100_000 + b"]" * 100_000, "body", "deeper"),
        (b'"an event"', "body", "not str"),
        (b"null", "body", "not null"),
        (b'{"events": {"id": 1}}', "events", "list"),
        (b'{"events": [], "extra": 1}', "extra", "only 'events'"),
    ],
)
async def test_bad_bodies_are_400_naming_the_field(
    client: httpx.AsyncClient, body: bytes, field: str, words: str
) -> None:
    response = await client.post("/events", content=body, headers=AUTH)
    assert response.status_code == 400, response.text
    assert response.json()["field"] == field and words in response.json()["error"]


async def test_items_that_are_not_objects_are_rejected_one_by_one(
    client: httpx.AsyncClient, hub: Hub
) -> None:
    response = await client.post("/events", json=[1, "x", cart_event()], headers=AUTH)
    assert response.status_code == 202
    report = response.json()
    assert report["accepted"] == 1 and [r["index"] for r in report["rejected"]] == [0, 1]
    with session_scope(hub.runtime.engine) as session:
        assert len(list(session.exec(select(DeadLetter)))) == 2


async def test_an_empty_batch_is_fine(client: httpx.AsyncClient) -> None:
    response = await client.post("/events", json=[], headers=AUTH)
    assert response.json() == {"accepted": 0, "duplicates": 0, "rejected": []}


async def test_declared_length_over_the_limit_is_413_unread(hub: Hub) -> None:
    app = create_app(hub.runtime, settings(max_body_bytes=2048))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://h") as c:
        big = json.dumps([cart_event(f"e-{i}") for i in range(20)]).encode()
        response = await c.post("/events", content=big, headers=AUTH)
        assert response.status_code == 413 and response.json()["field"] == "body"

        async def chunked() -> object:
            for _ in range(10):
                yield b" " * 512  # no Content-Length: only counting catches it

        streamed = await c.post("/events", content=chunked(), headers=AUTH)
        assert streamed.status_code == 413 and "2048 bytes" in streamed.json()["error"]
        lying = await c.post("/events", content=big, headers={**AUTH, "Content-Length": "10"})
        assert lying.status_code in (400, 413)
    assert _events(hub) == []


async def test_a_bad_content_length_is_400(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/events", content=b"[]", headers={**AUTH, "Content-Length": "two"}
    )
    assert response.status_code == 400 and response.json()["field"] == "Content-Length"


async def test_wrong_method_and_unknown_path_answer_json(client: httpx.AsyncClient) -> None:
    wrong = await client.get("/events")
    assert wrong.status_code == 405 and "GET" in wrong.json()["error"]
    missing = await client.post("/nothing", json={})
    assert missing.status_code == 404 and "/events" in missing.json()["error"]


async def test_the_token_comes_from_the_server_section(tmp_path: object, database_url: str) -> None:
    """``[server] api_token = {file = ...}`` in hub.toml is what create_app(runtime) uses."""
    from pathlib import Path

    from tests.server.fakes import make_hub

    root = Path(str(tmp_path)) / "hub"
    (root / "keys").mkdir(parents=True)
    token_file = root / "keys" / "api_token"
    token_file.write_text(API_TOKEN, encoding="utf-8")
    made = make_hub(root, database_url, extra=f'[server]\napi_token = {{file = "{token_file}"}}\n')
    try:
        app = create_app(made.runtime)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://h") as c:
            ok = await c.post("/events", json=cart_event(), headers=AUTH)
            refused = await c.post("/events", json=cart_event(), headers={})
        assert (ok.status_code, refused.status_code) == (202, 401)
    finally:
        await made.runtime.aclose()
