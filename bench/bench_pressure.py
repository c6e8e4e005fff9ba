"""Send-time pressure decisions on SQLite ledgers of growing size, and the `limits` package.

For each ledger size the script builds a migrated SQLite database straight from SQL (a
recursive CTE: customers, then ledger rows in time order over the 400-day retention period,
then order events), loads the shipped policy (weekly and calendar-day caps, an SMS monthly
weight cap, a 20 h gap, decayed pressure, an order exclusion, quiet hours, scenario caps),
and times send-time decisions on distinct random customers, the sizes interleaved decision by
decision. A decision is ``reserve(..., idempotency_key=..., commit=True)``: the rules checked,
the slot reserved and committed as sent, in one transaction. ``three_calls`` times the same
decision made as ``check``, ``reserve`` and, when granted, ``commit``.

The second part compares the ledger configured with one plain count cap (5 per 7 days) with
the ``limits`` package (moving window, memory storage) on the same keys and the same sequence
of hits: ``reserve(..., commit=True)`` against ``MovingWindowRateLimiter.hit()``, both atomic
test-and-record operations. Both must allow exactly the same hits.

    .venv/bin/python bench/bench_pressure.py [--rows 100000 1000000 10000000] [--quick]

Prints one JSON document. ``--keep DIR`` keeps the built databases there and reuses them.
"""

from __future__ import annotations

import argparse
import json
import random
import sqlite3
import statistics
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from contracts import Channel
from hub.pressure import ledger as ledger_module
from hub.pressure.engine import decide
from hub.pressure.ledger import Ledger
from hub.pressure.ledger_sql import EVENTS, HISTORY
from hub.pressure.policy import Policy
from hub.runtime import Runtime
from hub.testing import make_installation

ROWS_PER_CUSTOMER = 20
RETENTION_DAYS = 400

POLICY = """
[pressure]
default_time_zone = "Europe/Paris"
retention = "400d"
reservation_ttl = "15m"
default_max_delay = "3d"
weights = {email = 1.0, sms = 2.0, push = 0.5}

[[pressure.caps]]
name = "marketing-weekly"
window = "7d"
limit = 3

[[pressure.caps]]
name = "marketing-daily"
calendar = "day"
limit = 1

[[pressure.caps]]
name = "sms-monthly-weight"
calendar = "month"
measure = "weight"
limit = 6
channels = ["sms"]

[[pressure.gaps]]
name = "breathing-space"
min_gap = "20h"

[pressure.decay]
half_life = "3d"
threshold = 4.0

[[pressure.exclusions]]
name = "recent-buyers"
event = "order.placed"
window = "30d"
except_scenarios = ["welcome_series", "cart_recovery"]

[[pressure.quiet_hours]]
start = "21:00"
end = "08:00"

[scenarios.cart_recovery]
priority = 80
cap = {limit = 1, window = "7d"}
max_delay = "24h"

[scenarios.welcome_series]
priority = 60

[scenarios.reactivation]
priority = 30
cap = {limit = 1, window = "30d"}

[scenarios.promotion]
priority = 10

[scenarios.order_confirmation]
kind = "transactional"
priority = 100
"""

COUNT_CAP = """
[pressure]
retention = "400d"

[[pressure.caps]]
name = "five-a-week"
window = "7d"
limit = 5

[scenarios.promotion]
"""

#: (channel, scenario, share in %) of the decisions asked for.
SENDS = [
    (Channel.EMAIL, "promotion", 40),
    (Channel.EMAIL, "cart_recovery", 20),
    (Channel.EMAIL, "welcome_series", 10),
    (Channel.SMS, "reactivation", 10),
    (Channel.PUSH, "promotion", 10),
    (Channel.EMAIL, "order_confirmation", 10),
]

# Deterministic per-row pseudo-random numbers: ``random()`` would be evaluated again at each
# reference once SQLite flattens the subquery, so correlated columns (channel and weight,
# scenario and kind) are derived from hashes of the row number instead.
#: One zone per hour of UTC offset (and some customers with none: the policy default), so about
#: the same share of customers is inside quiet hours (21:00-08:00 local) whenever the run starts.
ZONES = [
    "Pacific/Pago_Pago", "Pacific/Honolulu", "America/Anchorage", "America/Los_Angeles",
    "America/Denver", "America/Chicago", "America/New_York", "America/Halifax",
    "America/Sao_Paulo", "Atlantic/South_Georgia", "Atlantic/Azores", "Europe/London",
    "Europe/Paris", "Europe/Athens", "Europe/Moscow", "Asia/Dubai", "Asia/Karachi",
    "Asia/Dhaka", "Asia/Bangkok", "Asia/Shanghai", "Asia/Tokyo", "Australia/Brisbane",
    "Pacific/Noumea", "Pacific/Auckland",
]
_ZONE_CASE = " ".join(f"WHEN {i} THEN '{zone}'" for i, zone in enumerate(ZONES))

_CUSTOMERS_SQL = f"""
INSERT INTO customers (id, status, locale, time_zone, created_at, updated_at)
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < :count)
SELECT 'cus_' || lower(hex(randomblob(16))), 'active', 'fr-FR',
       CASE i % {len(ZONES) + 1} {_ZONE_CASE} END, :created, :created
FROM n
"""

_LEDGER_SQL = """
INSERT INTO pressure_ledger (customer_id, channel, scenario, kind, weight, priority, status, at,
                             expires_at, idempotency_key, rule_set_version, source, created_at,
                             updated_at)
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < :rows),
h AS (
    SELECT i,
           1 + (i * 2654435761 % 4294967311) % :customers AS customer,
           (i * 40503 + 7) * 2246822519 % 1000003 AS r,
           :start + i * :span / :rows AS second
    FROM n
),
v AS (
    SELECT customer, r % 100 AS u_channel, r / 100 % 100 AS u_scenario,
           r / 10000 % 100 AS u_status,
           strftime('%Y-%m-%d %H:%M:%S', second, 'unixepoch') || '.'
               || printf('%06d', r % 1000000) AS at
    FROM h
)
SELECT c.id,
       CASE WHEN u_channel < 70 THEN 'email' WHEN u_channel < 80 THEN 'sms' ELSE 'push' END,
       CASE WHEN u_scenario < 40 THEN 'promotion' WHEN u_scenario < 60 THEN 'cart_recovery'
            WHEN u_scenario < 70 THEN 'welcome_series' WHEN u_scenario < 80 THEN 'reactivation'
            ELSE 'order_confirmation' END,
       CASE WHEN u_scenario < 80 THEN 'marketing' ELSE 'transactional' END,
       CASE WHEN u_channel < 70 THEN 1.0 WHEN u_channel < 80 THEN 2.0 ELSE 0.5 END,
       CASE WHEN u_scenario < 40 THEN 10 WHEN u_scenario < 60 THEN 80
            WHEN u_scenario < 70 THEN 60 WHEN u_scenario < 80 THEN 30 ELSE 100 END,
       CASE WHEN u_status < 85 THEN 'sent' WHEN u_status < 95 THEN 'recorded'
            ELSE 'released' END,
       at, NULL, NULL, :version,
       CASE WHEN u_status BETWEEN 85 AND 94 THEN 'external' ELSE 'hub' END,
       at, at
FROM v JOIN customers AS c ON c.rowid = v.customer
"""

_EVENTS_SQL = """
INSERT INTO customer_events (customer_id, type, source, source_event_id, occurred_at,
                             received_at, payload)
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < :events),
v AS (
    SELECT i, 1 + (i * 3266489917 % 4294967311) % :customers AS customer,
           strftime('%Y-%m-%d %H:%M:%S', :start + i * :span / :events, 'unixepoch')
               || '.000000' AS at
    FROM n
)
SELECT c.id, CASE WHEN i % 2 THEN 'order.placed' ELSE 'cart.abandoned' END, 'bench',
       CAST(i AS TEXT), at, at, NULL
FROM v JOIN customers AS c ON c.rowid = v.customer
"""


def _build(database: Path, rows: int, version: str) -> None:
    """Fill a migrated, empty database: indexes are dropped and rebuilt around the bulk load."""
    customers = max(1, rows // ROWS_PER_CUSTOMER)
    now = int(time.time())
    span = RETENTION_DAYS * 86400 - 3600  # the newest row is an hour old
    start = now - RETENTION_DAYS * 86400
    created = datetime.fromtimestamp(start, UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    connection = sqlite3.connect(database, isolation_level=None)
    try:
        # No journal while loading (the file is thrown away if the build fails), then back to
        # WAL, as the hub's engine opens it.
        connection.execute("PRAGMA journal_mode=OFF")
        connection.execute("PRAGMA synchronous=OFF")
        connection.execute("PRAGMA cache_size=-1000000")
        connection.execute("PRAGMA temp_store=MEMORY")
        tables = ("customers", "pressure_ledger", "customer_events")
        indexes = connection.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL "
            f"AND tbl_name IN ({','.join('?' * len(tables))})",
            tables,
        ).fetchall()
        connection.execute("BEGIN")
        for name, _sql in indexes:
            connection.execute(f'DROP INDEX "{name}"')
        connection.execute(_CUSTOMERS_SQL, {"count": customers, "created": created})
        connection.execute(
            _LEDGER_SQL,
            {"rows": rows, "customers": customers, "start": start, "span": span,
             "version": version},
        )
        connection.execute(
            _EVENTS_SQL,
            {"events": customers, "customers": customers, "start": start, "span": span},
        )
        for _name, sql in indexes:
            connection.execute(sql)
        connection.execute("COMMIT")
        connection.execute("PRAGMA journal_mode=WAL")
    finally:
        connection.close()


def _count(database: Path, table: str) -> int:
    connection = sqlite3.connect(database)
    try:
        return int(connection.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
    finally:
        connection.close()


def _reset(database: Path, rows: int) -> None:
    """Forget what an earlier run decided: the built rows are ids 1..rows."""
    connection = sqlite3.connect(database, isolation_level=None)
    try:
        connection.execute("DELETE FROM pressure_ledger WHERE id > ?", (rows,))
        connection.execute("DELETE FROM pressure_decisions")
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        connection.close()


def _warm(database: Path) -> None:
    """Read the file once, so timing starts with it in the OS page cache, as a server's working
    set would be (a 10M-row ledger is ~3 GB; the VM reclaims idle cache pages)."""
    with database.open("rb") as handle:
        while handle.read(1 << 24):
            pass


def _query_plan(database: Path, customer: str) -> list[str]:
    """EXPLAIN QUERY PLAN of the ledger's history read (contacts and events): index searches."""
    connection = sqlite3.connect(database)
    try:
        params = {"customer": customer, "low": "2026-01-01 00:00:00.000000",
                  "type0": "order.placed",
                  "horizon": "2026-03-01 00:00:00.000000", "now": "2026-01-02 00:00:00.000000"}
        return [row[3] for row in connection.execute(
            "EXPLAIN QUERY PLAN " + HISTORY + EVENTS.format(types=":type0"), params)]
    finally:
        connection.close()


def _customer_ids(database: Path) -> list[str]:
    connection = sqlite3.connect(database)
    try:
        return [r[0] for r in connection.execute("SELECT id FROM customers ORDER BY rowid")]
    finally:
        connection.close()


def _prepare(root: Path, rows: int) -> tuple[Runtime, float]:
    """A migrated installation with ``rows`` ledger rows (reused when ``root`` has one)."""
    database = root / "data" / "hub.db"
    if database.exists() and _count(database, "pressure_ledger") >= rows:
        _reset(database, rows)
        installation = make_installation(root, extra=POLICY, migrate=False)
        return installation.runtime(), 0.0
    installation = make_installation(root, extra=POLICY)
    runtime = installation.runtime()
    started = time.perf_counter()
    _build(database, rows, Policy(runtime.settings.pressure, runtime.settings.scenarios).version)
    return runtime, time.perf_counter() - started


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def _sends(count: int, rng: random.Random) -> list[tuple[Channel, str]]:
    population = [(channel, scenario) for channel, scenario, _ in SENDS]
    weights = [share for _, _, share in SENDS]
    return rng.choices(population, weights, k=count)


def _one_call(ledger: Ledger, customer: str, channel: Channel, scenario: str,
              steps: dict[str, list[float]]) -> str:
    """The decision as one atomic call: rules checked, slot reserved and committed as sent."""
    reservation = ledger.reserve(customer, channel, scenario, idempotency_key=uuid.uuid4().hex,
                                 commit=True)
    return reservation.decision.outcome.value


def _three_calls(ledger: Ledger, customer: str, channel: Channel, scenario: str,
                 steps: dict[str, list[float]]) -> str:
    """The same decision as three calls (``hub.sending`` style, with a ``check`` first):
    check, reserve (held), commit once "sent" when the reservation was granted."""
    clock = time.perf_counter
    t0 = clock()
    ledger.check(customer, channel, scenario)
    t1 = clock()
    reservation = ledger.reserve(customer, channel, scenario, idempotency_key=uuid.uuid4().hex)
    t2 = clock()
    steps["check"].append(t1 - t0)
    steps["reserve"].append(t2 - t1)
    if reservation.reservation_id is not None:
        ledger.commit(reservation.reservation_id)
        steps["commit"].append(clock() - t2)
    return reservation.decision.outcome.value


@dataclass
class _Run:
    """One ledger size and one way of deciding, with what its timed decisions gave."""

    ledger: Ledger
    work: list[tuple[str, Channel, str]]  # customer, channel, scenario
    decision: Callable[..., str]
    latencies: list[float] = field(default_factory=list)
    steps: dict[str, list[float]] = field(
        default_factory=lambda: {"check": [], "reserve": [], "commit": []}
    )
    outcomes: Counter[str] = field(default_factory=Counter)
    cpu: float = 0.0
    engine: float = 0.0

    def report(self) -> dict[str, object]:
        count, spent = len(self.latencies), sum(self.latencies)
        result: dict[str, object] = {
            "decisions": count,
            "decisions_per_s": round(count / spent),
            # Per second of this process's CPU time: what one core gives when others share it.
            "decisions_per_cpu_s": round(count / self.cpu),
            "p50_ms": round(statistics.median(self.latencies) * 1000, 3),
            "p99_ms": round(_percentile(self.latencies, 0.99) * 1000, 3),
            "outcomes": dict(sorted(self.outcomes.items())),
            # Time inside the pure engine (``decide``: once per reserve, once per check).
            "engine_share": round(self.engine / spent, 3),
        }
        if self.steps["check"]:
            result["step_p50_ms"] = {
                name: round(statistics.median(values) * 1000, 3)
                for name, values in self.steps.items()
            }
        return result


def _interleaved(runs: list[_Run], warmup: int) -> None:
    """Decision i of every run, then decision i + 1 of every run...: a load peak from another
    process hits every size alike, so the ratios between sizes hold on a busy machine."""
    clock, cpu_clock = time.perf_counter, time.process_time
    current: list[_Run] = runs[:1]

    def timed_decide(*args: Any, **kwargs: Any) -> Any:
        begun = clock()
        try:
            return decide(*args, **kwargs)
        finally:
            current[0].engine += clock() - begun

    ledger_module.decide = timed_decide  # type: ignore[assignment]
    try:
        for index in range(max(len(run.work) for run in runs)):
            for run in runs:
                if index >= len(run.work):
                    continue
                if index == warmup:
                    run.latencies.clear()
                    for values in run.steps.values():
                        values.clear()
                    run.outcomes.clear()
                    run.cpu = run.engine = 0.0
                customer, channel, scenario = run.work[index]
                current[0] = run
                begun, cpu = clock(), cpu_clock()
                run.outcomes[run.decision(run.ledger, customer, channel, scenario, run.steps)] += 1
                run.latencies.append(clock() - begun)
                run.cpu += cpu_clock() - cpu
    finally:
        ledger_module.decide = decide


def _sequential(
    ledger: Ledger, work: list[tuple[str, Channel, str]], warmup: int
) -> dict[str, Any]:
    """Consecutive one-call decisions on one ledger, timed as a block: what a sender doing
    nothing else gets. The interleaved runs switch between ledgers at every decision (for
    ratios that hold on a busy machine), which costs each decision the CPU caches the
    previous ledger evicted; this is the throughput figure."""
    for customer, channel, scenario in work[:warmup]:
        _one_call(ledger, customer, channel, scenario, {})
    timed = work[warmup:]
    begun, cpu = time.perf_counter(), time.process_time()
    for customer, channel, scenario in timed:
        _one_call(ledger, customer, channel, scenario, {})
    wall, cpu = time.perf_counter() - begun, time.process_time() - cpu
    return {
        "decisions": len(timed),
        "decisions_per_s": round(len(timed) / wall),
        "decisions_per_cpu_s": round(len(timed) / cpu),
        "mean_ms": round(wall / len(timed) * 1000, 3),
    }


def _limits_comparison(root: Path, hits: int, rng: random.Random) -> dict[str, object]:
    """The same hits on the same customer ids: our ledger (one 5-per-7-days cap) vs limits.

    ``hits`` random picks among ``hits / 4`` customers: most keys stay under the cap, the
    busiest go over it, so both sides take both branches.
    """
    from limits import RateLimitItemPerDay
    from limits.storage import MemoryStorage
    from limits.strategies import MovingWindowRateLimiter

    keys = max(100, hits // 4)
    installation = make_installation(root, extra=COUNT_CAP)
    runtime = installation.runtime()
    database = root / "data" / "hub.db"
    connection = sqlite3.connect(database, isolation_level=None)
    connection.execute(_CUSTOMERS_SQL, {"count": keys, "created": "2026-01-01 00:00:00.000000"})
    connection.close()
    customers = _customer_ids(database)
    sequence = rng.choices(customers, k=hits)
    ledger = Ledger(runtime.engine, Policy(runtime.settings.pressure, runtime.settings.scenarios))

    def ours(customer: str) -> bool:
        return ledger.reserve(customer, Channel.EMAIL, "promotion",
                              commit=True).reservation_id is not None

    limiter = MovingWindowRateLimiter(MemoryStorage())
    item = RateLimitItemPerDay(5, 7)

    def theirs(customer: str) -> bool:
        return limiter.hit(item, customer)

    spent = {"ours": [0.0, 0.0, 0], "theirs": [0.0, 0.0, 0]}  # wall s, CPU s, allowed
    functions = {"ours": ours, "theirs": theirs}
    for start in range(0, hits, 1000):  # alternate blocks of 1000 hits (see _interleaved)
        block = sequence[start : start + 1000]
        for name, function in functions.items():
            begun, cpu = time.perf_counter(), time.process_time()
            allowed = sum(function(customer) for customer in block)
            totals = spent[name]
            totals[0] += time.perf_counter() - begun
            totals[1] += time.process_time() - cpu
            totals[2] += allowed
    runtime.engine.dispose()
    (ours_s, ours_cpu, ours_allowed), (theirs_s, theirs_cpu, theirs_allowed) = spent.values()
    if ours_allowed != theirs_allowed:
        raise SystemExit(f"limits and the ledger disagree: {ours_allowed} vs {theirs_allowed}")
    return {
        "keys": keys,
        "hits": hits,
        "allowed": ours_allowed,
        "ours": "Ledger.reserve(commit=True), SQLite file, one 5-per-7d rolling cap",
        "theirs": "limits MovingWindowRateLimiter(MemoryStorage()).hit(5 per 7 days)",
        "ours_per_s": round(hits / ours_s),
        "theirs_per_s": round(hits / theirs_s),
        "ours_over_theirs_throughput": round(theirs_s / ours_s, 4),
        "ours_over_theirs_cpu_throughput": round(theirs_cpu / ours_cpu, 4),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000, 1_000_000, 10_000_000])
    parser.add_argument("--quick", action="store_true", help="10k and 100k rows: a smoke test")
    parser.add_argument("--decisions", type=int, default=2000, help="timed, per size and mode")
    parser.add_argument("--hits", type=int, default=20_000, help="for the limits comparison")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", type=Path, help="build (or reuse) the databases here")
    args = parser.parse_args()
    sizes = [10_000, 100_000] if args.quick else sorted(args.rows)
    decisions = min(args.decisions, 200) if args.quick else args.decisions
    warmup = max(10, decisions // 8)
    rng = random.Random(args.seed)
    results: list[dict[str, Any]] = []
    with ExitStack() as stack:
        base = args.keep or Path(stack.enter_context(tempfile.TemporaryDirectory()))
        prepared = []
        for rows in sizes:
            runtime, build_s = _prepare(base / f"ledger-{rows}", rows)
            database = base / f"ledger-{rows}" / "data" / "hub.db"
            stack.callback(runtime.engine.dispose)
            customers = _customer_ids(database)
            # Distinct customers for every decision of both modes (when there are enough), so
            # each size sees the same history per customer and no decision sees another's.
            wanted = 2 * (decisions + warmup)
            picked = (rng.sample(customers, wanted) if wanted <= len(customers)
                      else rng.choices(customers, k=wanted))
            work = [(c, channel, scenario)
                    for c, (channel, scenario) in zip(picked, _sends(wanted, rng), strict=True)]
            ledger = Ledger(runtime.engine,
                            Policy(runtime.settings.pressure, runtime.settings.scenarios))
            one = _Run(ledger, work[: wanted // 2], _one_call)
            three = _Run(ledger, work[wanted // 2 :], _three_calls)
            # The sequential block: customers no timed decision touched, when there are enough.
            unused = sorted(set(customers) - set(picked))
            block = decisions + warmup
            fresh = (rng.sample(unused, block) if block <= len(unused)
                     else rng.choices(customers, k=block))
            sequential = list(zip(fresh, *zip(*_sends(block, rng), strict=True), strict=True))
            prepared.append((rows, len(customers), wanted <= len(customers), build_s, one, three,
                             _query_plan(database, customers[0]), sequential))
        for rows in sizes:
            _warm(base / f"ledger-{rows}" / "data" / "hub.db")
        _interleaved([run for entry in prepared for run in entry[4:6]], warmup)
        for rows, customers_count, distinct, build_s, one, three, plan, rest in prepared:
            _warm(base / f"ledger-{rows}" / "data" / "hub.db")
            results.append({"rows": rows, "customers": customers_count,
                            "distinct_customers": distinct, "build_s": round(build_s, 1),
                            "sequential": _sequential(one.ledger, rest, warmup),
                            **one.report(), "three_calls": three.report(),
                            "history_query_plan": plan})
        comparison = _limits_comparison(
            Path(stack.enter_context(tempfile.TemporaryDirectory())),
            hits=args.hits // 10 if args.quick else args.hits, rng=rng,
        )
    smallest, largest = results[0], results[-1]
    print(json.dumps({
        "benchmark": "pressure ledger: send-time decisions on SQLite, one core",
        "decision": "reserve(idempotency_key, commit=True): check, reserve and commit in one "
                    "transaction; three_calls: check(), reserve(), commit() when granted",
        "sizes": results,
        "p50_ratio": {
            "rows": [largest["rows"], smallest["rows"]],
            "decision": round(largest["p50_ms"] / smallest["p50_ms"], 3),
            "three_calls": round(
                largest["three_calls"]["p50_ms"] / smallest["three_calls"]["p50_ms"], 3
            ),
        },
        "limits_comparison": comparison,
    }, indent=2))


if __name__ == "__main__":
    main()
