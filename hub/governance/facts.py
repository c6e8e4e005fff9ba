"""The governance report's numbers: a handful of statements over the whole base (GROUP BY).

Nothing here loops over customers, nor over bricks: the report must stay a matter of seconds
on a million audit rows, whatever the number of bricks. Three statements read the audit log:
totals per (brick, action), transfers per (brick, day) over the window, and the holdings
statement, which also joins what sinks hold with the current consents.

SQLite note: grouping on the bare ``brick`` column makes SQLite walk ``ix_audit_brick`` to
get rows in group order, then fetch every row from the table in random order (several times
slower than reading the table once). Grouping on ``coalesce(brick, '')`` gives the same
groups but no index to walk, so the table is scanned sequentially; PostgreSQL does not care.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_, case, func, literal, or_, select, union_all
from sqlalchemy.engine import Connection
from sqlalchemy.sql import ColumnElement, Subquery

from contracts import Channel
from hub.reports.periods import Period, period_start
from hub.storage.models import (
    AuditEntry,
    BrickDecommission,
    ConsentEntry,
    SinkContact,
    SourceCursor,
    table,
)

__all__ = [
    "HELD_STATES",
    "TRANSFER",
    "ActionTotal",
    "Decommission",
    "Holding",
    "HoldingPlan",
    "action_totals",
    "daily_transfers",
    "decommissions",
    "holdings",
    "polled_bricks",
    "prefer_set_plans",
    "sink_states",
]

_AUDIT = table(AuditEntry)
_SINKS = table(SinkContact)
_CONSENTS = table(ConsentEntry)
_DECOMMISSIONS = table(BrickDecommission)
_CURSORS = table(SourceCursor)

#: ``sink_contacts`` states in which the sink still holds the person.
HELD_STATES = ("present", "unsubscribed")
TRANSFER = "egress"
#: The audit row's brick, in a form no index serves (see the module docstring).
_BRICK = func.coalesce(_AUDIT.c.brick, "")


@dataclass(frozen=True)
class ActionTotal:
    count: int
    last_at: datetime | None


def prefer_set_plans(conn: Connection) -> None:
    """Every statement here aggregates the whole base, where a nested loop is only ever chosen
    out of a misestimate (right after a bulk load, before autovacuum analyses the tables, the
    holdings join ran for more than 30 minutes on a million rows instead of 6 s). PostgreSQL
    only; ``SET LOCAL`` ends with the report's read-only transaction."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("SET LOCAL enable_nestloop = off")


def action_totals(conn: Connection, at: datetime) -> dict[str, dict[str, ActionTotal]]:
    """brick -> action -> (rows, latest time), over every audit row up to ``at``."""
    brick = _BRICK.label("brick")
    query = (
        select(brick, _AUDIT.c.action, func.count(), func.max(_AUDIT.c.at))
        .where(_BRICK != "", _AUDIT.c.at <= at)
        .group_by(_BRICK, _AUDIT.c.action)
    )
    totals: dict[str, dict[str, ActionTotal]] = {}
    for name, action, count, last_at in conn.execute(query):
        totals.setdefault(name, {})[action] = ActionTotal(int(count), _aware(last_at))
    return totals


def daily_transfers(conn: Connection, since: datetime, at: datetime) -> dict[str, dict[str, int]]:
    """brick -> UTC day (``YYYY-MM-DD``) -> transfers, for ``since <= time <= at``."""
    day = period_start(_AUDIT.c.at, Period.DAY, conn.dialect)
    query = (
        select(_BRICK.label("brick"), day.label("day"), func.count())
        .where(_AUDIT.c.action == TRANSFER, _BRICK != "", _AUDIT.c.at >= since, _AUDIT.c.at <= at)
        .group_by(_BRICK, day)
    )
    days: dict[str, dict[str, int]] = {}
    for name, bucket, count in conn.execute(query):
        days.setdefault(name, {})[str(bucket)] = int(count)
    return days


def sink_states(conn: Connection) -> dict[str, dict[str, int]]:
    """sink -> state -> customers: what each sink holds now, as far as the hub knows."""
    query = select(_SINKS.c.sink, _SINKS.c.state, func.count()).group_by(
        _SINKS.c.sink, _SINKS.c.state
    )
    states: dict[str, dict[str, int]] = {}
    for sink, state, count in conn.execute(query):
        states.setdefault(sink, {})[state] = int(count)
    return states


@dataclass(frozen=True)
class Decommission:
    at: datetime
    status: str
    erase_remote: bool


def decommissions(conn: Connection, at: datetime) -> dict[str, Decommission]:
    """Bricks out of service at ``at`` (decommissioned then, not reinstated by then)."""
    query = (
        select(_DECOMMISSIONS)
        .where(
            _DECOMMISSIONS.c.at <= at,
            or_(_DECOMMISSIONS.c.reinstated_at.is_(None), _DECOMMISSIONS.c.reinstated_at > at),
        )
        .order_by(_DECOMMISSIONS.c.at, _DECOMMISSIONS.c.id)
    )
    found: dict[str, Decommission] = {}
    for row in conn.execute(query):
        found[row.brick] = Decommission(_aware(row.at), row.status, bool(row.erase_remote))
    return found


def polled_bricks(conn: Connection) -> set[str]:
    """Bricks the hub has read from (an event, contact or link cursor exists)."""
    return {row[0] for row in conn.execute(select(_CURSORS.c.brick).distinct())}


@dataclass(frozen=True)
class HoldingPlan:
    """How to count what one brick holds (``measure``: ``sink_contacts`` or ``audit_log``),
    and the consent that covers it (no ``purposes``: coverage is not asked)."""

    brick: str
    measure: str
    channels: tuple[str, ...] = ()
    purposes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Holding:
    held: int
    covered: int | None
    covered_by_channel: dict[str, int]


def holdings(conn: Connection, plans: Sequence[HoldingPlan], at: datetime) -> dict[str, Holding]:
    """For every planned brick at once: the customers it holds and, of them, how many have a
    current consent granted for each of its purposes on at least one of its channels (and,
    per channel, on that channel). One statement:

    * ``pairs``: (brick, customer) held, from ``sink_contacts`` or distinct egress rows;
    * ``latest``: each customer's current statement per (channel, purpose) up to ``at``
      (latest ``recorded_at``, then id, as ``hub.consent`` reads it), by a window function;
    * ``flags``: per customer, one 0/1 column per (channel, purpose) currently granted;
    * per brick, ``CASE`` expressions built from that brick's channels and purposes.
    """
    if not plans:
        return {}
    pairs = _pairs(plans, at)
    keys = sorted({(c, p) for plan in plans for c in plan.channels for p in plan.purposes})
    columns: list[Any] = [pairs.c.brick, func.count().label("held")]
    source: Any = pairs
    if keys:
        names = {key: f"f{index}" for index, key in enumerate(keys)}
        flags = _flags(keys, names, at)
        source = pairs.outerjoin(flags, flags.c.customer_id == pairs.c.customer_id)

        def granted(channel: str, purpose: str) -> ColumnElement[bool]:
            return flags.c[names[(channel, purpose)]] == 1

        anywhere, here = [], {c.value: [] for c in Channel}  # type: ignore[var-annotated]
        for plan in (p for p in plans if p.purposes and p.channels):
            mine = pairs.c.brick == plan.brick
            each = [or_(*[granted(c, p) for c in plan.channels]) for p in plan.purposes]
            anywhere.append((and_(mine, *each), 1))
            for channel in plan.channels:
                here[channel].append((and_(mine, *[granted(channel, p) for p in plan.purposes]), 1))
        columns.append(func.sum(case(*anywhere, else_=0)).label("covered"))
        columns += [
            func.sum(case(*whens, else_=0) if whens else literal(0)).label(f"on_{channel}")
            for channel, whens in here.items()
        ]
    query = select(*columns).select_from(source).group_by(pairs.c.brick)
    rows = {row.brick: row for row in conn.execute(query)}
    result: dict[str, Holding] = {}
    for plan in plans:
        row = rows.get(plan.brick)
        if not plan.purposes or not plan.channels:
            result[plan.brick] = Holding(int(row.held) if row else 0, None, {})
            continue
        result[plan.brick] = Holding(
            int(row.held) if row else 0,
            int(row.covered or 0) if row else 0,
            {c: int(getattr(row, f"on_{c}") or 0) if row else 0 for c in plan.channels},
        )
    return result


def _pairs(plans: Sequence[HoldingPlan], at: datetime) -> Subquery:
    """(brick, customer_id) for every customer each planned brick holds."""
    by_audit = sorted(p.brick for p in plans if p.measure == "audit_log")
    by_sink = sorted(p.brick for p in plans if p.measure == "sink_contacts")
    parts = []
    if by_audit:
        parts.append(
            select(_BRICK.label("brick"), _AUDIT.c.customer_id.label("customer_id"))
            .where(
                _AUDIT.c.action == TRANSFER,
                _AUDIT.c.at <= at,
                _AUDIT.c.customer_id.is_not(None),
                _BRICK.in_(by_audit),
            )
            # GROUP BY, not DISTINCT: the same rows, and SQLite's sorter is twice as fast.
            .group_by(_BRICK, _AUDIT.c.customer_id)
        )
    if by_sink:
        parts.append(
            select(_SINKS.c.sink.label("brick"), _SINKS.c.customer_id.label("customer_id")).where(
                _SINKS.c.sink.in_(by_sink), _SINKS.c.state.in_(HELD_STATES)
            )
        )
    if len(parts) == 1:
        return parts[0].subquery("pairs")
    return union_all(*parts).subquery("pairs")


def _flags(
    keys: list[tuple[str, str]], names: dict[tuple[str, str], str], at: datetime
) -> Subquery:
    """Per customer, 1 where the current statement for (channel, purpose) is ``granted``."""
    channels = sorted({c for c, _ in keys})
    purposes = sorted({p for _, p in keys})
    rank = func.row_number().over(
        partition_by=(_CONSENTS.c.customer_id, _CONSENTS.c.channel, _CONSENTS.c.purpose),
        order_by=(_CONSENTS.c.recorded_at.desc(), _CONSENTS.c.id.desc()),
    )
    latest = (
        select(
            _CONSENTS.c.customer_id,
            _CONSENTS.c.channel,
            _CONSENTS.c.purpose,
            _CONSENTS.c.status,
            rank.label("rank"),
        )
        .where(
            _CONSENTS.c.recorded_at <= at,
            _CONSENTS.c.channel.in_(channels),
            _CONSENTS.c.purpose.in_(purposes),
        )
        .subquery("latest")
    )
    flag_columns = [
        func.max(
            case((and_(latest.c.channel == channel, latest.c.purpose == purpose), 1), else_=0)
        ).label(names[(channel, purpose)])
        for channel, purpose in keys
    ]
    return (
        select(latest.c.customer_id, *flag_columns)
        .where(latest.c.rank == 1, latest.c.status == "granted")
        .group_by(latest.c.customer_id)
        .subquery("flags")
    )


def _aware(value: Any) -> Any:
    """``MAX(at)`` may lose the column type on SQLite (text back): read it as UTC."""
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value)).replace(tzinfo=UTC)
