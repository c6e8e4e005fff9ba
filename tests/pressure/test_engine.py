"""Golden tests for the pressure engine (pure ``decide``) and for reservations in the ledger.

Every expectation is written out by hand: the outcome, the rule, the exact ``until`` instant
(in UTC, with the local reading it stands for) and the usage each consulted rule reports.
Dates are chosen around the 2026 DST changes: Europe/Paris springs forward on 2026-03-29 at
01:00 UTC (02:00 CET -> 03:00 CEST) and falls back on 2026-10-25 at 01:00 UTC (03:00 CEST ->
02:00 CET); America/New_York on 2026-03-08 at 07:00 UTC and 2026-11-01 at 06:00 UTC.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select, update

from contracts import Channel, DecisionOutcome, MessageKind, RuleUsage
from hub.pressure.decisions import all_decisions
from hub.pressure.engine import Decision, Intent, PastContact, PastEvent, decide
from hub.pressure.ledger import LedgerError
from hub.pressure.policy import Policy
from hub.pressure.rules import (
    Cap,
    Decay,
    Exclusion,
    Gap,
    PressureSettings,
    QuietHours,
    ScenarioCap,
    ScenarioSettings,
)
from hub.storage.models import LedgerEntry, RuleSet
from tests.pressure.conftest import PressureHub

PARIS = ZoneInfo("Europe/Paris")
NEW_YORK = ZoneInfo("America/New_York")
EMAIL, SMS = Channel.EMAIL, Channel.SMS
MARKETING, TRANSACTIONAL = MessageKind.MARKETING, MessageKind.TRANSACTIONAL
ALLOWED, DEFERRED, DENIED = (
    DecisionOutcome.ALLOWED,
    DecisionOutcome.DEFERRED,
    DecisionOutcome.DENIED,
)
MICRO = timedelta(microseconds=1)
HOUR, DAY = timedelta(hours=1), timedelta(days=1)

#: A weekday, midday in Paris and morning in New York, far from any DST change.
NOON = datetime(2026, 6, 17, 10, tzinfo=UTC)


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


def local(zone: ZoneInfo, *parts: int, fold: int = 0) -> datetime:
    """The UTC instant of a local wall-clock reading."""
    return datetime(*parts, tzinfo=zone, fold=fold).astimezone(UTC)  # type: ignore[misc]


def scenarios() -> dict[str, ScenarioSettings]:
    return {
        "promo": ScenarioSettings(priority=10, max_delay=timedelta(days=120)),
        "welcome": ScenarioSettings(priority=60),
        "flash": ScenarioSettings(priority=20, max_delay=DAY),
        "order_confirmation": ScenarioSettings(kind=TRANSACTIONAL, priority=100),
        "cart_reminder": ScenarioSettings(
            priority=90,
            cap=ScenarioCap(limit=1, window=timedelta(days=7)),
            max_delay=timedelta(days=10),
        ),
    }


def make_policy(**pressure: Any) -> Policy:
    return Policy(PressureSettings(**pressure), scenarios())


def intent(
    policy: Policy,
    at: datetime,
    scenario: str = "promo",
    *,
    channel: Channel = EMAIL,
    zone: ZoneInfo = PARIS,
) -> Intent:
    settings = policy.scenario(scenario)
    return Intent(
        channel=channel,
        scenario=scenario,
        kind=settings.kind,
        at=at,
        weight=policy.weight(channel, scenario),
        priority=settings.priority,
        zone=zone,
    )


def contact(
    at: datetime,
    scenario: str = "promo",
    *,
    channel: Channel = EMAIL,
    kind: MessageKind = MARKETING,
    weight: float = 1.0,
    pending: bool = False,
) -> PastContact:
    return PastContact(at, channel, scenario, kind, weight, pending)


def run(
    policy: Policy,
    at: datetime,
    scenario: str = "promo",
    past: Sequence[PastContact] = (),
    events: Sequence[PastEvent] = (),
    *,
    channel: Channel = EMAIL,
    zone: ZoneInfo = PARIS,
) -> Decision:
    wish = intent(policy, at, scenario, channel=channel, zone=zone)
    return decide(policy, wish, past, events, max_delay=policy.max_delay(scenario))


def usage(decision: Decision, rule: str) -> RuleUsage:
    [found] = [u for u in decision.consulted if u.rule == rule]
    return found


def assert_deferred(
    policy: Policy,
    at: datetime,
    until: datetime,
    rule: str,
    scenario: str = "promo",
    past: Sequence[PastContact] = (),
    events: Sequence[PastEvent] = (),
    *,
    channel: Channel = EMAIL,
    zone: ZoneInfo = PARIS,
) -> Decision:
    """Deferred to exactly ``until``: allowed there, not a microsecond earlier."""
    decision = run(policy, at, scenario, past, events, channel=channel, zone=zone)
    assert (decision.outcome, decision.rule, decision.until) == (DEFERRED, rule, until)
    before = run(policy, until - MICRO, scenario, past, events, channel=channel, zone=zone)
    assert before.outcome is not ALLOWED
    assert run(policy, until, scenario, past, events, channel=channel, zone=zone).outcome is ALLOWED
    return decision


# -- rolling and calendar windows across DST ----------------------------------------------------

DAILY = Cap(name="daily", limit=1, calendar="day")
ROLLING = Cap(name="rolling-24h", limit=1, window="24h")


def test_calendar_day_is_23_hours_on_spring_forward_and_resets_at_local_midnight() -> None:
    policy = make_policy(caps=[DAILY])
    first = local(PARIS, 2026, 3, 29, 0, 0)
    assert first == utc(2026, 3, 28, 23)
    past = [contact(first)]
    midnight = utc(2026, 3, 29, 22)  # 2026-03-30 00:00 CEST
    decision = assert_deferred(
        policy, local(PARIS, 2026, 3, 29, 23, 30), midnight, "daily", past=past
    )
    assert midnight - first == timedelta(hours=23)
    assert decision.consulted == [
        RuleUsage(
            rule="daily", used=1, limit=1, ok=False, detail="1 + 1 this day (limit 1, local time)"
        )
    ]
    assert "daily: 1 + 1 this day" in decision.reason


def test_calendar_day_is_25_hours_on_fall_back_while_rolling_24h_is_absolute() -> None:
    first = local(PARIS, 2026, 10, 25, 0, 0)
    assert first == utc(2026, 10, 24, 22)
    past = [contact(first)]
    at = local(PARIS, 2026, 10, 25, 23, 30)  # 24 h 30 min after the first contact
    midnight = utc(2026, 10, 25, 23)  # 2026-10-26 00:00 CET
    assert_deferred(make_policy(caps=[DAILY]), at, midnight, "daily", past=past)
    assert midnight - first == timedelta(hours=25)

    rolling = run(make_policy(caps=[ROLLING]), at, past=past)
    assert rolling.outcome is ALLOWED
    assert rolling.consulted == [
        RuleUsage(
            rule="rolling-24h", used=0, limit=1, ok=True, detail="0 + 1 within rolling 1d (limit 1)"
        )
    ]


@pytest.mark.parametrize(
    ("first", "at", "until", "reads"),
    [
        # Spring forward: 24 h after 01:30 CET the clock reads 02:30 CEST.
        (utc(2026, 3, 29, 0, 30), utc(2026, 3, 29, 12), utc(2026, 3, 30, 0, 30), time(2, 30)),
        # Fall back: 24 h after 02:30 CEST (first pass) the clock reads 01:30 CET.
        (utc(2026, 10, 25, 0, 30), utc(2026, 10, 25, 12), utc(2026, 10, 26, 0, 30), time(1, 30)),
    ],
)
def test_rolling_window_counts_absolute_hours_across_dst(
    first: datetime, at: datetime, until: datetime, reads: time
) -> None:
    policy = make_policy(caps=[ROLLING])
    decision = assert_deferred(policy, at, until, "rolling-24h", past=[contact(first)])
    assert until.astimezone(PARIS).time() == reads
    assert usage(decision, "rolling-24h") == RuleUsage(
        rule="rolling-24h", used=1, limit=1, ok=False, detail="1 + 1 within rolling 1d (limit 1)"
    )


def test_calendar_day_resets_at_the_customers_own_midnight() -> None:
    policy = make_policy(caps=[DAILY])
    past = [contact(utc(2026, 6, 15, 21))]  # 23:00 in Paris, 17:00 in New York
    at = utc(2026, 6, 15, 22, 30)  # 00:30 the next day in Paris, 18:30 in New York
    paris = run(policy, at, past=past, zone=PARIS)
    assert paris.outcome is ALLOWED
    assert usage(paris, "daily").used == 0
    assert_deferred(policy, at, utc(2026, 6, 16, 4), "daily", past=past, zone=NEW_YORK)


def test_calendar_week_starts_on_monday_local_time() -> None:
    policy = make_policy(caps=[Cap(name="weekly", limit=2, calendar="week")])
    monday = local(PARIS, 2026, 3, 23, 0, 0)  # Monday 00:00 CET
    past = [
        contact(monday - MICRO),  # Sunday night: the week before
        contact(monday),
        contact(utc(2026, 3, 25, 12)),
    ]
    next_monday = utc(2026, 3, 29, 22)  # Monday 2026-03-30 00:00 CEST
    decision = assert_deferred(
        policy, local(PARIS, 2026, 3, 29, 23, 30), next_monday, "weekly", past=past
    )
    assert next_monday - monday == timedelta(hours=167)  # the week lost an hour
    assert usage(decision, "weekly").used == 2
    assert run(policy, monday - MICRO, past=past).outcome is ALLOWED  # 1 + 1 in the week before


def test_calendar_month_in_weight_and_in_count() -> None:
    weights = {SMS: 2.0}
    past = [
        contact(utc(2026, 2, 28, 22, 30)),  # 28 February 23:30 CET: February
        contact(utc(2026, 2, 28, 23, 30)),  # 1 March 00:30 CET: March
        contact(utc(2026, 3, 5, 12), channel=SMS, weight=2.0),
    ]
    at = local(PARIS, 2026, 3, 31, 23, 30)
    april = utc(2026, 3, 31, 22)  # 1 April 00:00 CEST

    by_weight = make_policy(
        weights=weights, caps=[Cap(name="m", limit=3, calendar="month", measure="weight")]
    )
    decision = assert_deferred(by_weight, at, april, "m", past=past, channel=SMS)
    assert decision.consulted == [
        RuleUsage(
            rule="m", used=3, limit=3, ok=False, detail="3 + 2 this month (limit 3, local time)"
        )
    ]
    assert run(by_weight, utc(2026, 2, 28, 23), past=past[:1], channel=SMS).outcome is ALLOWED

    by_count = make_policy(weights=weights, caps=[Cap(name="m", limit=3, calendar="month")])
    decision = run(by_count, at, past=past, channel=SMS)
    assert decision.outcome is ALLOWED
    assert decision.consulted == [
        RuleUsage(
            rule="m", used=2, limit=3, ok=True, detail="2 + 1 this month (limit 3, local time)"
        )
    ]


def test_a_send_heavier_than_the_cap_is_denied_not_deferred() -> None:
    policy = make_policy(
        weights={SMS: 4.0}, caps=[Cap(name="m", limit=3, calendar="month", measure="weight")]
    )
    decision = run(policy, NOON, channel=SMS)
    assert (decision.outcome, decision.rule, decision.until) == (DENIED, "m", None)
    assert decision.reason == "m: 0 + 4 this month (limit 3, local time); waiting cannot help"
    blocked = run(make_policy(caps=[Cap(name="none", limit=0, window="7d")]), NOON)
    assert (blocked.outcome, blocked.rule) == (DENIED, "none")


# -- minimum gap ----------------------------------------------------------------------------------

GAP = Gap(name="min-gap", min_gap="48h")


def test_min_gap_after_a_past_contact() -> None:
    policy = make_policy(gaps=[GAP])
    decision = assert_deferred(
        policy, NOON, NOON + 38 * HOUR, "min-gap", past=[contact(NOON - 10 * HOUR)]
    )
    assert decision.consulted == [
        RuleUsage(
            rule="min-gap",
            used=1,
            limit=0,
            ok=False,
            detail="a contact 10.0 h away, minimum gap 48 h",
        )
    ]
    exact = run(policy, NOON, past=[contact(NOON - 48 * HOUR)])
    assert exact.outcome is ALLOWED
    assert usage(exact, "min-gap").detail == "last contact 48.0 h ago, minimum gap 48 h"


def test_min_gap_around_future_contacts() -> None:
    policy = make_policy(gaps=[GAP])
    pending = contact(NOON + 20 * HOUR, pending=True)
    # 38 h after the past contact is only 18 h after the pending one: wait 48 h after it.
    decision = assert_deferred(
        policy, NOON, NOON + 68 * HOUR, "min-gap", past=[contact(NOON - 10 * HOUR), pending]
    )
    assert usage(decision, "min-gap").used == 2
    assert_deferred(policy, NOON, NOON + 78 * HOUR, "min-gap", past=[contact(NOON + 30 * HOUR)])
    assert run(policy, NOON, past=[contact(NOON + 48 * HOUR)]).outcome is ALLOWED


# -- decayed pressure -----------------------------------------------------------------------------


def test_decayed_pressure_defers_to_the_exact_instant() -> None:
    policy = make_policy(decay=Decay(half_life="24h", threshold=2.0))
    past = [contact(NOON - 24 * HOUR), contact(NOON - 12 * HOUR)]
    pressure = 0.5 + 2**-0.5
    decision = run(policy, NOON, past=past)
    assert (decision.outcome, decision.rule) == (DEFERRED, "decayed-pressure")
    assert decision.consulted == [
        RuleUsage(
            rule="decayed-pressure",
            used=round(pressure, 4),
            limit=2,
            ok=False,
            detail="pressure 1.21 + weight 1 (threshold 2)",
        )
    ]
    expected = NOON + timedelta(hours=24) * math.log2(pressure / (2.0 - 1.0))
    assert decision.until is not None
    assert abs(decision.until - expected) <= 2 * MICRO
    assert run(policy, decision.until, past=past).outcome is ALLOWED
    assert run(policy, decision.until - timedelta(milliseconds=1), past=past).outcome is DEFERRED


def test_decayed_pressure_protects_a_known_future_contact() -> None:
    policy = make_policy(decay=Decay(half_life="24h", threshold=1.5))
    # Alone now, but a send now would weigh 0.97 when the pending one goes out in 1 h. After it,
    # its pressure (1) must halve to 0.5 for 0.5 + 1 <= 1.5: 24 h later.
    past = [contact(NOON + HOUR, pending=True)]
    decision = assert_deferred(policy, NOON, NOON + 25 * HOUR, "decayed-pressure", past=past)
    assert usage(decision, "decayed-pressure").used == 0


def test_decayed_pressure_never_allows_a_weight_above_the_threshold() -> None:
    policy = Policy(
        PressureSettings(decay=Decay(half_life="24h", threshold=2.0)),
        {"promo": ScenarioSettings(weight=3.0)},
    )
    decision = run(policy, NOON)
    assert (decision.outcome, decision.rule, decision.until) == (DENIED, "decayed-pressure", None)
    assert decision.reason.endswith("waiting cannot help")


# -- exclusions ---------------------------------------------------------------------------------

EXCLUSION = Exclusion(
    name="recent-order", event="order.placed", window="90d", except_scenarios=["welcome"]
)


def test_exclusion_from_an_order_with_an_excepted_scenario() -> None:
    policy = make_policy(exclusions=[EXCLUSION])
    order = NOON - timedelta(days=30)
    events = [PastEvent("order.placed", order), PastEvent("cart.abandoned", NOON)]
    decision = assert_deferred(
        policy, NOON, order + timedelta(days=90) + MICRO, "recent-order", events=events
    )
    assert decision.consulted == [
        RuleUsage(
            rule="recent-order",
            used=1,
            limit=0,
            ok=False,
            detail="order.placed 30.0 days ago excludes this scenario for rolling 90d",
        )
    ]
    welcome = run(policy, NOON, "welcome", events=events)
    assert welcome.outcome is ALLOWED
    assert usage(welcome, "recent-order").detail == "scenario welcome is excepted"
    flash = run(policy, NOON, "flash", events=events)
    assert (flash.outcome, flash.rule, flash.until) == (DENIED, "recent-order", None)
    assert "no instant within the maximum delay of 1d" in flash.reason


def test_exclusion_window_edges() -> None:
    policy = make_policy(exclusions=[EXCLUSION])
    window = timedelta(days=90)
    old = [PastEvent("order.placed", NOON - window - MICRO)]
    assert run(policy, NOON, events=old).outcome is ALLOWED
    assert_deferred(
        policy,
        NOON,
        NOON + MICRO,
        "recent-order",
        events=[PastEvent("order.placed", NOON - window)],
    )
    other = run(policy, NOON, events=[PastEvent("cart.abandoned", NOON)])
    assert usage(other, "recent-order").detail == "no order.placed in the last rolling 90d"


# -- quiet hours ----------------------------------------------------------------------------------

NIGHT = QuietHours(start=time(21), end=time(8))


@pytest.mark.parametrize(
    ("zone", "at", "until"),
    [
        (PARIS, utc(2026, 6, 15, 20, 30), utc(2026, 6, 16, 6)),  # 22:30 CEST -> 08:00 CEST
        (PARIS, utc(2026, 6, 15, 19), utc(2026, 6, 16, 6)),  # exactly 21:00: quiet
        (PARIS, utc(2026, 6, 16, 2), utc(2026, 6, 16, 6)),  # 04:00, after midnight
        (NEW_YORK, utc(2026, 6, 16, 2), utc(2026, 6, 16, 12)),  # 22:00 EDT -> 08:00 EDT
        # Quiet hours ending after a DST change: nine or ten real hours of night.
        (PARIS, utc(2026, 3, 28, 21), utc(2026, 3, 29, 6)),  # 22:00 CET -> 08:00 CEST
        (PARIS, utc(2026, 10, 24, 21), utc(2026, 10, 25, 7)),  # 23:00 CEST -> 08:00 CET
        (NEW_YORK, utc(2026, 3, 8, 4), utc(2026, 3, 8, 12)),  # 23:00 EST -> 08:00 EDT
        (NEW_YORK, utc(2026, 11, 1, 3), utc(2026, 11, 1, 13)),  # 23:00 EDT -> 08:00 EST
    ],
)
def test_overnight_quiet_hours_in_two_time_zones(
    zone: ZoneInfo, at: datetime, until: datetime
) -> None:
    policy = make_policy(quiet_hours=[NIGHT])
    decision = assert_deferred(policy, at, until, "quiet-hours", zone=zone)
    assert until.astimezone(zone).time() == time(8)
    assert decision.consulted == [
        RuleUsage(
            rule="quiet-hours",
            used=1,
            limit=0,
            ok=False,
            detail=f"inside quiet hours 21:00-08:00 {zone.key}",
        )
    ]


def test_the_same_instant_is_quiet_in_paris_and_not_in_new_york() -> None:
    policy = make_policy(quiet_hours=[NIGHT])
    at = utc(2026, 6, 15, 20, 30)  # 22:30 in Paris, 16:30 in New York
    assert run(policy, at, zone=PARIS).outcome is DEFERRED
    decision = run(policy, at, zone=NEW_YORK)
    assert decision.outcome is ALLOWED
    assert decision.consulted == [
        RuleUsage(
            rule="quiet-hours",
            used=0,
            limit=0,
            ok=True,
            detail="outside quiet hours 21:00-08:00 America/New_York",
        )
    ]
    assert run(policy, utc(2026, 6, 16, 6), zone=PARIS).outcome is ALLOWED  # 08:00 sharp


@pytest.mark.parametrize(
    ("zone", "start", "end", "at", "until"),
    [
        # 02:10 CET, after the clocks went back: the window ends at the second 02:30 that night
        # (engine bug: it used to answer 02:30 the next night).
        (PARIS, time(1), time(2, 30), utc(2026, 10, 25, 1, 10), utc(2026, 10, 25, 1, 30)),
        # 02:45 CEST: at 03:00 CEST the clock goes back to 02:00, outside 02:30-05:00
        # (engine bug: it used to answer 05:00 CET).
        (PARIS, time(2, 30), time(5), utc(2026, 10, 25, 0, 45), utc(2026, 10, 25, 1)),
        # 02:30 never shows on spring-forward night: the window ends when the clock jumps.
        (PARIS, time(22), time(2, 30), utc(2026, 3, 28, 22), utc(2026, 3, 29, 1)),
        # New York falls back at 02:00 EDT -> 01:00 EST: 01:15 EST ends at 01:30 EST.
        (NEW_YORK, time(0, 30), time(1, 30), utc(2026, 11, 1, 6, 15), utc(2026, 11, 1, 6, 30)),
    ],
)
def test_quiet_hours_end_at_the_first_instant_the_wall_clock_leaves_them(
    zone: ZoneInfo, start: time, end: time, at: datetime, until: datetime
) -> None:
    policy = make_policy(quiet_hours=[QuietHours(name="q", start=start, end=end)])
    assert_deferred(policy, at, until, "q", zone=zone)


# -- kinds ----------------------------------------------------------------------------------------


def test_transactional_sends_are_exempt_but_still_count() -> None:
    policy = make_policy(caps=[ROLLING], quiet_hours=[NIGHT])
    receipt = contact(NOON - HOUR, "order_confirmation", kind=TRANSACTIONAL)
    decision = assert_deferred(policy, NOON, NOON + 23 * HOUR, "rolling-24h", past=[receipt])
    assert usage(decision, "rolling-24h").used == 1

    night = utc(2026, 6, 17, 20)  # 22:00 in Paris, an hour after a promotion
    confirmation = run(policy, night, "order_confirmation", past=[contact(night - HOUR)])
    exempt = "exempt: rule applies to marketing sends only"
    assert confirmation.outcome is ALLOWED
    assert confirmation.reason == "transactional sends are exempt from every rule in scope"
    assert confirmation.consulted == [
        RuleUsage(rule="rolling-24h", used=0, limit=1, ok=True, detail=exempt),
        RuleUsage(rule="quiet-hours", used=0, limit=0, ok=True, detail=exempt),
    ]


def test_counts_and_kinds_select_what_a_rule_counts_and_constrains() -> None:
    marketing_only = Cap(name="mk", limit=1, window="24h", counts=["marketing"])
    receipt = contact(NOON - HOUR, "order_confirmation", kind=TRANSACTIONAL)
    assert run(make_policy(caps=[marketing_only]), NOON, past=[receipt]).outcome is ALLOWED

    everything = Cap(name="all", limit=1, window="24h", kinds=["marketing", "transactional"])
    decision = run(
        make_policy(caps=[everything]), NOON, "order_confirmation", past=[contact(NOON - HOUR)]
    )
    assert (decision.outcome, decision.rule) == (DEFERRED, "all")


# -- scopes ---------------------------------------------------------------------------------------


def test_per_scenario_cap() -> None:
    policy = make_policy()
    past = [contact(NOON - 2 * DAY, "cart_reminder")]
    decision = assert_deferred(
        policy, NOON, NOON + 5 * DAY, "scenario-cap:cart_reminder", "cart_reminder", past
    )
    assert decision.consulted == [
        RuleUsage(
            rule="scenario-cap:cart_reminder",
            used=1,
            limit=1,
            ok=False,
            detail="1 + 1 within rolling 1w (limit 1)",
        )
    ]
    other = run(policy, NOON, "cart_reminder", [contact(NOON - 2 * DAY, "promo")])
    assert (other.outcome, usage(other, "scenario-cap:cart_reminder").used) == (ALLOWED, 0)
    promo = run(policy, NOON, "promo", past)
    assert (promo.outcome, promo.consulted, promo.reason) == (ALLOWED, [], "no rule applies")


def test_scope_by_channel() -> None:
    policy = make_policy(caps=[Cap(name="sms-daily", channels=["sms"], limit=1, window="24h")])
    sms_before = [contact(NOON - HOUR, channel=SMS)]
    email = run(policy, NOON, past=sms_before, channel=EMAIL)
    assert (email.outcome, email.consulted) == (ALLOWED, [])
    assert_deferred(policy, NOON, NOON + 23 * HOUR, "sms-daily", past=sms_before, channel=SMS)
    sms = run(policy, NOON, past=[contact(NOON - HOUR, channel=EMAIL)], channel=SMS)
    assert (sms.outcome, usage(sms, "sms-daily").used) == (ALLOWED, 0)


# -- deferral, denial, versions -------------------------------------------------------------------


def test_deferral_combines_rules_gap_then_quiet_hours() -> None:
    policy = make_policy(gaps=[GAP], quiet_hours=[NIGHT])
    past = [contact(utc(2026, 6, 13, 20))]  # 22:00 CEST
    # The gap ends at 22:00 CEST on the 15th, inside quiet hours: 08:00 CEST on the 16th.
    decision = assert_deferred(
        policy, utc(2026, 6, 14, 10), utc(2026, 6, 16, 6), "min-gap", past=past
    )
    assert [(u.rule, u.used, u.ok) for u in decision.consulted] == [
        ("min-gap", 1, False),
        ("quiet-hours", 0, True),
    ]


def test_denied_when_no_instant_fits_within_the_maximum_delay() -> None:
    policy = make_policy(gaps=[GAP])
    decision = run(policy, NOON, "flash", [contact(NOON - HOUR)])
    assert (decision.outcome, decision.rule, decision.until) == (DENIED, "min-gap", None)
    assert decision.reason == (
        "min-gap: a contact 1.0 h away, minimum gap 48 h; no instant within the maximum delay "
        "of 1d satisfies every rule"
    )
    assert usage(decision, "min-gap").ok is False
    # The maximum delay itself is still within reach.
    assert_deferred(policy, NOON, NOON + DAY, "min-gap", "flash", [contact(NOON - DAY)])


def test_the_version_changes_exactly_when_the_rules_do() -> None:
    one, same = make_policy(caps=[ROLLING]), make_policy(caps=[ROLLING])
    other = make_policy(caps=[Cap(name="rolling-24h", limit=2, window="24h")])
    assert one.version == same.version
    assert one.version != other.version
    assert len(one.version) == 12
    assert run(one, NOON).version == one.version
    assert run(other, NOON).version == other.version


# -- through the ledger: priority, idempotency, state, expiry -------------------------------------

LEDGER_TOML = """
[pressure]
reservation_ttl = "10m"

[[pressure.caps]]
name = "email-weekly"
channels = ["email"]
limit = {limit}
window = "7d"

[scenarios.cart_reminder]
priority = 90

[scenarios.promo]
priority = 10
"""

HubFactory = Callable[[str], PressureHub]


def test_a_held_high_priority_reservation_keeps_the_last_slot(pressure_hub: HubFactory) -> None:
    hub = pressure_hub(LEDGER_TOML.format(limit=2))
    customer = hub.customer("slot@example.com", "Europe/Paris")
    hub.ledger.record(customer, EMAIL, "promo", at=datetime.now(UTC) - HOUR)

    cart = hub.ledger.reserve(customer, EMAIL, "cart_reminder")
    assert cart.decision.outcome is ALLOWED
    assert cart.reservation_id is not None

    promo = hub.ledger.reserve(customer, EMAIL, "promo")
    assert (promo.decision.outcome, promo.decision.rule) == (DENIED, "email-weekly")
    assert usage(promo.decision, "email-weekly").used == 2
    assert promo.reservation_id is None

    assert hub.ledger.release(cart.reservation_id) == "released"
    again = hub.ledger.reserve(customer, EMAIL, "promo")
    assert again.decision.outcome is ALLOWED
    assert usage(again.decision, "email-weekly").used == 1


def test_the_same_idempotency_key_replays_the_decision(pressure_hub: HubFactory) -> None:
    hub = pressure_hub(LEDGER_TOML.format(limit=2))
    customer = hub.customer("replay@example.com")
    first = hub.ledger.reserve(customer, EMAIL, "promo", idempotency_key="send-1")
    second = hub.ledger.reserve(customer, EMAIL, "promo", idempotency_key="send-1")
    assert (first.replayed, second.replayed) == (False, True)
    assert second.reservation_id == first.reservation_id
    assert second.decision == first.decision
    assert first.decision.version == hub.ledger.policy.version

    # The replay held no second slot: one more send fits, the one after does not.
    assert (
        hub.ledger.reserve(customer, EMAIL, "promo", idempotency_key="send-2").decision.outcome
        is ALLOWED
    )
    denied = hub.ledger.reserve(customer, EMAIL, "promo", idempotency_key="send-3")
    assert (denied.decision.outcome, denied.reservation_id) == (DENIED, None)
    replayed = hub.ledger.reserve(customer, EMAIL, "promo", idempotency_key="send-3")
    assert (replayed.replayed, replayed.decision) == (True, denied.decision)

    with hub.runtime.engine.connect() as connection:
        rows = connection.execute(select(func.count()).select_from(LedgerEntry)).scalar_one()
        everything = all_decisions().subquery()
        decisions = connection.execute(select(everything.c.rule_set_version)).scalars().all()
        versions = connection.execute(select(RuleSet.version)).scalars().all()
    assert rows == 2
    assert decisions == [hub.ledger.policy.version] * 3
    assert versions == [hub.ledger.policy.version]


def test_a_granted_decision_keeps_its_send_time_when_the_commit_moves_it(
    pressure_hub: HubFactory,
) -> None:
    """Granted decisions live in their ledger row: a commit at another time moves the contact,
    not the decision, which still replays and lists exactly as it was made."""
    hub = pressure_hub(LEDGER_TOML.format(limit=5))
    customer = hub.customer("moved@example.com")
    asked = datetime(2030, 1, 15, 9, 0, tzinfo=UTC)
    first = hub.ledger.reserve(customer, EMAIL, "promo", at=asked, idempotency_key="moved-1")
    assert first.reservation_id is not None
    sent = asked + timedelta(hours=2)
    assert hub.ledger.commit(first.reservation_id, sent_at=sent) == "sent"
    assert hub.ledger.commit(first.reservation_id, sent_at=sent + timedelta(hours=1)) == "sent"
    replayed = hub.ledger.reserve(customer, EMAIL, "promo", idempotency_key="moved-1")
    assert (replayed.replayed, replayed.reservation_id) == (True, first.reservation_id)
    assert replayed.decision == first.decision
    with hub.runtime.engine.connect() as connection:
        [row] = connection.execute(all_decisions(customer_id=customer)).all()
        contact = connection.execute(select(LedgerEntry.at)).scalar_one()
    assert (row.at, row.outcome, row.reason) == (asked, "allowed", first.decision.reason)
    assert (row.reservation_id, row.idempotency_key) == (first.reservation_id, "moved-1")
    assert contact == sent


def test_commit_and_release_refuse_impossible_transitions(pressure_hub: HubFactory) -> None:
    hub = pressure_hub(LEDGER_TOML.format(limit=5))
    ledger = hub.ledger
    customer = hub.customer("state@example.com")
    sent = ledger.reserve(customer, EMAIL, "promo").reservation_id
    assert sent is not None
    assert ledger.commit(sent) == "sent"
    assert ledger.commit(sent) == "sent"  # committing twice is one commit
    with pytest.raises(LedgerError, match=f"reservation {sent} is sent, not reserved"):
        ledger.release(sent)

    cancelled = ledger.reserve(customer, EMAIL, "promo").reservation_id
    assert cancelled is not None
    assert ledger.release(cancelled) == "released"
    assert ledger.release(cancelled) == "released"
    with pytest.raises(LedgerError, match=f"reservation {cancelled} is released, not reserved"):
        ledger.commit(cancelled)
    with pytest.raises(LedgerError, match="no reservation 987654"):
        ledger.commit(987654)
    with pytest.raises(LedgerError, match="unknown customer"):
        ledger.reserve("no-such-customer", EMAIL, "promo")


def test_an_expired_reservation_stops_counting(pressure_hub: HubFactory) -> None:
    hub = pressure_hub(LEDGER_TOML.format(limit=1))
    customer = hub.customer("expiry@example.com")
    held = hub.ledger.reserve(customer, EMAIL, "cart_reminder").reservation_id
    assert held is not None
    assert hub.ledger.reserve(customer, EMAIL, "promo").decision.outcome is DENIED

    with hub.runtime.engine.begin() as connection:
        connection.execute(
            update(LedgerEntry)
            .where(LedgerEntry.id == held)
            .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    assert hub.ledger.reserve(customer, EMAIL, "promo").decision.outcome is ALLOWED
    assert hub.ledger.expire() == 1  # the lapsed hold; the promotion's own is still live
