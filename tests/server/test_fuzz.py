"""10,000 generated bad bodies against POST /events and POST /webhooks/{brick}.

Never a 500, never a crash: every answer is a 2xx with a report or a 4xx whose JSON names the
problem (``error``, and ``field`` for a 400). Examples are derandomized so CI runs the same
bodies every time; the in-process transport keeps the whole set to a short run (SQLite).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contracts import CustomerField
from hub.server import create_app
from hub.testing.core_send import brick_section
from plugins.brevo import BrevoBrick
from tests.server.conftest import AUTH, HOOK, cart_event
from tests.server.conftest import settings as server_settings
from tests.server.fakes import make_hub

BREVO_TOKEN = "brevo-webhook-token-0123456789"
FUZZ = settings(
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

json_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text()
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=20,
)
#: Values an attacker or a broken shop would put in an event's fields.
odd_values = json_values | st.sampled_from(
    ["", "x" * 300, "cart.abandoned", "2026-01-15T10:00:00", "-1", "1e309", "\x00", "ä" * 20]
)


@st.composite
def broken_events(draw: st.DrawFn) -> Any:
    """A valid cart event with fields removed, replaced or added, alone or in a batch."""
    event = cart_event(f"f-{draw(st.integers(0, 50))}")
    for key in draw(st.lists(st.sampled_from([*event, "extra"]), max_size=3)):
        if draw(st.booleans()):
            event.pop(key, None)
        else:
            event[key] = draw(odd_values)
    payload = event.get("payload")
    if isinstance(payload, dict) and draw(st.booleans()):
        key = draw(st.sampled_from(["items", "total", "currency", "updated_at", "cart_id", "x"]))
        payload[key] = draw(odd_values)
    shape = draw(st.sampled_from(["one", "list", "batch"]))
    return event if shape == "one" else [event] if shape == "list" else {"events": [event]}


@st.composite
def broken_payloads(draw: st.DrawFn) -> Any:
    """What fake_hook parses (``WebhookPayload``), with odd outcomes and events."""
    outcome = {
        "type": draw(st.sampled_from(["delivered", "unsubscribed", "nope"]) | odd_values),
        "channel": draw(st.sampled_from(["email", "sms", "fax"])),
        "vendor_status": draw(st.text(max_size=70)),
        "occurred_at": draw(st.sampled_from(["2026-01-15T10:00:00+00:00", "yesterday"])),
        "vendor_event_id": draw(st.none() | st.text(max_size=10)),
        "pseudonym": draw(st.none() | st.text(min_size=10, max_size=20)),
    }
    event = cart_event(draw(st.text(min_size=1, max_size=8)), source="fake_hook")
    event[draw(st.sampled_from(["id", "type", "payload", "pseudonym"]))] = draw(odd_values)
    body: dict[str, Any] = {}
    if draw(st.booleans()):
        body["outcomes"] = [outcome]
    if draw(st.booleans()):
        body["events"] = [event]
    if draw(st.booleans()):
        body[draw(st.text(max_size=8))] = draw(odd_values)
    return body


@st.composite
def brevo_bodies(draw: st.DrawFn) -> Any:
    event: dict[str, Any] = {
        "event": draw(st.sampled_from(["delivered", "hard_bounce", "unsubscribed", "spam", "?"])),
        "message-id": draw(st.text(max_size=30)),
        "ts_event": draw(st.sampled_from([int(time.time()), 0, -5, 1e20]) | odd_values),
        "X-Mailin-custom": draw(st.text(max_size=40)),
    }
    for key in draw(st.lists(st.sampled_from([*event, "id", "email", "tag"]), max_size=2)):
        event[key] = draw(odd_values)
    return draw(st.sampled_from([event, [event], {"events": event}]))


@dataclass
class Target:
    runner: asyncio.Runner
    client: httpx.AsyncClient

    def post(self, path: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
        response = self.runner.run(self.client.post(path, content=body, headers=headers))
        check(response)
        return response


def check(response: httpx.Response) -> None:
    assert response.status_code < 500, response.text
    answer = response.json()
    if response.status_code >= 400:
        assert isinstance(answer.get("error"), str) and answer["error"], answer
        if response.status_code == 400:
            assert isinstance(answer.get("field"), str) and answer["field"], answer
    elif "rejected" in answer and isinstance(answer["rejected"], list):
        for rejection in answer["rejected"]:
            assert rejection["field"] and rejection["reason"], rejection


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    root = tmp_path_factory.mktemp("fuzz")
    keys = root / "hub" / "keys"
    keys.mkdir(parents=True)
    brevo = brick_section(
        BrevoBrick,
        {"api_key": "xkeysib-fuzz-0123456789", "webhook_token": BREVO_TOKEN},
        frozenset({CustomerField.EMAIL}),
        keys,
    )
    hub = make_hub(root / "hub", f"sqlite:///{Path(root) / 'fuzz.db'}", extra=brevo)
    app = create_app(hub.runtime, server_settings(max_body_bytes=64 * 1024))
    runner = asyncio.Runner()
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://hub.test")
    try:
        yield Target(runner, client)
    finally:
        runner.run(client.aclose())
        runner.run(hub.runtime.aclose())
        runner.close()


def _encoded(value: Any) -> bytes:
    return json.dumps(value).encode()


@settings(FUZZ, max_examples=2000)
@given(body=st.binary(max_size=512))
def test_events_raw_bytes(target: Target, body: bytes) -> None:
    target.post("/events", body, AUTH)


@settings(FUZZ, max_examples=2000)
@given(body=json_values)
def test_events_any_json(target: Target, body: Any) -> None:
    target.post("/events", _encoded(body), AUTH)


@settings(FUZZ, max_examples=1500)
@given(body=broken_events())
def test_events_broken_events(target: Target, body: Any) -> None:
    response = target.post("/events", _encoded(body), AUTH)
    assert response.status_code in (202, 400)


@settings(FUZZ, max_examples=1500)
@given(body=st.binary(max_size=512), content_type=st.sampled_from(["application/json", "", "x/y"]))
def test_webhook_raw_bytes(target: Target, body: bytes, content_type: str) -> None:
    target.post("/webhooks/fake_hook", body, {**HOOK, "Content-Type": content_type})


@settings(FUZZ, max_examples=2000)
@given(body=broken_payloads() | json_values)
def test_webhook_broken_payloads(target: Target, body: Any) -> None:
    response = target.post("/webhooks/fake_hook", _encoded(body), HOOK)
    assert response.status_code in (200, 400)


@settings(FUZZ, max_examples=1000)
@given(body=brevo_bodies() | st.binary(max_size=256).map(lambda b: b.hex()))
def test_brevo_webhook_bodies(target: Target, body: Any) -> None:
    raw = body.encode() if isinstance(body, str) else _encoded(body)
    path = f"/webhooks/brevo?token={BREVO_TOKEN}"
    response = target.post(path, raw, {"Content-Type": "application/json"})
    assert response.status_code in (200, 400, 401)
