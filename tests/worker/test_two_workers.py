"""Two workers, each with its own engine, share 240 due jobs: every job runs exactly once (the
jobs table and the outbox file agree), none is lost. PostgreSQL shares with SKIP LOCKED; on
SQLite ``BEGIN IMMEDIATE`` serialises the claims."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import timedelta
from pathlib import Path

from hub.testing import make_installation
from hub.worker import run_worker
from tests.scenarios.flows import (
    FLOWS,
    OUTBOX,
    base_time,
    ingest,
    jobs,
    order,
    outbox,
    profile,
)

CUSTOMERS = 240


def test_two_workers_share_the_queue(tmp_path: Path, database_url: str) -> None:
    t0 = base_time()
    installation = make_installation(
        tmp_path / "hub", bricks=OUTBOX, database_url=database_url, extra=FLOWS
    )
    setup = installation.runtime()
    # Order confirmations are transactional: no consent needed, one job per order. The
    # profiles put the email address in the vault (an identifier alone is only a digest).
    emails = [f"c{i}@example.com" for i in range(CUSTOMERS)]
    before = t0 - timedelta(minutes=1)
    ingest(setup, *[profile(e, f"p{i}", before, consents=()) for i, e in enumerate(emails)])
    ingest(setup, *[order(e, f"o{i}", t0) for i, e in enumerate(emails)])
    assert len(jobs(setup, status="scheduled")) == CUSTOMERS
    setup.engine.dispose()

    both_started = threading.Barrier(2, timeout=60)
    reports = {}
    errors: list[BaseException] = []

    def work(name: str) -> None:
        runtime = installation.runtime()  # its own engine and brick instance
        started = False

        def first_job(_result: object) -> None:
            nonlocal started
            if not started:  # each worker has taken a share before either goes on
                started = True
                both_started.wait()

        try:
            reports[name] = run_worker(
                runtime,
                worker_id=name,
                until_idle=True,
                batch=5,
                now=t0 + timedelta(seconds=1),
                on_job=first_job,
            )
        except BaseException as exc:  # surfaced in the main thread
            errors.append(exc)
        finally:
            runtime.engine.dispose()

    threads = [threading.Thread(target=work, args=(n,)) for n in ("w1", "w2")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert not errors, errors

    check = installation.runtime()
    final = jobs(check)
    assert Counter(j.status for j in final) == {"done": CUSTOMERS}
    assert {j.attempts for j in final} == {1}  # claimed once each
    by_worker = Counter(j.claimed_by for j in final)
    assert set(by_worker) == {"w1", "w2"}
    assert by_worker["w1"] == reports["w1"].processed and by_worker["w2"] == reports["w2"].processed
    lines = outbox(check)
    assert len(lines) == CUSTOMERS
    assert len({line["idempotency_key"] for line in lines}) == CUSTOMERS
    assert {line["request_id"] for line in lines} == {j.request_id for j in final}
    check.engine.dispose()
