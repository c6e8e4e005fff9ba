"""The outcomes of ``hub campaign plan`` handed out in line order, and counted for the report.

A million rows go through here: each ``PlanRow`` is filled without the frozen dataclass's
``__init__``, counts are kept per distinct (outcome, rule, campaign) and folded into the
report after, and the instants of deferrals, which many rows share, are built once each.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from hub.pressure.plan_sql import EPOCH
from hub.pressure.plan_types import PlanReport, PlanRow, plan_row
from hub.pressure.plan_walk import Walk

__all__ = ["hand_out"]


def hand_out(
    report: PlanReport,
    names: Sequence[str],
    outcome: Walk,
    candidates: tuple[list[int], list[str], list[int], list[str | None]],
    pairs: Sequence[tuple[str, str]],
    deadlines: Sequence[int],
    prefix: str | None,
    sink: Callable[[PlanRow], None] | None,
) -> None:
    """``candidates`` are (lines, customers, pair numbers, campaigns) by position, ``pairs``
    each pair's (scenario, channel) and ``deadlines`` its maximum delay's end: a refusal is
    deferred when its rule's first possible instant is not after it. Committed rows' keys are
    ``prefix`` and the line."""
    for name, count in zip(names, outcome.refused, strict=True):
        report.rules[name]["refused"] = count
    counts: Counter[tuple[str, str | None, str | None]] = Counter()
    columns = zip(*candidates, outcome.rule, outcome.retry, strict=True)
    instants: dict[int, datetime] = {}  # many refusals share a retry (a zone's evening)
    for line, customer, kind, campaign, rule, retry in columns:
        if rule is None:  # an unplanned customer's: reported invalid
            continue
        if rule < 0:
            outcome_name, name, until = "admitted", None, None
        elif retry is not None and retry <= deadlines[kind]:
            outcome_name, name = "deferred", names[rule]
            until = instants.get(retry)
            if until is None:
                until = instants[retry] = EPOCH + timedelta(microseconds=retry)
        else:
            outcome_name, name, until = "excluded", names[rule], None
        counts[outcome_name, name, campaign] += 1
        if sink is not None:
            key = f"{prefix}{line}" if prefix and rule < 0 else None
            scenario, channel = pairs[kind]
            values = (line, customer, scenario, channel, campaign, outcome_name, name, until, key)
            sink(plan_row(values))
    for (outcome_name, name, campaign), count in counts.items():
        if name is not None:
            report.rules[name][outcome_name] += count
        report.totals[outcome_name] += count
        report.campaigns[campaign or "(none)"][outcome_name] += count
