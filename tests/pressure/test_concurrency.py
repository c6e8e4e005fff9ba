"""N processes reserving for the same few customers never overshoot a cap (PostgreSQL).

Eight worker processes (``spawn``: nothing shared but the database) each open their own runtime
from the installation's config and make 1,000 reservations over five customers, sweeping the
send instant forward together so every slot that opens in a rolling or calendar window is
raced for. Afterwards the caps are recomputed from the ``pressure_ledger`` rows, independently
of the engine, for every cap, customer and window.

Another test removes the per-customer lock and checks the same workload does overshoot, so the
check is known to be able to fail.
"""

from __future__ import annotations

import json
import multiprocessing
import queue
import random
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Connection, RootTransaction, insert, select, text

from contracts import Channel, DecisionOutcome, MessageKind
from hub.pressure.decisions import all_decisions
from hub.pressure.ledger import Ledger
from hub.pressure.policy import Policy
from hub.runtime import open_runtime
from hub.storage.db import create_db_engine
from hub.storage.models import Customer, LedgerEntry, RuleSet
from hub.storage.models import table as t
from tests.pressure.conftest import PressureHub

#: Only PostgreSQL: SQLite serialises writers (BEGIN IMMEDIATE); the state machine covers it.
on_postgres = pytest.mark.parametrize(
    "database_url", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)

MARKETING = MessageKind.MARKETING
RULE_SETS = t(RuleSet)
WORKERS = 8
RESERVATIONS = 1_000
#: The instant every worker starts from; in the future, so no reservation lapses during the run.
BASE = (datetime.now(UTC) + timedelta(days=2)).replace(minute=0, second=0, microsecond=0)
#: Every worker's n-th reservation is near ``BASE + n * STEP``: 1,000 steps are about 6 weeks.
STEP = timedelta(minutes=60)
JITTER_STEPS = 3
ZONES = ["UTC", "Europe/Paris", "America/New_York", "Asia/Tokyo", "Australia/Sydney"]
WEIGHTS = {Channel.EMAIL: 1.0, Channel.SMS: 3.0, Channel.PUSH: 2.0}
#: name -> (priority, scenario cap (limit, window) or None)
SCENARIOS: dict[str, tuple[int, tuple[int, timedelta] | None]] = {
    "cart": (90, (1, timedelta(days=4))),
    "welcome": (70, None),
    "promo": (20, None),
}


@dataclass(frozen=True)
class CapSpec:
    """A cap as the test understands it, written to config and re-checked from the rows."""

    name: str
    limit: float
    window: timedelta | None = None  # None: calendar day in the customer's time zone
    measure: str = "count"
    channels: tuple[Channel, ...] = ()
    scenarios: tuple[str, ...] = ()
    counts: tuple[MessageKind, ...] = ()  # the kinds of past contacts counted; () is all

    def counted(self, row: Row) -> bool:
        return (
            (not self.channels or row.channel in self.channels)
            and (not self.scenarios or row.scenario in self.scenarios)
            and (not self.counts or row.kind in self.counts)
        )

    def value(self, row: Row) -> float:
        return row.weight if self.measure == "weight" else 1.0

    def toml(self) -> str:
        lines = ["[[pressure.caps]]", f'name = "{self.name}"', f"limit = {self.limit:g}"]
        lines.append(f'measure = "{self.measure}"')
        if self.window is None:
            lines.append('calendar = "day"')
        else:
            lines.append(f'window = "{int(self.window.total_seconds())}s"')
        if self.channels:
            lines.append(f"channels = {json.dumps([c.value for c in self.channels])}")
        if self.scenarios:
            lines.append(f"scenarios = {json.dumps(list(self.scenarios))}")
        if self.counts:
            lines.append(f"counts = {json.dumps([k.value for k in self.counts])}")
        return "\n".join(lines) + "\n"


CAPS = [
    CapSpec("global-3d", 4, timedelta(days=3)),
    CapSpec("email-1d", 2, timedelta(days=1), channels=(Channel.EMAIL,)),
    CapSpec("weight-3d", 7, timedelta(days=3), measure="weight"),
    CapSpec("promo-2d", 1, timedelta(days=2), scenarios=("promo",)),
    CapSpec("daily", 2),
]
#: The per-scenario caps of ``[scenarios.*]``, in the same form (engine name: scenario-cap:x).
SCENARIO_CAPS = [
    CapSpec(f"scenario-cap:{name}", cap[0], cap[1], scenarios=(name,))
    for name, (_, cap) in SCENARIOS.items()
    if cap is not None
]


def policy_toml() -> str:
    parts = ["[pressure]", 'default_time_zone = "UTC"']
    parts += [f"weights.{channel.value} = {weight:g}" for channel, weight in WEIGHTS.items()]
    parts.append("")
    parts += [cap.toml() for cap in CAPS]
    for name, (priority, cap) in SCENARIOS.items():
        parts.append(f"[scenarios.{name}]\npriority = {priority}")
        if cap is not None:
            parts.append(f'cap = {{limit = {cap[0]}, window = "{int(cap[1].total_seconds())}s"}}')
        parts.append("")
    return "\n".join(parts)


# -- the workers ----------------------------------------------------------------------------
class UnlockedLedger(Ledger):
    """The ledger with its per-customer lock removed: what the lock protects against."""

    def _lock(self, connection: object, customer_id: str) -> None:
        return None


@dataclass(frozen=True)
class Job:
    config: Path
    customers: list[str]
    seed: int
    count: int
    locked: bool
    base: datetime  # passed, not re-computed: each spawned process imports this module anew


def work(job: Job, start: Barrier, results: Queue[dict[str, int]]) -> None:
    """One worker process: its own runtime, engine and ledger; reports what it did."""
    runtime = open_runtime(job.config)
    policy = Policy(runtime.settings.pressure, runtime.settings.scenarios)
    ledger = (Ledger if job.locked else UnlockedLedger)(runtime.engine, policy)
    ledger.check(job.customers[0], Channel.EMAIL, "promo", at=job.base)  # connect, warm up
    rng = random.Random(job.seed)
    tally: Counter[str] = Counter()
    start.wait()
    for n in range(job.count):
        at = job.base + STEP * (n + rng.randint(-JITTER_STEPS, JITTER_STEPS))
        channel = rng.choice(list(WEIGHTS))
        scenario = rng.choice(list(SCENARIOS))
        customer = rng.choice(job.customers)
        direct = rng.random() < 0.5
        reservation = ledger.reserve(customer, channel, scenario, at=at, commit=direct)
        tally[reservation.decision.outcome.value] += 1
        if reservation.decision.outcome is not DecisionOutcome.ALLOWED:
            continue
        assert reservation.reservation_id is not None
        roll = rng.random()
        if direct:
            tally["sent"] += 1
        elif roll < 0.75:
            ledger.commit(reservation.reservation_id)
            tally["sent"] += 1
        elif roll < 0.95:
            ledger.release(reservation.reservation_id)
            tally["released"] += 1
        else:
            tally["reserved"] += 1  # left to count until its TTL
    runtime.engine.dispose()
    results.put(dict(tally))


def run_workers(
    hub: PressureHub, customers: list[str], *, locked: bool, count: int
) -> Counter[str]:
    context = multiprocessing.get_context("spawn")
    start = context.Barrier(WORKERS)
    results: Queue[dict[str, int]] = context.Queue()
    processes = [
        context.Process(
            target=work,
            args=(Job(hub.config, customers, seed, count, locked, BASE), start, results),
        )
        for seed in range(WORKERS)
    ]
    for process in processes:
        process.start()
    total: Counter[str] = Counter()
    reports, deadline = 0, time.monotonic() + 300
    try:
        while reports < WORKERS:
            try:
                total.update(results.get(timeout=1))
                reports += 1
            except queue.Empty:
                crashed = [p.exitcode for p in processes if p.exitcode not in (None, 0)]
                assert not crashed, f"a worker died (exit codes {crashed}), traceback above"
                assert time.monotonic() < deadline, "the workers took over 300 s"
    finally:
        for process in processes:
            process.join(timeout=30)
            if process.is_alive():
                process.kill()
    assert [p.exitcode for p in processes] == [0] * WORKERS
    return total


# -- the independent check ------------------------------------------------------------------
@dataclass(frozen=True)
class Row:
    id: int
    customer_id: str
    at: datetime
    channel: Channel
    scenario: str
    kind: MessageKind
    weight: float
    status: str
    expires_at: datetime | None


def counting(rows: Iterable[Row], now: datetime) -> list[Row]:
    """What holds a slot: sent or recorded contacts, and reservations not yet lapsed."""
    return [
        r
        for r in rows
        if r.status in ("sent", "recorded")
        or (r.status == "reserved" and r.expires_at is not None and r.expires_at > now)
    ]


def overshoots(
    caps: Iterable[CapSpec],
    rows: list[Row],
    zones: dict[str, ZoneInfo] | None = None,
    exempt: Collection[int] = (),
) -> list[str]:
    """Every (cap, customer, window) whose counted contacts exceed the cap's limit.

    ``rows`` are the contacts that hold a slot (see ``counting``); windows holding one of the
    ``exempt`` row ids (contacts no cap was asked about) are not judged.
    """
    found: list[str] = []
    by_customer: dict[str, list[Row]] = defaultdict(list)
    for row in rows:
        by_customer[row.customer_id].append(row)
    for cap in caps:
        for customer, mine in sorted(by_customer.items()):
            scoped = [r for r in mine if cap.counted(r)]
            windows: dict[str, list[Row]] = defaultdict(list)
            if cap.window is None:  # calendar day, local time
                zone = (zones or {}).get(customer, ZoneInfo("UTC"))
                for row in scoped:
                    windows[str(row.at.astimezone(zone).date())].append(row)
            else:  # the fullest rolling windows are those that end on a contact
                for end in scoped:
                    windows[f"({end.at - cap.window}, {end.at}]"] = [
                        r for r in scoped if end.at - cap.window < r.at <= end.at
                    ]
            for label, inside in windows.items():
                used = sum(cap.value(r) for r in inside)
                if used > cap.limit and not any(r.id in exempt for r in inside):
                    found.append(f"{cap.name} {customer} {label}: {used:g} > {cap.limit:g}")
    return found


def load_rows(connection: Connection) -> list[Row]:
    return [
        Row(
            r.id,
            r.customer_id,
            r.at,
            Channel(r.channel),
            r.scenario,
            MessageKind(r.kind),
            r.weight,
            r.status,
            r.expires_at,
        )
        for r in connection.execute(select(t(LedgerEntry)).order_by(t(LedgerEntry).c.id))
    ]


def test_the_checker_catches_an_overshoot() -> None:
    """The independent recomputation flags what it must (and nothing more)."""
    at = datetime(2030, 1, 1, 23, 30, tzinfo=UTC)
    zones = {"c": ZoneInfo("UTC"), "d": ZoneInfo("Asia/Tokyo")}

    ids = iter(range(1000))

    def row(hours: float, channel: Channel = Channel.EMAIL, customer: str = "c") -> Row:
        moment = at + timedelta(hours=hours)
        return Row(next(ids), customer, moment, channel, "promo", MARKETING, 1.0, "sent", None)

    email = CapSpec("e", 2, timedelta(days=1), channels=(Channel.EMAIL,))
    daily = CapSpec("d", 2)
    fits = [row(0), row(23.9), row(24), row(12, Channel.SMS)]
    assert overshoots([email, daily], fits, zones) == ["d c 2030-01-02: 3 > 2"]
    late = row(23)
    assert overshoots([email], [*fits, late], zones) == [
        f"e c ({end.at - timedelta(days=1)}, {end.at}]: 3 > 2" for end in fits[1:3]
    ]
    assert overshoots([email], [*fits, late], zones, exempt={late.id}) == []
    marketing_only = CapSpec("m", 0, timedelta(days=1), counts=(MARKETING,))
    receipt = replace(row(0), kind=MessageKind.TRANSACTIONAL)
    assert overshoots([marketing_only], [receipt]) == []
    assert overshoots([marketing_only], [row(0)]) != []
    tokyo = [row(-1, customer="d"), row(0, customer="d"), row(1, customer="d")]
    assert overshoots([daily], tokyo, zones) == ["d d 2030-01-02: 3 > 2"]
    lapsed = replace(row(0), status="reserved", expires_at=at)
    assert counting([lapsed], at) == []
    assert counting([lapsed], at - timedelta(seconds=1)) == [lapsed]


def scenario(
    pressure_hub: Callable[[str], PressureHub], *, locked: bool, count: int
) -> tuple[Counter[str], list[Row], list[str], Counter[str], Counter[str]]:
    hub = pressure_hub(policy_toml())
    customers = [hub.customer(f"c{i}@example.com", zone) for i, zone in enumerate(ZONES)]
    hub.runtime.engine.dispose()  # no idle connection of ours while the workers run
    tally = run_workers(hub, customers, locked=locked, count=count)
    with hub.runtime.engine.connect() as connection:
        rows = load_rows(connection)
        zones = {
            c.id: ZoneInfo(c.time_zone or "UTC")
            for c in connection.execute(select(t(Customer).c.id, t(Customer).c.time_zone))
        }
        decisions = all_decisions().subquery()
        outcomes = Counter(o for (o,) in connection.execute(select(decisions.c.outcome)))
        violated: Counter[str] = Counter()
        for (consulted,) in connection.execute(select(decisions.c.consulted)):
            violated.update(u["rule"] for u in json.loads(consulted) if not u["ok"])
    now = datetime.now(UTC)
    found = overshoots([*CAPS, *SCENARIO_CAPS], counting(rows, now), zones)
    return tally, rows, found, outcomes, violated


@on_postgres
def test_workers_never_overshoot_a_cap(pressure_hub: Callable[[str], PressureHub]) -> None:
    started = time.monotonic()
    tally, rows, found, outcomes, violated = scenario(pressure_hub, locked=True, count=RESERVATIONS)
    elapsed = time.monotonic() - started
    assert found == [], f"{len(found)} windows over their cap, e.g. {found[:5]}"
    # Every reservation was decided once and logged; every allowed one is exactly one row.
    decided = tally["allowed"] + tally["deferred"] + tally["denied"]
    assert decided == WORKERS * RESERVATIONS
    assert outcomes == Counter({k: tally[k] for k in ("allowed", "deferred", "denied")})
    assert len(rows) == tally["allowed"]
    statuses = Counter(r.status for r in rows)
    assert statuses == Counter({k: tally[k] for k in ("sent", "released", "reserved")})
    # The workload really contended: every cap turned requests away, and many got through.
    assert set(violated) >= {cap.name for cap in [*CAPS, *SCENARIO_CAPS]}, violated
    assert tally["allowed"] > 150, tally
    print(f"\n{WORKERS} workers x {RESERVATIONS} reservations: {dict(tally)} in {elapsed:.1f} s")


@on_postgres
def test_without_the_lock_workers_do_overshoot(
    pressure_hub: Callable[[str], PressureHub],
) -> None:
    """The same workload with ``Ledger._lock`` a no-op: the check above is not vacuous."""
    _, _, found, _, _ = scenario(pressure_hub, locked=False, count=RESERVATIONS // 4)
    assert found, "no overshoot without the lock: the concurrency test could not fail"


@on_postgres
def test_first_use_of_a_new_rule_set_is_race_free(
    pressure_hub: Callable[[str], PressureHub],
) -> None:
    """Two workers make their first reservation under a new rule set at the same moment.

    Each stores the rule set on first use. Deterministic: worker A has stored the version but
    not committed; worker B (another customer, so no shared lock) does not see it, inserts it
    too, waits on the unique index, and must not fail once A commits (it did: a select-then-
    insert raised UniqueViolation, so the first reservations after a deploy could crash).
    """
    hub = pressure_hub(policy_toml())
    first, second = hub.customer("a@example.com"), hub.customer("b@example.com")
    engine = hub.runtime.engine
    # Worker B: its own engine (one pooled connection, whose backend we know) and ledger.
    engine_b = create_db_engine(hub.runtime.database_url)
    with engine_b.connect() as connection:
        pid_b = connection.execute(text("SELECT pg_backend_pid()")).scalar_one()
    ledger_b = Ledger(engine_b, hub.ledger.policy)

    def commit_once_b_waits(transaction: RootTransaction) -> None:
        deadline = time.monotonic() + 10
        with engine.connect() as watcher:
            while time.monotonic() < deadline:
                waiting = watcher.execute(
                    text(
                        "SELECT count(*) FROM pg_stat_activity "
                        "WHERE pid = :pid AND wait_event_type = 'Lock'"
                    ),
                    {"pid": pid_b},
                ).scalar_one()
                watcher.rollback()
                if waiting:
                    break
                time.sleep(0.02)
        transaction.commit()

    try:
        with engine.connect() as connection:  # worker A, mid-way through its first reservation
            transaction = connection.begin()
            rule_set = {"version": hub.ledger.policy.version, "rules": "{}"}
            connection.execute(insert(RULE_SETS).values(**rule_set, first_used_at=BASE))
            thread = threading.Thread(target=commit_once_b_waits, args=(transaction,))
            thread.start()
            try:
                reservation = ledger_b.reserve(second, Channel.EMAIL, "promo", at=BASE)
            finally:
                thread.join()
    finally:
        engine_b.dispose()
    assert reservation.decision.outcome is DecisionOutcome.ALLOWED
    assert hub.ledger.reserve(first, Channel.EMAIL, "promo", at=BASE).decision.outcome is (
        DecisionOutcome.ALLOWED
    )
    with engine.connect() as connection:
        stored = connection.execute(select(RULE_SETS.c.version, RULE_SETS.c.rules)).all()
    assert [tuple(row) for row in stored] == [tuple(rule_set.values())]  # A's, kept
