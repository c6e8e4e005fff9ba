"""Replaying the other dead-letter kinds, on both backends: a webhook body a brick could not
read goes back through the (fixed) brick's parser and the core's outcome and event paths; an
opt-out a contact sink could not be told is upserted again, with the person's current state."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlmodel import select

from contracts import Channel, Consent, ConsentStatus, MessageKind, Purpose, WebhookPayload
from hub.consent import may_contact, record_consents
from hub.dead_letters import list_dead_letters, open_payload
from hub.events.letters import replayable_letters
from hub.events.replay import DeadLetterNotFound, replay_dead_letter
from hub.server import create_app
from hub.storage.db import session_scope
from hub.storage.models import CustomerEvent, DeadLetter, OutcomeRecord
from hub.storage.types import utcnow
from tests.server.conftest import HOOK, cart_event, settings
from tests.server.fakes import FakeHook, FakeSink, Hub, add_customer, make_hub

LATER = "2099-01-01T00:00:00+00:00"  # after add_customer's consent (the core clamps to now)


@pytest.fixture
def hub(tmp_path: Path, database_url: str) -> Iterator[Hub]:
    made = make_hub(tmp_path / "hub", database_url)
    yield made
    asyncio.run(made.runtime.aclose())


def _post(hub: Hub, body: bytes) -> httpx.Response:
    async def call() -> httpx.Response:
        transport = httpx.ASGITransport(app=create_app(hub.runtime, settings()))
        async with httpx.AsyncClient(transport=transport, base_url="http://hub.test") as client:
            return await client.post("/webhooks/fake_hook", content=body, headers=HOOK)

    return asyncio.run(call())


def _people(hub: Hub) -> tuple[str, str]:
    """A consenting customer known to fake_hook and held by fake_sink: (id, hook pseudonym)."""
    runtime = hub.runtime
    customer = add_customer(runtime)
    with session_scope(runtime.engine) as session:
        pseudonym = runtime.identity.pseudonym_for(session, "fake_hook", customer)
        runtime.identity.pseudonym_for(session, "fake_sink", customer)
    return customer, pseudonym


def _unsubscribe_body(pseudonym: str, word: str) -> bytes:
    outcome = {
        "type": word,
        "channel": "email",
        "vendor_status": word,
        "vendor_event_id": "ev-1",
        "occurred_at": LATER,
        "pseudonym": pseudonym,
    }
    return json.dumps({"outcomes": [outcome], "events": [cart_event("h-1", source="fake_hook")]})


def _count(hub: Hub, model: type) -> int:
    with session_scope(hub.runtime.engine) as session:
        return len(list(session.exec(select(model))))


def _disable(hub: Hub, name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    configured = dataclasses.replace(hub.runtime.bricks[name], status="disabled")
    monkeypatch.setitem(hub.runtime.bricks, name, configured)


def _email_allowed(hub: Hub, customer: str) -> bool:
    with session_scope(hub.runtime.engine) as session:
        return may_contact(session, customer, Channel.EMAIL, MessageKind.MARKETING).allowed


def test_a_webhook_body_is_read_again_by_the_fixed_brick(
    hub: Hub, monkeypatch: pytest.MonkeyPatch
) -> None:
    customer, pseudonym = _people(hub)
    # The vendor started saying "unsubscribe"; this brick version does not know the word.
    refused = _post(hub, _unsubscribe_body(pseudonym, "unsubscribe").encode())
    assert refused.status_code == 400 and refused.json()["field"] == "outcomes.0.type"
    letter_id = refused.json()["dead_letter_id"]

    still = replay_dead_letter(hub.runtime, letter_id)
    assert (still.kind, still.status, still.outcome) == ("webhook", "pending", "rejected")
    assert still.field == "outcomes.0.type" and _count(hub, OutcomeRecord) == 0
    assert _email_allowed(hub, customer)

    original = FakeHook.parse

    def fixed(self: FakeHook, headers: Any, body: bytes) -> WebhookPayload:
        assert headers == {"content-type": "application/json"}  # the one header kept
        return original(self, headers, body.replace(b'"unsubscribe"', b'"unsubscribed"'))

    monkeypatch.setattr(FakeHook, "parse", fixed)
    urls = len(FakeHook.urls)
    result = replay_dead_letter(hub.runtime, letter_id)
    assert (result.status, result.outcome) == ("replayed", "stored")
    assert result.detail["outcomes"] == {"stored": 1, "duplicates": 0, "unmatched": 0}
    assert result.detail["events"]["accepted"] == 1
    assert len(FakeHook.urls) == urls  # verified when it arrived: not verified again
    assert not _email_allowed(hub, customer)
    assert [view.opted_out for view in FakeSink.views] == [frozenset({Channel.EMAIL})]
    assert _count(hub, CustomerEvent) == 1 and _count(hub, DeadLetter) == 1

    with pytest.raises(DeadLetterNotFound, match="already replayed"):
        replay_dead_letter(hub.runtime, letter_id)


def test_a_webhook_replay_of_a_body_stored_meanwhile_counts_duplicates(
    hub: Hub, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, pseudonym = _people(hub)
    refused = _post(hub, b'{"outcomes": [], "schema": 2}')
    letter_id = refused.json()["dead_letter_id"]
    body = _unsubscribe_body(pseudonym, "unsubscribed")
    assert _post(hub, body.encode()).status_code == 200

    def fixed(self: FakeHook, headers: Any, raw: bytes) -> WebhookPayload:
        return WebhookPayload.model_validate_json(body)  # the same call, in the new format

    monkeypatch.setattr(FakeHook, "parse", fixed)
    result = replay_dead_letter(hub.runtime, letter_id)
    assert result.status == "replayed"
    assert result.detail["outcomes"]["duplicates"] == 1
    assert result.detail["events"]["duplicates"] == 1
    assert _count(hub, OutcomeRecord) == 1 and len(FakeSink.views) == 1


def test_a_webhook_letter_waits_while_its_brick_is_disabled(
    hub: Hub, monkeypatch: pytest.MonkeyPatch
) -> None:
    refused = _post(hub, b'{"outcomes": "many"}')
    letter_id = refused.json()["dead_letter_id"]
    _disable(hub, "fake_hook", monkeypatch)
    result = replay_dead_letter(hub.runtime, letter_id)
    assert (result.status, result.field) == ("pending", "brick")
    assert "not an enabled webhook receiver" in (result.reason or "")
    with session_scope(hub.runtime.engine) as session:
        [letter] = list_dead_letters(session, kind="webhook")
        assert (letter.field, letter.reason) == ("brick", result.reason)


def test_an_opt_out_reaches_the_sink_on_replay(hub: Hub) -> None:
    customer, pseudonym = _people(hub)
    FakeSink.mode = "raise"
    assert _post(hub, _unsubscribe_body(pseudonym, "unsubscribed").encode()).status_code == 200
    assert not _email_allowed(hub, customer)  # the consent change stands regardless
    with session_scope(hub.runtime.engine) as session:
        [letter] = replayable_letters(session, kind="propagation")
        assert open_payload(hub.runtime.vault, letter)["brick"] == "fake_sink"
        letter_id = letter.id
    assert letter_id is not None

    FakeSink.mode = "refuse"
    still = replay_dead_letter(hub.runtime, letter_id)
    assert (still.kind, still.status, still.outcome) == ("propagation", "pending", "failed")
    assert still.reason == "refused by fake_sink: contact locked"
    with session_scope(hub.runtime.engine) as session:
        assert session.get(DeadLetter, letter_id).reason == still.reason  # type: ignore[union-attr]

    FakeSink.mode = "ok"
    FakeSink.views.clear()
    result = replay_dead_letter(hub.runtime, letter_id)
    assert (result.status, result.outcome, result.detail) == (
        "replayed",
        "propagated",
        {"brick": "fake_sink"},
    )
    [view] = FakeSink.views
    assert view.opted_out == frozenset({Channel.EMAIL})
    assert _count(hub, DeadLetter) == 1  # never a second letter


def test_a_replayed_opt_out_tells_the_current_state(hub: Hub) -> None:
    customer, pseudonym = _people(hub)
    FakeSink.mode = "raise"
    _post(hub, _unsubscribe_body(pseudonym, "unsubscribed").encode())
    # The person subscribes again before the sink is reachable: the sink must not learn a
    # stale opt-out.
    again = Consent(
        channel=Channel.EMAIL,
        purpose=Purpose.MARKETING,
        status=ConsentStatus.GRANTED,
        source="shop:preferences",
        recorded_at=utcnow() + timedelta(seconds=1),
    )
    with session_scope(hub.runtime.engine) as session:
        record_consents(session, customer, [again])
        [letter] = replayable_letters(session, kind="propagation")
    FakeSink.mode = "ok"
    assert replay_dead_letter(hub.runtime, letter.id or 0).status == "replayed"  # type: ignore[arg-type]
    assert [view.opted_out for view in FakeSink.views] == [frozenset()]


def test_a_propagation_to_a_sink_no_longer_enabled_waits(
    hub: Hub, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, pseudonym = _people(hub)
    FakeSink.mode = "raise"
    _post(hub, _unsubscribe_body(pseudonym, "unsubscribed").encode())
    _disable(hub, "fake_sink", monkeypatch)
    with session_scope(hub.runtime.engine) as session:
        [letter] = replayable_letters(session, kind="propagation")
    result = replay_dead_letter(hub.runtime, letter.id or 0)
    assert result.status == "pending" and "not an enabled contact sink" in (result.reason or "")


def test_listing_mixes_the_kinds_and_filters(hub: Hub) -> None:
    _, pseudonym = _people(hub)
    FakeSink.mode = "raise"
    _post(hub, _unsubscribe_body(pseudonym, "unsubscribed").encode())
    _post(hub, b"[]")
    with session_scope(hub.runtime.engine) as session:
        kinds = [letter.kind for letter in replayable_letters(session)]
        webhooks = replayable_letters(session, kind="webhook")
    assert kinds == ["propagation", "webhook"]
    assert [letter.kind for letter in webhooks] == ["webhook"]
    assert base64.b64decode(open_payload(hub.runtime.vault, webhooks[0])["body_base64"]) == b"[]"
