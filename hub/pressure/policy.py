"""The compiled policy: rules flattened into one list, a version, and scenario lookups.

The version is a digest of the canonical rule set, so it changes exactly when the rules do;
each decision stores it, and the ledger keeps every version's text for later explanations.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import time, timedelta
from functools import cached_property
from typing import Any
from zoneinfo import ZoneInfo

from contracts import Channel, MessageKind
from hub.durations import format_duration
from hub.pressure.rules import (
    ALL_KINDS,
    Cap,
    Decay,
    Exclusion,
    Gap,
    PressureSettings,
    QuietHours,
    ScenarioSettings,
)

__all__ = ["Policy", "RuleSpec", "UnknownScenario"]


class UnknownScenario(ValueError):
    """A send names a scenario that is not declared in ``[scenarios]``."""


@dataclass(frozen=True)
class RuleSpec:
    """One rule in engine form, whatever its section in config."""

    type: str  # cap | gap | decay | exclusion | quiet
    name: str
    channels: frozenset[Channel]
    scenarios: frozenset[str]
    kinds: frozenset[MessageKind]
    counts: frozenset[MessageKind]
    limit: float = 0
    measure: str = "count"
    window: timedelta | None = None
    calendar: str | None = None
    min_gap: timedelta | None = None
    half_life: timedelta | None = None
    event: str | None = None
    except_scenarios: frozenset[str] = field(default_factory=frozenset)
    start: time | None = None
    end: time | None = None

    def in_scope(self, channel: Channel, scenario: str) -> bool:
        return (not self.channels or channel in self.channels) and (
            not self.scenarios or scenario in self.scenarios
        )

    def kinds_text(self) -> str:
        return self._kinds_text

    def describe_window(self) -> str:
        return self._window_text

    def hours_text(self) -> str:
        """Quiet hours as ``HH:MM-HH:MM``."""
        return self._hours_text

    # Texts the engine writes into every explanation, built once per rule.
    @cached_property
    def _kinds_text(self) -> str:
        return "/".join(sorted(k.value for k in self.kinds))

    @cached_property
    def _window_text(self) -> str:
        if self.window is not None:
            return f"rolling {format_duration(self.window)}"
        return f"calendar {self.calendar}"

    @cached_property
    def _hours_text(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M}"


def _scope(rule: Cap | Gap | Decay | Exclusion | QuietHours) -> dict[str, object]:
    return {
        "name": rule.name,
        "channels": frozenset(rule.channels),
        "scenarios": frozenset(rule.scenarios),
        "kinds": frozenset(rule.kinds),
        "counts": frozenset(rule.counts),
    }


def _compile(pressure: PressureSettings, scenarios: dict[str, ScenarioSettings]) -> list[RuleSpec]:
    rules: list[RuleSpec] = []
    for scenario_name, scenario in sorted(scenarios.items()):
        if scenario.cap is not None:
            rules.append(
                RuleSpec(
                    type="cap",
                    name=f"scenario-cap:{scenario_name}",
                    channels=frozenset(),
                    scenarios=frozenset({scenario_name}),
                    kinds=frozenset(ALL_KINDS),
                    counts=frozenset(ALL_KINDS),
                    limit=scenario.cap.limit,
                    window=scenario.cap.window,
                )
            )
    for cap in pressure.caps:
        rules.append(
            RuleSpec(
                type="cap",
                limit=cap.limit,
                measure=cap.measure.value,
                window=cap.window,
                calendar=cap.calendar and cap.calendar.value,
                **_scope(cap),
            )
        )  # type: ignore[arg-type]
    for gap in pressure.gaps:
        rules.append(RuleSpec(type="gap", min_gap=gap.min_gap, **_scope(gap)))  # type: ignore[arg-type]
    if pressure.decay is not None:
        decay = pressure.decay
        rules.append(
            RuleSpec(
                type="decay", limit=decay.threshold, half_life=decay.half_life, **_scope(decay)
            )
        )  # type: ignore[arg-type]
    for exclusion in pressure.exclusions:
        rules.append(
            RuleSpec(
                type="exclusion",
                window=exclusion.window,
                event=exclusion.event,
                except_scenarios=frozenset(exclusion.except_scenarios),
                **_scope(exclusion),
            )
        )  # type: ignore[arg-type]
    for quiet in pressure.quiet_hours:
        rules.append(RuleSpec(type="quiet", start=quiet.start, end=quiet.end, **_scope(quiet)))  # type: ignore[arg-type]
    return rules


@dataclass(frozen=True)
class Policy:
    settings: PressureSettings
    scenarios: dict[str, ScenarioSettings]

    @cached_property
    def rules(self) -> list[RuleSpec]:
        return _compile(self.settings, self.scenarios)

    @cached_property
    def document(self) -> dict[str, object]:
        """The canonical rule set, as stored with its version."""
        return {
            "pressure": self.settings.model_dump(mode="json"),
            "scenarios": {k: v.model_dump(mode="json") for k, v in sorted(self.scenarios.items())},
        }

    @cached_property
    def document_text(self) -> str:
        """The canonical rule set as stored in ``pressure_rule_sets.rules``."""
        return json.dumps(self.document, sort_keys=True)

    @cached_property
    def version(self) -> str:
        text = json.dumps(self.document, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:12]

    @cached_property
    def default_zone(self) -> ZoneInfo:
        return ZoneInfo(self.settings.default_time_zone)

    @cached_property
    def _zones(self) -> dict[str, ZoneInfo]:
        return {}

    def zone(self, name: str | None) -> ZoneInfo:
        """``ZoneInfo`` keeps only a few zones strongly cached: keep every zone seen here."""
        if not name:
            return self.default_zone
        zone = self._zones.get(name)
        if zone is None:
            zone = self._zones[name] = ZoneInfo(name)
        return zone

    @cached_property
    def memo(self) -> dict[Any, Any]:
        """Values derived from the rules alone (the engine's per-send rule plans): they live
        and die with this policy, so a changed rule set never sees another one's."""
        return {}

    @cached_property
    def _applicable(self) -> dict[tuple[Channel, str], tuple[RuleSpec, ...]]:
        return {}

    def applicable(self, channel: Channel, scenario: str) -> tuple[RuleSpec, ...]:
        """The rules in scope for a send on ``channel`` in ``scenario``, in rule order."""
        key = (channel, scenario)
        found = self._applicable.get(key)
        if found is None:
            found = tuple(r for r in self.rules if r.in_scope(channel, scenario))
            if len(self._applicable) < 4096:  # scenarios are declared: this stays small
                self._applicable[key] = found
        return found

    def scenario(self, name: str) -> ScenarioSettings:
        try:
            return self.scenarios[name]
        except KeyError:
            declared = ", ".join(sorted(self.scenarios)) or "none"
            raise UnknownScenario(f"unknown scenario {name!r} (declared: {declared})") from None

    def weight(self, channel: Channel, scenario: str) -> float:
        configured = self.scenario(scenario).weight
        return configured if configured is not None else self.settings.weights.get(channel, 1.0)

    def max_delay(self, scenario: str) -> timedelta:
        return self.scenario(scenario).max_delay or self.settings.default_max_delay

    @cached_property
    def lookback(self) -> timedelta:
        """How far back (and ahead) a decision must see the ledger."""
        spans = [timedelta(days=32)]  # a calendar month, whatever the time zone
        for rule in self.rules:
            spans += [s for s in (rule.window, rule.min_gap) if s is not None]
            if rule.half_life is not None:  # 2^-20: below a millionth of a contact's weight
                spans.append(min(rule.half_life * 20, self.settings.retention))
        return max(spans)
