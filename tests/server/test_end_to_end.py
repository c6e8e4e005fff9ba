"""Through a real uvicorn server on loopback: an event is posted with the API token, then a
Brevo unsubscribe webhook (token in the query, as Brevo calls it) blocks marketing email for
the person everywhere and reaches the other contact sink holding them."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from sqlmodel import select

from contracts import Channel, CustomerField, MessageKind
from hub.consent import may_contact
from hub.server import create_app
from hub.storage.db import session_scope
from hub.storage.models import CustomerEvent, OutcomeRecord
from hub.testing.core_send import brick_section
from plugins.brevo import BrevoBrick
from tests.server.conftest import AUTH, cart_event, settings
from tests.server.fakes import FakeSink, Hub, add_customer, make_hub

BREVO_TOKEN = "brevo-webhook-token-e2e-0123456789"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def served(tmp_path: Path, database_url: str) -> Iterator[tuple[Hub, str]]:
    keys = tmp_path / "hub" / "keys"
    keys.mkdir(parents=True)
    brevo = brick_section(
        BrevoBrick,
        {"api_key": "xkeysib-e2e-0123456789", "webhook_token": BREVO_TOKEN},
        frozenset({CustomerField.EMAIL}),
        keys,
    )
    hub = make_hub(tmp_path / "hub", database_url, extra=brevo)
    port = _free_port()
    config = uvicorn.Config(
        create_app(hub.runtime, settings()),
        host="127.0.0.1",
        port=port,
        log_config=None,
        access_log=False,
        lifespan="off",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield hub, f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=20)
        asyncio.run(hub.runtime.aclose())


def test_event_then_brevo_unsubscribe_over_loopback(served: tuple[Hub, str]) -> None:
    hub, base = served
    runtime = hub.runtime
    customer = add_customer(runtime)
    with session_scope(runtime.engine) as session:
        pseudonym = runtime.identity.pseudonym_for(session, "brevo", customer)
        sink_pseudonym = runtime.identity.pseudonym_for(session, "fake_sink", customer)

    with httpx.Client(base_url=base, timeout=20) as client:
        assert client.get("/healthz").json() == {"status": "ok"}
        posted = client.post("/events", json=cart_event("e2e-1"), headers=AUTH)
        assert posted.status_code == 202 and posted.json()["accepted"] == 1

        now = int(time.time())
        unsubscribe = {
            "event": "unsubscribed",
            "id": 4242,
            "message-id": "<e2e-1@smtp-relay.mailin.fr>",
            "ts_event": now,
            "ts_epoch": now * 1000,
            "X-Mailin-custom": pseudonym,
        }
        refused = client.post("/webhooks/brevo?token=wrong-token", content=json.dumps(unsubscribe))
        assert refused.status_code == 401
        hook = client.post(
            f"/webhooks/brevo?token={BREVO_TOKEN}",
            content=json.dumps(unsubscribe),
            headers={"Content-Type": "application/json"},
        )
        assert hook.status_code == 200, hook.text
        assert hook.json()["outcomes"] == {"stored": 1, "duplicates": 0, "unmatched": 0}
        metrics = client.get("/metrics").text

    with session_scope(runtime.engine) as session:
        assert len(list(session.exec(select(CustomerEvent)))) == 1
        [outcome] = list(session.exec(select(OutcomeRecord)))
        email = may_contact(session, customer, Channel.EMAIL, MessageKind.MARKETING)
        sms = may_contact(session, customer, Channel.SMS, MessageKind.MARKETING)
    assert (outcome.customer_id, outcome.type) == (customer, "unsubscribed")
    assert not email.allowed and sms.allowed
    [view] = FakeSink.views
    assert view.pseudonym == sink_pseudonym and view.opted_out == frozenset({Channel.EMAIL})
    assert 'hub_webhooks_total{brick="brevo",result="ok"} 1.0' in metrics
    assert 'hub_webhooks_total{brick="brevo",result="unauthorised"} 1.0' in metrics
