"""The governance report's numbers, each one query over the whole base (GROUP BY).

Nothing here loops over customers in Python: the report must stay a matter of seconds on a
million audit rows. Per-brick queries are fine (a hub has a handful of bricks), and each of
them is driven by an index: ``ix_audit_brick (brick, at)``, the ``sink_contacts`` primary key
``(sink, customer_id)`` and ``ix_consents_current (customer_id, channel, purpose,
recorded_at)`` for "the latest consent statement" as a NOT EXISTS seek.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import and_, exists, func, literal, or_, select
from sqlalchemy.engine import Connection
from sqlalchemy.sql import Select

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
    "ActionTotal",
    "Decommission",
    "action_totals",
    "consent_coverage",
    "count_held",
    "daily_transfers",
    "decommissions",
    "held_by_audit",
    "held_by_sink",
    "polled_bricks",
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


@dataclass(frozen=True)
class ActionTotal:
    count: int
    last_at: datetime | None


def action_totals(conn: Connection, at: datetime) -> dict[str, dict[str, ActionTotal]]:
    """brick -> action -> (rows, latest time), over every audit row up to ``at``."""
    query = (
        select(_AUDIT.c.brick, _AUDIT.c.action, func.count(), func.max(_AUDIT.c.at))
        .where(_AUDIT.c.brick.is_not(None), _AUDIT.c.at <= at)
        .group_by(_AUDIT.c.brick, _AUDIT.c.action)
    )
    totals: dict[str, dict[str, ActionTotal]] = {}
    for brick, action, count, last_at in conn.execute(query):
        totals.setdefault(brick, {})[action] = ActionTotal(int(count), _aware(last_at))
    return totals


def daily_transfers(conn: Connection, since: datetime, at: datetime) -> dict[str, dict[str, int]]:
    """brick -> UTC day (``YYYY-MM-DD``) -> transfers, for ``since <= time <= at``."""
    day = period_start(_AUDIT.c.at, Period.DAY, conn.dialect).label("day")
    query = (
        select(_AUDIT.c.brick, day, func.count())
        .where(
            _AUDIT.c.action == TRANSFER,
            _AUDIT.c.brick.is_not(None),
            _AUDIT.c.at >= since,
            _AUDIT.c.at <= at,
        )
        .group_by(_AUDIT.c.brick, day)
    )
    days: dict[str, dict[str, int]] = {}
    for brick, bucket, count in conn.execute(query):
        days.setdefault(brick, {})[str(bucket)] = int(count)
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


def held_by_sink(brick: str) -> Select[tuple[str]]:
    """The customers a contact sink holds (present or unsubscribed there)."""
    return select(_SINKS.c.customer_id.label("customer_id")).where(
        _SINKS.c.sink == brick, _SINKS.c.state.in_(HELD_STATES)
    )


def held_by_audit(brick: str, at: datetime) -> Select[tuple[str]]:
    """The distinct customers a brick received data about up to ``at`` (egress audit)."""
    return (
        select(_AUDIT.c.customer_id.label("customer_id"))
        .where(
            _AUDIT.c.brick == brick,
            _AUDIT.c.action == TRANSFER,
            _AUDIT.c.at <= at,
            _AUDIT.c.customer_id.is_not(None),
        )
        .distinct()
    )


def count_held(conn: Connection, held: Select[tuple[str]]) -> int:
    held_q = held.subquery("held")
    return int(conn.execute(select(func.count()).select_from(held_q)).scalar_one())


def consent_coverage(
    conn: Connection,
    held: Select[tuple[str]],
    channels: Iterable[str],
    purposes: Iterable[str],
    at: datetime,
) -> tuple[int, dict[str, int]]:
    """Of the ``held`` customers: how many have every purpose granted on at least one of
    ``channels``, and per channel how many have every purpose granted on that channel.

    "Granted" means the latest statement (by ``recorded_at``, then id, as ``hub.consent``
    reads it) for that customer, channel and purpose, among those recorded up to ``at``.
    """
    wanted_channels = sorted(set(channels))
    wanted_purposes = sorted(set(purposes))
    if not wanted_channels or not wanted_purposes:
        return 0, {}
    held_q = held.subquery("held")
    current = _CONSENTS.alias("current")
    newer = _CONSENTS.alias("newer")
    is_latest = ~exists().where(
        newer.c.customer_id == current.c.customer_id,
        newer.c.channel == current.c.channel,
        newer.c.purpose == current.c.purpose,
        newer.c.recorded_at <= at,
        or_(
            newer.c.recorded_at > current.c.recorded_at,
            and_(newer.c.recorded_at == current.c.recorded_at, newer.c.id > current.c.id),
        ),
    )
    granted = (
        select(held_q.c.customer_id, current.c.channel, current.c.purpose)
        .select_from(held_q.join(current, current.c.customer_id == held_q.c.customer_id))
        .where(
            current.c.channel.in_(wanted_channels),
            current.c.purpose.in_(wanted_purposes),
            current.c.status == "granted",
            current.c.recorded_at <= at,
            is_latest,
        )
        .subquery("granted")
    )
    needed = literal(len(wanted_purposes))
    per_customer = (
        select(granted.c.customer_id)
        .group_by(granted.c.customer_id)
        .having(func.count(granted.c.purpose.distinct()) == needed)
        .subquery("covered")
    )
    covered = int(conn.execute(select(func.count()).select_from(per_customer)).scalar_one())
    per_channel = (
        select(granted.c.channel)
        .group_by(granted.c.customer_id, granted.c.channel)
        .having(func.count(granted.c.purpose.distinct()) == needed)
        .subquery("covered_on")
    )
    by_channel = {
        channel: int(count)
        for channel, count in conn.execute(
            select(per_channel.c.channel, func.count()).group_by(per_channel.c.channel)
        )
    }
    return covered, {c: by_channel.get(c, 0) for c in wanted_channels}


def _aware(value: datetime | None) -> datetime | None:
    """``MAX(at)`` loses the column type on SQLite (text back): read it as UTC."""
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value)).replace(tzinfo=UTC)
