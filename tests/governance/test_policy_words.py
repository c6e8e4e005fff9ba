"""The pressure policy in plain words: one sentence per rule, for every rule kind."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.governance import describe_policy
from hub.governance.policy_words import span
from hub.pressure.rules import PressureSettings, ScenarioSettings


def _words(pressure: dict | None = None, scenarios: dict | None = None) -> dict[str | None, str]:
    lines = describe_policy(
        PressureSettings.model_validate(pressure or {}),
        {k: ScenarioSettings.model_validate(v) for k, v in (scenarios or {}).items()},
    )
    return {line.rule or line.text: line.text for line in lines}


CASES = [
    pytest.param(
        {"caps": [{"name": "weekly", "limit": 3, "window": "7d"}]},
        "weekly",
        "weekly: at most 3 marketing messages per 7 days across all channels (every past "
        "contact counts, transactional and service included).",
        id="cap-rolling",
    ),
    pytest.param(
        {"caps": [{"name": "sms-month", "limit": 2, "calendar": "month", "channels": ["sms"]}]},
        "sms-month",
        "sms-month: at most 2 marketing messages per calendar month in the customer's time "
        "zone by SMS (every past contact counts, transactional and service included).",
        id="cap-calendar",
    ),
    pytest.param(
        {"caps": [{"name": "daily", "limit": 1, "calendar": "day", "counts": ["marketing"],
                   "kinds": ["marketing", "service"], "scenarios": ["promo"]}]},
        "daily",
        "daily: at most 1 marketing or service message per calendar day in the customer's "
        "time zone across all channels in scenario promo (only past marketing contacts count).",
        id="cap-scoped",
    ),
    pytest.param(
        {"caps": [{"name": "heavy", "limit": 6, "measure": "weight", "window": "30d",
                   "channels": ["email", "push"]}]},
        "heavy",
        "heavy: marketing messages only while the contacts' summed weight stays at most 6 per "
        "30 days by email or push (every past contact counts, transactional and service "
        "included).",
        id="cap-weight",
    ),
    pytest.param(
        {"caps": [{"name": "no-push", "limit": 0, "window": "1d", "channels": ["push"]}]},
        "no-push",
        "no-push: no marketing messages at all by push (a limit of 0 blocks every send).",
        id="cap-zero",
    ),
    pytest.param(
        {"gaps": [{"name": "gap-48h", "min_gap": "48h"}]},
        "gap-48h",
        "gap-48h: at least 48 h between two contacts across all channels: holds back marketing "
        "messages (every past contact counts, transactional and service included).",
        id="gap",
    ),
    pytest.param(
        {"weights": {"sms": 3}, "decay": {"half_life": "7d", "threshold": 6}},
        "decayed-pressure",
        "decayed-pressure: decayed pressure across all channels: each contact weighs its "
        "weight (email 1, SMS 3, push 1), halving every 7 days; marketing messages go out only "
        "while that pressure plus their own weight stays at most 6 (every past contact counts, "
        "transactional and service included).",
        id="decay",
    ),
    pytest.param(
        {"exclusions": [{"name": "recent-buyer", "event": "order.placed", "window": "90d",
                         "except_scenarios": ["welcome"]}]},
        "recent-buyer",
        "recent-buyer: no marketing messages across all channels for 90 days after an order "
        "(order.placed), except the welcome scenario.",
        id="exclusion",
    ),
    pytest.param(
        {"exclusions": [{"name": "tier", "event": "loyalty.tier_changed", "window": "36h"}]},
        "tier",
        "tier: no marketing messages across all channels for 36 h after an event "
        "(loyalty.tier_changed).",
        id="exclusion-custom-event",
    ),
    pytest.param(
        {"default_time_zone": "Europe/Paris",
         "quiet_hours": [{"start": "21:00", "end": "08:00"}]},
        "quiet-hours",
        "quiet-hours: quiet hours 21:00-08:00 (overnight) in the customer's time zone "
        "(Europe/Paris when unknown): no marketing messages across all channels in that time.",
        id="quiet-hours",
    ),
    pytest.param(
        {"quiet_hours": [{"name": "lunch", "start": "12:00", "end": "14:00",
                          "channels": ["sms"]}]},
        "lunch",
        "lunch: quiet hours 12:00-14:00 in the customer's time zone (UTC when unknown): no "
        "marketing messages by SMS in that time.",
        id="quiet-hours-day",
    ),
]


@pytest.mark.parametrize(("pressure", "rule", "expected"), CASES)
def test_each_rule_kind_in_words(pressure, rule, expected):
    scenarios = {"welcome": {}, "promo": {}}
    assert _words(pressure, scenarios)[rule] == expected


def test_scenarios_caps_priorities_kinds_and_delays():
    words = _words(
        {"default_max_delay": "2d"},
        {
            "cart": {"priority": 90, "cap": {"limit": 1, "window": "7d"}, "max_delay": "12h"},
            "promo": {"priority": 20, "weight": 2, "cap": {"limit": 2, "window": "30d"}},
            "receipt": {"kind": "transactional"},
        },
    )
    assert words["scenario-cap:cart"] == (
        "scenario cart (marketing, priority 90): deferred at most 12 h; at most 1 time per "
        "7 days on any channel."
    )
    assert words["scenario-cap:promo"] == (
        "scenario promo (marketing, priority 20, weight 2): deferred at most 48 h; at most 2 "
        "times per 30 days on any channel."
    )
    receipt = next(text for key, text in words.items() if text.startswith("scenario receipt"))
    assert receipt == (
        "scenario receipt (transactional, priority 50): deferred at most 48 h; exempt from "
        "rules limited to marketing, but still counted."
    )


def test_general_settings_and_no_rules():
    words = list(_words({"reservation_ttl": "30m", "retention": "400d"}).values())
    assert words[0].startswith("No pressure rule is configured")
    assert "A reservation not confirmed within 30 min stops counting; the ledger keeps " \
        "contacts for 400 days." in words
    assert "Contact weights: email 1, SMS 1, push 1 (1 for a channel not listed)." in words


def test_every_setting_of_the_policy_has_words():
    """A new rule kind in ``[pressure]`` must get its wording here: this fails until it does."""
    described = {
        "retention", "reservation_ttl", "default_time_zone", "default_max_delay", "weights",
        "caps", "gaps", "decay", "exclusions", "quiet_hours",
    }
    assert set(PressureSettings.model_fields) == described
    assert {"kind", "priority", "weight", "cap", "max_delay"} <= set(ScenarioSettings.model_fields)
    full = describe_policy(
        PressureSettings.model_validate(
            {
                "caps": [{"name": "c", "limit": 1, "window": "1d"}],
                "gaps": [{"name": "g", "min_gap": "1h"}],
                "decay": {"half_life": "1d", "threshold": 2},
                "exclusions": [{"name": "e", "event": "order.placed", "window": "1d"}],
                "quiet_hours": [{"start": "22:00", "end": "07:00"}],
            }
        ),
        {"s": ScenarioSettings.model_validate({"cap": {"limit": 1, "window": "1d"}})},
    )
    assert [line.type for line in full][:6] == [
        "cap", "gap", "decay", "exclusion", "quiet_hours", "scenario",
    ]


_PART = re.compile(r"(\d+) (days?|h|min|s)")
_SECONDS = {"day": 86_400, "days": 86_400, "h": 3600, "min": 60, "s": 1}


@given(st.integers(min_value=1, max_value=400 * 86_400))
def test_span_reads_back_to_the_same_duration(seconds):
    text = span(timedelta(seconds=seconds))
    parts = _PART.findall(text)
    assert " ".join(f"{n} {u}" for n, u in parts) == text
    assert sum(int(n) * _SECONDS[u] for n, u in parts) == seconds
    assert all(int(n) > 0 for n, _ in parts)


@pytest.mark.parametrize(
    ("value", "expected"),
    [("48h", "48 h"), ("7d", "7 days"), ("1d", "24 h"), ("3d", "3 days"), ("90s", "1 min 30 s"),
     ("4d6h", "4 days 6 h"), ("15m", "15 min")],
)
def test_span_examples(value, expected):
    settings = PressureSettings.model_validate({"reservation_ttl": value})
    assert span(settings.reservation_ttl) == expected
