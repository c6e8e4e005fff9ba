"""The worker and customer statuses: an objection stops marketing steps but lets transactional
ones go; an erased customer's scheduled steps are gone with them."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

from hub.erasure.forget import forget
from hub.erasure.objection import object_to
from hub.storage.db import session_scope
from hub.storage.types import utcnow
from hub.worker import run_worker
from tests.scenarios.flows import (
    base_time,
    cart,
    flow_runtime,
    ingest,
    jobs,
    order,
    outbox,
    profile,
)


def test_an_objection_stops_marketing_steps_not_transactional_ones(
    tmp_path: Path, database_url: str
) -> None:
    t0 = base_time()
    with flow_runtime(tmp_path, database_url) as runtime:
        [ada] = ingest(runtime, profile("ada@example.com", "p-1", t0 - timedelta(minutes=1)))
        ingest(runtime, cart("ada@example.com", "c1", t0))
        with session_scope(runtime.ready_engine()) as session:
            object_to(session, ada, now=utcnow())
        run_worker(runtime, worker_id="w1", until_idle=True, now=t0 + timedelta(hours=1))
        [step] = jobs(runtime, scenario="cart_recovery", step=0)
        assert step.status != "done" and "art. 21" in (step.reason or "")
        ingest(runtime, order("ada@example.com", "o1", t0 + timedelta(hours=2)))
        report = run_worker(runtime, worker_id="w1", until_idle=True,
                            now=t0 + timedelta(hours=3))
        assert report.statuses.get("done") == 1
        assert [m["template"] for m in outbox(runtime)] == ["order-confirmation"]


def test_an_erased_customer_has_no_step_left(tmp_path: Path, database_url: str) -> None:
    t0 = base_time()
    with flow_runtime(tmp_path, database_url) as runtime:
        [ada] = ingest(runtime, profile("ada@example.com", "p-1", t0 - timedelta(minutes=1)))
        ingest(runtime, cart("ada@example.com", "c1", t0))
        assert jobs(runtime, customer_id=ada)
        asyncio.run(forget(runtime, ada))
        assert jobs(runtime, customer_id=ada) == []
        report = run_worker(runtime, worker_id="w1", until_idle=True, now=t0 + timedelta(days=3))
        assert report.processed == 0 and outbox(runtime) == []
