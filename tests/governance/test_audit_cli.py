"""``hub audit``: filters (AND), order, limits, lookups by email or phone, exit codes, no PII."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import insert

from hub.storage.models import AuditEntry, Customer, table
from tests.governance.conftest import assert_no_pii, audit, hub

T0 = datetime(2026, 11, 10, 9, 0, tzinfo=UTC)


def test_populated_log_prints_names_of_fields_never_values(run_cli, people):
    installation, ids = people
    result = hub(run_cli, installation, "audit", "--json")
    assert result.code == 0, result.err
    rows = json.loads(result.out)
    assert [r["action"] for r in rows] == ["reveal", "egress", "egress", "egress"]
    assert [r["at"] for r in rows] == sorted((r["at"] for r in rows), reverse=True)
    egress = [r for r in rows if r["action"] == "egress"]
    assert {r["brick"] for r in egress} == {"outbox"}
    assert {(r["customer_id"], tuple(r["fields"])) for r in egress} == {
        (ids["ada"], ("email", "first_name")), (ids["ada"], ("first_name", "phone")),
        (ids["grace"], ("email", "first_name")),
    }
    assert all(r["pseudonym"].startswith("ps_") and r["request_id"] for r in egress)
    assert rows[0]["customer_id"] == ids["grace"] and "email" in rows[0]["fields"]
    text = hub(run_cli, installation, "audit")
    assert text.code == 0
    assert text.out.splitlines()[0].split() == [
        "at", "action", "brick", "customer", "pseudonym", "purpose", "fields", "request", "actor",
    ]
    assert len(text.out.splitlines()) == 5
    assert_no_pii(result.out, result.err, text.out, text.err)


def test_lookups_by_email_and_phone_are_never_printed(run_cli, people):
    installation, ids = people
    by_email = hub(run_cli, installation, "audit", "--email", "ADA@example.com ", "--json")
    assert by_email.code == 0, by_email.err
    assert {r["customer_id"] for r in json.loads(by_email.out)} == {ids["ada"]}
    assert len(json.loads(by_email.out)) == 2
    by_phone = hub(run_cli, installation, "audit", "--phone", "06 12 34 56 78")
    assert by_phone.code == 0 and ids["ada"] in by_phone.out and ids["grace"] not in by_phone.out
    unknown = hub(run_cli, installation, "audit", "--email", "nobody@example.com")
    assert unknown.code == 2 and "--email: no customer with this email" in unknown.err
    invalid = hub(run_cli, installation, "audit", "--phone", "12")
    assert invalid.code == 2 and "--phone" in invalid.err
    for result in (by_email, by_phone, unknown, invalid):
        assert_no_pii(result.out, result.err)
        assert "nobody@example.com" not in result.err


@pytest.fixture
def crafted(installation):
    """Rows at known instants: egress to two bricks, a reveal, an erase; a merged customer."""
    rows = [
        audit(1, T0, "brevo", "cus_a"),
        audit(2, T0 + timedelta(hours=1), "brevo", "cus_b"),
        audit(3, T0 + timedelta(hours=2), "twilio", "cus_a", fields="phone"),
        audit(4, T0 + timedelta(hours=3), None, "cus_a", action="reveal", fields="email"),
        audit(5, T0 + timedelta(hours=4), "brevo", "cus_old", action="erase", fields=""),
        audit(6, T0 + timedelta(hours=5), "brevo", "cus_a"),
    ]
    runtime = installation.runtime()
    with runtime.engine.begin() as conn:
        conn.execute(insert(table(AuditEntry)), rows)
        conn.execute(
            insert(table(Customer)),
            [
                {"id": "cus_a", "status": "active", "merged_into": None,
                 "created_at": T0, "updated_at": T0},
                {"id": "cus_old", "status": "merged", "merged_into": "cus_a",
                 "created_at": T0, "updated_at": T0},
            ],
        )
    runtime.engine.dispose()
    return installation


def _ids(run_cli, installation, *args) -> list[int]:
    result = hub(run_cli, installation, "audit", "--json", *args)
    assert result.code == 0, result.err
    return [row["id"] for row in json.loads(result.out)]


def test_filters_combine_with_and(run_cli, crafted):
    ids = lambda *args: _ids(run_cli, crafted, *args)  # noqa: E731
    assert ids() == [6, 5, 4, 3, 2, 1]  # newest first
    assert ids("--brick", "brevo") == [6, 5, 2, 1]
    assert ids("--action", "egress") == [6, 3, 2, 1]
    assert ids("--brick", "brevo", "--action", "egress") == [6, 2, 1]
    # since is inclusive, until exclusive; offsets are honoured (10:00+01:00 is 09:00Z)
    assert ids("--since", "2026-11-10T10:00:00+01:00", "--until", "2026-11-10T11:00:00Z") == [2, 1]
    assert ids("--since", "2026-11-10T12:00:00Z") == [6, 5, 4]
    # a customer and the customers merged into it; an id with no row any more still works
    assert ids("--customer", "cus_a") == [6, 5, 4, 3, 1]
    assert ids("--customer", "cus_old") == [5]
    assert ids("--customer", "cus_gone") == []
    assert ids("--customer", "cus_a", "--brick", "brevo", "--action", "egress",
               "--until", "2026-11-10T12:00:00Z") == [1]


def test_limit_keeps_the_newest_and_says_more_match(run_cli, crafted):
    limited = hub(run_cli, crafted, "audit", "--json", "--limit", "2")
    assert [r["id"] for r in json.loads(limited.out)] == [6, 5]
    assert "showing the 2 newest rows; more match" in limited.err
    exact = hub(run_cli, crafted, "audit", "--json", "--limit", "6")
    assert len(json.loads(exact.out)) == 6 and "more match" not in exact.err
    assert len(json.loads(hub(run_cli, crafted, "audit", "--json", "--limit", "0").out)) == 6
    empty = hub(run_cli, crafted, "audit", "--brick", "nobody")
    assert (empty.code, empty.out.strip()) == (0, "no audit rows match")
    assert json.loads(hub(run_cli, crafted, "audit", "--brick", "nobody", "--json").out) == []


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (("--since", "yesterday"), "--since"),
        (("--until", "2026-11-10T10:00:00"), "--until"),  # no offset
        (("--since", "2026-11-11T00:00:00Z", "--until", "2026-11-10T00:00:00Z"), "--until"),
        (("--limit", "-1"), "--limit"),
        (("--action", "DROP TABLE"), "--action"),
        (("--brick", "b" * 41), "--brick"),
        (("--customer", "cus_a", "--email", "ada@example.com"), "--email"),
        (("--customer", "c" * 41), "--customer"),
    ],
    ids=["since-text", "until-no-offset", "until-before-since", "limit-negative",
         "action-malformed", "brick-too-long", "two-lookups", "customer-too-long"],
)
def test_bad_values_exit_2_naming_the_option(run_cli, sqlite_installation, args, option):
    result = hub(run_cli, sqlite_installation, "audit", *args)
    assert result.code == 2
    assert result.err.startswith(f"error: {option}: ")
    assert result.out == ""
    assert_no_pii(result.err)
