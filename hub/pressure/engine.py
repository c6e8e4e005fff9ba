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
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
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


#: A rule checked at one instant: allowed?, the retry bound when not, and the explained usage
#: (only when asked for: the deferral loop reads just the first two).
_Check = tuple[bool, datetime | None, RuleUsage | None]


def _counted(rule: RuleSpec, past: Sequence[PastContact]) -> list[PastContact]:
    """The contacts the rule counts (kind and scope), in their original order."""
    counts, in_scope = rule.counts, rule.in_scope
    return [c for c in past if c.kind in counts and in_scope(c.channel, c.scenario)]


def _value(rule: RuleSpec, weight: float) -> float:
    return weight if rule.measure == "weight" else 1.0


def _rolling(
    rule: RuleSpec, intent: Intent, at: datetime, relevant: list[PastContact], explain: bool
) -> _Check:
    window = rule.window
    assert window is not None
    low, high = at - window, at + window
    counted = [c for c in relevant if low < c.at < high]
    ends = [at] + [c.at for c in counted if at < c.at]
    used = max(
        sum(_value(rule, c.weight) for c in counted if end - window < c.at <= end) for end in ends
    )
    new = _value(rule, intent.weight)
    ok = used + new <= rule.limit
    usage = None
    if explain:
        detail = f"{used:g} + {new:g} within {rule.describe_window()} (limit {rule.limit:g})"
        usage = RuleUsage(rule=rule.name, used=used, limit=rule.limit, ok=ok, detail=detail)
    if ok:
        return True, None, usage
    leaving = [c.at + window for c in counted if c.at + window > at]
    return False, min(leaving) if leaving and new <= rule.limit else None, usage


def _calendar(
    rule: RuleSpec, intent: Intent, at: datetime, relevant: list[PastContact], explain: bool
) -> _Check:
    assert rule.calendar is not None
    start, end = period_bounds(at, rule.calendar, intent.zone)
    used = sum(_value(rule, c.weight) for c in relevant if start <= c.at < end)
    new = _value(rule, intent.weight)
    ok = used + new <= rule.limit
    usage = None
    if explain:
        detail = f"{used:g} + {new:g} this {rule.calendar} (limit {rule.limit:g}, local time)"
        usage = RuleUsage(rule=rule.name, used=used, limit=rule.limit, ok=ok, detail=detail)
    return ok, None if ok or new > rule.limit else end, usage


def _gap(
    rule: RuleSpec, intent: Intent, at: datetime, relevant: list[PastContact], explain: bool
) -> _Check:
    """``used`` is the number of contacts closer than the gap (the limit is 0)."""
    gap = rule.min_gap
    assert gap is not None
    conflicts = [c for c in relevant if abs(c.at - at) < gap]
    if not explain:
        return (
            (False, min(c.at + gap for c in conflicts), None) if conflicts else (True, None, None)
        )
    hours = gap.total_seconds() / 3600
    if not conflicts:
        before = [c.at for c in relevant if c.at <= at]
        since = (
            f"last contact {(at - max(before)).total_seconds() / 3600:.1f} h ago"
            if before
            else ("no contact in scope yet")
        )
        usage = RuleUsage(
            rule=rule.name, used=0, limit=0, ok=True, detail=f"{since}, minimum gap {hours:g} h"
        )
        return True, None, usage
    nearest = min(abs(c.at - at) for c in conflicts).total_seconds() / 3600
    detail = f"a contact {nearest:.1f} h away, minimum gap {hours:g} h"
    usage = RuleUsage(rule=rule.name, used=len(conflicts), limit=0, ok=False, detail=detail)
    return False, min(c.at + gap for c in conflicts), usage


def _pressure(rule: RuleSpec, at: datetime, relevant: list[PastContact]) -> float:
    half_life = rule.half_life
    assert half_life is not None
    return sum(c.weight * 2 ** (-(at - c.at) / half_life) for c in relevant if c.at <= at)


def _decay(
    rule: RuleSpec, intent: Intent, at: datetime, relevant: list[PastContact], explain: bool
) -> _Check:
    half_life, threshold = rule.half_life, rule.limit
    assert half_life is not None
    now = _pressure(rule, at, relevant)
    ok = now + intent.weight <= threshold
    later = [c.at for c in relevant if c.at > at]
    for moment in later:  # the new contact must not push a known future contact over the top
        if not ok:
            break
        mine = intent.weight * 2 ** (-(moment - at) / half_life)
        ok = _pressure(rule, moment, relevant) + mine <= threshold
    usage = None
    if explain:
        detail = f"pressure {now:.2f} + weight {intent.weight:g} (threshold {threshold:g})"
        usage = RuleUsage(rule=rule.name, used=round(now, 4), limit=threshold, ok=ok, detail=detail)
    if ok:
        return True, None, usage
    room = threshold - intent.weight
    if room <= 0:
        return False, None, usage
    if now + intent.weight > threshold:
        wait = half_life * math.log2(now / room)
        return False, at + max(wait, timedelta(microseconds=1)), usage
    return False, min(m for m in later if m > at), usage


def _exclusion(
    rule: RuleSpec, intent: Intent, at: datetime, events: Sequence[PastEvent], explain: bool
) -> _Check:
    window = rule.window
    assert window is not None
    if intent.scenario in rule.except_scenarios:
        usage = None
        if explain:
            detail = f"scenario {intent.scenario} is excepted"
            usage = RuleUsage(rule=rule.name, used=0, limit=0, ok=True, detail=detail)
        return True, None, usage
    low = at - window
    hits = [e.at for e in events if e.type == rule.event and low <= e.at <= at]
    if not hits:
        usage = None
        if explain:
            detail = f"no {rule.event} in the last {rule.describe_window()}"
            usage = RuleUsage(rule=rule.name, used=0, limit=0, ok=True, detail=detail)
        return True, None, usage
    usage = None
    if explain:
        days = (at - max(hits)).total_seconds() / 86400
        usage = RuleUsage(
            rule=rule.name,
            used=len(hits),
            limit=0,
            ok=False,
            detail=f"{rule.event} {days:.1f} days ago excludes this scenario for "
            f"{rule.describe_window()}",
        )
    return False, max(hits) + window + timedelta(microseconds=1), usage


def _quiet(rule: RuleSpec, intent: Intent, at: datetime, _: object, explain: bool) -> _Check:
    assert rule.start is not None
    assert rule.end is not None
    inside = in_quiet_hours(at, rule.start, rule.end, intent.zone)
    usage = None
    if explain:
        span = f"{rule.hours_text()} {intent.zone.key}"
        text = f"inside quiet hours {span}" if inside else f"outside quiet hours {span}"
        usage = RuleUsage(rule=rule.name, used=int(inside), limit=0, ok=not inside, detail=text)
    if not inside:
        return True, None, usage
    return False, next_quiet_end(at, rule.start, rule.end, intent.zone), usage


def _exempt(rule: RuleSpec, intent: Intent, at: datetime, _: object, explain: bool) -> _Check:
    usage = None
    if explain:
        detail = f"exempt: rule applies to {rule.kinds_text()} sends only"
        usage = RuleUsage(rule=rule.name, used=0, limit=rule.limit, ok=True, detail=detail)
    return True, None, usage


_Checker = Callable[[RuleSpec, Intent, datetime, Any, bool], _Check]
_BY_TYPE: dict[str, _Checker] = {"gap": _gap, "decay": _decay}
_Key = tuple[frozenset[MessageKind], frozenset[Channel], frozenset[str]]


def _plan(policy: Policy, intent: Intent) -> list[tuple[RuleSpec, _Checker, Any]]:
    """Each rule in scope with its check and what it reads (``None``: nothing, ``"events"``,
    or the key of the contacts it counts). It depends only on the rules and on the send's
    channel, scenario and kind, so it is worked out once per policy, not on every decision."""
    key = ("engine-plan", intent.channel, intent.scenario, intent.kind)
    found: list[tuple[RuleSpec, _Checker, Any]] | None = policy.memo.get(key)
    if found is not None:
        return found
    plan: list[tuple[RuleSpec, _Checker, Any]] = []
    for rule in policy.applicable(intent.channel, intent.scenario):
        if intent.kind not in rule.kinds:
            plan.append((rule, _exempt, None))
        elif rule.type == "exclusion":
            plan.append((rule, _exclusion, "events"))
        elif rule.type == "quiet":
            plan.append((rule, _quiet, None))
        elif rule.type in ("cap", "gap", "decay"):
            if rule.type == "cap":
                check = _rolling if rule.window is not None else _calendar
            else:
                check = _BY_TYPE[rule.type]
            plan.append((rule, check, (rule.counts, rule.channels, rule.scenarios)))
    if len(policy.memo) < 4096:  # scenarios are declared: this stays small
        policy.memo[key] = plan
    return plan


def _checks(
    policy: Policy, intent: Intent, past: Sequence[PastContact], events: Sequence[PastEvent]
) -> list[tuple[RuleSpec, _Checker, Any]]:
    """Each rule in scope with its check and its data (counted contacts, filtered once)."""
    checks: list[tuple[RuleSpec, _Checker, Any]] = []
    counted: dict[_Key, list[PastContact]] = {}
    for rule, check, reads in _plan(policy, intent):
        data: Any = events if reads == "events" else None
        if reads is not None and data is None:
            data = counted.get(reads)
            if data is None:
                data = counted[reads] = _counted(rule, past)
        checks.append((rule, check, data))
    return checks


def _delay_text(max_delay: timedelta) -> str:
    """``format_duration`` takes positive whole seconds; ``decide`` may get ``max_delay=0``."""
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
    checks = _checks(policy, intent, past, events)
    verdicts = []
    for rule, check, data in checks:
        _, retry_at, usage = check(rule, intent, intent.at, data, True)
        assert usage is not None
        verdicts.append(_Verdict(usage, retry_at))
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
    # Exempt rules and excepted scenarios allow at every instant: no need to ask again.
    loop = [
        (rule, check, data)
        for rule, check, data in checks
        if check is not _exempt
        and not (check is _exclusion and intent.scenario in rule.except_scenarios)
    ]
    for _ in range(_MAX_STEPS):
        assert candidate is not None
        if candidate > deadline:
            break
        latest: datetime | None = None
        for rule, check, data in loop:
            ok, retry_at, _ = check(rule, intent, candidate, data, False)
            if ok:
                continue
            if retry_at is None:  # waiting cannot help
                break
            if latest is None or retry_at > latest:
                latest = retry_at
        else:
            if latest is not None:
                candidate = latest
                continue
            return Decision(
                DecisionOutcome.DEFERRED,
                binding.usage.rule,
                f"{binding.usage.rule}: {binding.usage.detail}",
                candidate,
                consulted,
                policy.version,
            )
        break
    return Decision(
        DecisionOutcome.DENIED,
        binding.usage.rule,
        f"{binding.usage.rule}: {binding.usage.detail}; no instant within the maximum delay "
        f"of {_delay_text(max_delay)} satisfies every rule",
        None,
        consulted,
        policy.version,
    )
