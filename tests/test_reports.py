"""``hub report centricity|outcomes`` over recorded sends, jobs and outcomes, on both backends."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from sqlalchemy import insert

from hub.reports.centricity import centricity
from hub.reports.outcomes import outcome_report
from hub.reports.periods import Period
from hub.runtime import open_runtime
from hub.storage.models import Job, OutcomeRecord, SendRecord, table

MONDAY = datetime(2026, 11, 16, 10, 0, tzinfo=UTC)  # a Monday


def _send(n: int, at: datetime, *, scenario="promo", channel="email", status="accepted"):
    return {
        "request_id": f"r{n:04d}", "idempotency_key": f"k{n:04d}", "brick": "outbox",
        "customer_id": f"cus_{n % 3}", "channel": channel, "scenario": scenario,
        "kind": "marketing", "template": "t", "status": status, "attempts": 1,
        "created_at": at, "updated_at": at,
    }


def _job(n: int, request_id: str, at: datetime):
    return {
        "idempotency_key": f"cart:{n}:0", "customer_id": "cus_1", "scenario": "cart_recovery",
        "step": 0, "priority": 80, "status": "done", "due_at": at, "attempts": 1,
        "request_id": request_id, "created_at": at, "updated_at": at,
    }


def _outcome(n: int, request_id: str, kind: str, at: datetime):
    return {
        "brick": "outbox", "type": kind, "channel": "email", "customer_id": "cus_1",
        "request_id": request_id, "vendor_event_id": f"e{n}", "vendor_status": kind,
        "occurred_at": at, "received_at": at,
    }


def _fill(engine) -> None:
    week2 = MONDAY + timedelta(days=7)
    sends = [_send(i, MONDAY + timedelta(hours=i)) for i in range(4)]  # week 1: 4 sent
    sends += [_send(10 + i, week2 + timedelta(hours=i), scenario="cart_recovery") for i in range(3)]
    sends += [_send(20, week2, status="failed"), _send(21, week2 + timedelta(days=1))]
    jobs = [_job(1, "r0000", MONDAY)] + [_job(10 + i, f"r{10 + i:04d}", week2) for i in range(3)]
    outcomes = [
        _outcome(1, "r0010", "delivered", week2), _outcome(2, "r0010", "opened", week2),
        _outcome(3, "r0010", "opened", week2), _outcome(4, "r0011", "delivered", week2),
        _outcome(5, "r0011", "unsubscribed", week2),
    ]
    with engine.begin() as connection:
        connection.execute(insert(table(SendRecord)), sends)
        connection.execute(insert(table(Job)), jobs)
        connection.execute(insert(table(OutcomeRecord)), outcomes)


def test_centricity_per_week_counts_only_accepted_sends(installation):
    runtime = open_runtime(installation.config)
    _fill(runtime.engine)
    rows = centricity(runtime.engine, Period.WEEK)
    assert [(r.period, r.triggered, r.total) for r in rows] == [
        ("2026-11-16", 1, 4),
        ("2026-11-23", 3, 4),
    ]
    assert rows[0].below(0.25) is False and rows[0].ratio == 0.25
    months = centricity(runtime.engine, Period.MONTH)
    assert [(r.period, r.triggered, r.total) for r in months] == [("2026-11-01", 4, 8)]
    days = centricity(runtime.engine, Period.DAY, since=MONDAY + timedelta(days=7))
    assert sum(r.total for r in days) == 4


def test_outcomes_count_messages_not_webhook_calls(installation):
    runtime = open_runtime(installation.config)
    _fill(runtime.engine)
    rows = {r.scenario: r for r in outcome_report(runtime.engine)}
    cart = rows["cart_recovery"]
    assert (cart.sent, cart.failed) == (3, 0)
    assert cart.messages_with == {"delivered": 2, "opened": 1, "unsubscribed": 1}
    assert rows["promo"].sent == 5 and rows["promo"].failed == 1


def test_cli_json_and_text(run_cli, installation):
    runtime = open_runtime(installation.config)
    _fill(runtime.engine)
    result = run_cli("--config", str(installation.config), "report", "centricity", "--json")
    assert result.code == 0, result.err
    data = json.loads(result.out)
    assert (data["triggered"], data["total"], data["customer_centric"]) == (4, 8, True)
    assert data["periods"][0]["start"] == "2026-11-16"
    text = run_cli("--config", str(installation.config), "report", "centricity", "--period",
                   "month").out
    assert "4/8 = 50%" in text
    outcomes = json.loads(run_cli("--config", str(installation.config), "report", "outcomes",
                                  "--json").out)
    cart = next(r for r in outcomes if r["scenario"] == "cart_recovery")
    assert cart["rates"]["opened"] == 1 / 3
    bad = run_cli("--config", str(installation.config), "report", "centricity", "--period", "year")
    assert bad.code == 2 and "--period" in bad.err
