"""What intake tells the core: scenario jobs in the same transaction, observers after commit."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select

from hub.events.intake import ingest_events
from hub.plugins import build_plugin_host
from hub.runtime import open_runtime
from hub.sdk import hookimpl
from hub.storage.models import CustomerEvent, Job
from hub.testing import make_installation
from tests.conftest import OUTBOX
from tests.events.conftest import cart, event

FLOWS = """
[scenarios.cart_recovery]
trigger = "cart.abandoned"
channels = ["email"]
steps = [{delay = "1h", template = "cart-1"}]
cancel_if = ["order.placed"]
"""


class Observer:
    def __init__(self) -> None:
        self.seen: list[tuple[str, int]] = []
        self.engine = None

    @hookimpl
    def hub_event_received(self, event) -> None:
        with self.engine.connect() as connection:  # a separate connection: committed rows only
            rows = connection.execute(
                select(func.count())
                .select_from(CustomerEvent)
                .where(CustomerEvent.source_event_id == event.id)
            ).scalar_one()
        self.seen.append((event.id, rows))
        if event.id == "boom":
            raise RuntimeError("a broken plugin")


@pytest.fixture
def observed(tmp_path, database_url):
    inst = make_installation(tmp_path / "h", database_url=database_url, bricks=OUTBOX, extra=FLOWS)
    observer = Observer()
    runtime = open_runtime(inst.config, host=build_plugin_host(extra_plugins=[("obs", observer)]))
    observer.engine = runtime.engine
    yield runtime, observer
    asyncio.run(runtime.aclose())


def _jobs(runtime):
    with runtime.engine.connect() as connection:
        return connection.execute(select(Job.__table__)).mappings().all()


def test_observers_hear_of_stored_events_after_commit_and_cannot_undo_them(observed):
    runtime, observer = observed
    report = ingest_events(runtime, [event("boom"), event("e2"), event("e2")], source="api")
    assert report.accepted == 2
    assert observer.seen == [("boom", 1), ("e2", 1)]  # each already committed when observed


def test_an_event_schedules_its_scenario_jobs_in_the_same_transaction(observed):
    runtime, _ = observed
    [stored] = ingest_events(runtime, [event("cart")], source="api").stored
    [job] = _jobs(runtime)
    assert (job["scenario"], job["trigger_event_id"], job["customer_id"]) == (
        "cart_recovery",
        stored.id,
        stored.customer_id,
    )
    order = event(
        "order",
        type="order.placed",
        occurred_at="2026-03-02T10:30:00+00:00",
        payload={
            k: v for k, v in cart(order_id="o-1").items() if k not in {"cart_id", "updated_at"}
        },
    )
    ingest_events(runtime, [order], source="api")
    [job] = _jobs(runtime)
    assert job["status"] == "cancelled"
