"""The plan's arbitration as one ordered pass in Python over per-customer usage from SQL.

SQL reads each planned customer's ledger once into a usage row (``plan_sql.state_select``);
this module walks every customer's candidates, highest priority first, checking each one
against that row plus the candidates already admitted for the customer, which count as contacts
at the plan time. It replaces a ranking statement and one ``INSERT ... SELECT`` round (and one
usage ``UPDATE``) per candidate rank: a million candidates were materialised three times over
for what is a few comparisons each.

Each check reproduces the SQL it replaced operation for operation, so plans are unchanged to the
last bit: floats are added in the same order (``u + a + new``), NULL stays ``None``, retries are
integer microseconds, and decay's wait is rounded as the backend's ``ROUND`` rounds (SQLite half
away from zero, PostgreSQL half to even).

Speed: a million candidates against up to a dozen rules leave a few hundred nanoseconds per
check, less than a Python function call per rule costs. So, as the SQL used to be generated
from the policy, each (scenario, channel) pair gets one Python function generated from the
rules that constrain it, with every constant (column positions, limits, spans, weights) written
in as a number the code computed itself; nothing from the configuration's text reaches the
source. ``tests/pressure/test_plan_walk.py`` holds a rule-by-rule reference it must equal.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from hub.pressure import plan_sql as q

__all__ = ["Future", "Judge", "Row", "Walk", "judges", "set_aside", "walk"]

Row = tuple[Any, ...]
#: (rule, customer) -> (instant, pressure there, decay factor from the plan time) per later
#: contact, from ``RuleSql.future``.
Future = dict[tuple[int, str], list[tuple[int, float, float]]]
#: (usage row, ``a`` per rule, ``n`` per rule, refusals per rule, add if admitted?) ->
#: (-1 when admitted, else the rule named; the retry in microseconds when waiting may help).
Judge = Callable[[Row, list[float], list[int], list[int], bool], tuple[int, int | None]]


def _round(postgres: bool) -> Callable[[float], int]:
    """``CAST(ROUND(x) AS BIGINT)`` as each backend computes it."""
    if postgres:  # rint(): half to even, as Python's round()
        return round

    def sqlite_round(x: float) -> int:  # (sqlite_int64)(r + 0.5), mirrored for negatives
        return int(x + 0.5) if x >= 0 else -int(-x + 0.5)

    return sqlite_round


def _over_later(
    contacts: list[tuple[int, float, float]], mine: float, horizon: int, threshold: float
) -> int | None:
    """Decay at later contacts (before ``horizon``): with ``mine`` (the admitted pressure plus
    the send's weight, decayed by ``f``) on top, does any go over? Then the first of them."""
    close = [c for c in contacts if c[0] < horizon]
    if any(p + mine * f > threshold for _, p, f in close):
        return min(t for t, _, _ in close)
    return None


def _never(i: int) -> list[str]:
    return ["if never < 0:", f"    never = {i}"]


def _latest(i: int, maybe_null: bool) -> list[str]:
    """Keep the latest retry, the first rule (in policy order) on a tie."""
    keep = ["if r > latest:", f"    latest, rule = r, {i}"]
    return ["if r is None:", *_indent(_never(i)), "el" + keep[0], keep[1]] if maybe_null else keep


def _indent(lines: list[str], depth: int = 1) -> list[str]:
    return [" " * 4 * depth + line for line in lines]


def _leaving(i: int, first: int, at: int, span: int) -> list[str]:
    """When the earliest counted contact (in the ledger, or admitted at ``at``) leaves."""
    return [
        f"f = row[{first}]",
        f"r = {at + span} if f is None or (cnt[{i}] > 0 and f > {at}) else f + {span}",
    ]


def _rule_source(
    rule: q.RuleSql, pos: dict[str, int], at: int, weight: float, horizon: int
) -> list[str]:
    """The check of one rule for a send of ``weight``, as the SQL rounds wrote it."""
    i, spec = rule.i, rule.rule
    refuse = f"refused[{i}] += 1"
    if rule.kind in ("rolling", "calendar"):
        new = weight if spec.measure == "weight" else 1
        head = f"if row[{pos[f'u{i}']}] + acc[{i}] + {new!r} > {spec.limit!r}:"
        if new > spec.limit:  # waiting cannot help
            return [head, *_indent([refuse, *_never(i)])]
        if rule.kind == "calendar":
            return [head, *_indent([refuse, f"r = row[{pos[f'pu{i}']}]", *_latest(i, True)])]
        assert spec.window is not None
        leave = _leaving(i, pos[f"f{i}"], at, q.to_us(spec.window))
        return [head, *_indent([refuse, *leave, *_latest(i, False)])]
    if rule.kind == "gap":
        assert spec.min_gap is not None
        leave = _leaving(i, pos[f"f{i}"], at, q.to_us(spec.min_gap))
        head = f"if row[{pos[f'u{i}']}] + cnt[{i}] > 0:"
        return [head, *_indent([refuse, *leave, *_latest(i, False)])]
    if rule.kind == "exclusion":
        assert spec.window is not None
        after = q.to_us(spec.window) + 1
        body = [refuse, f"r = x + {after}", *_latest(i, False)]
        return [f"x = row[{pos[f'x{i}']}]", "if x is not None:", *_indent(body)]
    if rule.kind == "quiet":
        body = [refuse, f"r = row[{pos[f'qe{i}']}]", *_latest(i, True)]
        return [f"if row[{pos[f'q{i}']}] == 1:", *_indent(body)]
    return _decay_source(rule, pos, at, weight, horizon)


def _decay_source(
    rule: q.RuleSql, pos: dict[str, int], at: int, weight: float, horizon: int
) -> list[str]:
    """Decayed pressure now (``u + a``) plus the send's weight must fit the threshold, and, for
    customers with contacts after the plan time, the pressure at each of them too."""
    i, spec = rule.i, rule.rule
    assert spec.half_life is not None
    threshold, room = spec.limit, spec.limit - weight
    half = float(q.to_us(spec.half_life))
    if room <= 0:  # waiting cannot help
        now_fails, later_fails = _never(i), _never(i)
    else:
        wait = f"rounded({half!r} * log(now / {room!r}) / LN2)"
        now_fails = [f"r = {at} + max({wait}, 1)", *_latest(i, False)]
        later_fails = _latest(i, False)
    mine = f"acc[{i}] + {weight!r}"
    later = f"over_later(future.get(({i}, row[0]), ()), {mine}, {horizon}, {threshold!r})"
    return [
        f"now = row[{pos[f'u{i}']}] + acc[{i}]",
        f"if now + {weight!r} > {threshold!r}:",
        *_indent([f"refused[{i}] += 1", *now_fails]),
        "elif row[1]:",  # contacts after the plan time
        *_indent([f"r = {later}", "if r is not None:"]),
        *_indent([f"refused[{i}] += 1", *later_fails], 2),
    ]


def judges(
    rules: Sequence[q.RuleSql], combos: q.Combos, at: int, future: Future, postgres: bool
) -> list[Judge]:
    """One ``Judge`` per (scenario, channel) pair, indexed as ``combos.pairs``. It reads rows
    of ``plan_sql.state_columns``, and ``future`` once ``plan`` has filled it."""
    policy, pos = combos.policy, {c: n for n, c in enumerate(q.state_columns(list(rules)))}
    lookback = q.to_us(policy.lookback)
    source: list[str] = []
    for number, (scenario, channel) in enumerate(combos.pairs):
        weight = policy.weight(channel, scenario)
        horizon = at + q.to_us(policy.max_delay(scenario)) + lookback
        body = ["never = latest = rule = -1"]
        for rule in rules:
            if number in rule.constrained:
                body += _rule_source(rule, pos, at, weight, horizon)
        adds = []
        for rule in rules:
            if rule.kind != "exclusion" and rule.kind != "quiet" and number in rule.counted:
                value = weight if rule.kind == "decay" or rule.rule.measure == "weight" else 1.0
                adds += [f"acc[{rule.i}] += {value!r}", f"cnt[{rule.i}] += 1"]
        body += [
            "if never >= 0:",
            "    return never, None",
            "if rule >= 0:",
            "    return rule, latest",
        ]
        body += [*(["if add:", *_indent(adds)] if adds else []), "return -1, None"]
        source += [f"def judge_{number}(row, acc, cnt, refused, add):", *_indent(body), ""]
    namespace: dict[str, Any] = {
        "log": math.log,
        "LN2": math.log(2.0),
        "rounded": _round(postgres),
        "over_later": _over_later,
        "future": future,
    }
    exec(compile("\n".join(source), "<plan_walk>", "exec"), namespace)  # noqa: S102
    return [namespace[f"judge_{number}"] for number in range(len(combos.pairs))]


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
    judged: Sequence[Judge],
) -> None:
    """Arbitrate every customer of ``states`` (rows of ``plan_sql.state_columns``) into
    ``out``: ``groups`` gives a customer's candidate positions in arbitration order (higher
    priority first, then line), ``kinds`` each position's pair number. A refusal names the
    first rule (in policy order) waiting cannot satisfy, else the one whose first possible
    instant is latest (the first such on a tie), as the engine does."""
    named, retries, refused = out.rule, out.retry, out.refused
    size = len(refused)
    nothing, none = [0.0] * size, [0] * size  # a lone candidate adds nothing to anyone's usage
    for row in states:
        members = groups[row[0]]
        if len(members) == 1:
            position = members[0]
            named[position], retries[position] = judged[kinds[position]](
                row, nothing, none, refused, False
            )
            continue
        acc, cnt = [0.0] * size, [0] * size
        for position in members:
            named[position], retries[position] = judged[kinds[position]](
                row, acc, cnt, refused, True
            )


def set_aside(rows: Iterable[Row], later: list[Row]) -> Iterator[Row]:
    """Rows of customers without contacts after the plan time; the others go to ``later``."""
    for row in rows:
        if row[1]:
            later.append(row)
        else:
            yield row
