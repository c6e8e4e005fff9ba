"""SQL for ``hub campaign plan``: each rule as a few columns of one per-customer usage row, read
in one grouped pass over the ledger whatever the number of rules. Expressions mirror
``hub.pressure.engine`` rule by rule, boundaries included: instants are compared as stored values
where an index helps and as integer microseconds where the engine does arithmetic.
"""

# ruff: noqa: S608  -- SQL is generated from the policy; every value goes in as a parameter.

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import TextClause, bindparam, text

from contracts import Channel, MessageKind
from hub.pressure.localtime import in_quiet_hours, next_quiet_end, period_bounds
from hub.pressure.policy import Policy, RuleSpec
from hub.storage.types import UTCDateTime

__all__ = ["Combos", "Context", "RuleSql", "Sql", "to_us"]

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_UNIXEPOCH = sqlite3.sqlite_version_info >= (3, 38, 0)
F, B = "DOUBLE PRECISION", "BIGINT"


def to_us(value: datetime | timedelta) -> int:
    """Microseconds since the epoch (or in a span): exact, unlike float seconds."""
    return (value - EPOCH if isinstance(value, datetime) else value) // timedelta(microseconds=1)


class Sql:
    """Dialect details and bound parameters: every string or instant goes in as a parameter;
    only numbers the code computed itself are written as literals."""

    def __init__(self, dialect: str, json: bool = True) -> None:
        self.postgres = dialect == "postgresql"
        self.json = json  # the database can unpack a JSON array of values
        self.ts = "TIMESTAMPTZ" if self.postgres else "TEXT"
        self.params: dict[str, object] = {}

    def bind(self, value: object) -> str:
        name = f"p{len(self.params)}"
        self.params[name] = value
        return f":{name}"

    def among(self, column: str, values: Iterable[str]) -> str:
        listed = sorted(set(values))
        return f"{column} IN ({', '.join(map(self.bind, listed))})" if listed else "1 = 0"

    def statement(self, sql: str) -> tuple[TextClause, dict[str, object]]:
        names = sorted(set(re.findall(r":(p\d+)\b", sql)))
        params = {n: self.params[n] for n in names}
        instants = [n for n in names if isinstance(params[n], datetime)]
        clause = text(sql).bindparams(*(bindparam(n, type_=UTCDateTime()) for n in instants))
        return clause, params

    def us(self, expr: str) -> str:
        """An instant as integer microseconds (SQLite holds 'YYYY-MM-DD HH:MM:SS.ffffff').
        SQLite's ``unixepoch()`` (3.38+) is ``strftime('%s')`` as an integer, without the
        text round trip, for a third of the cost. Both parse the fraction to the millisecond
        and round, so ``...:59.999600`` would count as the next second: they get the text
        up to the seconds only, and the fraction is added from its digits."""
        if self.postgres:
            return f"CAST(EXTRACT(EPOCH FROM {expr}) * 1000000 AS BIGINT)"
        whole = f"substr({expr}, 1, 19)"
        seconds = (
            f"unixepoch({whole})" if _UNIXEPOCH else f"CAST(strftime('%s', {whole}) AS INTEGER)"
        )
        return f"({seconds} * 1000000 + CAST(substr({expr}, 21, 6) AS INTEGER))"

    def json_rows(self, parameter: str) -> str:
        """The strings of a JSON array (bound as ``parameter``) as rows of ``customer_id``."""
        if self.postgres:
            return f"(SELECT value AS customer_id FROM json_array_elements_text(CAST({parameter} AS JSON)) AS j(value))"  # noqa: E501
        return f"(SELECT value AS customer_id FROM json_each({parameter}))"

    def greatest(self, *values: str) -> str:
        if len(values) == 1:  # SQLite's one-argument max() is the aggregate
            return values[0]
        return f"{'GREATEST' if self.postgres else 'max'}({', '.join(values)})"


class Combos:
    """Every (scenario, channel) pair numbered, so a rule's scope and kinds over candidates
    become one integer ``IN`` list, decided once in Python instead of per row in SQL."""

    def __init__(self, policy: Policy) -> None:
        self.policy = policy
        self.pairs = [(s, c) for s in sorted(policy.scenarios) for c in Channel]
        self.index = {pair: i for i, pair in enumerate(self.pairs)}

    def kind(self, combo: int) -> MessageKind:
        return self.policy.scenario(self.pairs[combo][0]).kind

    def select(self, rule: RuleSpec, kinds: frozenset[MessageKind]) -> list[int]:
        pairs = enumerate(self.pairs)
        return [i for i, (s, c) in pairs if rule.in_scope(c, s) and self.kind(i) in kinds]


@dataclass(frozen=True)
class Context:
    """The plan's instants; ``low`` and ``high`` bound the ledger rows read, as in ``Ledger``."""

    sql: Sql
    at: datetime
    now: datetime
    low: datetime
    high: datetime
    at_us: int = 0

    def counting(self, alias: str) -> str:
        """Rows that count: sent, recorded, or reserved and not yet expired (as the ledger)."""
        sent, now = self.sql.among(f"{alias}.status", ["sent", "recorded"]), self.sql.bind(self.now)
        return f"({sent} OR ({alias}.status = 'reserved' AND {alias}.expires_at > {now}))"


@dataclass(frozen=True)
class RuleSql:
    """One rule: its state columns, how the ledger fills them, its check and its update."""

    i: int
    rule: RuleSpec
    constrained: tuple[int, ...]  # candidate combos the rule applies to
    counted: tuple[int, ...]  # combos whose admitted sends it counts

    @classmethod
    def build(cls, i: int, rule: RuleSpec, combos: Combos) -> RuleSql:
        constrained = combos.select(rule, rule.kinds)
        if rule.type == "exclusion":
            excepted = rule.except_scenarios
            constrained = [c for c in constrained if combos.pairs[c][0] not in excepted]
        return cls(i, rule, tuple(constrained), tuple(combos.select(rule, rule.counts)))

    @property
    def kind(self) -> str:  # caps come in two kinds
        cap = "rolling" if self.rule.window is not None else "calendar"
        return cap if self.rule.type == "cap" else self.rule.type

    def zone_columns(self) -> list[tuple[str, str, bool]]:
        """(column, key, holds an instant) of values computed per time zone by the caller."""
        i = self.i
        if self.kind == "calendar":
            return [(f"ps{i}", "start", True), (f"pe{i}", "end", True), (f"pu{i}", "end_us", False)]
        if self.kind == "quiet":
            return [(f"q{i}", "quiet", False), (f"qe{i}", "until_us", False)]
        return []

    def _value(self, alias: str) -> str:
        return f"{alias}.weight" if self.rule.measure == "weight" else "1"

    def counted_row(self, sql: Sql, alias: str) -> str:
        """Does ledger row ``alias`` count for this rule (its ``counts`` kinds and scope)?"""
        rule, parts = self.rule, ["1 = 1"]
        if set(rule.counts) != set(MessageKind):  # the default counts every kind: no test
            parts.append(sql.among(f"{alias}.kind", [k.value for k in rule.counts]))
        if rule.channels:
            parts.append(sql.among(f"{alias}.channel", [c.value for c in rule.channels]))
        if rule.scenarios:
            parts.append(sql.among(f"{alias}.scenario", rule.scenarios))
        return "(" + " AND ".join(parts) + ")"

    def _decayed(self, moment_us: str, contact_us: str, weight: str) -> str:
        """weight x 2^(-(moment - contact) / half_life), with the engine's float operations."""
        assert self.rule.half_life is not None
        half = to_us(self.rule.half_life)
        age = f"CAST({moment_us} - {contact_us} AS {F}) / CAST({half} AS {F})"
        return f"{weight} * power(CAST(2 AS {F}), -({age}))"

    def ledger_aggregates(self, ctx: Context) -> dict[str, str]:
        """Aggregates over ledger rows ``l`` of one customer whose zone row is ``z``. Filtered
        aggregates, time test first: most rows of the look-back fall outside a rule's window
        and cost one comparison, not an aggregate step. The totals are those of ``SUM(CASE
        ... ELSE 0 END)``: the zeros it added changed no sum, and an empty one is 0 again."""
        sql, rule, i = ctx.sql, self.rule, self.i
        counted, at = self.counted_row(sql, "l"), sql.bind(ctx.at)

        def total(condition: str) -> str:
            if rule.measure == "weight":
                return f"COALESCE(SUM(l.weight) FILTER (WHERE {condition}), 0)"
            return f"COUNT(*) FILTER (WHERE {condition})"

        if self.kind in ("rolling", "gap"):
            span = rule.window or rule.min_gap
            assert span is not None
            lo, hi = sql.bind(ctx.at - span), sql.bind(ctx.at + span)
            first = sql.us(f"MIN(l.at) FILTER (WHERE l.at > {lo} AND l.at < {hi} AND {counted})")
            if self.kind == "gap":
                near = f"l.at > {lo} AND l.at < {hi} AND {counted}"
                return {f"u{i}": f"COUNT(*) FILTER (WHERE {near})", f"f{i}": first}
            return {f"u{i}": total(f"l.at > {lo} AND l.at <= {at} AND {counted}"), f"f{i}": first}
        if self.kind == "calendar":
            return {f"u{i}": total(f"l.at >= z.ps{i} AND l.at < z.pe{i} AND {counted}")}
        if self.kind == "decay":
            decayed = self._decayed(str(ctx.at_us), sql.us("l.at"), "l.weight")
            used = f"SUM({decayed}) FILTER (WHERE l.at <= {at} AND {counted})"
            return {f"u{i}": f"COALESCE({used}, 0)"}
        return {}

    def event_latest(self, ctx: Context) -> str:
        """The latest qualifying event of customer ``c`` (``at - window <= occurred_at <= at``,
        after the plan's look-back), as microseconds: one seek in ``(customer_id, type,
        occurred_at)``."""
        assert self.rule.window is not None
        sql, since = ctx.sql, ctx.sql.bind(ctx.at - self.rule.window)
        return (  # converted inside the subquery, so it is run once, not once per reference
            f"(SELECT {sql.us('MAX(e.occurred_at)')} FROM customer_events e WHERE e.customer_id "
            f"= c.customer_id AND e.type = {sql.bind(self.rule.event)} AND e.occurred_at >= "
            f"{since} AND e.occurred_at > {sql.bind(ctx.low)} AND e.occurred_at <= "
            f"{sql.bind(ctx.at)})"
        )

    def future(self, ctx: Context) -> list[str]:
        """For customers with contacts after the plan time: the usage of rolling windows that
        end at those contacts (the engine checks them too), and decayed pressure at each."""
        sql, i, at = ctx.sql, self.i, ctx.at
        pair = (
            f"FROM plan_state s CROSS JOIN pressure_ledger e CROSS JOIN pressure_ledger h "
            f"WHERE s.fut > 0 AND e.customer_id = s.customer_id AND e.at > {sql.bind(at)} "
            f"AND {self.counted_row(sql, 'e')} AND {ctx.counting('e')} "
            f"AND h.customer_id = e.customer_id AND h.at <= e.at "
            f"AND {self.counted_row(sql, 'h')} AND {ctx.counting('h')}"
        )
        if self.kind == "decay":
            moment = sql.us("e.at")
            pressure = self._decayed(moment, sql.us("h.at"), "h.weight")
            return [
                f"INSERT INTO plan_future (rule, customer_id, t, p, f) SELECT {i}, e.customer_id, "
                f"{moment}, SUM({pressure}), {self._decayed(moment, str(ctx.at_us), '1')} {pair} "
                f"AND e.at < {sql.bind(ctx.high)} AND h.at > {sql.bind(ctx.low)} "
                f"GROUP BY e.customer_id, e.id, e.at"
            ]
        assert self.rule.window is not None
        window = self.rule.window
        best = f"(SELECT MAX(f.p) FROM plan_future f WHERE f.customer_id = plan_state.customer_id AND f.rule = {i})"  # noqa: E501
        return [
            f"INSERT INTO plan_future (rule, customer_id, p) SELECT {i}, e.customer_id, "
            f"SUM({self._value('h')}) {pair} AND e.at < {sql.bind(at + window)} "
            f"AND h.at > {sql.bind(at - window)} "
            f"AND {sql.us('h.at')} > {sql.us('e.at')} - {to_us(window)} "
            f"GROUP BY e.customer_id, e.id",
            f"UPDATE plan_state SET u{i} = {sql.greatest(f'u{i}', f'COALESCE({best}, 0)')} "
            f"WHERE fut > 0",
        ]


def zone_values(rules: list[RuleSql], at: datetime, name: str) -> dict[str, Any] | None:
    """The ``plan_zone`` row of time zone ``name`` (its rules' calendar periods and quiet
    hours at ``at``), or None when no such zone exists."""
    try:
        zone = ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None
    values: dict[str, Any] = {"zone": name}
    for rule in rules:
        spec, computed = rule.rule, {}
        if spec.calendar is not None:
            start, end = period_bounds(at, spec.calendar, zone)
            computed = {"start": start, "end": end, "end_us": to_us(end)}
        elif spec.start is not None and spec.end is not None:
            quiet = in_quiet_hours(at, spec.start, spec.end, zone)
            until = next_quiet_end(at, spec.start, spec.end, zone) if quiet else None
            computed = {"quiet": int(quiet), "until_us": until and to_us(until)}
        values.update({column: computed[key] for column, key, _ in rule.zone_columns()})
    return values


#: Per kind of rule, the columns of a customer's usage row that the checks read.
_READ = {
    "rolling": ("u", "f"),
    "calendar": ("u", "pu"),
    "gap": ("u", "f"),
    "decay": ("u",),
    "exclusion": ("x",),
    "quiet": ("q", "qe"),
}


def state_columns(rules: list[RuleSql]) -> list[str]:
    """The columns of a customer's usage row, in ``state_select`` order."""
    return ["customer_id", "fut"] + [f"{c}{r.i}" for r in rules for c in _READ[r.kind]]


def state_select(ctx: Context, rules: list[RuleSql]) -> str:
    """One row per customer in a known zone (``state_columns``): usage from the ledger and
    events and the zone's values, in one grouped pass over the ledger through its customer
    index (a customer without contacts gets one row of NULLs: sums of 0, no first contact)."""
    sql = ctx.sql
    values = ["c.customer_id", f"SUM(CASE WHEN l.at > {sql.bind(ctx.at)} THEN 1 ELSE 0 END)"]
    for rule in rules:
        aggregates = rule.ledger_aggregates(ctx)
        for prefix in _READ[rule.kind]:
            column = f"{prefix}{rule.i}"
            if prefix == "x":
                values.append(rule.event_latest(ctx))
            else:
                values.append(aggregates.get(column, f"z.{column}"))
    # PostgreSQL takes the zone's columns once grouped by its key; SQLite needs no sort then.
    group = "c.customer_id, z.zone" if sql.postgres else "c.customer_id"
    return (
        f"SELECT {', '.join(values)} FROM plan_cust c JOIN plan_zone z ON z.zone = c.zone "
        f"LEFT JOIN pressure_ledger l ON l.customer_id = c.customer_id "
        f"AND l.at > {sql.bind(ctx.low)} AND l.at < {sql.bind(ctx.high)} AND {ctx.counting('l')} "
        f"GROUP BY {group}"
    )


TABLES = ("plan_ids", "plan_combo", "plan_cust", "plan_zone", "plan_state", "plan_future")
TABLES += ("plan_ok",)


def create_tables(sql: Sql, rules: list[RuleSql]) -> list[str]:
    """Temporary tables (``TABLES``), dropped or rolled back when the plan ends."""
    zone = [f"{c} {sql.ts if instant else B}" for r in rules for c, _, instant in r.zone_columns()]
    rolling = [f"u{r.i} {F}" for r in rules if r.kind == "rolling"]
    cid = "customer_id TEXT"
    bodies = [
        f"{cid} PRIMARY KEY",
        f"combo INTEGER PRIMARY KEY, scenario TEXT, channel TEXT, kind TEXT, weight {F}, "
        f"priority INTEGER, delay {B}",
        f"{cid} PRIMARY KEY, zone TEXT",
        ", ".join(["zone TEXT PRIMARY KEY", *zone]),
        ", ".join([f"{cid} PRIMARY KEY", f"fut {B}", *rolling]),
        f"rule INTEGER, {cid}, t {B}, p {F}, f {F}",
        f"id INTEGER PRIMARY KEY, {cid}, combo INTEGER",  # SQLite: the rowid itself
    ]
    keyed = "" if sql.postgres else " WITHOUT ROWID"  # SQLite: one B-tree search per lookup
    ends = {"plan_ids": keyed, "plan_cust": keyed, "plan_state": keyed}
    pairs = zip(TABLES, bodies, strict=True)
    return [f"CREATE TEMPORARY TABLE {n} ({b}){ends.get(n, '')}" for n, b in pairs] + [
        "CREATE INDEX plan_future_ix ON plan_future (customer_id, rule)",
    ]
