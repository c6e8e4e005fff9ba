"""The decision engine: pure functions from (policy, intent, history) to an explained decision.

No database here: the ledger loads one customer's contacts and events and asks ``decide``.
The same code serves ``hub pressure check``, reservations, simulations and batch plans, so a
decision can be replayed from its inputs.

Deferral: every violated time-based rule gives a lower bound on the next instant it could allow
(strictly later than the one tested); the engine re-evaluates at the latest bound until every
rule allows. Each bound is exact or an under-estimate, so the answer is the *first* instant at
which all rules allow, given what is known now.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from contracts import Channel, DecisionOutcome, MessageKind, RuleUsage
from hub.durations import format_duration
from hub.pressure.localtime import in_quiet_hours, next_quiet_end, period_bounds
from hub.pressure.policy import Policy, RuleSpec

__all__ = ["Decision", "Intent", "PastContact", "PastEvent", "decide"]

_MAX_STEPS = 10_000


@dataclass(frozen=True, slots=True)
class PastContact:
    """A contact in the ledger: sent, recorded from outside, or an active reservation."""

    at: datetime
    channel: Channel
    scenario: str
    kind: MessageKind
    weight: float
    pending: bool = False


@dataclass(frozen=True, slots=True)
class PastEvent:
    type: str
    at: datetime


@dataclass(frozen=True)
class Intent:
    channel: Channel
    scenario: str
    kind: MessageKind
    at: datetime
    weight: float
    priority: int
    zone: ZoneInfo


@dataclass(frozen=True)
class _Verdict:
    usage: RuleUsage
    #: When violated: a lower bound (> the tested instant) on the next instant the rule may
    #: allow, or None when waiting cannot help.
    retry_at: datetime | None = None


@dataclass(frozen=True)
class Decision:
    outcome: DecisionOutcome
    rule: str | None
    reason: str
    until: datetime | None
    consulted: list[RuleUsage] = field(default_factory=list)
    version: str = ""


def _counted(rule: RuleSpec, contact: PastContact) -> bool:
    return contact.kind in rule.counts and rule.in_scope(contact.channel, contact.scenario)


def _value(rule: RuleSpec, weight: float) -> float:
    return weight if rule.measure == "weight" else 1.0


def _rolling(rule: RuleSpec, intent: Intent, at: datetime, past: Sequence[PastContact]) -> _Verdict:
    window = rule.window
    assert window is not None
    counted = [c for c in past if _counted(rule, c) and at - window < c.at < at + window]
    ends = [at] + [c.at for c in counted if at < c.at]
    used = max(
        sum(_value(rule, c.weight) for c in counted if end - window < c.at <= end) for end in ends
    )
    new = _value(rule, intent.weight)
    ok = used + new <= rule.limit
    detail = f"{used:g} + {new:g} within {rule.describe_window()} (limit {rule.limit:g})"
    usage = RuleUsage(rule=rule.name, used=used, limit=rule.limit, ok=ok, detail=detail)
    if ok:
        return _Verdict(usage)
    leaving = [c.at + window for c in counted if c.at + window > at]
    return _Verdict(usage, min(leaving) if leaving and new <= rule.limit else None)


def _calendar(
    rule: RuleSpec, intent: Intent, at: datetime, past: Sequence[PastContact]
) -> _Verdict:
    assert rule.calendar is not None
    start, end = period_bounds(at, rule.calendar, intent.zone)
    used = sum(_value(rule, c.weight) for c in past if _counted(rule, c) and start <= c.at < end)
    new = _value(rule, intent.weight)
    ok = used + new <= rule.limit
    detail = f"{used:g} + {new:g} this {rule.calendar} (limit {rule.limit:g}, local time)"
    usage = RuleUsage(rule=rule.name, used=used, limit=rule.limit, ok=ok, detail=detail)
    return _Verdict(usage, None if ok or new > rule.limit else end)


def _gap(rule: RuleSpec, intent: Intent, at: datetime, past: Sequence[PastContact]) -> _Verdict:
    """``used`` is the number of contacts closer than the gap (the limit is 0)."""
    gap = rule.min_gap
    assert gap is not None
    hours = gap.total_seconds() / 3600
    conflicts = [c for c in past if _counted(rule, c) and abs(c.at - at) < gap]
    if not conflicts:
        before = [c.at for c in past if _counted(rule, c) and c.at <= at]
        since = (
            f"last contact {(at - max(before)).total_seconds() / 3600:.1f} h ago"
            if before
            else ("no contact in scope yet")
        )
        usage = RuleUsage(
            rule=rule.name, used=0, limit=0, ok=True, detail=f"{since}, minimum gap {hours:g} h"
        )
        return _Verdict(usage)
    nearest = min(abs(c.at - at) for c in conflicts).total_seconds() / 3600
    usage = RuleUsage(
        rule=rule.name,
        used=len(conflicts),
        limit=0,
        ok=False,
        detail=f"a contact {nearest:.1f} h away, minimum gap {hours:g} h",
    )
    return _Verdict(usage, min(c.at + gap for c in conflicts))


def _pressure(rule: RuleSpec, at: datetime, past: Sequence[PastContact]) -> float:
    half_life = rule.half_life
    assert half_life is not None
    return sum(
        c.weight * 2 ** (-(at - c.at) / half_life) for c in past if _counted(rule, c) and c.at <= at
    )


def _decay(rule: RuleSpec, intent: Intent, at: datetime, past: Sequence[PastContact]) -> _Verdict:
    half_life, threshold = rule.half_life, rule.limit
    assert half_life is not None
    now = _pressure(rule, at, past)
    ok = now + intent.weight <= threshold
    later = [c.at for c in past if _counted(rule, c) and c.at > at]
    for moment in later:  # the new contact must not push a known future contact over the top
        if not ok:
            break
        mine = intent.weight * 2 ** (-(moment - at) / half_life)
        ok = _pressure(rule, moment, past) + mine <= threshold
    detail = f"pressure {now:.2f} + weight {intent.weight:g} (threshold {threshold:g})"
    usage = RuleUsage(rule=rule.name, used=round(now, 4), limit=threshold, ok=ok, detail=detail)
    if ok:
        return _Verdict(usage)
    room = threshold - intent.weight
    if room <= 0:
        return _Verdict(usage, None)
    if now + intent.weight > threshold:
        wait = half_life * math.log2(now / room)
        return _Verdict(usage, at + max(wait, timedelta(microseconds=1)))
    return _Verdict(usage, min(m for m in later if m > at))


def _exclusion(
    rule: RuleSpec, intent: Intent, at: datetime, events: Sequence[PastEvent]
) -> _Verdict:
    window = rule.window
    assert window is not None
    if intent.scenario in rule.except_scenarios:
        usage = RuleUsage(
            rule=rule.name,
            used=0,
            limit=0,
            ok=True,
            detail=f"scenario {intent.scenario} is excepted",
        )
        return _Verdict(usage)
    hits = [e.at for e in events if e.type == rule.event and at - window <= e.at <= at]
    if not hits:
        usage = RuleUsage(
            rule=rule.name,
            used=0,
            limit=0,
            ok=True,
            detail=f"no {rule.event} in the last {rule.describe_window()}",
        )
        return _Verdict(usage)
    days = (at - max(hits)).total_seconds() / 86400
    usage = RuleUsage(
        rule=rule.name,
        used=len(hits),
        limit=0,
        ok=False,
        detail=f"{rule.event} {days:.1f} days ago excludes this scenario for "
        f"{rule.describe_window()}",
    )
    return _Verdict(usage, max(hits) + window + timedelta(microseconds=1))


def _quiet(rule: RuleSpec, intent: Intent, at: datetime) -> _Verdict:
    assert rule.start is not None
    assert rule.end is not None
    span = f"{rule.start:%H:%M}-{rule.end:%H:%M} {intent.zone.key}"
    if not in_quiet_hours(at, rule.start, rule.end, intent.zone):
        return _Verdict(
            RuleUsage(
                rule=rule.name, used=0, limit=0, ok=True, detail=f"outside quiet hours {span}"
            )
        )
    usage = RuleUsage(
        rule=rule.name, used=1, limit=0, ok=False, detail=f"inside quiet hours {span}"
    )
    return _Verdict(usage, next_quiet_end(at, rule.start, rule.end, intent.zone))


def _evaluate(
    policy: Policy,
    intent: Intent,
    at: datetime,
    past: Sequence[PastContact],
    events: Sequence[PastEvent],
) -> list[_Verdict]:
    verdicts = []
    for rule in policy.rules:
        if not rule.in_scope(intent.channel, intent.scenario):
            continue
        if intent.kind not in rule.kinds:
            usage = RuleUsage(
                rule=rule.name,
                used=0,
                limit=rule.limit,
                ok=True,
                detail=f"exempt: rule applies to {rule.kinds_text()} sends only",
            )
            verdicts.append(_Verdict(usage))
        elif rule.type == "cap":
            check = _rolling if rule.window is not None else _calendar
            verdicts.append(check(rule, intent, at, past))
        elif rule.type == "gap":
            verdicts.append(_gap(rule, intent, at, past))
        elif rule.type == "decay":
            verdicts.append(_decay(rule, intent, at, past))
        elif rule.type == "exclusion":
            verdicts.append(_exclusion(rule, intent, at, events))
        elif rule.type == "quiet":
            verdicts.append(_quiet(rule, intent, at))
    return verdicts


def _delay_text(max_delay: timedelta) -> str:
    """``format_duration`` only takes config durations (positive whole seconds); ``decide`` is
    also called with no room at all (``max_delay=0``: "may it go out exactly then?"), which
    must deny with a reason rather than raise."""
    if max_delay > timedelta(0) and not max_delay.microseconds:
        return format_duration(max_delay)
    return "none" if max_delay == timedelta(0) else str(max_delay)


def decide(
    policy: Policy,
    intent: Intent,
    past: Sequence[PastContact],
    events: Sequence[PastEvent],
    *,
    max_delay: timedelta,
) -> Decision:
    """Allowed, deferred to the first instant every rule allows, or denied, with reasons."""
    verdicts = _evaluate(policy, intent, intent.at, past, events)
    consulted = [v.usage for v in verdicts]
    failed = [v for v in verdicts if not v.usage.ok]
    if not failed:
        if not verdicts:
            reason = "no rule applies"
        elif all(v.usage.detail.startswith("exempt:") for v in verdicts):
            reason = f"{intent.kind.value} sends are exempt from every rule in scope"
        else:
            reason = "every rule allows it"
        return Decision(DecisionOutcome.ALLOWED, None, reason, None, consulted, policy.version)
    never = [v for v in failed if v.retry_at is None]
    if never:
        first = never[0].usage
        return Decision(
            DecisionOutcome.DENIED,
            first.rule,
            f"{first.rule}: {first.detail}; waiting cannot help",
            None,
            consulted,
            policy.version,
        )
    binding = max(failed, key=lambda v: v.retry_at)  # type: ignore[arg-type,return-value]
    candidate = binding.retry_at
    deadline = intent.at + max_delay
    for _ in range(_MAX_STEPS):
        assert candidate is not None
        if candidate > deadline:
            break
        later = [v for v in _evaluate(policy, intent, candidate, past, events) if not v.usage.ok]
        if not later:
            return Decision(
                DecisionOutcome.DEFERRED,
                binding.usage.rule,
                f"{binding.usage.rule}: {binding.usage.detail}",
                candidate,
                consulted,
                policy.version,
            )
        if any(v.retry_at is None for v in later):
            break
        candidate = max(v.retry_at for v in later)  # type: ignore[type-var]
    return Decision(
        DecisionOutcome.DENIED,
        binding.usage.rule,
        f"{binding.usage.rule}: {binding.usage.detail}; no instant within the maximum delay "
        f"of {_delay_text(max_delay)} satisfies every rule",
        None,
        consulted,
        policy.version,
    )
