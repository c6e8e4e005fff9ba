"""Issue 5 end to end: a customer moment through a real uvicorn server on loopback.

The story, on both backends, with the shipped cart recovery flow (email after 1 h, SMS after
24 h, cancelled by an order) and the bundled Brevo (email) and Twilio (SMS) bricks, their
vendor APIs answered by respx:

1. the shop posts a profile (email and SMS marketing consent) and an abandoned cart to
   ``POST /events`` with the API token read from a secret file;
2. the worker, an hour later, sends the reminder through Brevo: the vendor sees the template,
   the address and the Brevo pseudonym, never the hub's customer id;
3. the shop posts the order: the SMS step is cancelled, naming the order, and at 24 h the worker
   calls Twilio for nothing (the transactional order confirmation goes out by email);
4. Brevo reports the person unsubscribed (``POST /webhooks/brevo``, bearer token): email
   marketing consent is denied, so the next abandoned cart's reminder is refused, and so is a
   marketing email through any other brick (the outbox here).

Two runtimes open the same installation, as ``hub serve`` and ``hub worker`` would in two
processes. respx lets loopback calls through to the server and refuses any unmocked host.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
import uvicorn
from sqlalchemy import select
from sqlmodel import select as sqlmodel_select

from contracts import Channel, CustomerField, Identifier, IdentifierKind, MessageKind
from hub.consent import may_contact
from hub.runtime import Runtime, open_runtime
from hub.scenarios.jobs import JOBS
from hub.sending import send_message
from hub.server import create_app
from hub.storage.db import session_scope
from hub.storage.models import AuditEntry, CustomerEvent, OutcomeRecord, table
from hub.testing import make_installation
from hub.testing.core_send import brick_section
from hub.testing.samples import HUB_ID_PATTERN
from hub.worker import run_worker
from plugins.brevo import BrevoBrick
from plugins.twilio import TwilioBrick

API_TOKEN = "e2e-api-token-0123456789abcdef"
BREVO_TOKEN = "e2e-brevo-webhook-token-0123456789"
BREVO_API = "https://api.brevo.com/v3"
TWILIO_API = "https://api.twilio.com"
ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
EMAIL, PHONE = "ada@example.org", "+33612345678"
TEMPLATES = {"cart-reminder": 11, "order-confirmation": 12}

# The flows as config/hub.toml ships them (docs/scenarios.md), minus the ones this story
# does not exercise (welcome, reactivation, promotion).
FLOWS = """
[scenarios.cart_recovery]
trigger = "cart.abandoned"
cancel_if = ["order.placed"]
channels = ["email"]
priority = 80
cap = {limit = 2, window = "7d"}
max_delay = "24h"
steps = [
  {delay = "1h", template = "cart-reminder"},
  {delay = "24h", template = "cart-reminder-sms", channels = ["sms"]},
]

[scenarios.order_confirmation]
kind = "transactional"
trigger = "order.placed"
channels = ["email", "sms"]
priority = 100
steps = [{delay = "0s", template = "order-confirmation"}]
"""


def _installation(root: Path, database_url: str) -> Path:
    keys = root / "keys"
    keys.mkdir(parents=True)
    (keys / "api_token").write_text(API_TOKEN, encoding="utf-8")
    brevo = brick_section(
        BrevoBrick,
        {"api_key": "xkeysib-e2e-0123456789", "webhook_token": BREVO_TOKEN, "templates": TEMPLATES},
        frozenset({CustomerField.EMAIL, CustomerField.FIRST_NAME}),
        keys,
    )
    twilio = brick_section(
        TwilioBrick,
        {
            "account_sid": ACCOUNT_SID,
            "auth_token": "twilio-auth-token-0123456789abcdef",
            "from_number": "+14155552345",
            "templates": {
                "cart-reminder-sms": "Your cart is waiting. Reply STOP to opt out.",
                "order-confirmation": "Thank you for your order.",
            },
        },
        frozenset({CustomerField.PHONE}),
        keys,
    )
    outbox = '[bricks.outbox]\nallowed_fields = ["email", "phone"]\n'
    installation = make_installation(
        root,
        bricks=brevo + twilio + outbox,
        database_url=database_url,
        extra=(
            'public_base_url = "https://hub.example.org"\n'
            f'[server]\napi_token = {{file = "{(keys / "api_token").as_posix()}"}}\n'
            f"{FLOWS}\n[sending]\nmax_attempts = 1\n"
        ),
    )
    return installation.config


@contextmanager
def _served(runtime: Runtime) -> Iterator[str]:
    """``create_app`` on a real uvicorn, on a free loopback port, in a thread."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    config = uvicorn.Config(
        create_app(runtime),
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
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=20)


def _at(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


def _profile(at: datetime) -> dict[str, Any]:
    consents = [
        {"channel": channel, "status": "granted", "source": "shop:checkout", "recorded_at": _at(at)}
        for channel in ("email", "sms")
    ]
    identifiers = [{"kind": "email", "value": EMAIL}, {"kind": "phone", "value": PHONE}]
    return {
        "id": "profile-1",
        "type": "customer.updated",
        "source": "shop",
        "occurred_at": _at(at),
        "identifiers": [{"kind": "email", "value": EMAIL}],
        "payload": {
            "contact": {"identifiers": identifiers, "first_name": "Ada", "consents": consents}
        },
    }


def _cart(event_id: str, at: datetime) -> dict[str, Any]:
    return {
        "id": event_id,
        "type": "cart.abandoned",
        "source": "shop",
        "occurred_at": _at(at),
        "identifiers": [{"kind": "email", "value": EMAIL}],
        "payload": {
            "cart_id": f"cart-{event_id}",
            "items": [{"sku": "sku-1", "name": "Boots", "quantity": 1, "unit_price": "89.90"}],
            "total": "89.90",
            "currency": "EUR",
            "updated_at": _at(at),
        },
    }


def _order(at: datetime) -> dict[str, Any]:
    return {
        "id": "order-9",
        "type": "order.placed",
        "source": "shop",
        "occurred_at": _at(at),
        "identifiers": [{"kind": "email", "value": EMAIL}],
        "payload": {
            "order_id": "9",
            "cart_id": "cart-cart-1",
            "total": "89.90",
            "currency": "EUR",
            "items": [{"sku": "sku-1", "quantity": 1, "unit_price": "89.90"}],
        },
    }


EVENTS = table(CustomerEvent)


def _jobs(runtime: Runtime, scenario: str) -> list[Any]:
    with runtime.engine.connect() as connection:
        query = select(JOBS).where(JOBS.c.scenario == scenario).order_by(JOBS.c.id)
        return list(connection.execute(query))


def _vendor(router: respx.Router) -> tuple[respx.Route, respx.Route]:
    """Brevo's send answers a message id; Twilio's would answer a sid (it must not be called)."""
    numbers = itertools.count(1)
    brevo = router.post(f"{BREVO_API}/smtp/email").mock(
        side_effect=lambda request: httpx.Response(
            201, json={"messageId": f"<e2e-{next(numbers)}@smtp-relay.mailin.fr>"}
        )
    )
    twilio = router.post(f"{TWILIO_API}/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json").mock(
        return_value=httpx.Response(201, json={"sid": "SM" + "0" * 32, "status": "queued"})
    )
    router.route(host="127.0.0.1").pass_through()
    return brevo, twilio


@pytest.fixture
def runtimes(tmp_path: Path, database_url: str) -> Iterator[tuple[Runtime, Runtime]]:
    """The server's runtime and the worker's, on one installation."""
    config = _installation(tmp_path / "hub", database_url)
    server, worker = open_runtime(config), open_runtime(config)
    try:
        yield server, worker
    finally:
        asyncio.run(server.aclose())
        asyncio.run(worker.aclose())


def test_cart_reminder_order_cancels_sms_and_unsubscribe_blocks_marketing_everywhere(
    runtimes: tuple[Runtime, Runtime],
) -> None:
    serving, working = runtimes
    now = datetime.now(UTC).replace(microsecond=0)
    t0 = now - timedelta(hours=2)  # the cart; the ledger decides at the real time
    auth = {"Authorization": f"Bearer {API_TOKEN}"}
    with (
        respx.mock(assert_all_mocked=True, assert_all_called=False) as router,
        _served(serving) as base,
        httpx.Client(base_url=base, timeout=20) as client,
    ):
        brevo, twilio = _vendor(router)
        assert client.get("/healthz").status_code == 200
        assert client.post("/events", json=[_profile(t0)]).status_code == 401  # no token
        posted = client.post(
            "/events", json=[_profile(t0 - timedelta(hours=1)), _cart("1", t0)], headers=auth
        )
        assert posted.status_code == 202 and posted.json() == {
            "accepted": 2,
            "duplicates": 0,
            "rejected": [],
        }
        with session_scope(working.engine) as session:
            customer = working.identity.find(
                session, Identifier(kind=IdentifierKind.EMAIL, value=EMAIL)
            )
            assert customer is not None
            pseudonym = working.identity.pseudonym_for(session, "brevo", customer)

        # An hour after the cart: the email reminder goes out through Brevo.
        early = run_worker(working, worker_id="w1", until_idle=True, now=t0 + timedelta(minutes=59))
        assert early.processed == 0 and not brevo.calls
        report = run_worker(
            working, worker_id="w1", until_idle=True, now=t0 + timedelta(hours=1, minutes=1)
        )
        assert report.statuses == {"done": 1}
        [call] = brevo.calls
        sent = json.loads(call.request.content)
        assert sent["templateId"] == TEMPLATES["cart-reminder"]
        assert [to["email"] for to in sent["to"]] == [EMAIL]
        assert sent["headers"]["X-Mailin-custom"] == pseudonym
        assert sent["tags"] == ["cart_recovery"]
        assert not HUB_ID_PATTERN.search(call.request.content.decode())  # no hub id leaves

        # The order arrives: the SMS step is cancelled at once, naming the order.
        ordered = client.post("/events", json=_order(now - timedelta(minutes=30)), headers=auth)
        assert ordered.json()["accepted"] == 1
        step0, sms = _jobs(working, "cart_recovery")
        assert (step0.status, step0.channel) == ("done", "email")
        with working.engine.connect() as connection:
            order_id = connection.execute(
                select(EVENTS.c.id).where(EVENTS.c.source_event_id == "order-9")
            ).scalar_one()
        assert sms.status == "cancelled" and f"order.placed (event {order_id})" in sms.reason
        confirmed = run_worker(working, worker_id="w1", until_idle=True, now=now)
        assert confirmed.statuses == {"done": 1}  # the order confirmation (transactional)
        assert json.loads(brevo.calls[1].request.content)["templateId"] == 12
        late = run_worker(
            working, worker_id="w1", until_idle=True, now=t0 + timedelta(hours=24, minutes=1)
        )
        assert late.processed == 0 and not twilio.calls
        assert _jobs(working, "cart_recovery")[1].status == "cancelled"

        # Brevo reports the first reminder's recipient unsubscribed, with its bearer token.
        seconds = int(time.time())
        unsubscribed = {
            "event": "unsubscribed",
            "id": 991,
            "message-id": "<e2e-1@smtp-relay.mailin.fr>",
            "ts_event": seconds,
            "ts_epoch": seconds * 1000,
            "X-Mailin-custom": pseudonym,
        }
        body = json.dumps(unsubscribed)
        hook_headers = {"Content-Type": "application/json"}
        wrong = client.post(
            "/webhooks/brevo",
            content=body,
            headers={**hook_headers, "Authorization": "Bearer not-the-token"},
        )
        assert wrong.status_code == 401
        hook = client.post(
            "/webhooks/brevo",
            content=body,
            headers={**hook_headers, "Authorization": f"Bearer {BREVO_TOKEN}"},
        )
        assert hook.status_code == 200, hook.text
        assert hook.json()["outcomes"] == {"stored": 1, "duplicates": 0, "unmatched": 0}
        with session_scope(working.engine) as session:
            email = may_contact(session, customer, Channel.EMAIL, MessageKind.MARKETING)
            sms_ok = may_contact(session, customer, Channel.SMS, MessageKind.MARKETING)
            [outcome] = session.exec(sqlmodel_select(OutcomeRecord)).all()
            [audit] = session.exec(
                sqlmodel_select(AuditEntry).where(AuditEntry.action == "consent_revoked")
            ).all()
        assert not email.allowed and sms_ok.allowed
        # Stored against the reminder it concerns (Brevo's message id -> the send).
        assert (outcome.type, outcome.customer_id) == ("unsubscribed", customer)
        assert outcome.request_id == step0.request_id
        assert (audit.customer_id, audit.brick) == (customer, "brevo")

        # The next abandoned cart: its email reminder is refused for want of consent...
        t1 = now - timedelta(minutes=20)
        assert client.post("/events", json=_cart("2", t1), headers=auth).json()["accepted"] == 1
        again = run_worker(
            working, worker_id="w2", until_idle=True, now=t1 + timedelta(hours=1, minutes=1)
        )
        assert again.statuses == {"refused": 1}
        refused = _jobs(working, "cart_recovery")[2]
        assert (
            refused.status == "refused" and "denied (source: brevo:unsubscribed)" in refused.reason
        )
        # ...and so is a marketing email through any other brick.
        outbox = asyncio.run(
            send_message(
                working,
                customer_id=customer,
                channel=Channel.EMAIL,
                scenario="cart_recovery",
                template="cart-reminder",
                brick="outbox",
            )
        )
        assert (outbox.status, outbox.brick) == ("refused", "outbox")
        assert "brevo:unsubscribed" in outbox.decision.reason
        assert len(brevo.calls) == 2 and not twilio.calls

        assert client.get("/healthz").json() == {"status": "ok"}
        metrics = client.get("/metrics").text
    assert 'hub_events_total{result="accepted"} 4.0' in metrics
    assert 'hub_webhooks_total{brick="brevo",result="ok"} 1.0' in metrics
    assert 'hub_webhooks_total{brick="brevo",result="unauthorised"} 1.0' in metrics
    assert 'hub_outcomes_total{brick="brevo",type="unsubscribed"} 1.0' in metrics
    assert 'hub_http_requests_total{route="/events",status="401"} 1.0' in metrics
