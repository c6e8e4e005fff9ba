"""``plan_walk``: the generated per-pair judges against a rule-by-rule reference.

The reference below is a plain transcription of what the SQL evaluation rounds computed for a
candidate ``c`` and its customer's usage row ``s`` (``fails``, ``retry``, then the rule named),
with the admitted candidates' ``a`` and ``n`` added between candidates. Hypothesis draws usage
rows, later contacts and candidate lists; the one-pass walk must give the same rule and retry
for every candidate, and the same refusal counts, on both backends' rounding.
"""

from __future__ import annotations

import math
import tomllib
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hub.pressure import plan_sql as q
from hub.pressure import plan_walk
from hub.pressure.plan_types import PlanRow, plan_row
from hub.pressure.policy import Policy
from hub.pressure.rules import PressureSettings, ScenarioSettings
from tests.pressure.test_plan import RANDOM_POLICIES

AT = q.to_us(datetime(2026, 3, 28, 12, tzinfo=UTC))
DAY = 86_400_000_000


def policy(name: str) -> Policy:
    document = tomllib.loads(RANDOM_POLICIES[name])
    scenarios = {k: ScenarioSettings.model_validate(v) for k, v in document["scenarios"].items()}
    return Policy(PressureSettings.model_validate(document["pressure"]), scenarios)


def reference(
    rules: list[q.RuleSql],
    combos: q.Combos,
    row: dict[str, Any],
    future: dict[int, list[tuple[int, float, float]]],
    kinds: list[int],
    postgres: bool,
) -> tuple[list[tuple[int, int | None]], list[int]]:
    """One customer's candidates (already in arbitration order) as the SQL rounds judged them."""
    pol = combos.policy
    a, n = [0.0] * len(rules), [0] * len(rules)
    refused, results = [0] * len(rules), []
    for kind in kinds:
        scenario, channel = combos.pairs[kind]
        weight = pol.weight(channel, scenario)
        horizon = AT + q.to_us(pol.max_delay(scenario)) + q.to_us(pol.lookback)
        verdicts = []
        for rule in rules:
            i = rule.i
            if kind not in rule.constrained:
                continue
            fails, retry = _check(rule, row, future.get(i, []), a, n, weight, horizon, postgres)
            if fails:
                refused[i] += 1
                verdicts.append((i, retry))
        never = [i for i, retry in verdicts if retry is None]
        if never:
            results.append((never[0], None))
        elif verdicts:
            latest = max(retry for _, retry in verdicts if retry is not None)
            results.append((next(i for i, r in verdicts if r == latest), latest))
        else:
            results.append((-1, None))
            for rule in rules:
                if kind in rule.counted:
                    measured = rule.kind == "decay" or rule.rule.measure == "weight"
                    a[rule.i] += weight if measured else 1
                    n[rule.i] += 1
    return results, refused


def _check(
    rule: q.RuleSql,
    s: dict[str, Any],
    later: list[tuple[int, float, float]],
    a: list[float],
    n: list[int],
    w: float,
    horizon: int,
    postgres: bool,
) -> tuple[bool, int | None]:
    i, spec = rule.i, rule.rule
    if rule.kind in ("rolling", "calendar", "gap"):
        span = spec.window or spec.min_gap
        first = s.get(f"f{i}")
        leaving = None
        if span is not None:
            us = q.to_us(span)
            late = first is None or (n[i] > 0 and first > AT)
            leaving = AT + us if late else first + us
        if rule.kind == "gap":
            return s[f"u{i}"] + n[i] > 0, leaving
        new = w if spec.measure == "weight" else 1
        fails = s[f"u{i}"] + a[i] + new > spec.limit
        later_ok = s[f"pu{i}"] if rule.kind == "calendar" else leaving
        return fails, None if new > spec.limit else later_ok
    if rule.kind == "exclusion":
        assert spec.window is not None
        x = s[f"x{i}"]
        return x is not None, None if x is None else x + q.to_us(spec.window) + 1
    if rule.kind == "quiet":
        return s[f"q{i}"] == 1, s[f"qe{i}"]
    assert spec.half_life is not None
    now, room = s[f"u{i}"] + a[i], spec.limit - w
    close = [d for d in later if d[0] < horizon]
    if now + w > spec.limit:
        fails = True
    elif s["fut"] == 0:
        fails = False
    else:
        fails = any(p + (a[i] + w) * f > spec.limit for _, p, f in close)
    if room <= 0:
        return fails, None
    if now + w > spec.limit:
        x = float(q.to_us(spec.half_life)) * math.log(now / room) / math.log(2.0)
        wait = round(x) if postgres else int(x + 0.5)
        return fails, AT + max(wait, 1)
    return fails, None if s["fut"] == 0 or not close else min(t for t, _, _ in close)


def _usage(rules: list[q.RuleSql]) -> st.SearchStrategy[dict[str, Any]]:
    """Usage rows as SQL returns them: sums (int or float), first contacts, zone values."""
    # Instants from a small pool as well, so boundaries (``f == at``) and ties between rules'
    # retries (the first rule in policy order is named) come up.
    pool = st.sampled_from([AT + k * DAY for k in (-5, -3, -1, 0, 1, 2, 3)] + [AT - 1, AT + 1])
    instant = pool | st.integers(AT - 40 * DAY, AT + 5 * DAY)
    later = pool.filter(lambda t: t > AT) | st.integers(AT + 1, AT + 30 * DAY)
    amount = st.one_of(st.integers(0, 4), st.sampled_from([0.0, 0.25, 0.5, 1.5, 2.0, 3.4999]))
    fields: dict[str, st.SearchStrategy[Any]] = {"fut": st.integers(0, 2)}
    for rule in rules:
        i = rule.i
        prefixes = {"rolling": "uf", "calendar": "up", "gap": "uf", "decay": "u"}
        for prefix in prefixes.get(rule.kind, ""):
            fields[f"{prefix}{i}" if prefix != "p" else f"pu{i}"] = {
                "u": amount if rule.kind != "decay" else st.floats(0, 6),
                "f": st.none() | instant,
                "p": later,
            }[prefix]
        if rule.kind == "exclusion":
            fields[f"x{i}"] = (
                st.none() | pool.filter(lambda t: t <= AT) | st.integers(AT - 9 * DAY, AT)
            )
        if rule.kind == "quiet":
            fields[f"q{i}"] = st.integers(0, 1)
            fields[f"qe{i}"] = later
    return st.fixed_dictionaries(fields)


@pytest.mark.parametrize("name", sorted(RANDOM_POLICIES))
@pytest.mark.parametrize("postgres", [False, True])
def test_generated_judges_equal_the_rule_by_rule_reference(name: str, postgres: bool) -> None:
    pol = policy(name)
    combos = q.Combos(pol)
    rules = [q.RuleSql.build(i, r, combos) for i, r in enumerate(pol.rules)]
    columns = q.state_columns(rules)
    later = st.lists(
        st.tuples(st.integers(AT + 1, AT + 20 * DAY), st.floats(0, 5), st.floats(0, 1)),
        max_size=3,
    )
    decays = [r.i for r in rules if r.kind == "decay"]

    @settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(
        usage=_usage(rules),
        later=st.fixed_dictionaries({i: later for i in decays}),
        kinds=st.lists(st.integers(0, len(combos.pairs) - 1), min_size=1, max_size=6),
    )
    def check(usage: dict[str, Any], later: dict[int, Any], kinds: list[int]) -> None:
        rank = [pol.scenario(s).priority for s, _ in combos.pairs]
        positions = sorted(range(len(kinds)), key=lambda p: -rank[kinds[p]])
        ordered = [kinds[p] for p in positions]
        expected, refused = reference(rules, combos, usage, later, ordered, postgres)
        future = {(i, "c"): contacts for i, contacts in later.items()}
        judged = plan_walk.judges(rules, combos, AT, future, postgres)
        out = plan_walk.Walk.start(len(kinds), len(rules))
        row = tuple(
            usage.get(column, "c" if column == "customer_id" else None) for column in columns
        )
        plan_walk.walk(out, [row], {"c": positions}, kinds, judged)
        got = [(out.rule[p], out.retry[p]) for p in positions]
        assert got == expected
        assert out.refused == refused

    check()


def test_plan_row_fills_every_field_in_order() -> None:
    values = tuple(range(9))
    assert plan_row(values) == PlanRow(*values)
