"""Property: a deferral goes to the *first* instant every rule allows, never later.

Random policies (caps in count or weight over rolling or calendar windows, a minimum gap,
decayed pressure, an exclusion, quiet hours), random histories with past and pending future
contacts, random intents in time zones with DST changes (including half-hour and midnight
changes), near those changes. The engine itself is the oracle for a single instant: ``allowed(t)``
asks ``decide`` at ``t`` with no room to defer. Then:

* deferred until ``u``: allowed at ``u``, within the maximum delay, and not allowed at any probed
  instant in ``[at, u)``;
* denied: not allowed at any probed instant in ``[at, at + max_delay]``.

Probes are where a rule can change its mind, computed here independently of the engine: each
contact or event shifted by each window and gap, every local reading of midnight and of the
quiet-hours edges (both folds), every UTC-offset change, each probed at the instant and a
microsecond either side; plus random instants.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from dataclasses import replace
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from contracts import Channel, DecisionOutcome, MessageKind
from hub.pressure.engine import Decision, Intent, PastContact, PastEvent, decide
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

ZONES = [
    ZoneInfo(name)
    for name in (
        "UTC",
        "Europe/Paris",
        "America/New_York",
        "Australia/Lord_Howe",  # 30-minute DST
        "America/Santiago",  # changes at midnight
        "Pacific/Chatham",  # +12:45 / +13:45
        "Asia/Kolkata",  # +05:30, no DST
    )
]
MICRO = timedelta(microseconds=1)
MINUTE = timedelta(minutes=1)
SPANS = [timedelta(minutes=30), timedelta(hours=1), timedelta(hours=6), timedelta(hours=24)]
SPANS += [timedelta(hours=48), timedelta(days=7)]
MAX_DELAYS = [timedelta(hours=6), timedelta(days=1), timedelta(days=3), timedelta(days=20)]
SCENARIO_KINDS = {
    "promo": MessageKind.MARKETING,
    "cart": MessageKind.MARKETING,
    "receipt": MessageKind.TRANSACTIONAL,
}


def _offset_changes(zone: ZoneInfo, start: datetime, end: datetime) -> list[datetime]:
    """Every UTC-offset change of ``zone`` in [start, end), to the microsecond (test's own)."""
    found = []
    step = timedelta(hours=1)
    moment = start
    while moment < end:
        low, high = moment, moment + step
        if low.astimezone(zone).utcoffset() != high.astimezone(zone).utcoffset():
            before = low.astimezone(zone).utcoffset()
            while high - low > MICRO:
                middle = low + (high - low) / 2
                if middle.astimezone(zone).utcoffset() == before:
                    low = middle
                else:
                    high = middle
            found.append(high)
        moment += step
    return found


YEAR = (datetime(2026, 1, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC))
TRANSITIONS = {zone.key: _offset_changes(zone, *YEAR) for zone in ZONES}
ANCHORS = [
    *sorted({t for changes in TRANSITIONS.values() for t in changes}),
    datetime(2026, 6, 17, 10, tzinfo=UTC),
]


# -- strategies -------------------------------------------------------------------------------

spans = st.sampled_from(SPANS)
wall_times = st.builds(
    time, st.sampled_from([0, 1, 2, 3, 4, 8, 12, 21, 22, 23]), st.sampled_from([0, 15, 30, 45])
)
channels = st.sampled_from([Channel.EMAIL, Channel.SMS])


@st.composite
def caps(draw: st.DrawFn, index: int) -> Cap:
    calendar = draw(st.none() | st.sampled_from(["day", "week", "month"]))
    return Cap(
        name=f"cap-{index}",
        limit=draw(st.sampled_from([1, 1, 2, 2, 3, 1.5, 2.5, 0])),
        measure=draw(st.sampled_from(["count", "weight"])),
        window=None if calendar else draw(spans),
        calendar=calendar,
        channels=draw(st.sampled_from([[], ["email"], ["sms"]])),
        scenarios=draw(st.sampled_from([[], ["promo"], ["promo", "cart"]])),
    )


def near_wall(hint: datetime) -> st.SearchStrategy[time]:
    """Local wall times within two hours of ``hint`` (an aware local datetime), on quarters."""
    base = hint.replace(minute=hint.minute - hint.minute % 15, second=0, microsecond=0)
    steps = st.integers(-8, 8).map(lambda k: (base + k * timedelta(minutes=15)).time())
    return steps.map(lambda t: t.replace(tzinfo=None, fold=0))


@st.composite
def quiet(draw: st.DrawFn, index: int, hint: datetime) -> QuietHours:
    edges = wall_times | near_wall(hint)
    start, end = draw(edges), draw(edges)
    if end == start:
        end = (datetime.combine(datetime.min, start) + timedelta(minutes=15)).time()
    return QuietHours(name=f"quiet-{index}", start=start, end=end)


@st.composite
def policies(draw: st.DrawFn, hint: datetime) -> Policy:
    cap_count = draw(st.integers(1, 3))
    quiet_count = draw(st.integers(0, 2))
    pressure = PressureSettings(
        weights={Channel.EMAIL: 1.0, Channel.SMS: draw(st.sampled_from([0.5, 1.0, 2.0]))},
        caps=[draw(caps(i)) for i in range(cap_count)],
        gaps=draw(
            st.lists(spans, max_size=1).map(lambda gaps: [Gap(name="gap", min_gap=g) for g in gaps])
        ),
        decay=draw(
            st.none()
            | st.builds(
                Decay,
                half_life=st.sampled_from(
                    [timedelta(hours=2), timedelta(days=1), timedelta(days=3)]
                ),
                threshold=st.sampled_from([1.5, 2.5, 4.0]),
            )
        ),
        exclusions=draw(
            st.lists(
                st.builds(
                    Exclusion,
                    name=st.just("exclusion"),
                    event=st.just("order.placed"),
                    window=st.sampled_from([timedelta(days=1), timedelta(days=7)]),
                    except_scenarios=st.sampled_from([[], ["cart"]]),
                ),
                max_size=1,
            )
        ),
        quiet_hours=[draw(quiet(i, hint)) for i in range(quiet_count)],
    )
    cart_cap = draw(st.none() | st.just(ScenarioCap(limit=1, window=timedelta(days=2))))
    scenarios = {
        "promo": ScenarioSettings(max_delay=draw(st.sampled_from(MAX_DELAYS))),
        "cart": ScenarioSettings(
            priority=90, cap=cart_cap, max_delay=draw(st.sampled_from(MAX_DELAYS))
        ),
        "receipt": ScenarioSettings(kind=MessageKind.TRANSACTIONAL, priority=100),
    }
    return Policy(pressure, scenarios)


#: Mostly close to a DST change, sometimes far: whole minutes, sometimes odd seconds.
offsets = st.one_of(
    st.integers(-6 * 60, 6 * 60).map(lambda m: timedelta(minutes=m)),
    st.integers(-4 * 24 * 60, 4 * 24 * 60).map(lambda m: timedelta(minutes=m)),
    st.integers(-4 * 86400, 4 * 86400).map(lambda s: timedelta(seconds=s)),
)


near = st.integers(-48 * 60, 24 * 60).map(lambda m: timedelta(minutes=m))
far = st.integers(-10 * 24 * 60, 4 * 24 * 60).map(lambda m: timedelta(minutes=m))


@st.composite
def contacts(draw: st.DrawFn, at: datetime) -> PastContact:
    scenario = draw(st.sampled_from(sorted(SCENARIO_KINDS)))
    return PastContact(
        at=at + draw(near | far),
        channel=draw(channels),
        scenario=scenario,
        kind=SCENARIO_KINDS[scenario],
        weight=draw(st.sampled_from([0.5, 1.0, 2.0])),
        pending=draw(st.booleans()),
    )


def anchors(zone: ZoneInfo) -> st.SearchStrategy[datetime]:
    """Mostly the zone's own offset changes; sometimes any zone's."""
    own = TRANSITIONS[zone.key] or ANCHORS[-1:]
    return st.sampled_from(own) | st.sampled_from(ANCHORS)


@st.composite
def cases(draw: st.DrawFn) -> tuple[Policy, Intent, list[PastContact], list[PastEvent]]:
    zone = draw(st.sampled_from(ZONES))
    at = draw(anchors(zone)) + draw(offsets)
    policy = draw(policies(at.astimezone(zone)))
    scenario = draw(st.sampled_from(["promo", "promo", "promo", "cart", "receipt"]))
    channel = draw(channels)
    wish = Intent(
        channel=channel,
        scenario=scenario,
        kind=SCENARIO_KINDS[scenario],
        at=at,
        weight=policy.weight(channel, scenario),
        priority=policy.scenario(scenario).priority,
        zone=zone,
    )
    past = draw(st.lists(contacts(at), min_size=1, max_size=8))
    minutes = st.integers(-10 * 24 * 60, 0).map(lambda m: at + timedelta(minutes=m))
    events = draw(st.lists(st.builds(PastEvent, st.just("order.placed"), minutes), max_size=2))
    return policy, wish, past, events


# -- the oracle and the probes ----------------------------------------------------------------


def allowed(
    policy: Policy,
    wish: Intent,
    moment: datetime,
    past: Sequence[PastContact],
    events: Sequence[PastEvent],
) -> bool:
    """What the engine says about sending exactly at ``moment``, with no deferral."""
    decision = decide(policy, replace(wish, at=moment), past, events, max_delay=timedelta(0))
    return decision.outcome is DecisionOutcome.ALLOWED


def critical(
    policy: Policy,
    wish: Intent,
    past: Sequence[PastContact],
    events: Sequence[PastEvent],
    low: datetime,
    high: datetime,
) -> Iterator[datetime]:
    """Instants in [low, high] at which some rule may change its verdict."""
    spans = [s for r in policy.rules for s in (r.window, r.min_gap) if s is not None]
    for moment in [c.at for c in past] + [e.at for e in events]:
        for span in spans:
            yield moment + span
            yield moment - span
        yield moment
    zone = wish.zone
    walls = [time(0)] + [t for r in policy.rules for t in (r.start, r.end) if t is not None]
    day = low.astimezone(zone).date() - timedelta(days=1)
    while day <= high.astimezone(zone).date() + timedelta(days=1):
        for wall in walls:
            for fold in (0, 1):
                yield datetime.combine(day, wall, zone).replace(fold=fold).astimezone(UTC)
        day += timedelta(days=1)
    yield from (t for t in TRANSITIONS[zone.key] if low <= t <= high)


def probes(
    policy: Policy,
    wish: Intent,
    past: Sequence[PastContact],
    events: Sequence[PastEvent],
    high: datetime,
    rng: random.Random,
    *,
    inclusive: bool,
) -> list[datetime]:
    low = wish.at
    points = {low, high - MICRO, high - MINUTE}
    for moment in critical(policy, wish, past, events, low, high):
        points.update({moment - MICRO, moment, moment + MICRO})
    span = (high - low).total_seconds()
    points.update(low + timedelta(seconds=rng.uniform(0, span)) for _ in range(20))
    inside = sorted(p for p in points if low <= p < high or (inclusive and p == high))
    if len(inside) > 400:
        inside = sorted(rng.sample(inside, 400))
    return inside


# -- the property -----------------------------------------------------------------------------

# Regressions: quiet hours around an autumn change used to end a day (or hours) too late.
PARIS_NIGHT = Policy(
    PressureSettings(quiet_hours=[QuietHours(start=time(1), end=time(2, 30))]),
    {"promo": ScenarioSettings(), "cart": ScenarioSettings(), "receipt": ScenarioSettings()},
)
LATE = Policy(
    PressureSettings(quiet_hours=[QuietHours(start=time(2, 30), end=time(5))]),
    {"promo": ScenarioSettings(), "cart": ScenarioSettings(), "receipt": ScenarioSettings()},
)


def _case(
    policy: Policy, at: datetime
) -> tuple[Policy, Intent, list[PastContact], list[PastEvent]]:
    wish = Intent(
        Channel.EMAIL, "promo", MessageKind.MARKETING, at, 1.0, 50, ZoneInfo("Europe/Paris")
    )
    return policy, wish, [], []


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=cases(), seed=st.integers(0, 2**32 - 1))
@example(case=_case(PARIS_NIGHT, datetime(2026, 10, 25, 1, 10, tzinfo=UTC)), seed=0)
@example(case=_case(LATE, datetime(2026, 10, 25, 0, 45, tzinfo=UTC)), seed=0)
def test_deferral_goes_to_the_first_allowed_instant(
    case: tuple[Policy, Intent, list[PastContact], list[PastEvent]], seed: int
) -> None:
    policy, wish, past, events = case
    max_delay = policy.max_delay(wish.scenario)
    decision: Decision = decide(policy, wish, past, events, max_delay=max_delay)
    rng = random.Random(seed)
    event(f"{decision.outcome.value} by {decision.rule}" if decision.rule else "allowed")
    if decision.outcome is DecisionOutcome.ALLOWED:
        assert decision.until is None
        assert all(usage.ok for usage in decision.consulted)
        return
    assert decision.rule is not None
    assert any(not usage.ok for usage in decision.consulted)
    if decision.outcome is DecisionOutcome.DEFERRED:
        until = decision.until
        assert until is not None
        assert wish.at < until <= wish.at + max_delay
        assert allowed(policy, wish, until, past, events), "not allowed at its own until"
        earlier = [
            moment
            for moment in probes(policy, wish, past, events, until, rng, inclusive=False)
            if allowed(policy, wish, moment, past, events)
        ]
        assert not earlier, f"deferred to {until}, but allowed at {earlier[0]}"
    else:
        assert decision.until is None
        deadline = wish.at + max_delay
        reachable = [
            moment
            for moment in probes(policy, wish, past, events, deadline, rng, inclusive=True)
            if allowed(policy, wish, moment, past, events)
        ]
        assert not reachable, f"denied, but allowed at {reachable[0]}"


# -- quiet hours alone, against a minute-by-minute scan ---------------------------------------


@st.composite
def quiet_cases(draw: st.DrawFn) -> tuple[Policy, Intent]:
    zone = draw(st.sampled_from(ZONES))
    own = TRANSITIONS[zone.key] or ANCHORS[-1:]
    at = draw(st.sampled_from(own)) + timedelta(minutes=draw(st.integers(-120, 120)))
    hint = at.astimezone(zone)
    start, end = draw(near_wall(hint) | wall_times), draw(near_wall(hint))
    if end == start:
        end = (datetime.combine(datetime.min, start) + timedelta(minutes=15)).time()
    rules = [QuietHours(start=start, end=end)]
    policy = Policy(PressureSettings(quiet_hours=rules), {"promo": ScenarioSettings()})
    wish = Intent(Channel.EMAIL, "promo", MessageKind.MARKETING, at, 1.0, 50, zone)
    return policy, wish


@settings(max_examples=200, deadline=None)
@given(case=quiet_cases())
def test_quiet_hours_end_at_the_first_allowed_minute(case: tuple[Policy, Intent]) -> None:
    """Every edge (quiet start or end, offset change) falls on a whole minute here, so the first
    allowed minute found by scanning is the exact answer."""
    policy, wish = case
    decision = decide(policy, wish, [], [], max_delay=timedelta(days=3))
    first = wish.at
    while not allowed(policy, wish, first, [], []):
        first += MINUTE
    if first == wish.at:
        assert decision.outcome is DecisionOutcome.ALLOWED
    else:
        assert (decision.outcome, decision.until) == (DecisionOutcome.DEFERRED, first)
