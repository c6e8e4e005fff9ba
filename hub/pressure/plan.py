"""Batch arbitration (``hub campaign plan``): candidates of several campaigns against the ledger.

Each customer gets the candidates that fit, highest priority first, exactly as if the online
engine had been asked about them one after the other at the plan time, each admitted one then
counting as a contact of that instant. The work is set-based so a million candidates cost
seconds, not a million round trips: candidates and per-customer usage live in temporary
tables, and round *k* checks every customer's *k*-th candidate against every rule in one SQL
statement (``plan_sql``). Semantics, outputs and limits: ``docs/campaign-plan.md``.
"""

# ruff: noqa: S608  -- SQL is generated from the policy; every value goes in as a parameter.

from __future__ import annotations

import hashlib
import math
import sqlite3
from collections import Counter
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import Connection, Engine, bindparam, text
from sqlalchemy.exc import IntegrityError

from hub.pressure import plan_sql as q
from hub.pressure.ledger_sql import INSERT_VERSION
from hub.pressure.localtime import in_quiet_hours, next_quiet_end, period_bounds
from hub.pressure.plan_types import (
    Candidate,
    InvalidRow,
    PlanError,
    PlanReport,
    PlanRow,
    plan_row,
)
from hub.pressure.policy import Policy
from hub.storage.types import UTCDateTime, utcnow

__all__ = ["Candidate", "InvalidRow", "PlanError", "PlanReport", "PlanRow", "plan_campaign"]

_BATCH = 10_000
_CACHE = {"temp.cache_size": -1_048_576, "main.cache_size": -262_144}  # KiB, taken as needed
#: Rows whose customer is unknown (no zone) or lives in a zone that does not exist.
_UNPLANNED = (
    "SELECT r.id, r.customer_id, pc.zone FROM plan_raw r LEFT JOIN plan_cust pc ON "
    "pc.customer_id = r.customer_id WHERE NOT EXISTS (SELECT 1 FROM plan_state s "
    "WHERE s.customer_id = r.customer_id)"
)
#: Candidates of known customers ranked per customer: priority, then line.
_CANDIDATES = (
    "INSERT INTO plan_cand (id, customer_id, combo, campaign, kind, weight, priority, deadline, "
    "horizon, rnk) SELECT r.id, r.customer_id, r.combo, r.campaign, k.kind, k.weight, "
    "k.priority, {at} + k.delay, {at} + k.delay + {lookback}, ROW_NUMBER() OVER (PARTITION BY "
    "r.customer_id ORDER BY k.priority DESC, r.id) FROM plan_raw r JOIN plan_combo k ON "
    "k.combo = r.combo WHERE EXISTS (SELECT 1 FROM plan_state s WHERE s.customer_id = "
    "r.customer_id)"
)
_COMMIT = (
    "INSERT INTO pressure_ledger (customer_id, channel, scenario, kind, weight, priority, status, "
    "at, expires_at, idempotency_key, rule_set_version, source, created_at, updated_at) "
    "SELECT c.customer_id, k.channel, k.scenario, c.kind, c.weight, c.priority, {values} "
    "FROM plan_cand c JOIN plan_combo k ON k.combo = c.combo JOIN plan_eval e ON e.id = c.id "
    "WHERE e.ok = 1"
)
_RESULTS = (
    "SELECT c.id, c.customer_id, k.scenario, k.channel, c.campaign, c.deadline, e.ok, e.rule, "
    "e.retry FROM plan_cand c JOIN plan_combo k ON k.combo = c.combo JOIN plan_eval e "
    "ON e.id = c.id ORDER BY c.id"
)


def plan_campaign(
    engine: Engine,
    policy: Policy,
    candidates: Iterable[Candidate | InvalidRow],
    *,
    at: datetime,
    now: datetime | None = None,
    commit: bool = False,
    reserve: bool = False,
    sink: Callable[[PlanRow], None] | None = None,
) -> PlanReport:
    """Arbitrate ``candidates`` at instant ``at``; rows the caller could not read come as
    ``InvalidRow`` and are reported with the rest. ``sink`` gets every planned row in line order.

    With ``commit`` (and no invalid row), admitted candidates become ledger rows: ``sent``, or
    ``reserved`` for ``reservation_ttl`` with ``reserve``. Otherwise nothing is written.
    """
    if at.tzinfo is None:
        raise PlanError("the plan time needs a UTC offset")
    with engine.connect() as connection:
        if connection.dialect.name == "postgresql" and not commit:  # one snapshot throughout
            connection = connection.execution_options(isolation_level="REPEATABLE READ")
        restore = _sqlite_setup(connection) if connection.dialect.name == "sqlite" else {}
        transaction = connection.begin()
        try:
            report = _Planner(connection, policy, at, now or utcnow()).run(
                candidates, commit=commit, reserve=reserve, sink=sink
            )
            if report.committed:
                for name in q.TABLES:
                    connection.execute(text(f"DROP TABLE {name}"))
                transaction.commit()
            else:  # dropping the temporary tables with everything else, on both backends
                transaction.rollback()
        except BaseException:
            transaction.rollback()
            raise
        finally:
            for pragma, value in ({} if connection.invalidated else restore).items():
                connection.connection.driver_connection.execute(f"PRAGMA {pragma} = {int(value)}")
    return report


def _sqlite_setup(connection: Connection) -> dict[str, int]:
    """Decay needs power() and ln() (SQLite builds without math functions get Python's). The
    temporary tables of a large plan outgrow the default 2 MB page cache and would spill to a
    file (a fifth of the plan's time). Returns the sizes to restore on the pooled connection."""
    raw: Any = connection.connection.driver_connection
    try:
        raw.execute("SELECT power(2, 1), ln(2)").fetchall()
    except sqlite3.OperationalError:
        raw.create_function("power", 2, math.pow, deterministic=True)
        raw.create_function("ln", 1, math.log, deterministic=True)
    before = {pragma: raw.execute(f"PRAGMA {pragma}").fetchone()[0] for pragma in _CACHE}
    for pragma, value in _CACHE.items():
        raw.execute(f"PRAGMA {pragma} = {value}")
    return before


class _Planner:
    def __init__(self, connection: Connection, policy: Policy, at: datetime, now: datetime) -> None:
        self.connection, self.policy, self.at, self.now = connection, policy, at, now
        self.sql = sql = q.Sql(connection.dialect.name)
        delay = max((policy.max_delay(s) for s in policy.scenarios), default=policy.lookback * 0)
        low, high = at - policy.lookback, at + delay + policy.lookback
        self.ctx = q.Context(sql, at, now, low, high, q.to_us(at))
        self.combos = q.Combos(policy)
        self.rules = [q.RuleSql.build(i, r, self.combos) for i, r in enumerate(policy.rules)]
        self.report = PlanReport(at=at, version=policy.version)
        self.digest = hashlib.sha256(f"{policy.version}|{at.isoformat()}".encode())

    def execute(self, statement: str) -> Any:
        return self.connection.execute(*self.sql.statement(statement))

    def run(
        self,
        candidates: Iterable[Candidate | InvalidRow],
        *,
        commit: bool,
        reserve: bool,
        sink: Callable[[PlanRow], None] | None,
    ) -> PlanReport:
        for statement in q.create_tables(self.sql, self.rules):
            self.execute(statement)
        self._load(candidates)
        if commit and self.sql.postgres and not self.report.invalid:  # before reading the ledger
            self.execute("LOCK TABLE pressure_ledger IN ACCESS EXCLUSIVE MODE")
        self._customers()
        self._arbitrate()
        if commit:
            self._commit(reserve)
        self._results(sink)
        self.report.invalid.sort(key=lambda row: row.line)
        return self.report

    def _load(self, candidates: Iterable[Candidate | InvalidRow]) -> None:
        """Candidates into ``plan_raw`` in batches (executemany), with their scenario's
        kind, weight, priority and maximum delay in ``plan_combo``."""
        policy, kind = self.policy, self.combos.kind
        names = ("combo", "scenario", "channel", "kind", "weight")
        combos = [
            dict(zip(names, (i, s, c.value, kind(i).value, policy.weight(c, s)), strict=True))
            | {"priority": policy.scenario(s).priority, "delay": q.to_us(policy.max_delay(s))}
            for i, (s, c) in enumerate(self.combos.pairs)
        ]
        self._insert("plan_combo", [*names, "priority", "delay"], combos)
        mark = "%s" if self.sql.postgres else "?"  # the driver's own style: no per-row binding
        raw = f"INSERT INTO plan_raw VALUES ({', '.join([mark] * 4)})"
        batch: list[tuple[int, str, int, str | None]] = []
        for row in candidates:
            if not isinstance(row, InvalidRow):
                combo = self.combos.index.get((row.scenario, row.channel))
                if combo is None:
                    row = InvalidRow(
                        row.line, f"unknown scenario {row.scenario!r}", row.customer_id
                    )
            if isinstance(row, InvalidRow):
                self.report.invalid.append(row)
                continue
            batch.append((row.line, row.customer_id, combo, row.campaign))
            if len(batch) >= _BATCH:
                self._insert_raw(raw, batch)
                batch = []
        if batch:
            self._insert_raw(raw, batch)

    def _insert_raw(self, statement: str, batch: list[tuple[int, str, int, str | None]]) -> None:
        # The digest is fed row by row, as one string per batch: SHA-256 is a stream, so the
        # keys are the same as with one update per row, for a fraction of the calls.
        self.digest.update("".join(map(repr, batch)).encode())
        self.connection.exec_driver_sql(statement, batch)  # type: ignore[arg-type]

    def _insert(self, table: str, names: list[str], rows: list[dict[str, Any]]) -> None:
        if rows:
            instants = [n for n in names if isinstance(rows[0][n], datetime)]
            statement = text(
                f"INSERT INTO {table} ({', '.join(names)}) VALUES (:{', :'.join(names)})"
            )
            typed = [bindparam(n, type_=UTCDateTime()) for n in instants]
            self.connection.execute(statement.bindparams(*typed), rows)

    def _customers(self) -> None:
        """Customers and their zones; per-zone calendar periods and quiet hours are computed
        in Python (few distinct zones), then every customer's usage in one SQL pass."""
        default = self.sql.bind(self.policy.default_zone.key)
        self.execute(
            f"INSERT INTO plan_cust (customer_id, zone) SELECT cu.id, COALESCE(NULLIF("
            f"cu.time_zone, ''), {default}) FROM customers cu WHERE cu.id IN "
            f"(SELECT customer_id FROM plan_raw)"
        )
        names = [row[0] for row in self.execute("SELECT DISTINCT zone FROM plan_cust")]
        zones = [z for z in (self._zone_values(name) for name in names) if z is not None]
        columns = [c for r in self.rules for c, _, _ in r.zone_columns()]
        self._insert("plan_zone", ["zone", *columns], zones)
        self.execute(q.state_insert(self.ctx, self.rules))
        for line, customer, zone in self.execute(_UNPLANNED):
            reason = f"the customer's time zone {zone!r} is not a known IANA time zone"
            self.report.invalid.append(
                InvalidRow(line, reason if zone else "unknown customer", customer)
            )
        lookback = q.to_us(self.policy.lookback)
        self.execute(_CANDIDATES.format(at=self.ctx.at_us, lookback=lookback))
        self.execute("CREATE INDEX plan_cand_rnk ON plan_cand (rnk)")
        if self.sql.postgres:  # temporary tables get no statistics otherwise
            for name in ("plan_cand", "plan_state"):
                self.execute(f"ANALYZE {name}")

    def _zone_values(self, name: str) -> dict[str, Any] | None:
        try:
            zone = ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            return None
        values: dict[str, Any] = {"zone": name}
        for rule in self.rules:
            spec, computed = rule.rule, {}
            if spec.calendar is not None:
                start, end = period_bounds(self.at, spec.calendar, zone)
                computed = {"start": start, "end": end, "end_us": q.to_us(end)}
            elif spec.start is not None and spec.end is not None:
                quiet = in_quiet_hours(self.at, spec.start, spec.end, zone)
                until = next_quiet_end(self.at, spec.start, spec.end, zone) if quiet else None
                computed = {"quiet": int(quiet), "until_us": until and q.to_us(until)}
            values.update({column: computed[key] for column, key, _ in rule.zone_columns()})
        return values

    def _arbitrate(self) -> None:
        later = [r for r in self.rules if r.kind in ("rolling", "decay")]
        if later and self.execute("SELECT 1 FROM plan_state WHERE fut > 0").first():
            for rule in later:  # windows ending at later contacts, pressure at their instants
                for statement in rule.future(self.ctx):
                    self.execute(statement)
        rounds = self.execute("SELECT MAX(rnk) FROM plan_cand").scalar() or 0
        for rnd in range(1, rounds + 1):
            self.execute(q.evaluate(self.ctx, self.rules, rnd))
            update = _state_update(self.rules, rnd)
            if update is not None and rnd < rounds:
                self.execute(update)

    def _commit(self, reserve: bool) -> None:
        """Admitted candidates as ledger rows, in the transaction that read the ledger: on
        SQLite it holds the write lock from the start; on PostgreSQL the table lock taken
        before reading waits for reservations that already read (and would write) and holds
        off new ones. So no reservation decided on a state the plan did not see."""
        if self.report.invalid:
            count = len(self.report.invalid)
            self.report.not_committed = f"{count} invalid row(s): fix them and plan again"
            return
        status, sql = "reserved" if reserve else "sent", self.sql
        expires = max(self.at, self.now) + self.policy.settings.reservation_ttl
        values = (
            f"{sql.bind(status)}, {sql.bind(self.at)}, {sql.bind(expires) if reserve else 'NULL'}, "
            f"{sql.bind(self.key_prefix)} || CAST(c.id AS TEXT), {sql.bind(self.policy.version)}, "
            f"{sql.bind('plan')}, {sql.bind(self.now)}, {sql.bind(self.now)}"
        )
        try:
            result = self.execute(_COMMIT.format(values=values))
        except IntegrityError:
            message = "this plan (same candidates, time and rules) was already committed"
            raise PlanError(message) from None
        self.report.committed, self.report.status = result.rowcount or 0, status
        # The ledger's own idempotent insert: safe when a reservation stores it concurrently.
        self.connection.execute(
            text(INSERT_VERSION).bindparams(bindparam("first_used_at", type_=UTCDateTime())),
            {
                "version": self.policy.version,
                "rules": self.policy.document_text,
                "first_used_at": self.now,
            },
        )

    @property
    def key_prefix(self) -> str:
        """Committed rows' idempotency keys: the same plan cannot be committed twice."""
        return f"plan:{self.digest.hexdigest()[:20]}:"

    def _results(self, sink: Callable[[PlanRow], None] | None) -> None:
        """Stream the outcomes (the lists can be long) and count them. A refusal is deferred
        when its rule's first possible instant is within the scenario's maximum delay."""
        report, prefix = self.report, self.key_prefix if self.report.committed else None
        if self.rules:
            sums = ", ".join(f"SUM(f{r.i})" for r in self.rules)
            for rule, count in zip(
                self.rules, self.execute(f"SELECT {sums} FROM plan_eval").one(), strict=True
            ):
                report.rules[rule.rule.name]["refused"] = int(count or 0)
        # The driver's cursor, not a SQLAlchemy result: a million rows go through here, and
        # counts are kept per distinct (outcome, rule, campaign), folded into the report after.
        cursor = self.connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.execute(_RESULTS)  # no parameter: the same text for every driver
            counts: Counter[tuple[str, str | None, str | None]] = Counter()
            names = [rule.rule.name for rule in self.rules]
            while rows := cursor.fetchmany(_BATCH):
                for line, customer, scenario, channel, campaign, deadline, ok, rule, retry in rows:
                    name, until, outcome = None, None, "admitted"
                    if not ok:
                        name, deferred = names[rule], retry is not None and retry <= deadline
                        outcome = "deferred" if deferred else "excluded"
                        until = q.EPOCH + timedelta(microseconds=retry) if deferred else None
                    counts[outcome, name, campaign] += 1
                    if sink is not None:
                        key = f"{prefix}{line}" if prefix and ok else None
                        values = (line, customer, scenario, channel, campaign, outcome, name)
                        sink(plan_row((*values, until, key)))
        finally:
            cursor.close()
        for (outcome, name, campaign), count in counts.items():
            if name is not None:
                report.rules[name][outcome] += count
            report.totals[outcome] += count
            report.campaigns[campaign or "(none)"][outcome] += count


def _state_update(rules: list[q.RuleSql], rnd: int) -> str | None:
    """Add round ``rnd``'s admitted candidates to their customers' usage: one join from the
    round's admitted rows (index ``plan_eval_rnd``) to their state rows (primary key), as
    ``UPDATE ... FROM`` on both backends; a customer has one candidate per round."""
    items = [item for rule in rules for item in rule.added()]
    if not items:
        return None
    targets = ", ".join(column for column, _ in items)
    values = ", ".join(expr for _, expr in items)
    if len(items) > 1:
        targets, values = f"({targets})", f"({values})"
    return (
        f"UPDATE plan_state SET {targets} = {values} FROM plan_eval e "
        f"WHERE e.rnd = {rnd} AND e.ok = 1 AND e.customer_id = plan_state.customer_id"
    )
