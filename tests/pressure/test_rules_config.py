"""``hub config validate`` rejects bad pressure rules, naming each by its dotted path.

Each case writes a whole installation config (key files included, so only the pressure rules
can be wrong) and checks the exact set of paths reported, plus the gist of each message.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pytest

from hub.config import load_settings
from hub.pressure.policy import Policy
from hub.testing import make_installation

SCENARIOS = """
[scenarios.welcome]
priority = 60

[scenarios.promo]
priority = 10
"""


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No HUB_* variable from the developer's shell, and an empty working directory."""
    for name in list(os.environ):
        if name.upper().startswith("HUB_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def write(tmp_path: Path, rules: str) -> Path:
    installation = make_installation(tmp_path / "hub", extra=rules + SCENARIOS, migrate=False)
    return installation.config


def problems(err: str) -> dict[str, str]:
    """``path: message`` lines as a mapping (each path is reported once here)."""
    found: dict[str, str] = {}
    for line in err.splitlines():
        if line.strip():
            path, _, message = line.partition(": ")
            assert path not in found, f"{path} reported twice"
            found[path] = message
    return found


CASES = {
    "negative cap": (
        '[[pressure.caps]]\nname = "c"\nlimit = -1\nwindow = "7d"\n',
        {"pressure.caps.0.limit": "greater than or equal to 0"},
    ),
    "unknown channel": (
        '[[pressure.caps]]\nname = "c"\nlimit = 1\nwindow = "7d"\nchannels = ["email", "fax"]\n',
        {"pressure.caps.0.channels.1": "'email', 'sms' or 'push'"},
    ),
    "unknown kind": (
        '[[pressure.caps]]\nname = "c"\nlimit = 1\nwindow = "7d"\nkinds = ["promotional"]\n',
        {"pressure.caps.0.kinds.0": "'marketing', 'transactional' or 'service'"},
    ),
    "unknown key in a rule": (
        '[[pressure.caps]]\nname = "c"\nlimits = 1\nlimit = 1\nwindow = "7d"\n',
        {"pressure.caps.0.limits": "unknown key"},
    ),
    "window longer than retention": (
        '[pressure]\nretention = "30d"\n\n'
        '[[pressure.caps]]\nname = "c"\nlimit = 1\nwindow = "31d"\n',
        {"pressure.caps.0.window": "is longer than pressure.retention"},
    ),
    "calendar month longer than retention": (
        '[pressure]\nretention = "30d"\n\n'
        '[[pressure.caps]]\nname = "c"\nlimit = 1\ncalendar = "month"\n',
        {"pressure.caps.0.calendar": "a month is longer than pressure.retention"},
    ),
    "gap longer than retention": (
        '[pressure]\nretention = "30d"\n\n[[pressure.gaps]]\nname = "g"\nmin_gap = "5w"\n',
        {"pressure.gaps.0.min_gap": "is longer than pressure.retention"},
    ),
    "exclusion longer than retention": (
        '[pressure]\nretention = "30d"\n\n[[pressure.exclusions]]\nname = "x"\n'
        'event = "order.placed"\nwindow = "90d"\n',
        {"pressure.exclusions.0.window": "is longer than pressure.retention"},
    ),
    "scenario cap longer than retention": (
        '[pressure]\nretention = "30d"\n\n[scenarios.cart]\ncap = {limit = 1, window = "60d"}\n',
        {"scenarios.cart.cap.window": "is longer than pressure.retention"},
    ),
    "negative scenario cap": (
        '[scenarios.cart]\ncap = {limit = -1, window = "7d"}\n',
        {"scenarios.cart.cap.limit": "greater than or equal to 0"},
    ),
    "unknown scenario in a cap": (
        '[[pressure.caps]]\nname = "c"\nlimit = 1\nwindow = "7d"\nscenarios = ["nope"]\n',
        {"pressure.caps.0.scenarios.0": "unknown scenario 'nope' (declared: promo, welcome)"},
    ),
    "unknown scenario in an exception": (
        '[[pressure.exclusions]]\nname = "recent-order"\nevent = "order.placed"\n'
        'window = "90d"\nexcept_scenarios = ["welcome", "welcom"]\n',
        {"pressure.exclusions.0.except_scenarios.1": "unknown scenario 'welcom'"},
    ),
    "duplicate rule names": (
        '[[pressure.caps]]\nname = "weekly"\nlimit = 1\nwindow = "7d"\n\n'
        '[[pressure.gaps]]\nname = "weekly"\nmin_gap = "48h"\n',
        {"pressure.gaps.0.name": "rule name 'weekly' is already used by pressure.caps.0"},
    ),
    "two unnamed quiet hours": (
        '[[pressure.quiet_hours]]\nstart = "21:00"\nend = "08:00"\n\n'
        '[[pressure.quiet_hours]]\nstart = "12:00"\nend = "14:00"\n',
        {
            "pressure.quiet_hours.1.name": (
                "rule name 'quiet-hours' is already used by pressure.quiet_hours.0"
            )
        },
    ),
    "cap with window and calendar": (
        '[[pressure.caps]]\nname = "c"\nlimit = 1\nwindow = "1d"\ncalendar = "day"\n',
        {"pressure.caps.0": "give exactly one of window (rolling) or calendar"},
    ),
    "cap with neither window nor calendar": (
        '[[pressure.caps]]\nname = "c"\nlimit = 1\n',
        {"pressure.caps.0": "give exactly one of window (rolling) or calendar"},
    ),
    "unknown calendar period": (
        '[[pressure.caps]]\nname = "c"\nlimit = 1\ncalendar = "fortnight"\n',
        {"pressure.caps.0.calendar": "'day', 'week' or 'month'"},
    ),
    "empty quiet hours": (
        '[[pressure.quiet_hours]]\nstart = "22:00"\nend = "22:00"\n',
        {"pressure.quiet_hours.0": "start and end must differ"},
    ),
    "quiet hours out of range": (
        '[[pressure.quiet_hours]]\nstart = "25:00"\nend = "08:00"\n',
        {"pressure.quiet_hours.0.start": "valid time"},
    ),
    "quiet hours with an offset": (
        '[[pressure.quiet_hours]]\nstart = "22:00+01:00"\nend = "08:00"\n',
        {"pressure.quiet_hours.0": "quiet hours are local times: give no offset"},
    ),
    "unknown default time zone": (
        '[pressure]\ndefault_time_zone = "Mars/Olympus_Mons"\n',
        {"pressure.default_time_zone": "not an IANA time zone"},
    ),
    "path as default time zone": (
        '[pressure]\ndefault_time_zone = "../../etc/passwd"\n',
        {"pressure.default_time_zone": "not an IANA time zone"},
    ),
    "negative gap": (
        '[[pressure.gaps]]\nname = "g"\nmin_gap = "-48h"\n',
        {"pressure.gaps.0.min_gap": "must be longer than zero"},
    ),
    "zero decay threshold": (
        '[pressure.decay]\nhalf_life = "3d"\nthreshold = 0\n',
        {"pressure.decay.threshold": "greater than 0"},
    ),
    "bad event name": (
        '[[pressure.exclusions]]\nname = "x"\nevent = "Order"\nwindow = "90d"\n',
        {"pressure.exclusions.0.event": "should match pattern"},
    ),
    "negative channel weight": (
        "[pressure]\nweights = {email = 1, sms = -2}\n",
        {"pressure.weights.sms": "must be >= 0"},
    ),
    "upper-case scenario name": (
        "[scenarios.Promo_Summer]\n",
        {"scenarios.Promo_Summer": "names are lower case"},
    ),
    "priority out of range": (
        "[scenarios.cart]\npriority = 101\n",
        {"scenarios.cart.priority": "less than or equal to 100"},
    ),
}


@pytest.mark.parametrize(("rules", "expected"), list(CASES.values()), ids=list(CASES))
def test_bad_rules_are_named_by_their_dotted_path(
    run_cli, tmp_path: Path, rules: str, expected: dict[str, str]
) -> None:
    result = run_cli("config", "validate", str(write(tmp_path, rules)))
    assert result.code == 2
    assert result.out == ""
    found = problems(result.err)
    assert set(found) == set(expected), result.err
    for path, gist in expected.items():
        assert gist in found[path], f"{path}: {found[path]!r} lacks {gist!r}"


def test_every_cross_key_problem_is_reported_at_once(run_cli, tmp_path: Path) -> None:
    rules = """
[pressure]
retention = "30d"
default_time_zone = "Nowhere/Town"

[[pressure.caps]]
name = "weekly"
limit = 1
window = "60d"
scenarios = ["nope"]

[[pressure.gaps]]
name = "weekly"
min_gap = "48h"

[[pressure.exclusions]]
name = "recent-order"
event = "order.placed"
window = "20d"
except_scenarios = ["welcom"]

[scenarios.cart]
cap = {limit = 1, window = "60d"}
"""
    result = run_cli("config", "validate", str(write(tmp_path, rules)))
    assert result.code == 2
    assert sorted(problems(result.err)) == [
        "pressure.caps.0.scenarios.0",
        "pressure.caps.0.window",
        "pressure.default_time_zone",
        "pressure.exclusions.0.except_scenarios.0",
        "pressure.gaps.0.name",
        "scenarios.cart.cap.window",
    ]
    assert "declared: cart, promo, welcome" in result.err


RICH = """
[pressure]
retention = "400d"
reservation_ttl = "10m"
default_time_zone = "Europe/Paris"
default_max_delay = "2d"
weights = {email = 1, sms = 3, push = 0.5}

[[pressure.caps]]
name = "weekly-all"
limit = 5
window = "7d"

[[pressure.caps]]
name = "sms-daily"
channels = ["sms"]
limit = 1
calendar = "day"

[[pressure.caps]]
name = "monthly-weight"
measure = "weight"
limit = 20
calendar = "month"
counts = ["marketing", "transactional"]

[[pressure.caps]]
name = "promo-48h"
scenarios = ["promo"]
kinds = ["marketing", "service"]
limit = 1
window = "48h"

[[pressure.gaps]]
name = "min-gap"
min_gap = "12h"

[pressure.decay]
half_life = "3d"
threshold = 6

[[pressure.exclusions]]
name = "recent-order"
event = "order.placed"
window = "90d"
except_scenarios = ["welcome", "cart_reminder"]

[[pressure.quiet_hours]]
start = 21:00:00
end = 08:00:00

[[pressure.quiet_hours]]
name = "sms-lunch"
channels = ["sms"]
start = "12:00"
end = "14:00"

[scenarios.cart_reminder]
priority = 90
cap = {limit = 1, window = "7d"}
max_delay = "1d"

[scenarios.order_confirmation]
kind = "transactional"
priority = 100
weight = 0
"""


def test_a_rich_valid_policy_passes(run_cli, tmp_path: Path) -> None:
    path = write(tmp_path, RICH)
    result = run_cli("config", "validate", str(path))
    assert (result.code, result.err) == (0, "")
    assert result.out.strip() == f"configuration valid: {path}"

    settings = load_settings(path)
    policy = Policy(settings.pressure, settings.scenarios)
    assert [rule.name for rule in policy.rules] == [
        "scenario-cap:cart_reminder",
        "weekly-all",
        "sms-daily",
        "monthly-weight",
        "promo-48h",
        "min-gap",
        "decayed-pressure",
        "recent-order",
        "quiet-hours",
        "sms-lunch",
    ]
    assert policy.max_delay("promo") == timedelta(days=2)
    assert policy.max_delay("cart_reminder") == timedelta(days=1)
    assert policy.weight(settings.pressure.caps[1].channels[0], "promo") == 3
    assert policy.weight(settings.pressure.caps[1].channels[0], "order_confirmation") == 0
