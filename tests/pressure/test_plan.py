"""``hub campaign plan``: set-based arbitration must agree with the online engine.

Golden plans pin one behaviour each (priority takes the last slot, calendar caps in the
customer's zone, exclusions, gaps, transactional exemption, campaigns, quiet hours, future
contacts, commit). The differential test is the safety net: for random histories, events,
time zones and candidates, the plan's admitted set equals a naive greedy that walks each
customer's candidates by priority and asks the pure engine ``decide`` with the ledger's history
plus the candidates it already admitted, as contacts at the plan time.
"""

from __future__ import annotations

import json
import math
import random
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import and_, func, insert, or_, select

from contracts import Channel, DecisionOutcome, MessageKind
from hub.pressure.engine import Decision, Intent, PastContact, PastEvent, decide
from hub.pressure.plan import Candidate, InvalidRow, PlanError, PlanReport, PlanRow, plan_campaign
from hub.pressure.policy import Policy
from hub.storage.models import Customer, CustomerEvent, LedgerEntry, RuleSet
from hub.storage.models import table as t
from tests.pressure.conftest import PressureHub

HubFactory = Callable[[str], PressureHub]
EMAIL, SMS, PUSH = Channel.EMAIL, Channel.SMS, Channel.PUSH
HOUR, DAY = timedelta(hours=1), timedelta(days=1)
#: A Wednesday: 12:00 in Paris, 06:00 in New York, 19:00 in Tokyo.
NOON = datetime(2026, 6, 17, 10, tzinfo=UTC)
LEDGER, EVENTS, CUSTOMERS = t(LedgerEntry), t(CustomerEvent), t(Customer)


@dataclass
class Plan:
    report: PlanReport
    rows: list[PlanRow]

    def outcome(self, line: int) -> tuple[str, str | None]:
        row = next(r for r in self.rows if r.line == line)
        return row.outcome, row.rule

    def row(self, line: int) -> PlanRow:
        return next(r for r in self.rows if r.line == line)

    @property
    def admitted(self) -> list[int]:
        return [r.line for r in self.rows if r.outcome == "admitted"]


def plan(
    hub: PressureHub,
    candidates: list[tuple[str, str, Channel] | tuple[str, str, Channel, str]],
    at: datetime = NOON,
    **options: Any,
) -> Plan:
    """Plan ``(customer, scenario, channel[, campaign])`` candidates, numbered from line 2."""
    rows = [Candidate(line, *candidate) for line, candidate in enumerate(candidates, 2)]
    collected: list[PlanRow] = []
    report = plan_campaign(
        hub.runtime.engine, hub.ledger.policy, rows, at=at, sink=collected.append, **options
    )
    return Plan(report, collected)


def add_contacts(hub: PressureHub, rows: list[dict[str, Any]]) -> None:
    """Ledger rows in bulk (``customer_id, channel, scenario, at`` and optional status...)."""
    now = datetime.now(UTC)
    policy = hub.ledger.policy
    full = []
    for row in rows:
        scenario = policy.scenario(row["scenario"])
        full.append(
            {
                "kind": scenario.kind.value,
                "weight": policy.weight(Channel(row["channel"]), row["scenario"]),
                "priority": scenario.priority,
                "status": "recorded",
                "expires_at": None,
                "idempotency_key": None,
                "rule_set_version": policy.version,
                "source": "test",
                "created_at": now,
                "updated_at": now,
                **row,
            }
        )
    with hub.runtime.engine.begin() as connection:
        connection.execute(insert(LEDGER), full)


def add_event(hub: PressureHub, customer: str, type_: str, at: datetime) -> None:
    with hub.runtime.engine.begin() as connection:
        connection.execute(
            insert(EVENTS).values(
                customer_id=customer,
                type=type_,
                source="test",
                source_event_id=f"{customer}-{type_}-{at.isoformat()}",
                occurred_at=at,
                received_at=at,
            )
        )


def ledger_count(hub: PressureHub) -> int:
    with hub.runtime.engine.connect() as connection:
        return connection.execute(select(func.count()).select_from(LEDGER)).scalar_one()


# -- differential: the plan against a naive greedy over the pure engine ---------------------------

RANDOM_POLICIES = {
    "every-rule": """
[pressure]
default_time_zone = "Europe/Paris"
default_max_delay = "2d"
[pressure.weights]
sms = 2.0
push = 0.5
[[pressure.caps]]
name = "weekly"
window = "7d"
limit = 3
[[pressure.caps]]
name = "daily"
calendar = "day"
limit = 2
[[pressure.caps]]
name = "sms-weight"
calendar = "week"
measure = "weight"
limit = 4
channels = ["sms"]
[[pressure.caps]]
name = "push-weight"
window = "48h"
measure = "weight"
limit = 0.5
channels = ["push"]
counts = ["marketing"]
[[pressure.caps]]
name = "monthly"
calendar = "month"
limit = 6
[[pressure.gaps]]
name = "gap"
min_gap = "5h"
[[pressure.gaps]]
name = "sms-gap"
min_gap = "1d"
channels = ["sms"]
kinds = ["marketing", "service"]
[pressure.decay]
half_life = "2d"
threshold = 3.5
[[pressure.exclusions]]
name = "buyers"
event = "order.placed"
window = "5d"
except_scenarios = ["welcome"]
[[pressure.quiet_hours]]
start = "22:00"
end = "07:30"
[scenarios.promo]
priority = 10
[scenarios.newsletter]
priority = 30
max_delay = "12h"
[scenarios.welcome]
priority = 60
[scenarios.cart]
priority = 90
cap = {limit = 1, window = "3d"}
max_delay = "5d"
[scenarios.receipt]
kind = "transactional"
priority = 100
[scenarios.notice]
kind = "service"
priority = 70
weight = 0.25
""",
    "caps-and-decay": """
[pressure]
default_time_zone = "America/New_York"
[pressure.weights]
sms = 1.5
[[pressure.caps]]
name = "weekly-weight"
window = "7d"
measure = "weight"
limit = 4
[[pressure.caps]]
name = "email-2d"
window = "2d"
limit = 1
channels = ["email"]
kinds = ["marketing", "transactional"]
[pressure.decay]
half_life = "12h"
threshold = 2.5
counts = ["marketing"]
[scenarios.promo]
priority = 10
max_delay = "1d"
[scenarios.newsletter]
priority = 10
[scenarios.welcome]
priority = 60
[scenarios.cart]
priority = 90
[scenarios.receipt]
kind = "transactional"
priority = 100
[scenarios.notice]
kind = "service"
priority = 70
""",
}
ZONES = ["Europe/Paris", "America/New_York", "Asia/Tokyo", "Australia/Lord_Howe", None]
STATUSES = ["sent", "sent", "recorded", "reserved", "reserved", "released", "failed", "expired"]
#: Saturday before the spring-forward night in Paris, so calendar days and quiet hours straddle it.
BASE = datetime(2026, 3, 28, 12, tzinfo=UTC)
#: Offsets from a contact or event that put the plan time on some rule's boundary.
EDGES = [timedelta(0), 5 * HOUR, 12 * HOUR, DAY, 2 * DAY, 3 * DAY, 5 * DAY, 7 * DAY, -2 * DAY, -DAY]


def history(
    connection: Any, policy: Policy, customer: str, at: datetime, now: datetime, horizon: datetime
) -> tuple[Intent | None, list[PastContact], list[PastEvent]]:
    """What the ledger hands the engine: counting contacts in (at - lookback, horizon), events
    in (at - lookback, horizon], and the customer's zone (checked against ``Ledger.check``)."""
    low = at - policy.lookback
    zone = connection.execute(select(CUSTOMERS.c.time_zone).where(CUSTOMERS.c.id == customer))
    counting = or_(
        LEDGER.c.status.in_(("sent", "recorded")),
        and_(LEDGER.c.status == "reserved", LEDGER.c.expires_at > now),
    )
    rows = connection.execute(
        select(
            LEDGER.c.at, LEDGER.c.channel, LEDGER.c.scenario, LEDGER.c.kind, LEDGER.c.weight
        ).where(
            LEDGER.c.customer_id == customer, LEDGER.c.at > low, LEDGER.c.at < horizon, counting
        )
    )
    contacts = [
        PastContact(r.at, Channel(r.channel), r.scenario, MessageKind(r.kind), r.weight)
        for r in rows
    ]
    events = [
        PastEvent(r.type, r.occurred_at)
        for r in connection.execute(
            select(EVENTS.c.type, EVENTS.c.occurred_at).where(
                EVENTS.c.customer_id == customer,
                EVENTS.c.occurred_at > low,
                EVENTS.c.occurred_at <= horizon,
            )
        )
    ]
    return policy.zone(zone.scalar_one()), contacts, events


def greedy(
    hub: PressureHub, candidates: list[tuple[int, str, str, Channel]], at: datetime, now: datetime
) -> dict[int, Decision]:
    """What the online engine says about each candidate, asked in priority order per customer,
    with the candidates it allowed before as sent contacts at ``at``."""
    policy = hub.ledger.policy
    order = sorted(candidates, key=lambda c: (c[1], -policy.scenario(c[2]).priority, c[0]))
    admitted: dict[str, list[PastContact]] = {}
    decisions = {}
    with hub.runtime.engine.connect() as connection:
        for line, customer, scenario, channel in order:
            settings, max_delay = policy.scenario(scenario), policy.max_delay(scenario)
            horizon = at + max_delay + policy.lookback
            zone, contacts, events = history(connection, policy, customer, at, now, horizon)
            intent = Intent(
                channel,
                scenario,
                settings.kind,
                at,
                policy.weight(channel, scenario),
                settings.priority,
                zone,
            )
            decision = decide(
                policy, intent, contacts + admitted.get(customer, []), events, max_delay=max_delay
            )
            decisions[line] = decision
            if customer not in admitted:  # the first one: the ledger itself must agree
                online = hub.ledger.check(customer, channel, scenario, at=at)
                assert (online.outcome, online.rule) == (decision.outcome, decision.rule)
            if decision.outcome is DecisionOutcome.ALLOWED:
                contact = PastContact(at, channel, scenario, intent.kind, intent.weight)
                admitted.setdefault(customer, []).append(contact)
            else:
                admitted.setdefault(customer, [])
    return decisions


def random_history(
    hub: PressureHub, rng: random.Random, now: datetime
) -> tuple[list[str], list[tuple[str, datetime]]]:
    """Customers in assorted zones with contacts of every status (some pending, some in the
    future, some on a local midnight) and orders: the customers, and every (customer, instant)
    written."""
    scenarios = sorted(hub.ledger.policy.scenarios)
    contacts: list[dict[str, Any]] = []
    moments: list[tuple[str, datetime]] = []
    customers = []
    for number in range(24):
        zone = rng.choice(ZONES)
        customer = hub.customer(f"c{number}@example.com", zone)
        customers.append(customer)
        local_zone = ZoneInfo(zone) if zone else hub.ledger.policy.default_zone
        for _ in range(rng.randrange(0, 9)):
            at = BASE + timedelta(
                hours=rng.randrange(-24 * 12, 24 * 4),
                minutes=rng.choice([0, 30]),
                # A fraction that rounds up at the millisecond must not move the second.
                microseconds=rng.choice([0, 0, 999_600, 123_456]),
            )
            if rng.random() < 0.25:  # exactly on a calendar boundary
                day = at.astimezone(local_zone).date()
                at = datetime.combine(day, time(0), local_zone).astimezone(UTC)
            status = rng.choice(STATUSES)
            expires = now + rng.choice([-HOUR, HOUR]) if status == "reserved" else None
            contacts.append(
                {
                    "customer_id": customer,
                    "channel": rng.choice(list(Channel)).value,
                    "scenario": rng.choice(scenarios),
                    "at": at,
                    "status": status,
                    "expires_at": expires,
                }
            )
            moments.append((customer, at))
        if rng.random() < 0.4:
            occurred = BASE - timedelta(hours=rng.randrange(0, 24 * 7), minutes=rng.choice([0, 30]))
            add_event(hub, customer, "order.placed", occurred)
            moments += [(customer, occurred)] * 4  # rarer than contacts: weigh them up
    add_contacts(hub, contacts)
    return customers, moments


@pytest.mark.parametrize("policy_name", sorted(RANDOM_POLICIES))
def test_plan_equals_a_greedy_over_the_online_engine(
    pressure_hub: HubFactory, policy_name: str
) -> None:
    hub = pressure_hub(RANDOM_POLICIES[policy_name])
    rng = random.Random(f"plan-{policy_name}")
    now = datetime.now(UTC)
    customers, moments = random_history(hub, rng, now)
    scenarios = sorted(hub.ledger.policy.scenarios)
    compared: Counter[str] = Counter()
    refused: Counter[str] = Counter()
    for _trial in range(16):
        at = BASE + timedelta(hours=rng.randrange(-36, 36), minutes=rng.choice([0, 30]))
        chosen = rng.sample(customers, 12)
        if rng.random() < 0.7:  # on some rule's edge for a customer who is in the plan
            customer, moment = rng.choice(moments)
            at = moment + rng.choice(EDGES)
            chosen += [customer] * 4
        candidates = [
            (line, rng.choice(chosen), rng.choice(scenarios), rng.choice(list(Channel)))
            for line in range(2, 2 + rng.randrange(10, 40))
        ]
        rows = [Candidate(*candidate) for candidate in candidates]
        collected: list[PlanRow] = []
        report = plan_campaign(
            hub.runtime.engine, hub.ledger.policy, rows, at=at, now=now, sink=collected.append
        )
        refused.update({name: counts["refused"] for name, counts in report.rules.items()})
        expected = greedy(hub, candidates, at, now)
        assert sorted(row.line for row in collected) == [c[0] for c in candidates]
        for row in collected:
            decision = expected[row.line]
            context = f"line {row.line} at {at}: plan {row}, engine {decision}"
            compared[row.outcome] += 1
            if row.outcome == "admitted":
                assert decision.outcome is DecisionOutcome.ALLOWED, context
                continue
            assert decision.outcome is not DecisionOutcome.ALLOWED, context
            assert row.rule == decision.rule, context
            if row.outcome == "excluded":
                assert decision.outcome is DecisionOutcome.DENIED, context
            elif decision.outcome is DecisionOutcome.DEFERRED:
                assert row.not_before is not None
                assert decision.until >= row.not_before, context
    # The inputs exercised every outcome and made every rule refuse some candidates, so the
    # comparison meant something.
    assert min(compared.values()) >= 20, compared
    assert min(refused[r.name] for r in hub.ledger.policy.rules) >= 5, refused


# -- golden plans ------------------------------------------------------------------------------

PRIORITY_TOML = """
[pressure]
default_time_zone = "Europe/Paris"
[[pressure.caps]]
name = "weekly"
window = "7d"
limit = 2
[scenarios.promo]
priority = 10
max_delay = "1d"
[scenarios.newsletter]
priority = 50
[scenarios.cart]
priority = 90
"""


def test_the_highest_priority_takes_the_last_slot(pressure_hub: HubFactory) -> None:
    hub = pressure_hub(PRIORITY_TOML)
    busy, free = hub.customer("busy@example.com"), hub.customer("free@example.com")
    add_contacts(
        hub, [{"customer_id": busy, "channel": "email", "scenario": "promo", "at": NOON - 5 * DAY}]
    )
    result = plan(
        hub,
        [
            (busy, "promo", EMAIL),
            (busy, "newsletter", EMAIL),
            (busy, "cart", EMAIL),
            (free, "promo", EMAIL),
            (free, "newsletter", SMS),
        ],
    )
    # One slot left for busy: the cart reminder (last in the file, first by priority) gets it.
    assert result.outcome(4) == ("admitted", None)
    # The slot frees when the old contact leaves the window, 2 days from now: within the
    # newsletter's 3 days (default), beyond the promotion's 1 day.
    assert result.outcome(3) == ("deferred", "weekly")
    assert result.row(3).not_before == NOON + 2 * DAY
    assert result.outcome(2) == ("excluded", "weekly")
    assert result.row(2).not_before is None
    assert result.admitted == [4, 5, 6]
    report = result.report.as_dict()
    assert report["totals"] == {"admitted": 3, "deferred": 1, "excluded": 1, "invalid": 0}
    assert report["rules"] == {"weekly": {"refused": 2, "deferred": 1, "excluded": 1}}
    assert ledger_count(hub) == 1  # a plan without commit writes nothing


CAPS_TOML = """
[pressure]
default_time_zone = "Europe/Paris"
[pressure.weights]
sms = 2.0
[[pressure.caps]]
name = "daily"
calendar = "day"
limit = 1
[[pressure.caps]]
name = "sms-weight"
window = "7d"
measure = "weight"
limit = 3
channels = ["sms"]
[scenarios.promo]
priority = 10
[scenarios.cart]
priority = 90
cap = {limit = 1, window = "7d"}
"""


def test_calendar_weight_and_scenario_caps(pressure_hub: HubFactory) -> None:
    hub = pressure_hub(CAPS_TOML)
    paris = hub.customer("paris@example.com", "Europe/Paris")
    york = hub.customer("york@example.com", "America/New_York")
    york_today = hub.customer("york2@example.com", "America/New_York")
    sms = hub.customer("sms@example.com")
    cart = hub.customer("cart@example.com")
    paris_midnight = datetime(2026, 6, 16, 22, tzinfo=UTC)  # 00:00 on the 17th in Paris
    york_midnight = datetime(2026, 6, 17, 4, tzinfo=UTC)  # 00:00 on the 17th in New York
    add_contacts(
        hub,
        [
            # Paris: today's first instant counts for today.
            {"customer_id": paris, "channel": "email", "scenario": "promo", "at": paris_midnight},
            # New York: the same instant is yesterday evening; tomorrow's first is not today.
            {"customer_id": york, "channel": "email", "scenario": "promo", "at": paris_midnight},
            {
                "customer_id": york,
                "channel": "email",
                "scenario": "promo",
                "at": york_midnight + DAY,
            },
            {
                "customer_id": york_today,
                "channel": "push",
                "scenario": "promo",
                "at": york_midnight,
            },
            {"customer_id": sms, "channel": "sms", "scenario": "promo", "at": NOON - 2 * DAY},
            {"customer_id": cart, "channel": "email", "scenario": "cart", "at": NOON - 3 * DAY},
        ],
    )
    result = plan(
        hub,
        [
            (paris, "promo", EMAIL),
            (york, "promo", EMAIL),
            (york_today, "promo", EMAIL),
            (sms, "promo", EMAIL),
            (sms, "promo", SMS),
            (cart, "cart", SMS),
        ],
    )
    assert result.outcome(2) == ("deferred", "daily")
    assert result.row(2).not_before == paris_midnight + DAY
    assert result.outcome(3) == ("admitted", None)
    assert result.outcome(4) == ("deferred", "daily")
    assert result.row(4).not_before == york_midnight + DAY
    assert result.outcome(5) == ("admitted", None)
    # The SMS breaks both caps; the weight cap frees last (in 5 days), beyond the 3-day delay.
    assert result.outcome(6) == ("excluded", "sms-weight")
    assert result.report.rules["daily"]["refused"] == 3
    assert result.outcome(7) == ("excluded", "scenario-cap:cart")


EXCLUSION_TOML = """
[pressure]
default_time_zone = "Europe/Paris"
[[pressure.exclusions]]
name = "recent-buyers"
event = "order.placed"
window = "30d"
except_scenarios = ["welcome"]
[scenarios.promo]
[scenarios.welcome]
[scenarios.receipt]
kind = "transactional"
"""


def test_exclusion_windows_and_exceptions(pressure_hub: HubFactory) -> None:
    hub = pressure_hub(EXCLUSION_TOML)
    micro = timedelta(microseconds=1)
    edge, before, now_, later, other = (
        hub.customer(f"{name}@example.com") for name in ("edge", "before", "now", "later", "other")
    )
    add_event(hub, edge, "order.placed", NOON - 30 * DAY)  # on the window's first instant
    add_event(hub, before, "order.placed", NOON - 30 * DAY - micro)
    add_event(hub, now_, "order.placed", NOON)
    add_event(hub, later, "order.placed", NOON + micro)  # not yet
    add_event(hub, other, "cart.abandoned", NOON - DAY)
    result = plan(
        hub,
        [
            (edge, "promo", EMAIL),
            (before, "promo", EMAIL),
            (now_, "promo", EMAIL),
            (now_, "welcome", EMAIL),
            (now_, "receipt", EMAIL),
            (later, "promo", EMAIL),
            (other, "promo", EMAIL),
        ],
    )
    assert result.outcome(2) == ("deferred", "recent-buyers")
    assert result.row(2).not_before == NOON + micro
    assert result.outcome(4) == ("excluded", "recent-buyers")
    assert result.admitted == [3, 5, 6, 7, 8]


GAP_TOML = """
[pressure]
default_time_zone = "Europe/Paris"
[[pressure.gaps]]
name = "breathing-space"
min_gap = "20h"
[scenarios.promo]
priority = 10
[scenarios.cart]
priority = 90
"""


def test_minimum_gap_around_past_planned_and_future_contacts(pressure_hub: HubFactory) -> None:
    hub = pressure_hub(GAP_TOML)
    past, fresh, soon, later = (
        hub.customer(f"{name}@example.com") for name in ("past", "fresh", "soon", "later")
    )
    add_contacts(
        hub,
        [
            {"customer_id": past, "channel": "email", "scenario": "promo", "at": NOON - 10 * HOUR},
            {
                "customer_id": soon,
                "channel": "sms",
                "scenario": "promo",
                "at": NOON + 19 * HOUR,
                "status": "reserved",
                "expires_at": datetime.now(UTC) + HOUR,
            },
            {
                "customer_id": later,
                "channel": "sms",
                "scenario": "promo",
                "at": NOON + 20 * HOUR,
                "status": "reserved",
                "expires_at": datetime.now(UTC) + HOUR,
            },
        ],
    )
    result = plan(
        hub,
        [
            (past, "promo", EMAIL),
            (fresh, "promo", SMS),
            (fresh, "cart", EMAIL),
            (soon, "promo", EMAIL),
            (later, "promo", EMAIL),
        ],
    )
    assert (result.outcome(2), result.row(2).not_before) == (
        ("deferred", "breathing-space"),
        NOON + 10 * HOUR,
    )
    # Two candidates of one plan are contacts at the same instant: the second waits 20 h.
    assert result.outcome(4) == ("admitted", None)
    assert (result.outcome(3), result.row(3).not_before) == (
        ("deferred", "breathing-space"),
        NOON + 20 * HOUR,
    )
    # A pending future contact counts too, on both sides; exactly the gap away is fine.
    assert (result.outcome(5), result.row(5).not_before) == (
        ("deferred", "breathing-space"),
        NOON + 39 * HOUR,
    )
    assert result.outcome(6) == ("admitted", None)


EXEMPT_TOML = """
[pressure]
default_time_zone = "Europe/Paris"
[[pressure.caps]]
name = "weekly"
window = "7d"
limit = 1
[scenarios.promo]
priority = 10
[scenarios.receipt]
kind = "transactional"
priority = 100
"""


def test_transactional_sends_are_exempt_but_still_count(pressure_hub: HubFactory) -> None:
    hub = pressure_hub(EXEMPT_TOML)
    full, fresh, alone = (hub.customer(f"{n}@example.com") for n in ("full", "fresh", "alone"))
    add_contacts(
        hub, [{"customer_id": full, "channel": "email", "scenario": "promo", "at": NOON - DAY}]
    )
    result = plan(
        hub,
        [
            (full, "receipt", EMAIL),
            (full, "promo", EMAIL),
            (fresh, "promo", EMAIL),
            (fresh, "receipt", EMAIL),
            (alone, "promo", EMAIL),
        ],
    )
    assert result.outcome(2) == ("admitted", None)
    assert result.outcome(3) == ("excluded", "weekly")  # frees in 6 days: beyond 3 days
    # The receipt goes first (priority 100) and counts: the promotion no longer fits.
    assert result.outcome(5) == ("admitted", None)
    assert result.outcome(4) == ("excluded", "weekly")
    assert result.outcome(6) == ("admitted", None)


DECAY_TOML = """
[pressure]
default_time_zone = "Europe/Paris"
[[pressure.caps]]
name = "weekly"
window = "7d"
limit = 4
[pressure.decay]
half_life = "1d"
threshold = 2.5
[scenarios.promo]
"""


def test_decayed_pressure_now_and_at_future_contacts(pressure_hub: HubFactory) -> None:
    hub = pressure_hub(DECAY_TOML)
    fits, heavy, ahead, edge = (
        hub.customer(f"{name}@example.com") for name in ("fits", "heavy", "ahead", "edge")
    )

    def contact(customer: str, at: datetime, **extra: Any) -> dict[str, Any]:
        return {"customer_id": customer, "channel": "email", "scenario": "promo", "at": at, **extra}

    add_contacts(
        hub,
        [
            # 1 (now) + 0.5 (a day ago) + 1 (the new one) = 2.5: exactly the threshold, allowed.
            contact(fits, NOON),
            contact(fits, NOON - DAY),
            # 1 + 0.5 + 0.25 + 1 = 2.75: waits until the 1.75 has decayed to 1.5.
            contact(heavy, NOON, status="sent"),
            contact(heavy, NOON - DAY),
            contact(heavy, NOON - 2 * DAY),
            contact(heavy, NOON - 3 * DAY, status="released"),
            # Fine now, but it would push the pending contact in an hour over the threshold.
            contact(ahead, NOON - HOUR),
            contact(ahead, NOON + HOUR, status="reserved", expires_at=datetime.now(UTC) + HOUR),
            # Exactly a week ago is out of the weekly window: 3 + 1 fit.
            contact(edge, NOON - 7 * DAY),
            contact(edge, NOON - DAY),
            contact(edge, NOON - 2 * DAY),
            contact(edge, NOON - 3 * DAY),
        ],
    )
    result = plan(
        hub,
        [
            (fits, "promo", EMAIL),
            (heavy, "promo", EMAIL),
            (ahead, "promo", EMAIL),
            (edge, "promo", EMAIL),
        ],
    )
    assert result.outcome(2) == ("admitted", None)
    assert (result.outcome(3), result.row(3).not_before) == (
        ("deferred", "decayed-pressure"),
        NOON + DAY * math.log2(1.75 / 1.5),
    )
    assert (result.outcome(4), result.row(4).not_before) == (
        ("deferred", "decayed-pressure"),
        NOON + HOUR,
    )
    assert result.outcome(5) == ("admitted", None)


ZONES_TOML = """
[pressure]
default_time_zone = "Europe/Paris"
[[pressure.caps]]
name = "weekly"
window = "7d"
limit = 2
[[pressure.quiet_hours]]
start = "21:00"
end = "08:00"
[scenarios.promo]
"""


def test_quiet_hours_in_each_zone_and_future_contacts(pressure_hub: HubFactory) -> None:
    hub = pressure_hub(ZONES_TOML)
    york = hub.customer("york@example.com", "America/New_York")  # 06:00 there
    tokyo = hub.customer("tokyo@example.com", "Asia/Tokyo")  # 19:00
    default = hub.customer("default@example.com")  # Paris by default: 12:00
    ahead = hub.customer("ahead@example.com")
    lapsed = hub.customer("lapsed@example.com")
    now = datetime.now(UTC)
    add_contacts(
        hub,
        [
            # The window that ends at the future contact holds it, yesterday's and the new one.
            {"customer_id": ahead, "channel": "email", "scenario": "promo", "at": NOON - DAY},
            {
                "customer_id": ahead,
                "channel": "email",
                "scenario": "promo",
                "at": NOON + 5 * DAY,
                "status": "reserved",
                "expires_at": now + HOUR,
            },
            {"customer_id": lapsed, "channel": "email", "scenario": "promo", "at": NOON - DAY},
            {
                "customer_id": lapsed,
                "channel": "email",
                "scenario": "promo",
                "at": NOON + 5 * DAY,
                "status": "reserved",
                "expires_at": now - HOUR,
            },
            {
                "customer_id": lapsed,
                "channel": "email",
                "scenario": "promo",
                "at": NOON + 6 * DAY,
                "status": "released",
            },
        ],
    )
    result = plan(
        hub,
        [
            (york, "promo", EMAIL),
            (tokyo, "promo", EMAIL),
            (default, "promo", PUSH),
            (ahead, "promo", EMAIL),
            (lapsed, "promo", EMAIL),
        ],
    )
    assert (result.outcome(2), result.row(2).not_before) == (
        ("deferred", "quiet-hours"),
        datetime(2026, 6, 17, 12, tzinfo=UTC),  # 08:00 New York
    )
    assert result.outcome(5) == ("excluded", "weekly")
    assert result.admitted == [3, 4, 6]


def test_unknown_customers_and_time_zones_are_reported_and_the_rest_planned(
    pressure_hub: HubFactory,
) -> None:
    hub = pressure_hub(ZONES_TOML)
    good, lost = hub.customer("good@example.com"), hub.customer("lost@example.com")
    with hub.runtime.engine.begin() as connection:
        connection.execute(
            CUSTOMERS.update().where(CUSTOMERS.c.id == lost).values(time_zone="Mars/Olympus")
        )
    result = plan(
        hub, [(good, "promo", EMAIL), ("cus_nobody", "promo", EMAIL), (lost, "promo", SMS)]
    )
    assert result.admitted == [2]
    assert [(r.line, r.reason, r.customer_id) for r in result.report.invalid] == [
        (3, "unknown customer", "cus_nobody"),
        (4, "the customer's time zone 'Mars/Olympus' is not a known IANA time zone", lost),
    ]


def test_many_candidates_per_customer_take_one_round_each(pressure_hub: HubFactory) -> None:
    hub = pressure_hub(PRIORITY_TOML.replace("limit = 2", "limit = 5"))
    customer = hub.customer("many@example.com")
    candidates = [(customer, "promo", EMAIL)] * 9 + [(customer, "cart", SMS)]
    result = plan(hub, candidates)
    # The cart reminder first, then promotions in file order until the cap is reached.
    assert result.admitted == [2, 3, 4, 5, 11]
    assert result.report.totals["excluded"] == 5


def test_a_policy_without_rules_admits_everything(pressure_hub: HubFactory) -> None:
    hub = pressure_hub("[scenarios.promo]\n[scenarios.cart]\npriority = 90\n")
    customer = hub.customer("free@example.com")
    result = plan(hub, [(customer, "promo", EMAIL)] * 3 + [(customer, "cart", SMS)])
    assert result.admitted == [2, 3, 4, 5]
    assert result.report.rules == {}


# -- committing --------------------------------------------------------------------------------


def test_commit_writes_admitted_sends_the_online_engine_then_sees(pressure_hub: HubFactory) -> None:
    hub = pressure_hub(PRIORITY_TOML)
    customer = hub.customer("commit@example.com")
    result = plan(hub, [(customer, "promo", EMAIL), (customer, "cart", EMAIL)], commit=True)
    assert result.report.committed == 2
    assert result.report.status == "sent"
    keys = [row.key for row in result.rows]
    assert all(key and key.startswith("plan:") for key in keys)
    with hub.runtime.engine.connect() as connection:
        rows = connection.execute(
            select(
                LEDGER.c.scenario,
                LEDGER.c.status,
                LEDGER.c.at,
                LEDGER.c.idempotency_key,
                LEDGER.c.rule_set_version,
                LEDGER.c.expires_at,
            ).order_by(LEDGER.c.id)
        ).all()
        versions = connection.execute(select(t(RuleSet).c.version)).scalars().all()
    assert sorted((r.scenario, r.status, r.at, r.expires_at) for r in rows) == [
        ("cart", "sent", NOON, None),
        ("promo", "sent", NOON, None),
    ]
    assert sorted(r.idempotency_key for r in rows) == sorted(keys)
    assert {r.rule_set_version for r in rows} == set(versions) == {hub.ledger.policy.version}
    # The weekly cap is now full for the online engine too, and for a second plan.
    assert hub.ledger.check(customer, EMAIL, "newsletter", at=NOON).rule == "weekly"
    again = plan(hub, [(customer, "promo", EMAIL), (customer, "cart", EMAIL)], commit=True)
    assert again.report.committed == 0
    assert again.admitted == []


def test_a_commit_waits_for_a_reservation_in_flight(pressure_hub: HubFactory) -> None:
    """A reservation that has read the ledger and is about to write the last slot: the plan
    must wait for it and see its row, or both would take the slot."""
    hub = pressure_hub(PRIORITY_TOML)
    customer = hub.customer("race@example.com")
    add_contacts(
        hub, [{"customer_id": customer, "channel": "email", "scenario": "promo", "at": NOON - DAY}]
    )
    results: list[Plan] = []
    with hub.runtime.engine.connect() as connection, connection.begin():
        connection.execute(select(LEDGER.c.id).where(LEDGER.c.customer_id == customer)).all()
        worker = threading.Thread(
            target=lambda: results.append(plan(hub, [(customer, "promo", SMS)], commit=True))
        )
        worker.start()
        worker.join(timeout=1.0)
        assert worker.is_alive(), "the plan did not wait for the reservation"
        now = datetime.now(UTC)
        connection.execute(
            insert(LEDGER).values(
                customer_id=customer,
                channel="email",
                scenario="cart",
                kind="marketing",
                weight=1.0,
                priority=90,
                status="sent",
                at=NOON,
                rule_set_version="x",
                source="hub",
                created_at=now,
                updated_at=now,
            )
        )
    worker.join(timeout=30)
    [result] = results
    assert result.outcome(2) == ("excluded", "weekly")
    assert ledger_count(hub) == 2


def test_commit_twice_is_refused_and_reserve_holds_for_the_ttl(pressure_hub: HubFactory) -> None:
    hub = pressure_hub(EXEMPT_TOML)
    customer = hub.customer("twice@example.com")
    early = NOON - HOUR  # "now" before the plan time: the hold runs from the plan time
    first = plan(hub, [(customer, "receipt", EMAIL)], commit=True, reserve=True, now=early)
    assert (first.report.committed, first.report.status) == (1, "reserved")
    with hub.runtime.engine.connect() as connection:
        status, expires = connection.execute(select(LEDGER.c.status, LEDGER.c.expires_at)).one()
    assert (status, expires) == ("reserved", NOON + timedelta(minutes=15))
    with pytest.raises(PlanError, match="already committed"):
        plan(hub, [(customer, "receipt", EMAIL)], commit=True)
    assert ledger_count(hub) == 1


def test_nothing_is_committed_while_a_row_is_invalid(pressure_hub: HubFactory) -> None:
    hub = pressure_hub(EXEMPT_TOML)
    customer = hub.customer("careful@example.com")
    rows: list[Any] = [
        Candidate(2, customer, "promo", EMAIL),
        InvalidRow(3, "invalid JSON: Expecting value"),
    ]
    report = plan_campaign(hub.runtime.engine, hub.ledger.policy, rows, at=NOON, commit=True)
    assert report.totals["admitted"] == 1
    assert report.committed == 0
    assert report.not_committed == "1 invalid row(s): fix them and plan again"
    assert ledger_count(hub) == 0


# -- the command line --------------------------------------------------------------------------

AT = "2026-06-17T10:00:00+00:00"


@pytest.fixture
def cli_hub(pressure_hub: HubFactory) -> PressureHub:
    return pressure_hub(PRIORITY_TOML)


@pytest.fixture
def campaign(run_cli: Any, cli_hub: PressureHub) -> Callable[..., Any]:
    def run(*args: str) -> Any:
        return run_cli("--config", str(cli_hub.config), "campaign", "plan", *args)

    return run


def test_cli_plans_two_campaigns_as_json(
    campaign: Callable[..., Any], cli_hub: PressureHub, tmp_path: Path
) -> None:
    ann, bob = cli_hub.customer("ann@example.com"), cli_hub.customer("bob@example.com")
    path = tmp_path / "candidates.csv"
    path.write_text(
        "customer_id,scenario,channel,campaign\n"
        f"{ann},promo,email,summer\n"
        f"{ann},newsletter,sms,june-news\n"
        f"{ann},cart,email,summer\n"
        f"{bob},newsletter,email,june-news\n",
        encoding="utf-8",
    )
    result = campaign("--candidates", str(path), "--at", AT, "--json")
    assert result.code == 0, result.err
    data = json.loads(result.out)
    assert data["at"] == AT
    assert data["totals"] == {"admitted": 3, "deferred": 0, "excluded": 1, "invalid": 0}
    assert data["campaigns"] == {
        "june-news": {"admitted": 2},
        "summer": {"admitted": 1, "excluded": 1},
    }
    assert data["rules"]["weekly"] == {"refused": 1, "excluded": 1}
    assert [(r["line"], r["scenario"], r["campaign"]) for r in data["admitted"]] == [
        (3, "newsletter", "june-news"),
        (4, "cart", "summer"),
        (5, "newsletter", "june-news"),
    ]
    assert data["excluded"] == [
        {
            "line": 2,
            "customer_id": ann,
            "scenario": "promo",
            "channel": "email",
            "campaign": "summer",
            "outcome": "excluded",
            "rule": "weekly",
            "not_before": None,
            "key": None,
        }
    ]
    assert data["deferred"] == []
    assert data["committed"] == 0
    assert ledger_count(cli_hub) == 0


def test_cli_reports_bad_rows_with_line_numbers_and_plans_the_others(
    campaign: Callable[..., Any], cli_hub: PressureHub, tmp_path: Path
) -> None:
    ann = cli_hub.customer("ann@example.com")
    path = tmp_path / "candidates.csv"
    path.write_text(
        "customer_id,scenario,channel,at\n"
        f"{ann},promo,email,{AT}\n"
        f"{ann},flyer,email,\n"
        f"{ann},promo,fax,\n"
        "cus_nobody,promo,email,\n"
        ",promo,email,\n"
        f"{ann},cart,email,2026-06-18T10:00:00+00:00\n"
        f"{ann},cart,email,,extra\n",
        encoding="utf-8",
    )
    result = campaign("--candidates", str(path), "--at", AT, "--json", "--commit")
    assert result.code == 2
    data = json.loads(result.out)
    assert [row["line"] for row in data["admitted"]] == [2]
    assert [(row["line"], row["reason"]) for row in data["invalid"]] == [
        (3, "unknown scenario 'flyer' (declared: cart, newsletter, promo)"),
        (4, "unknown channel 'fax' (one of email, sms, push)"),
        (5, "unknown customer"),
        (6, "customer_id is missing"),
        (
            7,
            f"at 2026-06-18T10:00:00+00:00 is not the plan time {AT} "
            "(plan each send time separately, with --at)",
        ),
        (8, "more values than header columns"),
    ]
    assert "line 5: unknown customer" in result.err
    assert "nothing committed: 6 invalid row(s)" in result.err
    assert ledger_count(cli_hub) == 0


def test_cli_reads_json_lines_and_writes_the_lists_to_a_file(
    campaign: Callable[..., Any], cli_hub: PressureHub, tmp_path: Path
) -> None:
    ann = cli_hub.customer("ann@example.com")
    path, output = tmp_path / "candidates.jsonl", tmp_path / "plan.jsonl"
    path.write_text(
        json.dumps({"customer_id": ann, "scenario": "promo", "channel": "email"}) + "\n"
        "\n"
        "{not json\n"
        "[1, 2]\n"
        + json.dumps({"customer_id": ann, "scenario": "cart", "channel": "sms", "tier": 1})
        + "\n"
        + json.dumps({"customer_id": 42, "scenario": "cart", "channel": "sms"})
        + "\n"
        + json.dumps({"customer_id": ann, "scenario": "cart", "channel": "SMS"})
        + "\n",
        encoding="utf-8",
    )
    result = campaign("--candidates", str(path), "--at", AT, "--output", str(output), "--json")
    assert result.code == 2
    data = json.loads(result.out)
    assert data["output"] == str(output)
    assert "admitted" not in data
    assert [(r["line"], r["reason"]) for r in data["invalid"]] == [
        (3, "invalid JSON: Expecting property name enclosed in double quotes"),
        (4, "not a JSON object"),
        (5, "unknown column(s) tier"),
        (6, "customer_id must be text"),
    ]
    written = [json.loads(line) for line in output.read_text(encoding="utf-8").splitlines()]
    assert [(r["line"], r["outcome"], r["channel"]) for r in written] == [
        (1, "admitted", "email"),
        (7, "admitted", "sms"),
    ]


def test_cli_commits_and_refuses_what_makes_no_sense(
    campaign: Callable[..., Any], cli_hub: PressureHub, tmp_path: Path
) -> None:
    ann = cli_hub.customer("ann@example.com")
    path = tmp_path / "candidates.csv"
    path.write_text(f"customer_id,scenario,channel\n{ann},promo,email\n", encoding="utf-8")
    refused = campaign("--candidates", str(path), "--reserve")
    assert (refused.code, refused.err.strip()) == (
        2,
        "error: --reserve only makes sense with --commit",
    )
    naive = campaign("--candidates", str(path), "--at", "2026-06-17T10:00:00")
    assert naive.code == 2
    assert "--at needs a UTC offset" in naive.err
    (tmp_path / "bad.csv").write_text("customer,scenario\nx,promo\n", encoding="utf-8")
    header = campaign("--candidates", str(tmp_path / "bad.csv"))
    assert header.code == 2
    assert "header must name customer_id, scenario, channel" in header.err
    assert "missing: customer_id, channel, unknown: customer" in header.err
    committed = campaign("--candidates", str(path), "--at", AT, "--commit")
    assert committed.code == 0, committed.err
    assert "1 admitted, 0 deferred, 0 excluded, 0 invalid" in committed.out
    assert "1 written to the ledger as sent" in committed.out
    assert ledger_count(cli_hub) == 1
