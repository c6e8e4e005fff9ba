"""Read-only views of the ledger for people: one customer's pressure (explain) and the whole
base's (report).

Decisions themselves stay in the engine: ``explain`` asks the ledger the same question a send
would ask, for a hypothetical marketing send on each channel, so what it shows is exactly what
the next send would meet. ``report`` aggregates in SQL (GROUP BY, one row per customer at
most), because a loop over every customer's ledger in Python would not scale to a real base.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    and_,
    case,
    extract,
    func,
    literal,
    or_,
    select,
)

from contracts import Channel, MessageKind
from hub.durations import format_duration
from hub.pressure.decisions import all_decisions
from hub.pressure.ledger import COUNTING, CUSTOMERS, LEDGER, Ledger
from hub.pressure.policy import Policy, RuleSpec
from hub.storage.types import UTCDateTime, utcnow

__all__ = ["UnknownCustomer", "customer_zone", "explain", "report"]

#: Calendar windows in days, to rank them against rolling windows (a month at its longest).
_CALENDAR_DAYS = {"day": 1, "week": 7, "month": 31}
_PERCENTILES = (50, 90, 99)
_LEDGER_ROWS = 1000


class UnknownCustomer(LookupError):
    """No customer with that id."""


@dataclass(frozen=True)
class CustomerZone:
    zone: ZoneInfo
    #: "customer" when the customer row names it, "default" for ``pressure.default_time_zone``.
    source: str


def customer_zone(connection: Connection, policy: Policy, customer_id: str) -> CustomerZone:
    """The zone the ledger uses for this customer: calendar windows and quiet hours follow it."""
    row = connection.execute(
        select(CUSTOMERS.c.time_zone).where(CUSTOMERS.c.id == customer_id)
    ).first()
    if row is None:
        raise UnknownCustomer(customer_id)
    return CustomerZone(policy.zone(row[0]), "customer" if row[0] else "default")


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _active(now: datetime) -> ColumnElement[bool]:
    """Rows that count now: sent or recorded, or a reservation still within its TTL."""
    return or_(
        LEDGER.c.status.in_(COUNTING),
        and_(LEDGER.c.status == "reserved", LEDGER.c.expires_at > now),
    )


# -- explain ------------------------------------------------------------------------------------
def _probe_scenarios(policy: Policy) -> list[str]:
    """Declared scenarios, marketing ones first (declaration order), to probe every rule."""
    marketing = [n for n, s in policy.scenarios.items() if s.kind is MessageKind.MARKETING]
    return marketing + [n for n in policy.scenarios if n not in marketing]


def _channel_usage(
    ledger: Ledger, customer_id: str, channel: Channel, at: datetime
) -> dict[str, Any] | None:
    """Every rule in scope on ``channel``, as a hypothetical marketing send would meet it.

    The headline decision is the first probe scenario's; a rule scoped to other scenarios
    (a scenario cap, say) is evaluated with the first scenario it applies to.
    """
    probes = _probe_scenarios(ledger.policy)
    if not probes:
        return None
    first = ledger.check(customer_id, channel, probes[0], kind=MessageKind.MARKETING, at=at)
    rules = [{"scenario": probes[0], **u.model_dump()} for u in first.consulted]
    covered = {u.rule for u in first.consulted}
    for scenario in probes[1:]:
        pending = [
            r
            for r in ledger.policy.rules
            if r.name not in covered and r.in_scope(channel, scenario)
        ]
        if not pending:
            continue
        decision = ledger.check(customer_id, channel, scenario, kind=MessageKind.MARKETING, at=at)
        for usage in decision.consulted:
            if usage.rule not in covered:
                rules.append({"scenario": scenario, **usage.model_dump()})
                covered.add(usage.rule)
    order = {rule.name: index for index, rule in enumerate(ledger.policy.rules)}
    rules.sort(key=lambda r: order.get(r["rule"], len(order)))
    return {
        "channel": channel.value,
        "scenario": probes[0],
        "decision": first.outcome.value,
        "rule": first.rule,
        "reason": first.reason,
        "until": _iso(first.until),
        "rules": rules,
    }


def explain(
    engine: Engine, ledger: Ledger, customer_id: str, *, at: datetime, decisions: int = 10
) -> dict[str, Any]:
    """One customer's ledger over the policy's lookback, rule usage per channel, last decisions.

    Raises ``UnknownCustomer``.
    """
    policy, now = ledger.policy, utcnow()
    low = at - policy.lookback
    with engine.connect() as connection:
        zone = customer_zone(connection, policy, customer_id)
        rows = connection.execute(
            select(LEDGER)
            .where(LEDGER.c.customer_id == customer_id, LEDGER.c.at > low)
            .order_by(LEDGER.c.at, LEDGER.c.id)
            .limit(_LEDGER_ROWS + 1)
        ).all()
        recent = connection.execute(all_decisions(customer_id=customer_id).limit(decisions)).all()
    ledger_rows = [
        {
            "id": r.id,
            "at": _iso(r.at),
            "channel": r.channel,
            "scenario": r.scenario,
            "kind": r.kind,
            "weight": r.weight,
            "status": r.status,
            "source": r.source,
            # A reservation past its TTL is still "reserved" until ``expire`` runs: say so.
            "counts": r.status in COUNTING
            or (r.status == "reserved" and r.expires_at is not None and r.expires_at > now),
        }
        for r in rows[:_LEDGER_ROWS]
    ]
    usage = [_channel_usage(ledger, customer_id, channel, at) for channel in Channel]
    return {
        "customer_id": customer_id,
        "at": _iso(at),
        "time_zone": zone.zone.key,
        "time_zone_source": zone.source,
        "rule_set_version": policy.version,
        "lookback": format_duration(policy.lookback),
        "ledger": ledger_rows,
        "ledger_truncated": len(rows) > _LEDGER_ROWS,
        "usage": [u for u in usage if u is not None],
        "decisions": [
            {
                "decided_at": _iso(d.decided_at),
                "at": _iso(d.at),
                "channel": d.channel,
                "scenario": d.scenario,
                "kind": d.kind,
                "outcome": d.outcome,
                "rule": d.rule,
                "reason": d.reason,
                "until": _iso(d.until),
                "reservation_id": d.reservation_id,
                "rule_set_version": d.rule_set_version,
                "consulted": json.loads(d.consulted),
            }
            for d in recent
        ],
    }


# -- report -------------------------------------------------------------------------------------
def _now_param(now: datetime) -> ColumnElement[datetime]:
    return literal(now, UTCDateTime())


def _decayed(connection: Connection, rule: RuleSpec, now: datetime) -> ColumnElement[float]:
    """weight x 2^(-age / half_life) of one ledger row, in SQL on either backend."""
    assert rule.half_life is not None
    half_life = rule.half_life.total_seconds()
    if connection.dialect.name == "postgresql":
        age = extract("epoch", _now_param(now) - LEDGER.c.at)
        return LEDGER.c.weight * func.power(2.0, -age / half_life)
    # SQLite: julianday() gives days; pow() is only there when SQLite was built with math
    # functions, so register our own on this connection rather than depend on the build.
    raw = connection.connection.driver_connection
    raw.create_function("hub_exp2", 1, lambda x: 2.0**x, deterministic=True)  # type: ignore[union-attr]
    age = (func.julianday(_now_param(now)) - func.julianday(LEDGER.c.at)) * 86400.0
    return LEDGER.c.weight * func.hub_exp2(-age / half_life)


def _scope(rule: RuleSpec) -> list[ColumnElement[bool]]:
    conditions = [LEDGER.c.kind.in_(sorted(k.value for k in rule.counts))]
    if rule.channels:
        conditions.append(LEDGER.c.channel.in_(sorted(c.value for c in rule.channels)))
    if rule.scenarios:
        conditions.append(LEDGER.c.scenario.in_(sorted(rule.scenarios)))
    return conditions


def _longest_cap(policy: Policy) -> tuple[timedelta, RuleSpec | None]:
    caps = [r for r in policy.rules if r.type == "cap"]
    if not caps:
        return timedelta(days=30), None

    def span(rule: RuleSpec) -> timedelta:
        return rule.window or timedelta(days=_CALENDAR_DAYS[rule.calendar or "month"])

    # On a tie, the rule that counts everything describes the base better than a scoped one.
    longest = max(caps, key=lambda r: (span(r), not (r.channels or r.scenarios)))
    return span(longest), longest


def _measure(connection: Connection, policy: Policy, now: datetime) -> tuple[Any, dict[str, Any]]:
    """Per-row value to sum per customer, the join conditions, and what it means."""
    decay = next((r for r in policy.rules if r.type == "decay"), None)
    if decay is not None:
        low = now - policy.lookback
        value = _decayed(connection, decay, now)
        conditions = [*_scope(decay), LEDGER.c.at > low, LEDGER.c.at <= now]
        top = decay.limit
        edges = [0.0, top / 4, top / 2, top * 3 / 4, top]
        meta = {"measure": "decayed pressure", "rule": decay.name, "limit": top, "edges": edges}
        return (value, conditions), meta
    window, cap = _longest_cap(policy)
    conditions = [LEDGER.c.at > now - window, LEDGER.c.at <= now]
    value: Any = literal(1.0)
    top, what = 10, "contacts"
    if cap is not None:  # that cap's own usage: its scope, and weight if it sums weights
        conditions += _scope(cap)
        top = max(1, math.ceil(cap.limit))
        if cap.measure == "weight":
            value, what = LEDGER.c.weight, "summed weight"
    step = max(1, math.ceil(top / 10))
    edges = [float(e) for e in range(0, top + 1, step)]
    if edges[-1] != top:
        edges.append(float(top))
    meta = {
        "measure": f"{what} in the last {format_duration(window)}",
        "rule": cap.name if cap is not None else None,
        "limit": top,
        "edges": edges,
    }
    return (value, conditions), meta


def _distribution(connection: Connection, policy: Policy, now: datetime) -> dict[str, Any]:
    (value, conditions), meta = _measure(connection, policy, now)
    joined = CUSTOMERS.outerjoin(
        LEDGER, and_(LEDGER.c.customer_id == CUSTOMERS.c.id, _active(now), *conditions)
    )
    # Outer join, so customers without a contact count as 0; the CASE keeps them at 0 even
    # when the per-row value is a constant.
    row_value = case((LEDGER.c.id.is_(None), 0.0), else_=value)
    per_customer = (
        select(CUSTOMERS.c.id, func.coalesce(func.sum(row_value), 0.0).label("v"))
        .select_from(joined)
        .group_by(CUSTOMERS.c.id)
        .subquery()
    )
    v = per_customer.c.v
    count, low, high, zero = connection.execute(
        select(func.count(), func.min(v), func.max(v), func.sum(case((v <= 0, 1), else_=0)))
    ).one()
    result: dict[str, Any] = {
        "measure": meta["measure"],
        "rule": meta["rule"],
        "limit": meta["limit"],
        "customers": count,
        "zero": int(zero or 0),
        "min": _round(low),
        "max": _round(high),
    }
    for p in _PERCENTILES:  # nearest rank, in SQL on both backends
        offset = max(math.ceil(p / 100 * count) - 1, 0)
        found = connection.execute(select(v).order_by(v).limit(1).offset(offset)).first()
        result[f"p{p}"] = _round(found[0]) if found else None
    edges: list[float] = meta["edges"]
    bucket = case(
        *[(v < edge, index) for index, edge in enumerate(edges[1:])], else_=len(edges) - 1
    ).label("bucket")
    counts = dict(connection.execute(select(bucket, func.count()).group_by(bucket)).all())
    result["histogram"] = [
        {
            "low": edges[i],
            "high": edges[i + 1] if i + 1 < len(edges) else None,
            "customers": counts.get(i, 0),
        }
        for i in range(len(edges))
    ]
    return result


def _round(value: float | None) -> float | None:
    return None if value is None else round(float(value), 4)


def report(engine: Engine, policy: Policy, *, days: int = 30) -> dict[str, Any]:
    """Pressure across the base, decisions of the last ``days`` days, reservations, volumes."""
    now = utcnow()
    since = now - timedelta(days=days)
    week, month = now - timedelta(days=7), now - timedelta(days=30)
    with engine.connect() as connection:
        distribution = _distribution(connection, policy, now)
        recent = all_decisions(since=since).order_by(None).subquery()
        outcomes = connection.execute(
            select(recent.c.outcome, func.count()).group_by(recent.c.outcome)
        ).all()
        refusals = connection.execute(
            select(recent.c.rule, recent.c.outcome, func.count())
            .where(recent.c.outcome != "allowed")
            .group_by(recent.c.rule, recent.c.outcome)
        ).all()
        reserved = connection.execute(
            select(
                LEDGER.c.channel,
                func.sum(case((LEDGER.c.expires_at > now, 1), else_=0)),
                func.sum(case((LEDGER.c.expires_at <= now, 1), else_=0)),
            )
            .where(LEDGER.c.status == "reserved")
            .group_by(LEDGER.c.channel)
        ).all()
        contacts = connection.execute(
            select(
                LEDGER.c.channel,
                func.sum(case((LEDGER.c.at > week, 1), else_=0)),
                func.count(),
            )
            .where(LEDGER.c.status.in_(COUNTING), LEDGER.c.at > month, LEDGER.c.at <= now)
            .group_by(LEDGER.c.channel)
        ).all()
    per_rule: dict[str, dict[str, int]] = {}
    for rule, outcome, count in refusals:
        per_rule.setdefault(rule or "(none)", {"deferred": 0, "denied": 0})[outcome] = count
    return {
        "generated_at": _iso(now),
        "rule_set_version": policy.version,
        "pressure": distribution,
        "decisions": {
            "since": _iso(since),
            "by_outcome": {o: 0 for o in ("allowed", "deferred", "denied")}
            | {o: n for o, n in outcomes},
            "by_rule": [{"rule": rule, **counts} for rule, counts in sorted(per_rule.items())],
        },
        "reservations": {
            "active": sum(int(a or 0) for _, a, _ in reserved),
            "lapsed": sum(int(b or 0) for _, _, b in reserved),
            "by_channel": {c: int(a or 0) for c, a, _ in reserved if a},
        },
        "contacts": {c.value: {"last_7d": 0, "last_30d": 0} for c in Channel}
        | {c: {"last_7d": int(w or 0), "last_30d": int(m or 0)} for c, w, m in contacts},
    }
