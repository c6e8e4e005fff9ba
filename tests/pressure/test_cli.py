"""``hub pressure``: exit codes, JSON shapes, the reservation lifecycle, explain and report.

Everything goes through ``run_cli`` against a real installation, on SQLite and PostgreSQL.
Fixed instants far in the future keep time rules deterministic; report tests use instants
relative to now because the report describes the present.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, update

from hub.pressure.decisions import all_decisions
from hub.pressure.ledger import LEDGER

POLICY = """
[pressure]
default_time_zone = "Europe/Paris"

[[pressure.caps]]
name = "weekly"
limit = 2
window = "7d"

[[pressure.caps]]
name = "no-push"
channels = ["push"]
limit = 0
window = "1d"

[[pressure.gaps]]
name = "gap-24h"
min_gap = "24h"

[[pressure.quiet_hours]]
start = "21:00"
end = "08:00"

[scenarios.promo]

[scenarios.cart]
priority = 90
cap = {limit = 1, window = "7d"}

[scenarios.receipt]
kind = "transactional"
"""

T = "2030-01-15T10:00:00+00:00"  # 11:00 in Paris: outside quiet hours


@pytest.fixture
def hub(pressure_hub):
    return pressure_hub(POLICY)


@pytest.fixture
def cli(run_cli, hub):
    def run(*args: str):
        return run_cli("--config", str(hub.config), "pressure", *args)

    return run


def _send(customer: str, channel: str = "email", scenario: str = "promo") -> list[str]:
    return ["--customer", customer, "--channel", channel, "--scenario", scenario]


def _count(hub, table) -> int:
    with hub.runtime.engine.connect() as connection:
        return connection.execute(select(func.count()).select_from(table)).scalar_one()


def test_check_allows_and_records_nothing(hub, cli):
    customer = hub.customer()
    result = cli("check", *_send(customer), "--at", T, "--json")
    assert result.code == 0, result.err
    data = json.loads(result.out)
    assert data["decision"] == "allowed"
    assert data["rule"] is None
    assert data["until"] is None
    assert data["rule_set_version"] == hub.ledger.policy.version
    assert data["kind"] == "marketing"
    assert {u["rule"] for u in data["consulted"]} == {"weekly", "gap-24h", "quiet-hours"}
    for usage in data["consulted"]:
        assert set(usage) == {"rule", "used", "limit", "ok", "detail"}
        assert usage["ok"] is True
    assert _count(hub, LEDGER) == 0
    assert _count(hub, all_decisions().subquery()) == 0


def test_recorded_contact_counts_in_the_next_check(hub, cli):
    customer = hub.customer()
    recorded = cli("record", *_send(customer), "--at", T, "--source", "crm-import", "--json")
    assert recorded.code == 0, recorded.err
    assert json.loads(recorded.out)["source"] == "crm-import"

    result = cli("check", *_send(customer), "--at", "2030-01-15T12:00:00Z", "--json")
    assert result.code == 3
    data = json.loads(result.out)
    assert data["decision"] == "deferred"
    assert data["rule"] == "gap-24h"
    assert data["until"] == "2030-01-16T10:00:00+00:00"
    usage = {u["rule"]: u for u in data["consulted"]}
    assert usage["weekly"]["used"] == 1
    assert usage["gap-24h"]["ok"] is False

    human = cli("check", *_send(customer), "--at", "2030-01-15T12:00:00Z")
    assert human.code == 3
    assert "deferred (rule gap-24h)" in human.out
    assert "2030-01-16 10:00:00 UTC (2030-01-16 11:00:00 CET Europe/Paris)" in human.out
    assert "gap-24h" in human.out and "NO" in human.out


def test_until_is_shown_in_the_customers_time_zone(hub, cli):
    customer = hub.customer(time_zone="America/New_York")
    # 22:00 in New York: quiet until 08:00 local, 13:00 UTC.
    result = cli("check", *_send(customer), "--at", "2030-01-15T03:00:00Z", "--json")
    assert result.code == 3
    data = json.loads(result.out)
    assert (data["rule"], data["until"]) == ("quiet-hours", "2030-01-15T13:00:00+00:00")
    assert data["until_local"] == "2030-01-15T08:00:00-05:00"
    assert data["time_zone"] == "America/New_York"
    human = cli("check", *_send(customer), "--at", "2030-01-15T03:00:00Z")
    assert "08:00:00 EST America/New_York" in human.out
    assert "time zone  America/New_York (customer)" in human.out


def test_denied_when_waiting_cannot_help_and_kinds_are_exempt(hub, cli):
    customer = hub.customer()
    denied = cli("reserve", *_send(customer, "push"), "--at", T, "--json")
    assert denied.code == 3
    data = json.loads(denied.out)
    assert (data["decision"], data["rule"], data["reservation_id"]) == ("denied", "no-push", None)
    assert _count(hub, LEDGER) == 0

    receipt = cli("check", *_send(customer, "push", "receipt"), "--at", T, "--json")
    assert receipt.code == 0
    data = json.loads(receipt.out)
    assert data["kind"] == "transactional"
    assert all("exempt" in u["detail"] for u in data["consulted"])

    forced = cli("check", *_send(customer, "push", "receipt"), "--kind", "marketing", "--at", T)
    assert forced.code == 3
    assert "denied" in forced.out


def test_reserve_is_idempotent_and_holds_the_slot(hub, cli):
    customer = hub.customer()
    args = ["reserve", *_send(customer), "--at", T, "--idempotency-key", "send-42", "--json"]
    first = cli(*args)
    assert first.code == 0, first.err
    held = json.loads(first.out)
    assert held["decision"] == "allowed"
    assert isinstance(held["reservation_id"], int)
    assert held["replayed"] is False

    again = json.loads(cli(*args).out)
    assert again["reservation_id"] == held["reservation_id"]
    assert again["replayed"] is True
    assert _count(hub, LEDGER) == 1

    # The held slot counts: a second send an hour later meets the gap.
    other = cli("reserve", *_send(customer), "--at", "2030-01-15T11:00:00Z", "--json")
    assert other.code == 3
    refused = json.loads(other.out)
    assert (refused["decision"], refused["reservation_id"]) == ("deferred", None)


def test_commit_and_release_lifecycle(hub, cli):
    customer = hub.customer()
    first = json.loads(cli("reserve", *_send(customer), "--at", T, "--json").out)
    rid = str(first["reservation_id"])

    released = cli("release", rid, "--json")
    assert released.code == 0
    assert json.loads(released.out) == {"reservation_id": int(rid), "status": "released"}
    # The slot is free again, and a released reservation cannot be committed.
    assert cli("check", *_send(customer), "--at", T).code == 0
    wrong = cli("commit", rid)
    assert wrong.code == 2
    assert "RESERVATION_ID" in wrong.err and "released" in wrong.err
    assert wrong.out == ""

    second = json.loads(cli("reserve", *_send(customer), "--at", T, "--json").out)
    rid = str(second["reservation_id"])
    assert json.loads(cli("commit", rid, "--json").out)["status"] == "sent"
    assert cli("commit", rid).code == 0  # committing twice is one commit
    assert cli("release", rid).code == 2
    unknown = cli("release", "999999")
    assert unknown.code == 2
    assert "no reservation 999999" in unknown.err


def test_reserve_with_commit_records_a_sent_contact(hub, cli):
    customer = hub.customer()
    result = cli("reserve", *_send(customer), "--at", T, "--commit")
    assert result.code == 0
    assert "recorded as sent" in result.out
    explained = json.loads(cli("explain", customer, "--at", T, "--json").out)
    assert [row["status"] for row in explained["ledger"]] == ["sent"]


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (["--at", "2030-01-15T10:00:00"], "--at"),
        (["--at", "next tuesday"], "--at"),
        (["--channel", "fax"], "--channel"),
        (["--kind", "spam"], "--kind"),
        (["--scenario", "nope"], "--scenario"),
        (["--customer", "cus_unknown"], "--customer"),
    ],
)
@pytest.mark.parametrize("command", ["check", "reserve", "record"])
def test_invalid_input_is_exit_2_naming_the_field(hub, cli, command, args, field):
    values = {"--customer": hub.customer(), "--channel": "email", "--scenario": "promo", "--at": T}
    values.update(dict(zip(args[::2], args[1::2], strict=True)))
    result = cli(command, *[x for pair in values.items() for x in pair], "--json")
    assert result.code == 2, result.err
    assert result.err.startswith(f"error: {field}:")
    assert result.out == ""
    if field == "--scenario":
        assert "declared: cart, promo, receipt" in result.err
    assert _count(hub, LEDGER) == 0


def test_other_invalid_input(hub, cli):
    customer = hub.customer()
    long_key = cli("reserve", *_send(customer), "--idempotency-key", "k" * 129)
    assert (long_key.code, long_key.err.split(":")[1]) == (2, " --idempotency-key")
    unknown = cli("explain", "cus_unknown", "--json")
    assert unknown.code == 2
    assert "unknown customer" in unknown.err


def test_explain_shows_ledger_usage_per_channel_and_decisions(hub, cli):
    customer = hub.customer()
    cli("record", *_send(customer, "sms", "cart"), "--at", "2030-01-12T10:00:00Z")
    cli("reserve", *_send(customer), "--at", T, "--idempotency-key", "e-1")
    cli("reserve", *_send(customer, "push"), "--at", T)

    result = cli("explain", customer, "--at", "2030-01-15T12:00:00Z", "--json")
    assert result.code == 0, result.err
    data = json.loads(result.out)
    assert (data["time_zone"], data["time_zone_source"]) == ("Europe/Paris", "default")
    rows = [(r["channel"], r["scenario"], r["status"], r["source"]) for r in data["ledger"]]
    assert rows == [("sms", "cart", "recorded", "external"), ("email", "promo", "reserved", "hub")]
    assert all(r["counts"] for r in data["ledger"])

    usage = {u["channel"]: u for u in data["usage"]}
    assert set(usage) == {"email", "sms", "push"}
    email = usage["email"]
    assert email["scenario"] == "promo"
    # Two contacts this week: the weekly cap frees a slot only after the 3-day maximum delay.
    assert (email["decision"], email["rule"]) == ("denied", "weekly")
    rules = {r["rule"]: r for r in email["rules"]}
    assert rules["weekly"]["used"] == 2
    assert rules["scenario-cap:cart"]["scenario"] == "cart"  # probed with a scenario in scope
    assert rules["scenario-cap:cart"]["used"] == 1
    assert "no-push" not in rules
    assert "no-push" in {r["rule"] for r in usage["push"]["rules"]}

    outcomes = [(d["channel"], d["outcome"], d["rule"]) for d in data["decisions"]]
    assert outcomes == [("push", "denied", "no-push"), ("email", "allowed", None)]

    human = cli("explain", customer, "--at", "2030-01-15T12:00:00Z")
    assert human.code == 0
    assert "time zone Europe/Paris (default)" in human.out
    assert "email: a marketing send (promo) now would be denied" in human.out
    assert "scenario-cap:cart" in human.out


REPORT_POLICY = """
[pressure]
[[pressure.caps]]
name = "weekly"
limit = 2
window = "7d"

[[pressure.caps]]
name = "no-push"
channels = ["push"]
limit = 0
window = "7d"

[scenarios.promo]
"""


def _ago(**delta: float) -> str:
    return (datetime.now(UTC) - timedelta(**delta)).isoformat()


def test_report_counts_contacts_when_no_decay_rule(pressure_hub, run_cli):
    hub = pressure_hub(REPORT_POLICY)

    def cli(*args: str):
        return run_cli("--config", str(hub.config), "pressure", *args)

    a, b, c, d = (hub.customer(f"{n}@example.com") for n in "abcd")
    for customer, channel, when in [
        (a, "email", _ago(hours=1)),
        (a, "sms", _ago(days=2)),
        (a, "email", _ago(days=20)),
        (b, "email", _ago(hours=3)),
    ]:
        assert cli("record", *_send(customer, channel), "--at", when).code == 0
    assert cli("reserve", *_send(c)).code == 0  # an active reservation counts
    assert cli("reserve", *_send(c, "push")).code == 3
    lapsed = json.loads(cli("reserve", *_send(d), "--json").out)["reservation_id"]
    with hub.runtime.engine.begin() as connection:  # past its TTL, not yet marked expired
        connection.execute(
            update(LEDGER).where(LEDGER.c.id == lapsed).values(expires_at=datetime.now(UTC))
        )

    result = cli("report", "--json")
    assert result.code == 0, result.err
    data = json.loads(result.out)
    pressure = data["pressure"]
    assert (pressure["measure"], pressure["rule"], pressure["limit"]) == (
        "contacts in the last 1w",
        "weekly",
        2,
    )
    assert {k: pressure[k] for k in ("customers", "zero", "min", "p50", "p90", "p99", "max")} == {
        "customers": 4, "zero": 1, "min": 0, "p50": 1, "p90": 2, "p99": 2, "max": 2,
    }  # fmt: skip
    assert [b["customers"] for b in pressure["histogram"]] == [1, 2, 1]
    assert pressure["histogram"][-1] == {"low": 2, "high": None, "customers": 1}
    assert data["decisions"]["by_outcome"] == {"allowed": 2, "deferred": 0, "denied": 1}
    assert data["decisions"]["by_rule"] == [{"rule": "no-push", "deferred": 0, "denied": 1}]
    assert (data["reservations"]["active"], data["reservations"]["lapsed"]) == (1, 1)
    assert data["reservations"]["by_channel"] == {"email": 1}
    assert data["contacts"] == {
        "email": {"last_7d": 2, "last_30d": 3},
        "sms": {"last_7d": 1, "last_30d": 1},
        "push": {"last_7d": 0, "last_30d": 0},
    }
    human = cli("report")
    assert human.code == 0
    assert "contacts in the last 1w (rule weekly, limit 2); customers: 4" in human.out
    assert "no-push" in human.out


DECAY_POLICY = """
[pressure]
weights = {sms = 3}

[pressure.decay]
half_life = "1d"
threshold = 4

[scenarios.promo]
"""


def test_report_distributes_decayed_pressure_in_sql(pressure_hub, run_cli):
    hub = pressure_hub(DECAY_POLICY)

    def cli(*args: str):
        return run_cli("--config", str(hub.config), "pressure", *args)

    a, b, _ = (hub.customer(f"{n}@example.com") for n in "abc")
    cli("record", *_send(a, "sms"), "--at", _ago(days=1))  # 3 / 2
    cli("record", *_send(a), "--at", _ago(days=2))  # 1 / 4
    cli("record", *_send(b), "--at", _ago(days=10))  # about 0.001

    data = json.loads(cli("report", "--json").out)["pressure"]
    assert (data["measure"], data["rule"]) == ("decayed pressure", "decayed-pressure")
    assert data["limit"] == 4
    assert data["customers"] == 3
    assert data["zero"] == 1
    assert data["max"] == pytest.approx(1.75, abs=1e-3)
    assert data["p50"] == pytest.approx(2**-10, abs=1e-4)
    assert [b["customers"] for b in data["histogram"]] == [2, 1, 0, 0, 0]

    # The SQL agrees with the engine, which explain asks.
    explained = json.loads(cli("explain", a, "--json").out)
    engine_value = {r["rule"]: r for r in explained["usage"][0]["rules"]}["decayed-pressure"]
    assert engine_value["used"] == pytest.approx(data["max"], abs=1e-3)
