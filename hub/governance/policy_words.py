"""The commercial-pressure policy in plain words, generated from the rules themselves.

IT and data protection read the governance report, not TOML: each rule becomes one sentence
("at most 3 marketing messages per 7 days across all channels"), written from the same
validated settings the ledger decides with, so the words cannot drift from what is enforced.
Every rule kind the config supports has its wording here (caps rolling and calendar, by count
or weight; gaps; decay; exclusions; quiet hours; scenario caps, kinds, priorities, weights).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import timedelta

from contracts import Channel, MessageKind
from hub.pressure.rules import (
    ALL_KINDS,
    Cap,
    Decay,
    Exclusion,
    Gap,
    Measure,
    PressureSettings,
    QuietHours,
    ScenarioSettings,
)

__all__ = ["PolicyLine", "describe_policy", "span"]

_CHANNEL_NAMES = {Channel.EMAIL: "email", Channel.SMS: "SMS", Channel.PUSH: "push"}
_CALENDAR = {
    "day": "calendar day",
    "week": "calendar week (Monday to Sunday)",
    "month": "calendar month",
}
_EVENTS = {
    "order.placed": "an order",
    "cart.abandoned": "an abandoned cart",
    "customer.signed_up": "a sign-up",
}


@dataclass(frozen=True)
class PolicyLine:
    """One sentence of the policy; ``rule`` is the rule's name when it comes from one."""

    type: str  # cap | gap | decay | exclusion | quiet_hours | scenario | general
    rule: str | None
    text: str

    def as_json(self) -> dict[str, str | None]:
        return {"type": self.type, "rule": self.rule, "text": self.text}


def span(value: timedelta) -> str:
    """A duration as people say it: ``48 h``, ``7 days``, ``1 day 12 h``... (hours up to 3
    days, because "at least 48 h between two contacts" reads better than "2 days")."""
    seconds = int(value.total_seconds())
    if seconds % 3600 == 0 and seconds < 3 * 86_400:
        return f"{seconds // 3600} h"
    parts = []
    days, rest = divmod(seconds, 86_400)
    if days:
        parts.append(f"{days} day" + ("s" if days > 1 else ""))
    hours, rest = divmod(rest, 3600)
    if hours:
        parts.append(f"{hours} h")
    minutes, rest = divmod(rest, 60)
    if minutes:
        parts.append(f"{minutes} min")
    if rest:
        parts.append(f"{rest} s")
    return " ".join(parts) or "0 s"


def _number(value: float) -> str:
    return f"{value:g}"


def _ordered_kinds(kinds: Iterable[MessageKind]) -> list[MessageKind]:
    chosen = set(kinds)
    return [kind for kind in ALL_KINDS if kind in chosen]


def _kinds(kinds: Iterable[MessageKind], joiner: str = "or") -> str:
    ordered = _ordered_kinds(kinds)
    if len(ordered) == len(ALL_KINDS):
        return "any"
    return f" {joiner} ".join(kind.value for kind in ordered)


def _messages(kinds: Iterable[MessageKind], count: float | None = None) -> str:
    """``3 marketing messages``, ``1 marketing message``, ``messages of any kind``."""
    words = _kinds(kinds)
    plural = count is None or count != 1
    noun = "messages" if plural else "message"
    phrase = f"{noun} of any kind" if words == "any" else f"{words} {noun}"
    return phrase if count is None else f"{_number(count)} {phrase}"


def _channels(channels: Iterable[Channel]) -> str:
    ordered = [_CHANNEL_NAMES[c] for c in Channel if c in set(channels)]
    return "across all channels" if not ordered else "by " + " or ".join(ordered)


def _scenarios(scenarios: Iterable[str]) -> str:
    names = sorted(scenarios)
    if not names:
        return ""
    return f" in scenario {names[0]}" if len(names) == 1 else f" in scenarios {', '.join(names)}"


def _counting(counts: Iterable[MessageKind]) -> str:
    ordered = _ordered_kinds(counts)
    if len(ordered) == len(ALL_KINDS):
        return "every past contact counts, transactional and service included"
    return f"only past {_kinds(ordered, 'and')} contacts count"


def _window(rule: Cap) -> str:
    if rule.window is not None:
        return f"per {span(rule.window)}"
    assert rule.calendar is not None  # the model requires exactly one of the two
    return f"per {_CALENDAR[rule.calendar.value]} in the customer's time zone"


def _cap(rule: Cap) -> str:
    where = f"{_channels(rule.channels)}{_scenarios(rule.scenarios)}"
    if rule.limit == 0:
        return f"no {_messages(rule.kinds)} at all {where} (a limit of 0 blocks every send)."
    if rule.measure is Measure.WEIGHT:
        return (
            f"{_messages(rule.kinds)} only while the contacts' summed weight stays at most "
            f"{_number(rule.limit)} {_window(rule)} {where} ({_counting(rule.counts)})."
        )
    return (
        f"at most {_messages(rule.kinds, rule.limit)} {_window(rule)} {where} "
        f"({_counting(rule.counts)})."
    )


def _gap(rule: Gap) -> str:
    return (
        f"at least {span(rule.min_gap)} between two contacts "
        f"{_channels(rule.channels)}{_scenarios(rule.scenarios)}: holds back "
        f"{_messages(rule.kinds)} ({_counting(rule.counts)})."
    )


def _decay(rule: Decay, weights: str) -> str:
    return (
        f"decayed pressure {_channels(rule.channels)}{_scenarios(rule.scenarios)}: each "
        f"contact weighs its weight ({weights}), halving every {span(rule.half_life)}; "
        f"{_messages(rule.kinds)} go out only while that pressure plus their own weight stays "
        f"at most {_number(rule.threshold)} ({_counting(rule.counts)})."
    )


def _exclusion(rule: Exclusion) -> str:
    event = _EVENTS.get(rule.event, "an event")
    excepted = sorted(rule.except_scenarios)
    tail = ""
    if excepted:
        scenario = "scenario" if len(excepted) == 1 else "scenarios"
        tail = f", except the {', '.join(excepted)} {scenario}"
    return (
        f"no {_messages(rule.kinds)} {_channels(rule.channels)}{_scenarios(rule.scenarios)} "
        f"for {span(rule.window)} after {event} ({rule.event}){tail}."
    )


def _quiet(rule: QuietHours, default_zone: str) -> str:
    overnight = " (overnight)" if rule.end < rule.start else ""
    return (
        f"quiet hours {rule.start:%H:%M}-{rule.end:%H:%M}{overnight} in the customer's time "
        f"zone ({default_zone} when unknown): no {_messages(rule.kinds)} "
        f"{_channels(rule.channels)}{_scenarios(rule.scenarios)} in that time."
    )


def _scenario(name: str, scenario: ScenarioSettings, default_delay: timedelta) -> str:
    parts = [f"{scenario.kind.value}", f"priority {scenario.priority}"]
    if scenario.weight is not None:
        parts.append(f"weight {_number(scenario.weight)}")
    delay = scenario.max_delay or default_delay
    text = f"scenario {name} ({', '.join(parts)}): deferred at most {span(delay)}"
    if scenario.cap is not None:
        limit = scenario.cap.limit
        times = "time" if limit == 1 else "times"
        text += f"; at most {limit} {times} per {span(scenario.cap.window)} on any channel"
    if scenario.kind is not MessageKind.MARKETING:
        text += "; exempt from rules limited to marketing, but still counted"
    return text + "."


def _weights(weights: Mapping[Channel, float]) -> str:
    return ", ".join(f"{_CHANNEL_NAMES[c]} {_number(weights.get(c, 1.0))}" for c in Channel)


def describe_policy(
    pressure: PressureSettings, scenarios: Mapping[str, ScenarioSettings]
) -> list[PolicyLine]:
    """Every rule in words, then each scenario, then the general settings."""
    lines: list[PolicyLine] = []
    weights = _weights(pressure.weights)
    for cap in pressure.caps:
        lines.append(PolicyLine("cap", cap.name, f"{cap.name}: {_cap(cap)}"))
    for gap in pressure.gaps:
        lines.append(PolicyLine("gap", gap.name, f"{gap.name}: {_gap(gap)}"))
    if pressure.decay is not None:
        decay = pressure.decay
        lines.append(PolicyLine("decay", decay.name, f"{decay.name}: {_decay(decay, weights)}"))
    for exclusion in pressure.exclusions:
        text = f"{exclusion.name}: {_exclusion(exclusion)}"
        lines.append(PolicyLine("exclusion", exclusion.name, text))
    for quiet in pressure.quiet_hours:
        text = f"{quiet.name}: {_quiet(quiet, pressure.default_time_zone)}"
        lines.append(PolicyLine("quiet_hours", quiet.name, text))
    if not lines:
        lines.append(
            PolicyLine(
                "general",
                None,
                "No pressure rule is configured: nothing limits how often a customer is "
                "contacted (consent still applies).",
            )
        )
    for name, scenario in sorted(scenarios.items()):
        rule = f"scenario-cap:{name}" if scenario.cap is not None else None
        text = _scenario(name, scenario, pressure.default_max_delay)
        lines.append(PolicyLine("scenario", rule, text))
    general = [
        f"Contact weights: {weights} (1 for a channel not listed).",
        "Transactional and service messages are held back only by rules that name their "
        "kind, but they count towards every rule that counts them; each exemption is stated "
        "in the decision.",
        f"Customers whose time zone is unknown are treated as in {pressure.default_time_zone}.",
        f"A message that cannot go out at once waits at most {span(pressure.default_max_delay)} "
        "(unless its scenario says otherwise), then it is dropped.",
        f"A reservation not confirmed within {span(pressure.reservation_ttl)} stops counting; "
        f"the ledger keeps contacts for {span(pressure.retention)}.",
    ]
    lines += [PolicyLine("general", None, text) for text in general]
    return lines
