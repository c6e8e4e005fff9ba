"""Crash safety: a job left running by a dead worker is settled from its send rows, never
re-sent blindly; in-doubt jobs wait for an operator (``hub jobs in-doubt`` / ``resolve``)."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from hub.scenarios.jobs import JOBS, send_key
from hub.send_records import SendState, claim_send, finish_send
from hub.storage.models import LedgerEntry, table
from hub.worker import run_worker
from plugins.outbox.brick import OutboxBrick
from tests.scenarios.flows import base_time, cart, flow_runtime, ingest, jobs, outbox, profile


def _crashed_job(runtime, t0, send_state: SendState | None):
    """Ada's cart email, claimed by a worker that died an hour ago, its send in ``send_state``."""
    ingest(runtime, profile("ada@example.com", "p1", t0 - timedelta(minutes=1)))
    [customer] = ingest(runtime, cart("ada@example.com", "c1", t0))
    job = jobs(runtime, scenario="cart_recovery", step=0)[0]
    with runtime.engine.begin() as connection:
        connection.execute(
            update(JOBS)
            .where(JOBS.c.id == job.id)
            .values(status="running", claimed_by="dead", claimed_at=t0, attempts=1)
        )
    if send_state is not None:
        claim = claim_send(
            runtime.engine,
            request_id=uuid.uuid4().hex,
            idempotency_key=send_key(job.idempotency_key, "email"),
            brick="outbox",
            customer_id=customer,
            channel="email",
            scenario="cart_recovery",
            kind="marketing",
            template="cart-email",
        )
        if send_state is not SendState.PENDING:
            finish_send(runtime.engine, claim.request_id, send_state)
    return job


def _run(runtime, t0):
    return run_worker(runtime, worker_id="w2", until_idle=True, now=t0 + timedelta(hours=1))


def test_an_accepted_send_makes_the_job_done(tmp_path: Path, database_url: str) -> None:
    t0 = base_time()
    with flow_runtime(tmp_path, database_url) as runtime:
        job = _crashed_job(runtime, t0, SendState.ACCEPTED)
        report = _run(runtime, t0)
        assert report.recovered == {"done": 1} and report.processed == 0
        [after] = jobs(runtime, id=job.id)
        assert (after.status, after.channel) == ("done", "email")
        assert outbox(runtime) == []  # settled from the record, not sent again


def test_no_send_row_means_nothing_went_out(tmp_path: Path, database_url: str) -> None:
    t0 = base_time()
    with flow_runtime(tmp_path, database_url) as runtime:
        job = _crashed_job(runtime, t0, None)
        report = _run(runtime, t0)
        assert report.recovered == {"scheduled": 1} and report.statuses == {"done": 1}
        assert jobs(runtime, id=job.id)[0].claimed_by == "w2"
        assert len(outbox(runtime)) == 1


def test_a_fresh_claim_is_not_taken_over(tmp_path: Path, database_url: str) -> None:
    t0 = base_time()
    with flow_runtime(tmp_path, database_url) as runtime:
        job = _crashed_job(runtime, t0, SendState.PENDING)
        report = run_worker(runtime, worker_id="w2", until_idle=True, now=t0 + timedelta(minutes=5))
        assert report.recovered == {} and jobs(runtime, id=job.id)[0].status == "running"


def test_a_cut_off_send_is_retried_under_its_key_when_the_brick_honours_keys(
    tmp_path: Path, database_url: str
) -> None:
    t0 = base_time()
    with flow_runtime(tmp_path, database_url) as runtime:
        job = _crashed_job(runtime, t0, SendState.PENDING)
        report = _run(runtime, t0)
        assert report.recovered == {"scheduled": 1} and report.statuses == {"done": 1}
        [line] = outbox(runtime)
        assert line["idempotency_key"] == send_key(job.idempotency_key, "email")


def test_a_cut_off_send_without_idempotency_is_in_doubt_until_an_operator_decides(
    tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch, run_cli
) -> None:
    monkeypatch.setattr(OutboxBrick, "supports_idempotency", False)
    t0 = base_time()
    with flow_runtime(tmp_path, database_url) as runtime:
        job = _crashed_job(runtime, t0, SendState.PENDING)
        report = _run(runtime, t0)
        assert report.recovered == {"in_doubt": 1} and outbox(runtime) == []
        assert _run(runtime, t0).recovered == {}  # in doubt stays in doubt
        config = str(tmp_path / "hub.toml")
        listed = run_cli("--config", config, "jobs", "in-doubt", "--json")
        [entry] = json.loads(listed.out)["jobs"]
        assert (entry["id"], entry["channel"], entry["status"]) == (job.id, "email", "in_doubt")
        assert "hub jobs resolve" in entry["reason"]
        both = run_cli("--config", config, "jobs", "resolve", str(job.id))
        assert both.code == 2 and "exactly one of --sent or --not-sent" in both.err
        result = run_cli("--config", config, "jobs", "resolve", str(job.id), "--not-sent")
        assert result.code == 0, result.err
        assert jobs(runtime, id=job.id)[0].status == "scheduled"
        again = run_cli("--config", config, "jobs", "resolve", str(job.id), "--sent")
        assert again.code == 2 and "not in_doubt" in again.err
        report = _run(runtime, t0)
        assert report.statuses == {"done": 1} and len(outbox(runtime)) == 1


def test_resolving_as_sent_counts_the_contact(
    tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch, run_cli
) -> None:
    monkeypatch.setattr(OutboxBrick, "supports_idempotency", False)
    t0 = base_time()
    with flow_runtime(tmp_path, database_url) as runtime:
        job = _crashed_job(runtime, t0, SendState.PENDING)
        _run(runtime, t0)
        config = str(tmp_path / "hub.toml")
        result = run_cli("--config", config, "jobs", "resolve", str(job.id), "--sent", "--json")
        assert json.loads(result.out)["status"] == "done"
        ledger = table(LedgerEntry)
        with runtime.engine.connect() as connection:
            rows = connection.execute(select(ledger.c.source, ledger.c.status)).all()
        assert [tuple(r) for r in rows] == [("operator", "recorded")]
        assert _run(runtime, t0).processed == 0 and outbox(runtime) == []
        listed = run_cli("--config", config, "jobs", "list", "--status", "done", "--json")
        assert [j["id"] for j in json.loads(listed.out)["jobs"]] == [job.id]
        bad = run_cli("--config", config, "jobs", "list", "--status", "lost")
        assert bad.code == 2 and "--status" in bad.err


def test_hub_worker_command(tmp_path: Path, database_url: str, run_cli) -> None:
    t0 = base_time() - timedelta(hours=1)  # the reminder is due now, by the real clock
    with flow_runtime(tmp_path, database_url) as runtime:
        ingest(runtime, profile("ada@example.com", "p1", t0 - timedelta(minutes=1)))
        ingest(runtime, cart("ada@example.com", "c1", t0))
    config = str(tmp_path / "hub.toml")
    result = run_cli("--config", config, "worker", "--until-idle", "--json", "--worker-id", "cli")
    assert result.code == 0, result.err
    summary = json.loads(result.out)
    assert summary["statuses"] == {"done": 1} and summary["worker_id"] == "cli"
    human = run_cli("--config", config, "worker", "--until-idle", "--batch", "5")
    assert human.code == 0 and "0 job(s): nothing due" in human.out
