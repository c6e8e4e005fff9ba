"""Scheduling: events create the steps they trigger, cancel the ones they stop, once."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from hub.scenarios.inactivity import scan_inactivity
from hub.scenarios.schedule import on_events
from hub.storage.db import session_scope
from tests.scenarios.flows import base_time, cart, flow_runtime, ingest, jobs, order, profile


def test_a_cart_schedules_its_steps_once(tmp_path: Path, database_url: str) -> None:
    t0 = base_time()
    with flow_runtime(tmp_path, database_url) as runtime:
        [customer] = ingest(runtime, cart("ada@example.com", "c1", t0))
        scheduled = jobs(runtime, customer_id=customer)
        assert [(j.scenario, j.step, j.status) for j in scheduled] == [
            ("cart_recovery", 0, "scheduled"),
            ("cart_recovery", 1, "scheduled"),
        ]  # big_cart's condition (total >= 100) does not hold
        assert [j.due_at for j in scheduled] == [t0 + timedelta(hours=1), t0 + timedelta(hours=24)]
        assert scheduled[0].idempotency_key == f"cart_recovery:{scheduled[0].trigger_event_id}:0"
        assert {j.priority for j in scheduled} == {80}
        # Replaying the event (intake sees a duplicate) and re-running the scheduler on the
        # stored event both leave the jobs as they were.
        ingest(runtime, cart("ada@example.com", "c1", t0))
        stored = _stored(runtime, "c1")
        with session_scope(runtime.engine) as session:
            on_events(session, runtime, [stored, stored])
        assert len(jobs(runtime)) == 2


def test_conditions_select_scenarios(tmp_path: Path, database_url: str) -> None:
    t0 = base_time()
    with flow_runtime(tmp_path, database_url) as runtime:
        ingest(runtime, cart("big@example.com", "c1", t0, total="120.00"))
        assert sorted({j.scenario for j in jobs(runtime)}) == ["big_cart", "cart_recovery"]


def test_an_order_after_the_trigger_cancels_pending_steps(
    tmp_path: Path, database_url: str
) -> None:
    t0 = base_time()
    with flow_runtime(tmp_path, database_url) as runtime:
        ingest(runtime, cart("ada@example.com", "c1", t0), cart("bob@example.com", "c2", t0))
        [customer] = ingest(runtime, order("ada@example.com", "o1", t0 + timedelta(hours=2)))
        ada = jobs(runtime, customer_id=customer, scenario="cart_recovery")
        assert {j.status for j in ada} == {"cancelled"}
        order_id = _stored(runtime, "o1").id
        assert ada[0].reason == (
            f"cancelled: order.placed (event {order_id}) occurred after the trigger"
        )
        # The order confirmation it triggers is scheduled, not cancelled; Bob is untouched.
        assert [j.status for j in jobs(runtime, scenario="order_confirmation")] == ["scheduled"]
        bob = [j for j in jobs(runtime, scenario="cart_recovery") if j.customer_id != customer]
        assert {j.status for j in bob} == {"scheduled"}


def test_an_order_before_the_trigger_cancels_nothing_and_batch_order_does_not_matter(
    tmp_path: Path, database_url: str
) -> None:
    t0 = base_time()
    with flow_runtime(tmp_path, database_url) as runtime:
        ingest(runtime, order("ada@example.com", "o0", t0 - timedelta(hours=1)))
        ingest(runtime, cart("ada@example.com", "c1", t0))
        assert {j.status for j in jobs(runtime, scenario="cart_recovery")} == {"scheduled"}
        # One batch, the order listed before the cart it follows: still cancelled.
        ingest(
            runtime,
            order("bob@example.com", "o2", t0 + timedelta(minutes=5)),
            cart("bob@example.com", "c2", t0),
        )
        bob = [j for j in jobs(runtime, scenario="cart_recovery") if j.status == "cancelled"]
        assert len(bob) == 2


def test_inactivity_scan_once_per_stretch(tmp_path: Path, database_url: str) -> None:
    now = base_time()
    with flow_runtime(tmp_path, database_url) as runtime:
        [idle, busy, fresh] = ingest(
            runtime,
            profile("idle@example.com", "p1", now),
            profile("busy@example.com", "p2", now),
            profile("fresh@example.com", "p3", now),
        )
        _age_customers(runtime, [idle, busy], days=200)
        _age_customers(runtime, [fresh], days=30)
        ingest(runtime, order("busy@example.com", "o1", now - timedelta(days=10)))
        assert scan_inactivity(runtime.engine, runtime.settings.scenarios, now=now) == 1
        [job] = jobs(runtime, scenario="reactivation")
        assert (job.customer_id, job.due_at, job.trigger_event_id) == (idle, now, None)
        # Later scans in the same stretch (even in a new period) add nothing for her ...
        for later in (now + timedelta(hours=1), now + timedelta(days=120)):
            scan_inactivity(runtime.engine, runtime.settings.scenarios, now=later)
            assert len(jobs(runtime, scenario="reactivation", customer_id=idle)) == 1
        # ... until she is active again, then idle for another 90 days.
        ingest(runtime, order("idle@example.com", "o2", now + timedelta(days=121)))
        scan_inactivity(runtime.engine, runtime.settings.scenarios, now=now + timedelta(days=215))
        assert len(jobs(runtime, scenario="reactivation", customer_id=idle)) == 2


def _stored(runtime, source_event_id: str):
    from sqlalchemy import select

    from hub.events.stored import StoredEvent
    from hub.storage.models import CustomerEvent, table

    events = table(CustomerEvent)
    with runtime.engine.connect() as connection:
        row = connection.execute(
            select(events).where(events.c.source_event_id == source_event_id)
        ).one()
    return StoredEvent(
        row.id, row.customer_id, row.type, row.source, row.source_event_id, row.occurred_at, {}
    )


def _age_customers(runtime, customers: list[str], *, days: int) -> None:
    from sqlalchemy import update

    from hub.storage.models import Customer, table

    with runtime.engine.begin() as connection:
        connection.execute(
            update(table(Customer))
            .where(table(Customer).c.id.in_(customers))
            .values(created_at=base_time() - timedelta(days=days))
        )
