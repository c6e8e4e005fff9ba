"""The plan's arbitration as one ordered pass in Python over per-customer usage from SQL.

SQL aggregates each planned customer's ledger once into a row of ``plan_state`` (``plan_sql``);
this module then walks every customer's candidates, highest priority first, checking each one
against that row plus the candidates already admitted for the customer, which count as contacts
at the plan time. It replaces what used to be a ranking statement and one ``INSERT ... SELECT``
round (and one usage ``UPDATE``) per candidate rank: a million candidates were materialised
three times for what is a few comparisons each.

Each check reproduces the SQL it replaced operation for operation, so plans are unchanged to the
last bit: floats are added in the same order (``u + a + new``), NULL stays ``None``, retries are
integer microseconds, and decay's wait is rounded as the backend's ``ROUND`` rounds (SQLite half
away from zero, PostgreSQL half to even).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final

from hub.pressure import plan_sql as q

__all__ = ["ALLOWS", "Combo", "Walk", "combos_for", "walk"]


class _Allows:
    """The answer of a check whose rule lets the candidate through (a retry is ``None`` or an
    instant, so a distinct object keeps the three answers apart)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "ALLOWS"


ALLOWS: Final = _Allows()
Row = tuple[Any, ...]
Retry = int | None | _Allows
#: (state row, admitted usage ``a`` per rule, admitted count ``n`` per rule, weight, horizon).
Check = Callable[[Row, list[float], list[int], float, int], Retry]
Future = dict[tuple[int, str], list[tuple[int, float, float]]]
_LN2 = math.log(2.0)


@dataclass(frozen=True)
class Combo:
    """What a candidate's (scenario, channel) fixes: its weight and instants, the rules that
    constrain it (in policy order) and what it adds to the usage of the rules counting it."""

    weight: float
    priority: int
    deadline: int  # microseconds: a refusal is deferred when its retry is not after this
    horizon: int  # microseconds: later contacts before it are checked for decayed pressure
    checks: tuple[tuple[int, Check], ...]
    adds: tuple[tuple[int, float], ...]  # (rule, value added to ``a``; ``n`` gains 1)


def _round(postgres: bool) -> Callable[[float], int]:
    """``CAST(ROUND(x) AS BIGINT)`` as each backend computes it."""
    if postgres:  # rint(): half to even, as Python's round()
        return round

    def sqlite_round(x: float) -> int:  # (sqlite_int64)(r + 0.5), mirrored for negatives
        return int(x + 0.5) if x >= 0 else -int(-x + 0.5)

    return sqlite_round


def _cap_check(rule: q.RuleSql, pos: dict[str, int], at: int) -> Check:
    """Rolling or calendar cap: ``u + a + new > limit`` fails; waiting cannot help a send
    heavier than the limit; otherwise the period's end, or when the earliest counted contact
    leaves the rolling window (one admitted by the plan itself leaves ``window`` after ``at``)."""
    i, spec = rule.i, rule.rule
    u, limit, weighted = pos[f"u{i}"], spec.limit, spec.measure == "weight"
    if rule.kind == "calendar":
        end = pos[f"pu{i}"]

        def calendar(row: Row, acc: list[float], cnt: list[int], w: float, _: int) -> Retry:
            new = w if weighted else 1
            if row[u] + acc[i] + new <= limit:
                return ALLOWS
            return None if new > limit else row[end]

        return calendar
    assert spec.window is not None
    first, span = pos[f"f{i}"], q.to_us(spec.window)

    def rolling(row: Row, acc: list[float], cnt: list[int], w: float, _: int) -> Retry:
        new = w if weighted else 1
        if row[u] + acc[i] + new <= limit:
            return ALLOWS
        if new > limit:
            return None
        f = row[first]
        return at + span if f is None or (cnt[i] > 0 and f > at) else f + span

    return rolling


def _gap_check(rule: q.RuleSql, pos: dict[str, int], at: int) -> Check:
    """Minimum gap: any counted contact closer than the gap (ledger or admitted) fails."""
    i, u, first = rule.i, pos[f"u{rule.i}"], pos[f"f{rule.i}"]
    assert rule.rule.min_gap is not None
    span = q.to_us(rule.rule.min_gap)

    def gap(row: Row, acc: list[float], cnt: list[int], w: float, _: int) -> Retry:
        if row[u] + cnt[i] <= 0:
            return ALLOWS
        f = row[first]
        return at + span if f is None or (cnt[i] > 0 and f > at) else f + span

    return gap


def _event_check(rule: q.RuleSql, pos: dict[str, int]) -> Check:
    """Exclusion: a qualifying event fails until ``window`` (and a microsecond) after it."""
    assert rule.rule.window is not None
    x, extra = pos[f"x{rule.i}"], q.to_us(rule.rule.window) + 1

    def exclusion(row: Row, acc: list[float], cnt: list[int], w: float, _: int) -> Retry:
        event = row[x]
        return ALLOWS if event is None else event + extra

    return exclusion


def _quiet_check(rule: q.RuleSql, pos: dict[str, int]) -> Check:
    """Quiet hours: the zone's flag and end, computed once per time zone."""
    inside, until = pos[f"q{rule.i}"], pos[f"qe{rule.i}"]

    def quiet(row: Row, acc: list[float], cnt: list[int], w: float, _: int) -> Retry:
        return row[until] if row[inside] == 1 else ALLOWS

    return quiet


def _decay_check(
    rule: q.RuleSql, pos: dict[str, int], at: int, future: Future, postgres: bool
) -> Check:
    """Decayed pressure now (``u + a``) plus the send's weight must fit the threshold, and, for
    customers with later contacts before the horizon, the pressure at each of them too."""
    i, u, spec, rounded = rule.i, pos[f"u{rule.i}"], rule.rule, _round(postgres)
    assert spec.half_life is not None
    threshold, half = spec.limit, float(q.to_us(spec.half_life))

    def decay(row: Row, acc: list[float], cnt: list[int], w: float, horizon: int) -> Retry:
        now, room = row[u] + acc[i], threshold - w
        if now + w > threshold:
            return None if room <= 0 else at + max(rounded(half * math.log(now / room) / _LN2), 1)
        if row[1] == 0:  # no contact after the plan time
            return ALLOWS
        later = [d for d in future.get((i, row[0]), ()) if d[0] < horizon]
        mine = acc[i] + w
        if not any(p + mine * f > threshold for _, p, f in later):
            return ALLOWS
        return None if room <= 0 else min(t for t, _, _ in later)

    return decay


def combos_for(
    rules: Sequence[q.RuleSql],
    combos: q.Combos,
    at: int,
    future: Future,
    postgres: bool,
) -> list[Combo]:
    """Every (scenario, channel) pair's ``Combo``, indexed as ``combos.pairs``. The checks read
    rows of ``plan_sql.state_columns``; decay reads ``future`` once it is filled."""
    policy, pos = combos.policy, {c: n for n, c in enumerate(q.state_columns(list(rules)))}
    checks: dict[int, Check] = {}
    for rule in rules:
        if rule.kind in ("rolling", "calendar"):
            checks[rule.i] = _cap_check(rule, pos, at)
        elif rule.kind == "gap":
            checks[rule.i] = _gap_check(rule, pos, at)
        elif rule.kind == "exclusion":
            checks[rule.i] = _event_check(rule, pos)
        elif rule.kind == "quiet":
            checks[rule.i] = _quiet_check(rule, pos)
        else:
            checks[rule.i] = _decay_check(rule, pos, at, future, postgres)
    result = []
    for number, (scenario, channel) in enumerate(combos.pairs):
        weight, settings = policy.weight(channel, scenario), policy.scenario(scenario)
        delay = q.to_us(policy.max_delay(scenario))
        adds = tuple(
            (r.i, weight if r.kind == "decay" or r.rule.measure == "weight" else 1.0)
            for r in rules
            if r.kind in ("rolling", "calendar", "gap", "decay") and number in r.counted
        )
        constrained = tuple((r.i, checks[r.i]) for r in rules if number in r.constrained)
        horizon = at + delay + q.to_us(policy.lookback)
        result.append(Combo(weight, settings.priority, at + delay, horizon, constrained, adds))
    return result


@dataclass
class Walk:
    """Outcomes by candidate position: ``rule`` is -1 for an admitted candidate, the index of
    the rule named for a refusal, ``None`` for a candidate of an unplanned customer; ``retry``
    is the refusal's first possible instant (microseconds) when waiting may help."""

    rule: list[int | None]
    retry: list[int | None]
    refused: list[int]  # per rule: candidates it refused, named or not

    @classmethod
    def start(cls, candidates: int, rules: int) -> Walk:
        return cls([None] * candidates, [None] * candidates, [0] * rules)


def walk(
    out: Walk,
    states: Iterable[Row],
    groups: dict[str, list[int]],
    kinds: Sequence[int],
    combos: Sequence[Combo],
) -> None:
    """Arbitrate every customer of ``states`` (rows of ``plan_sql.state_columns``) into
    ``out``: ``groups`` gives a customer's candidate positions in line order, ``kinds`` each
    position's combo number. A refusal names the first rule (in policy order) waiting cannot
    satisfy, else the one whose first possible instant is latest (the first such on a tie),
    as the engine does."""
    named, retries, refused = out.rule, out.retry, out.refused
    rule_count = len(refused)
    rank = [-combo.priority for combo in combos]
    order = [rank[kind] for kind in kinds]  # higher priority first; stable: then line order
    for row in states:
        members = groups[row[0]]
        if len(members) > 1:
            members.sort(key=order.__getitem__)
        acc, cnt = [0.0] * rule_count, [0] * rule_count
        for position in members:
            combo = combos[kinds[position]]
            weight, horizon = combo.weight, combo.horizon
            never, latest, rule = -1, -1, -1
            for i, check in combo.checks:
                retry = check(row, acc, cnt, weight, horizon)
                if retry is ALLOWS:
                    continue
                refused[i] += 1
                if retry is None:
                    if never < 0:
                        never = i
                elif retry > latest:  # type: ignore[operator]
                    latest, rule = retry, i  # type: ignore[assignment]
            if never >= 0:
                named[position] = never
            elif rule >= 0:
                named[position], retries[position] = rule, latest
            else:
                named[position] = -1
                for i, value in combo.adds:
                    acc[i] += value
                    cnt[i] += 1
