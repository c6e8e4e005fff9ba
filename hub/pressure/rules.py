"""The pressure rule language, as it is written in ``[pressure]`` and ``[scenarios.*]``.

Every rule has a ``name`` (it appears in decisions and reports), a scope (``channels`` and
``scenarios``; empty means all) and two kind lists:

* ``kinds``: the kinds of *sends* the rule constrains (default: marketing only, so
  transactional and service messages are exempt, each exemption stated in the decision);
* ``counts``: the kinds of *past contacts* it counts (default: all, because a transactional
  message still weighs on the person).
"""

from __future__ import annotations

import re
from datetime import time, timedelta
from enum import StrEnum
from typing import Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, model_validator

from contracts import Channel, MessageKind
from hub.durations import Duration
from hub.scenarios.model import ScenarioFlow

__all__ = [
    "CalendarPeriod",
    "Cap",
    "Decay",
    "Exclusion",
    "Gap",
    "Measure",
    "PressureSettings",
    "QuietHours",
    "ScenarioCap",
    "ScenarioSettings",
    "policy_problems",
]

_RULE = ConfigDict(extra="forbid", frozen=True)
_NAME = r"^[a-z0-9][a-z0-9_\-]*$"
ALL_KINDS = list(MessageKind)


class Measure(StrEnum):
    COUNT = "count"
    WEIGHT = "weight"


class CalendarPeriod(StrEnum):
    """Calendar windows, in the customer's time zone (weeks start on Monday)."""

    DAY = "day"
    WEEK = "week"
    MONTH = "month"


class _Scoped(BaseModel):
    model_config = _RULE

    name: str = Field(pattern=_NAME, max_length=64)
    channels: list[Channel] = Field(default_factory=list, description="Empty: all channels.")
    scenarios: list[str] = Field(default_factory=list, description="Empty: all scenarios.")
    kinds: list[MessageKind] = Field(
        default_factory=lambda: [MessageKind.MARKETING],
        description="Kinds of sends the rule constrains; the others are exempt.",
    )
    counts: list[MessageKind] = Field(
        default_factory=lambda: list(ALL_KINDS),
        description="Kinds of past contacts the rule counts.",
    )


class Cap(_Scoped):
    """At most ``limit`` contacts (or summed weight) per rolling or calendar window."""

    limit: float = Field(ge=0, description="0 blocks every send in scope.")
    measure: Measure = Measure.COUNT
    window: Duration | None = Field(default=None, description="Rolling window, e.g. 7d, 48h.")
    calendar: CalendarPeriod | None = Field(default=None, description="day, week or month.")

    @model_validator(mode="after")
    def _one_window(self) -> Self:
        if (self.window is None) == (self.calendar is None):
            raise ValueError("give exactly one of window (rolling) or calendar (day/week/month)")
        return self


class Gap(_Scoped):
    """No two contacts in scope closer than ``min_gap``."""

    min_gap: Duration


class Decay(_Scoped):
    """Decayed pressure: sum of weight x 2^(-age / half_life) plus the new weight <= threshold."""

    name: str = Field(default="decayed-pressure", pattern=_NAME, max_length=64)
    half_life: Duration
    threshold: float = Field(gt=0)


class Exclusion(_Scoped):
    """An ``event`` in the last ``window`` excludes sends in scope, except ``except_scenarios``."""

    event: str = Field(pattern=r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")
    window: Duration
    except_scenarios: list[str] = Field(default_factory=list)


class QuietHours(_Scoped):
    """No sends in scope between ``start`` and ``end``, local time (``end`` may be next day)."""

    name: str = Field(default="quiet-hours", pattern=_NAME, max_length=64)
    start: time
    end: time

    @model_validator(mode="after")
    def _not_empty(self) -> Self:
        if self.start == self.end:
            raise ValueError("start and end must differ")
        if self.start.tzinfo or self.end.tzinfo:
            raise ValueError("quiet hours are local times: give no offset")
        return self


class PressureSettings(BaseModel):
    """``[pressure]``: the commercial-pressure policy, shared by every channel and brick."""

    model_config = ConfigDict(extra="forbid")

    retention: Duration = Field(
        default=timedelta(days=400),
        description="How long ledger rows are kept; no window may be longer.",
    )
    reservation_ttl: Duration = Field(
        default=timedelta(minutes=15),
        description="An uncommitted reservation stops counting after this long.",
    )
    default_time_zone: str = Field(
        default="UTC", description="For customers whose time zone is unknown."
    )
    default_max_delay: Duration = Field(
        default=timedelta(days=3),
        description="How far a send may be deferred when its scenario sets no max_delay.",
    )
    weights: dict[Channel, float] = Field(
        default_factory=dict, description="Weight of one contact per channel (default 1)."
    )
    caps: list[Cap] = Field(default_factory=list)
    gaps: list[Gap] = Field(default_factory=list)
    decay: Decay | None = None
    exclusions: list[Exclusion] = Field(default_factory=list)
    quiet_hours: list[QuietHours] = Field(default_factory=list)


class ScenarioCap(BaseModel):
    model_config = _RULE

    limit: int = Field(ge=0)
    window: Duration


class ScenarioSettings(ScenarioFlow):
    """``[scenarios.<name>]``: what the ledger needs to know about a scenario, plus its flow
    (trigger, steps, channels, cancel-if: ``hub.scenarios.model.ScenarioFlow``)."""

    model_config = ConfigDict(extra="forbid")

    description: str = ""
    kind: MessageKind = MessageKind.MARKETING
    priority: int = Field(default=50, ge=0, le=100, description="Higher goes first.")
    weight: float | None = Field(
        default=None, ge=0, description="Overrides the channel weight for this scenario."
    )
    cap: ScenarioCap | None = Field(
        default=None, description='e.g. {limit = 1, window = "7d"}: once a week at most.'
    )
    max_delay: Duration | None = Field(
        default=None, description="Longest deferral before the send is dropped."
    )


def policy_problems(
    pressure: PressureSettings, scenarios: dict[str, ScenarioSettings]
) -> list[tuple[str, str]]:
    """Checks that span several keys: unique names, known scenarios, windows within retention.

    Returns (dotted path, message) pairs, so ``hub config validate`` points at the culprit.
    """
    problems: list[tuple[str, str]] = []
    try:
        ZoneInfo(pressure.default_time_zone)
    except (ZoneInfoNotFoundError, ValueError):
        problems.append(("pressure.default_time_zone", "not an IANA time zone"))
    for channel, weight in pressure.weights.items():
        if weight < 0:
            problems.append((f"pressure.weights.{channel.value}", "must be >= 0"))
    known = sorted(scenarios)
    for name in scenarios:
        if not _valid_name(name):
            problems.append((f"scenarios.{name}", "names are lower case: a-z, 0-9, _ and -"))
    seen: dict[str, str] = {}
    retention = pressure.retention
    for path, rule in _rules(pressure):
        if rule.name in seen:
            problems.append(
                (f"{path}.name", f"rule name {rule.name!r} is already used by {seen[rule.name]}")
            )
        seen.setdefault(rule.name, path)
        for index, scenario in enumerate(rule.scenarios):
            if scenario not in scenarios:
                problems.append(
                    (
                        f"{path}.scenarios.{index}",
                        f"unknown scenario {scenario!r} (declared: {', '.join(known) or 'none'})",
                    )
                )
        for index, scenario in enumerate(getattr(rule, "except_scenarios", [])):
            if scenario not in scenarios:
                problems.append(
                    (
                        f"{path}.except_scenarios.{index}",
                        f"unknown scenario {scenario!r} (declared: {', '.join(known) or 'none'})",
                    )
                )
        for key in ("window", "min_gap"):
            span = getattr(rule, key, None)
            if isinstance(span, timedelta) and span > retention:
                problems.append(
                    (
                        f"{path}.{key}",
                        "is longer than pressure.retention: the "
                        "ledger would no longer hold the contacts it must count",
                    )
                )
        if getattr(rule, "calendar", None) is CalendarPeriod.MONTH and retention < timedelta(31):
            problems.append((f"{path}.calendar", "a month is longer than pressure.retention"))
    for name, scenario in scenarios.items():
        if scenario.cap is not None and scenario.cap.window > retention:
            problems.append((f"scenarios.{name}.cap.window", "is longer than pressure.retention"))
    return problems


def _valid_name(name: str) -> bool:
    return re.fullmatch(_NAME, name) is not None


def _rules(pressure: PressureSettings) -> list[tuple[str, _Scoped]]:
    rules: list[tuple[str, _Scoped]] = []
    rules += [(f"pressure.caps.{i}", r) for i, r in enumerate(pressure.caps)]
    rules += [(f"pressure.gaps.{i}", r) for i, r in enumerate(pressure.gaps)]
    rules += [(f"pressure.exclusions.{i}", r) for i, r in enumerate(pressure.exclusions)]
    rules += [(f"pressure.quiet_hours.{i}", r) for i, r in enumerate(pressure.quiet_hours)]
    if pressure.decay is not None:
        rules.append(("pressure.decay", pressure.decay))
    return rules
