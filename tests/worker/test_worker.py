"""The worker end to end on both backends: due steps go out through the outbox brick, orders
cancel what follows, the ledger's deferrals reschedule, refusals fall back to the next channel,
and a customer's most important message goes first."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
from pathlib import Path

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

PHONE = "+33612345678"
GAP = '\n[pressure]\ngaps = [{name = "email-gap", channels = ["email"], min_gap = "48h"}]\n'


def _customer(runtime, email: str, t0: datetime, **kwargs) -> str:
    return ingest(runtime, profile(email, f"p-{email}", t0 - timedelta(minutes=1), **kwargs))[0]


def test_cart_reminder_then_an_order_cancels_the_sms(tmp_path: Path, database_url: str) -> None:
    t0 = base_time()
    with flow_runtime(tmp_path, database_url) as runtime:
        ada = _customer(runtime, "ada@example.com", t0, phone=PHONE, consents=("email", "sms"))
        ingest(runtime, cart("ada@example.com", "c1", t0))
        early = run_worker(runtime, worker_id="w1", until_idle=True, now=t0 + timedelta(minutes=59))
        assert early.processed == 0 and outbox(runtime) == []
        report = run_worker(runtime, worker_id="w1", until_idle=True, now=t0 + timedelta(hours=1))
        assert report.statuses == {"done": 1}
        [email] = outbox(runtime)
        assert (email["channel"], email["template"], email["scenario"]) == (
            "email",
            "cart-email",
            "cart_recovery",
        )
        step0 = jobs(runtime, scenario="cart_recovery", step=0)[0]
        assert (step0.status, step0.channel, step0.claimed_by) == ("done", "email", "w1")
        assert email["idempotency_key"] == f"job:{step0.idempotency_key}:email"
        assert email["request_id"] == step0.request_id

        ingest(runtime, order("ada@example.com", "o1", t0 + timedelta(hours=2)))
        report = run_worker(runtime, worker_id="w1", until_idle=True, now=t0 + timedelta(hours=25))
        assert report.statuses == {"done": 1}  # the order confirmation
        sms = jobs(runtime, customer_id=ada, scenario="cart_recovery", step=1)[0]
        assert sms.status == "cancelled" and "order.placed" in sms.reason
        assert [m["template"] for m in outbox(runtime)] == ["cart-email", "order-confirmation"]


def test_cancel_if_is_checked_again_before_sending(tmp_path: Path, database_url: str) -> None:
    t0 = base_time()
    with flow_runtime(tmp_path, database_url) as runtime:
        _customer(runtime, "ada@example.com", t0)
        # The order is stored first; the cart that preceded it arrives late.
        ingest(runtime, order("ada@example.com", "o1", t0 + timedelta(minutes=10)))
        ingest(runtime, cart("ada@example.com", "c1", t0))
        report = run_worker(runtime, worker_id="w1", until_idle=True, now=t0 + timedelta(hours=1))
        [job] = jobs(runtime, scenario="cart_recovery", step=0)
        assert job.status == "cancelled" and "order.placed" in job.reason
        assert report.statuses["cancelled"] == 1
        assert [m["template"] for m in outbox(runtime)] == ["order-confirmation"]


def test_priority_first_and_deferral_reschedules_to_until(
    tmp_path: Path, database_url: str
) -> None:
    t0 = base_time()
    with flow_runtime(tmp_path, database_url, extra=GAP) as runtime:
        _customer(runtime, "ada@example.com", t0)
        ingest(runtime, cart("ada@example.com", "c1", t0), _signup("ada@example.com", t0))
        report = run_worker(runtime, worker_id="w1", until_idle=True, now=t0 + timedelta(hours=1))
        # Both due together: the cart reminder (80) goes before the welcome email (60), which
        # the 48 h gap then defers; it is rescheduled to the ledger's "until".
        assert report.statuses == {"done": 1, "scheduled": 1}
        assert [m["template"] for m in outbox(runtime)] == ["cart-email"]
        [welcome] = jobs(runtime, scenario="welcome_series", step=0)
        assert welcome.status == "scheduled" and welcome.claimed_by is None
        assert welcome.reason.startswith(f"deferred to {welcome.due_at.isoformat()}")
        assert "email-gap" in welcome.reason
        # The ledger decided at the worker's clock: 48 h after the reminder it just sent.
        assert welcome.due_at == t0 + timedelta(hours=49)


def test_a_deferral_beyond_max_delay_is_refused_and_late_jobs_expire(
    tmp_path: Path, database_url: str
) -> None:
    t0 = base_time()
    longer = {"priority = 60\n": 'priority = 60\nmax_delay = "2h"\n'}
    with flow_runtime(tmp_path, database_url, extra=GAP, replace=longer) as runtime:
        _customer(runtime, "ada@example.com", t0)
        ingest(runtime, cart("ada@example.com", "c1", t0), _signup("ada@example.com", t0))
        report = run_worker(runtime, worker_id="w1", until_idle=True, now=t0 + timedelta(hours=1))
        # The ledger finds no instant within the scenario's max_delay: a denial, named.
        assert report.statuses == {"done": 1, "refused": 1}
        [welcome] = jobs(runtime, scenario="welcome_series", step=0)
        assert welcome.reason.startswith("refused: email: refused by email-gap")
        assert "maximum delay of 2h" in welcome.reason
        # A job found long after its time expires without being tried.
        late = run_worker(runtime, worker_id="w1", until_idle=True, now=t0 + timedelta(days=4))
        assert late.statuses["expired"] >= 1
        assert all(m["template"] == "cart-email" for m in outbox(runtime))


def test_fallback_to_the_next_channel(tmp_path: Path, database_url: str) -> None:
    t0 = base_time()
    both = {'channels = ["email"]\npriority = 80': 'channels = ["email", "sms"]\npriority = 80'}
    capped = '\n[pressure]\ncaps = [{name = "no-email", channels = ["email"], limit = 0, '
    capped += 'window = "1d"}]\n'
    with flow_runtime(tmp_path, database_url, extra=capped, replace=both) as runtime:
        _customer(runtime, "ada@example.com", t0, phone=PHONE, consents=("email", "sms"))
        _customer(runtime, "bob@example.com", t0, phone="+33612345679", consents=("sms",))
        _customer(runtime, "eve@example.com", t0, consents=())
        ingest(
            runtime,
            cart("ada@example.com", "c1", t0),
            cart("bob@example.com", "c2", t0),
            cart("eve@example.com", "c3", t0),
        )
        report = run_worker(runtime, worker_id="w1", until_idle=True, now=t0 + timedelta(hours=1))
        assert report.statuses == {"done": 2, "refused": 1}
        step0 = {j.status: j for j in jobs(runtime, scenario="cart_recovery", step=0)}
        assert {m["channel"] for m in outbox(runtime)} == {"sms"}
        refused = step0["refused"].reason
        assert "email: no marketing consent" in refused and "sms: no marketing consent" in refused
        ada_job = [j for j in jobs(runtime, scenario="cart_recovery", step=0) if j.channel]
        assert {j.channel for j in ada_job} == {"sms"}


def test_a_lower_priority_job_waits_for_a_higher_one_in_the_window(
    tmp_path: Path, database_url: str
) -> None:
    t0 = base_time()
    with flow_runtime(tmp_path, database_url) as runtime:
        _customer(runtime, "ada@example.com", t0)
        ingest(
            runtime,
            cart("ada@example.com", "c1", t0),
            _signup("ada@example.com", t0 + timedelta(minutes=30)),
        )
        at = t0 + timedelta(minutes=31)
        report = run_worker(runtime, worker_id="w1", until_idle=True, now=at)
        assert report.processed == 0
        [welcome] = jobs(runtime, scenario="welcome_series", step=0)
        assert welcome.status == "scheduled" and welcome.due_at == t0 + timedelta(hours=1)
        assert welcome.reason.startswith("waits for higher-priority cart_recovery")
        report = run_worker(runtime, worker_id="w1", until_idle=True, now=t0 + timedelta(hours=1))
        assert report.statuses == {"done": 2}
        assert [m["template"] for m in outbox(runtime)] == ["cart-email", "welcome-1"]


def _signup(email: str, at: datetime) -> dict:
    return {
        "id": f"signup-{email}",
        "type": "customer.signed_up",
        "source": "shop",
        "occurred_at": at.isoformat(),
        "identifiers": [{"kind": "email", "value": email}],
        "payload": {"method": "newsletter"},
    }


def test_a_stop_request_finishes_the_job_in_hand_and_puts_the_rest_back(
    tmp_path: Path, database_url: str
) -> None:
    t0 = base_time()
    with flow_runtime(tmp_path, database_url) as runtime:
        for name in ("ada", "bob", "eve"):
            _customer(runtime, f"{name}@example.com", t0)
            ingest(runtime, cart(f"{name}@example.com", f"c-{name}", t0))
        stop = threading.Event()
        report = run_worker(
            runtime,
            worker_id="w1",
            until_idle=True,
            now=t0 + timedelta(hours=1),
            stop=stop,
            on_job=lambda _result: stop.set(),
        )
        assert report.stopped and report.statuses == {"done": 1}
        step0 = jobs(runtime, scenario="cart_recovery", step=0)
        assert sorted(j.status for j in step0) == ["done", "scheduled", "scheduled"]
        assert {j.attempts for j in step0 if j.status == "scheduled"} == {0}
        rest = run_worker(runtime, worker_id="w1", until_idle=True, now=t0 + timedelta(hours=1))
        assert rest.statuses == {"done": 2} and len(outbox(runtime)) == 3


def test_only_the_scenarios_variables_reach_the_brick(tmp_path: Path, database_url: str) -> None:
    t0 = base_time()
    listed = {
        'max_delay = "24h"\n': 'max_delay = "24h"\nvariables = ["total", "currency", "cart_url"]\n'
    }
    with flow_runtime(tmp_path, database_url, replace=listed) as runtime:
        _customer(runtime, "ada@example.com", t0)
        ingest(runtime, cart("ada@example.com", "c1", t0, total="129.50"))
        run_worker(runtime, worker_id="w1", until_idle=True, now=t0 + timedelta(hours=2))
        sent = {m["template"]: m for m in outbox(runtime)}
        # The cart has no cart_url (null): left out. Items and cart id never leave the core.
        assert sent["cart-email"]["variables"] == {"total": "129.50", "currency": "EUR"}
        assert sent["big-cart"]["variables"] == {}
