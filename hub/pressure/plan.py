"""Batch arbitration (``hub campaign plan``): candidates of several campaigns against the ledger.

Each customer gets the candidates that fit, highest priority first, exactly as if the online
engine had been asked about them one after the other at the plan time, each admitted one then
counting as a contact of that instant. A million candidates must cost seconds, not a million
round trips: one grouped SQL pass over the ledger gives every planned customer's usage
(``plan_sql``), and one ordered pass in Python walks each customer's candidates against it
(``plan_walk``). Semantics, outputs and limits: ``docs/campaign-plan.md``.
"""

# ruff: noqa: S608  -- SQL is generated from the policy; every value goes in as a parameter.

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from itertools import pairwise
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, text
from sqlalchemy.exc import IntegrityError

from hub.pressure import plan_results, plan_walk
from hub.pressure import plan_session as session
from hub.pressure import plan_sql as q
from hub.pressure.ledger_sql import INSERT_VERSION
from hub.pressure.plan_types import (
    Candidate,
    InvalidRow,
    PlanError,
    PlanReport,
    PlanRow,
)
from hub.pressure.policy import Policy
from hub.storage.types import UTCDateTime, utcnow

__all__ = ["Candidate", "InvalidRow", "PlanError", "PlanReport", "PlanRow", "plan_campaign"]

_BATCH = 10_000
_COMMIT = (
    "INSERT INTO pressure_ledger (customer_id, channel, scenario, kind, weight, priority, status, "
    "at, expires_at, idempotency_key, rule_set_version, source, created_at, updated_at) "
    "SELECT c.customer_id, k.channel, k.scenario, k.kind, k.weight, k.priority, {values} "
    "FROM plan_ok c JOIN plan_combo k ON k.combo = c.combo ORDER BY c.id"
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
    with session.no_cycle_collection(), engine.connect() as connection:
        if connection.dialect.name == "postgresql" and not commit:  # one snapshot throughout
            connection = connection.execution_options(isolation_level="REPEATABLE READ")
        restore = session.sqlite_setup(connection) if connection.dialect.name == "sqlite" else {}
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


class _Planner:
    def __init__(self, connection: Connection, policy: Policy, at: datetime, now: datetime) -> None:
        self.connection, self.policy, self.at, self.now = connection, policy, at, now
        self.sql = sql = q.Sql(connection.dialect.name, session.has_json(connection))
        delay = max((policy.max_delay(s) for s in policy.scenarios), default=policy.lookback * 0)
        low, high = at - policy.lookback, at + delay + policy.lookback
        self.ctx = q.Context(sql, at, now, low, high, q.to_us(at))
        self.combos = q.Combos(policy)
        self.rules = [q.RuleSql.build(i, r, self.combos) for i, r in enumerate(policy.rules)]
        self.report = PlanReport(at=at, version=policy.version)
        self.digest = hashlib.sha256(f"{policy.version}|{at.isoformat()}".encode())
        # The valid candidates by position, in line order once loaded.
        self.lines: list[int] = []
        self.customers: list[str] = []
        self.kinds: list[int] = []
        self.campaigns: list[str | None] = []

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
        self._load(candidates, digest=commit)
        if commit and self.sql.postgres and not self.report.invalid:  # before reading the ledger
            self.execute("LOCK TABLE pressure_ledger IN ACCESS EXCLUSIVE MODE")
        groups = self._customers()
        outcome = self._arbitrate(groups)
        self._unplanned(groups, outcome)
        if commit:
            self._commit(reserve, outcome)
        self._results(outcome, sink)
        self.report.invalid.sort(key=lambda row: row.line)
        return self.report

    def _load(self, candidates: Iterable[Candidate | InvalidRow], digest: bool) -> None:
        """Candidates into parallel lists (line, customer, combo, campaign), with their
        scenario's kind, weight, priority and maximum delay in ``plan_combo`` for commits.
        The digest behind committed rows' keys is only computed for a commit."""
        policy, kind = self.policy, self.combos.kind
        names = ("combo", "scenario", "channel", "kind", "weight")
        combos = [
            dict(zip(names, (i, s, c.value, kind(i).value, policy.weight(c, s)), strict=True))
            | {"priority": policy.scenario(s).priority, "delay": q.to_us(policy.max_delay(s))}
            for i, (s, c) in enumerate(self.combos.pairs)
        ]
        self._insert("plan_combo", [*names, "priority", "delay"], combos)
        index, invalid, fed = self.combos.index, self.report.invalid, []
        lines, customers, kinds, campaigns = self.lines, self.customers, self.kinds, self.campaigns
        add_line, add_customer, add_kind, add_campaign = (
            lines.append,
            customers.append,
            kinds.append,
            campaigns.append,
        )
        for row in candidates:
            if isinstance(row, InvalidRow):
                invalid.append(row)
                continue
            combo = index.get((row.scenario, row.channel))
            if combo is None:
                invalid.append(
                    InvalidRow(row.line, f"unknown scenario {row.scenario!r}", row.customer_id)
                )
                continue
            add_line(row.line)
            add_customer(row.customer_id)
            add_kind(combo)
            add_campaign(row.campaign)
            if digest:
                fed.append((row.line, row.customer_id, combo, row.campaign))
                if len(fed) >= _BATCH:
                    self._feed(fed)
        self._feed(fed)
        if any(a >= b for a, b in pairwise(lines)):  # not in line order: sort once
            order = sorted(range(len(lines)), key=lines.__getitem__)
            for values in (lines, customers, kinds, campaigns):
                values[:] = [values[i] for i in order]  # type: ignore[index]
            twice = next((a for a, b in pairwise(lines) if a == b), None)
            if twice is not None:
                raise PlanError(f"line {twice} appears more than once among the candidates")

    def _feed(self, rows: list[tuple[int, str, int, str | None]]) -> None:
        """The digest is fed row by row, as one string per batch: SHA-256 is a stream, so the
        keys are the same as with one update per row, for a fraction of the calls."""
        self.digest.update("".join(map(repr, rows)).encode())
        rows.clear()

    def _insert(self, table: str, names: list[str], rows: list[dict[str, Any]]) -> None:
        if rows:
            instants = [n for n in names if isinstance(rows[0][n], datetime)]
            statement = text(
                f"INSERT INTO {table} ({', '.join(names)}) VALUES (:{', :'.join(names)})"
            )
            typed = [bindparam(n, type_=UTCDateTime()) for n in instants]
            self.connection.execute(statement.bindparams(*typed), rows)

    def _driver_insert(self, table: str, rows: list[tuple[Any, ...]]) -> None:
        """Many rows through the driver's ``executemany``: no per-row SQLAlchemy binding."""
        if rows:
            mark = "%s" if self.sql.postgres else "?"
            marks = ", ".join([mark] * len(rows[0]))
            self.connection.exec_driver_sql(f"INSERT INTO {table} VALUES ({marks})", rows)

    def _customers(self) -> dict[str, list[int]]:
        """Candidate positions per customer in arbitration order (priority, then line), the
        customers and their zones; per-zone calendar periods and quiet hours are computed in
        Python (few distinct zones), and every customer's usage is read by ``_arbitrate``."""
        ranks = [self.policy.scenario(s).priority for s, _ in self.combos.pairs]
        by_priority: dict[int, list[int]] = {}  # positions, in line order within a priority
        for position, kind in enumerate(self.kinds):
            rank = ranks[kind]
            same = by_priority.get(rank)
            if same is None:
                by_priority[rank] = [position]
            else:
                same.append(position)
        groups: dict[str, list[int]] = {}
        customers = self.customers
        for rank in sorted(by_priority, reverse=True):
            for position in by_priority[rank]:
                customer = customers[position]
                members = groups.get(customer)
                if members is None:
                    groups[customer] = [position]
                else:
                    members.append(position)
        ids = sorted(groups)  # the temporary tables' keys, inserted in order
        if self.sql.json:  # one parameter, unpacked by the database: no row-by-row insert
            source = self.sql.json_rows(self.sql.bind(json.dumps(ids)))
        else:
            self._driver_insert("plan_ids", [(customer,) for customer in ids])
            source = "plan_ids"
        default = self.sql.bind(self.policy.default_zone.key)
        self.execute(
            f"INSERT INTO plan_cust (customer_id, zone) SELECT cu.id, COALESCE(NULLIF("
            f"cu.time_zone, ''), {default}) FROM {source} i JOIN customers cu ON cu.id = "
            f"i.customer_id"
        )
        names = [row[0] for row in self.execute("SELECT DISTINCT zone FROM plan_cust")]
        zones = [z for z in (q.zone_values(self.rules, self.at, n) for n in names) if z is not None]
        columns = [c for r in self.rules for c, _, _ in r.zone_columns()]
        self._insert("plan_zone", ["zone", *columns], zones)
        if self.sql.postgres:  # temporary tables get no statistics otherwise
            self.execute("ANALYZE plan_cust")
        return groups

    def _arbitrate(self, groups: dict[str, list[int]]) -> plan_walk.Walk:
        """Every customer's usage in one SQL pass over the ledger, walked as it streams in
        (``plan_walk``). Customers with contacts after the plan time are set aside and walked
        last, once SQL has added what those contacts imply (rare)."""
        future: plan_walk.Future = {}
        judged = plan_walk.judges(
            self.rules, self.combos, self.ctx.at_us, future, self.sql.postgres
        )
        out = plan_walk.Walk.start(len(self.kinds), len(self.rules))
        later: list[plan_walk.Row] = []
        rows = self._rows(q.state_select(self.ctx, self.rules))
        if any(r.kind in ("rolling", "decay") for r in self.rules):
            rows = plan_walk.set_aside(rows, later)
        plan_walk.walk(out, rows, groups, self.kinds, judged)
        if later:
            rows = self._later(later, future)
            plan_walk.walk(out, rows, groups, self.kinds, judged)
        return out

    def _rows(self, statement: str) -> Iterator[plan_walk.Row]:
        """A query's rows as the driver's tuples, in batches: no SQLAlchemy row per customer."""
        result = self.execute(statement)
        try:
            while rows := result.cursor.fetchmany(_BATCH):
                yield from rows
        finally:
            result.close()

    def _later(self, rows: list[plan_walk.Row], future: plan_walk.Future) -> list[plan_walk.Row]:
        """For customers with contacts after the plan time: rolling windows ending at those
        contacts raise ``u`` to the fullest of them, and decayed pressure at each contact goes
        to ``future``, all computed in SQL from ``plan_state``. Returns the rows updated."""
        columns = q.state_columns(self.rules)
        rolling = [columns.index(f"u{r.i}") for r in self.rules if r.kind == "rolling"]
        state = [(row[0], row[1], *(row[n] for n in rolling)) for row in rows]
        for start in range(0, len(state), _BATCH):
            self._driver_insert("plan_state", state[start : start + _BATCH])
        if self.sql.postgres:
            self.execute("ANALYZE plan_state")
        for rule in self.rules:
            if rule.kind in ("rolling", "decay"):
                for statement in rule.future(self.ctx):
                    self.execute(statement)
        query = "SELECT rule, customer_id, t, p, f FROM plan_future WHERE t IS NOT NULL"
        for rule_index, customer, moment, pressure, factor in self.execute(query):
            future.setdefault((rule_index, customer), []).append((moment, pressure, factor))
        if not rolling:
            return rows
        names = ", ".join(columns[n] for n in rolling)
        raised = {r[0]: r[1:] for r in self.execute(f"SELECT customer_id, {names} FROM plan_state")}
        updated = []
        for row in rows:
            values = list(row)
            for n, value in zip(rolling, raised[row[0]], strict=True):
                values[n] = value
            updated.append(tuple(values))
        return updated

    def _unplanned(self, groups: dict[str, list[int]], outcome: plan_walk.Walk) -> None:
        """Candidates of customers with no usage row: unknown, or in a zone that does not
        exist (the few such customers' zones are read back for the reason)."""
        named = outcome.rule
        missing = {c: members for c, members in groups.items() if named[members[0]] is None}
        if not missing:
            return
        zones = dict(
            self.execute(
                "SELECT c.customer_id, c.zone FROM plan_cust c WHERE NOT EXISTS "
                "(SELECT 1 FROM plan_zone z WHERE z.zone = c.zone)"
            ).all()
        )
        for customer, members in missing.items():
            zone = zones.get(customer)
            reason = f"the customer's time zone {zone!r} is not a known IANA time zone"
            for position in members:
                row = InvalidRow(
                    self.lines[position], reason if zone else "unknown customer", customer
                )
                self.report.invalid.append(row)

    def _commit(self, reserve: bool, outcome: plan_walk.Walk) -> None:
        """Admitted candidates as ledger rows, in the transaction that read the ledger: on
        SQLite it holds the write lock from the start; on PostgreSQL the table lock taken
        before reading waits for reservations that already read (and would write) and holds
        off new ones. So no reservation decided on a state the plan did not see."""
        if self.report.invalid:
            count = len(self.report.invalid)
            self.report.not_committed = f"{count} invalid row(s): fix them and plan again"
            return
        lines, customers, kinds = self.lines, self.customers, self.kinds
        admitted = [
            (lines[p], customers[p], kinds[p]) for p, rule in enumerate(outcome.rule) if rule == -1
        ]
        for start in range(0, len(admitted), _BATCH):
            self._driver_insert("plan_ok", admitted[start : start + _BATCH])
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

    def _results(self, outcome: plan_walk.Walk, sink: Callable[[PlanRow], None] | None) -> None:
        pairs = [(s, c.value) for s, c in self.combos.pairs]
        plan_results.hand_out(
            self.report,
            [rule.rule.name for rule in self.rules],
            outcome,
            (self.lines, self.customers, self.kinds, self.campaigns),
            pairs,
            [q.to_us(self.policy.max_delay(s)) + self.ctx.at_us for s, _ in pairs],
            self.key_prefix if self.report.committed else None,
            sink,
        )
