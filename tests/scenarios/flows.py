"""Test installations with scenario flows, and builders for the events that drive them."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select

from hub.events.intake import ingest_events
from hub.runtime import Runtime
from hub.scenarios.jobs import JOBS
from hub.testing import make_installation

OUTBOX = '[bricks.outbox]\nallowed_fields = ["email", "phone", "first_name"]\n'

FLOWS = """
[scenarios.cart_recovery]
trigger = "cart.abandoned"
cancel_if = ["order.placed"]
channels = ["email"]
priority = 80
max_delay = "24h"
steps = [
  {delay = "1h", template = "cart-email"},
  {delay = "24h", template = "cart-sms", channels = ["sms"]},
]

[scenarios.big_cart]
trigger = "cart.abandoned"
conditions = [{field = "total", op = "gte", value = 100}]
channels = ["email"]
priority = 20
steps = [{delay = "2h", template = "big-cart"}]

[scenarios.welcome_series]
trigger = "customer.signed_up"
cancel_if = ["order.placed"]
channels = ["email"]
priority = 60
steps = [
  {delay = "0s", template = "welcome-1"},
  {delay = "3d", template = "welcome-2"},
  {delay = "7d", template = "welcome-3"},
]

[scenarios.reactivation]
inactivity = {after = "90d", events = ["order.placed"], outcomes = ["opened"]}
cancel_if = ["order.placed"]
channels = ["email"]
priority = 30
steps = [{delay = "0s", template = "we-miss-you"}]

[scenarios.order_confirmation]
kind = "transactional"
trigger = "order.placed"
channels = ["email"]
priority = 100
steps = [{delay = "0s", template = "order-confirmation"}]
"""


def when(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


def base_time() -> datetime:
    """Half an hour ago, to the second: real enough for the ledger, which decides at real time."""
    return datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=30)


@contextmanager
def flow_runtime(
    root: Path, database_url: str, extra: str = "", replace: dict[str, str] | None = None
) -> Iterator[Runtime]:
    """An installation with ``FLOWS`` (edited by ``replace``: old text -> new) and ``extra``."""
    flows = FLOWS
    for old, new in (replace or {}).items():
        assert old in flows, old
        flows = flows.replace(old, new, 1)
    installation = make_installation(
        root, bricks=OUTBOX, database_url=database_url, extra=flows + extra
    )
    runtime = installation.runtime()
    try:
        yield runtime
    finally:
        asyncio.run(runtime.aclose())


def cart(email: str, event_id: str, at: datetime, total: str = "59.90") -> dict[str, Any]:
    return {
        "id": event_id,
        "type": "cart.abandoned",
        "source": "shop",
        "occurred_at": when(at),
        "identifiers": [{"kind": "email", "value": email}],
        "payload": {
            "cart_id": f"cart-{event_id}",
            "items": [{"sku": "sku-1", "quantity": 1, "unit_price": total}],
            "total": total,
            "currency": "EUR",
            "updated_at": when(at),
        },
    }


def order(email: str, event_id: str, at: datetime) -> dict[str, Any]:
    return {
        "id": event_id,
        "type": "order.placed",
        "source": "shop",
        "occurred_at": when(at),
        "identifiers": [{"kind": "email", "value": email}],
        "payload": {
            "order_id": f"order-{event_id}",
            "items": [{"sku": "sku-1", "quantity": 1, "unit_price": "59.90"}],
            "total": "59.90",
            "currency": "EUR",
        },
    }


def profile(
    email: str, event_id: str, at: datetime, *, phone: str | None = None, consents=("email",)
) -> dict[str, Any]:
    """A ``customer.updated`` event: contact points and granted marketing consents."""
    identifiers = [{"kind": "email", "value": email}]
    if phone:
        identifiers.append({"kind": "phone", "value": phone})
    granted = [
        {"channel": c, "status": "granted", "source": "shop", "recorded_at": when(at)}
        for c in consents
    ]
    return {
        "id": event_id,
        "type": "customer.updated",
        "source": "crm",
        "occurred_at": when(at),
        "identifiers": [{"kind": "email", "value": email}],
        "payload": {"contact": {"identifiers": identifiers, "consents": granted}},
    }


def ingest(runtime: Runtime, *events: dict[str, Any]) -> list[str]:
    """Ingest, insist nothing was refused; the customer id of each stored event."""
    report = ingest_events(runtime, list(events), source="test")
    assert not report.rejected, report.rejected
    return [stored.customer_id for stored in report.stored]


def jobs(runtime: Runtime, **where: Any) -> list[Any]:
    query = select(JOBS).order_by(JOBS.c.id)
    for column, value in where.items():
        query = query.where(JOBS.c[column] == value)
    with runtime.engine.connect() as connection:
        return list(connection.execute(query))


def outbox(runtime: Runtime) -> list[dict[str, Any]]:
    path = Path(runtime.settings.data_dir) / "outbox.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
