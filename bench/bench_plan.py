"""Batch arbitration (``hub campaign plan``) against a naive per-customer loop of ``check``.

The ledger is built as in ``bench_pressure.py`` (same builder, same shipped multi-rule policy:
weekly and calendar-day caps, an SMS monthly weight cap, a 20 h gap, decayed pressure, an order
exclusion, quiet hours, two scenario caps; rows / 20 customers in 24 time zones). Six
campaigns (different scenarios, channels and priorities) each target a random segment of the
customers, so a customer has zero to six candidates.

* ``plan_seconds``: ``plan_campaign`` over every candidate (no commit), its rows counted by a
  sink, ledger build excluded; ``plan_cpu_seconds`` is the same run's CPU time (on a shared
  machine, with the load average before and after, it tells a slow run from a busy machine);
* ``naive``: on a sample of whole customers (about ``--sample`` candidates), each customer's
  candidates in the plan's order (priority, then line), ``Ledger.check`` for each and, when
  allowed, ``reserve(commit=True)`` so the next one sees it, as a loop over the online API
  would; extrapolated to every candidate. The admitted sets of both must agree on the sample.

    .venv/bin/python bench/bench_plan.py            # 1M candidates vs 10M rows
    .venv/bin/python bench/bench_plan.py --quick    # 20k candidates vs 200k rows

Prints one JSON document. ``--keep DIR`` builds (or reuses) the database there.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
import uuid
from collections import Counter
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from contracts import Channel
from hub.pressure.ledger import Ledger
from hub.pressure.plan import Candidate, PlanRow, plan_campaign
from hub.pressure.policy import Policy

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_pressure import _customer_ids, _prepare, _warm

TARGET_SECONDS = 10.0

#: (campaign, scenario, channel, share of the candidates in %): priorities come from the policy
#: (order_confirmation 100, cart_recovery 80, welcome_series 60, reactivation 30, promotion 10).
CAMPAIGNS = [
    ("spring-sale", "promotion", Channel.EMAIL, 30),
    ("app-flash", "promotion", Channel.PUSH, 15),
    ("cart-reminders", "cart_recovery", Channel.EMAIL, 15),
    ("onboarding", "welcome_series", Channel.EMAIL, 10),
    ("winback-sms", "reactivation", Channel.SMS, 15),
    ("receipts", "order_confirmation", Channel.EMAIL, 15),
]


def _candidates(customers: list[str], count: int, rng: random.Random) -> list[Candidate]:
    """Each campaign's rows in turn, its customers a random segment (distinct within it)."""
    rows: list[Candidate] = []
    for campaign, scenario, channel, share in CAMPAIGNS:
        size = count * share // 100
        distinct = size <= len(customers)
        segment = rng.sample(customers, size) if distinct else rng.choices(customers, k=size)
        rows += [
            Candidate(len(rows) + i + 1, customer, scenario, channel, campaign)
            for i, customer in enumerate(segment)
        ]
    return rows


def _naive(
    ledger: Ledger, policy: Policy, sample: list[Candidate], at: datetime
) -> tuple[float, set[int]]:
    """Per customer, in priority order: check, then book the allowed ones."""

    def order(c: Candidate) -> tuple[str, int, int]:
        return c.customer_id, -policy.scenario(c.scenario).priority, c.line

    ordered = sorted(sample, key=order)
    admitted: set[int] = set()
    started = time.perf_counter()
    for c in ordered:
        decision = ledger.check(c.customer_id, c.channel, c.scenario, at=at)
        if decision.outcome.value == "allowed":
            ledger.reserve(
                c.customer_id,
                c.channel,
                c.scenario,
                at=at,
                idempotency_key=f"bench-naive:{uuid.uuid4().hex}",
                commit=True,
            )
            admitted.add(c.line)
    return time.perf_counter() - started, admitted


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000, help="ledger rows")
    parser.add_argument("--candidates", type=int, default=1_000_000)
    parser.add_argument("--sample", type=int, default=2000, help="candidates for the naive loop")
    parser.add_argument("--quick", action="store_true", help="20k candidates vs 200k rows")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", type=Path, help="build (or reuse) the database here")
    args = parser.parse_args()
    rows, count = (200_000, 20_000) if args.quick else (args.rows, args.candidates)
    rng = random.Random(args.seed)
    with ExitStack() as stack:
        base = args.keep or Path(stack.enter_context(tempfile.TemporaryDirectory()))
        root = base / f"ledger-{rows}"
        runtime, build_s = _prepare(root, rows)
        stack.callback(runtime.engine.dispose)
        database = root / "data" / "hub.db"
        policy = Policy(runtime.settings.pressure, runtime.settings.scenarios)
        customers = _customer_ids(database)
        candidates = _candidates(customers, count, rng)
        at = datetime.now(UTC).replace(microsecond=0)
        _warm(database)
        outcomes: Counter[str] = Counter()
        admitted: set[int] = set()

        def sink(row: PlanRow) -> None:
            outcomes[row.outcome] += 1
            if row.outcome == "admitted":
                admitted.add(row.line)

        load_before = os.getloadavg()[0]
        started, cpu = time.perf_counter(), time.process_time()
        report = plan_campaign(runtime.engine, policy, candidates, at=at, sink=sink)
        plan_s, plan_cpu = time.perf_counter() - started, time.process_time() - cpu
        load_after = os.getloadavg()[0]

        by_customer: dict[str, list[Candidate]] = {}
        for c in candidates:
            by_customer.setdefault(c.customer_id, []).append(c)
        sample: list[Candidate] = []
        for customer in rng.sample(sorted(by_customer), len(by_customer)):
            if len(sample) >= args.sample:
                break
            sample += by_customer[customer]
        naive_s, naive_admitted = _naive(Ledger(runtime.engine, policy), policy, sample, at)
        lines = {c.line for c in sample}
        agree = naive_admitted == admitted & lines
        naive_total = naive_s * len(candidates) / len(sample)
    result: dict[str, Any] = {
        "benchmark": "campaign plan (batch arbitration) vs per-customer Ledger.check loop, SQLite",
        "candidates": len(candidates),
        "customers_with_candidates": len(by_customer),
        "max_candidates_per_customer": max(map(len, by_customer.values())),
        "ledger_rows": rows,
        "build_s": round(build_s, 1),
        "plan_seconds": round(plan_s, 2),
        "plan_cpu_seconds": round(plan_cpu, 2),
        "load_average_before_after": [round(load_before, 1), round(load_after, 1)],
        "plan_candidates_per_s": round(len(candidates) / plan_s),
        "outcomes": dict(outcomes),
        "rules_refused": {n: c.get("refused", 0) for n, c in report.rules.items()},
        "naive_sample": len(sample),
        "naive_sample_seconds": round(naive_s, 2),
        "naive_seconds_extrapolated": round(naive_total, 1),
        "speedup": round(naive_total / plan_s, 1),
        "sample_admitted_sets_agree": agree,
        "target_seconds": TARGET_SECONDS,
        "target_met": plan_s <= TARGET_SECONDS,
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
