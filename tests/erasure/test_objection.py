"""``hub contacts forget ID --object`` (art. 21): marketing and profiling stop, transactional
messages go, nothing is deleted, and only ``--object --withdraw`` lifts it."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from sqlmodel import select

from contracts import Purpose
from hub.egress import BrickNotEnabled, build_view
from hub.events.intake import ingest_events
from hub.storage.models import AuditEntry, Customer, ErasureRequest
from tests.erasure.conftest import ADA, Hub, people_csv
from tests.erasure.test_forget import customer_id_of


def send(hub: Hub, customer: str, scenario: str) -> tuple[int, dict]:
    result = hub.cli("send", "--customer", customer, "--channel", "email", "--scenario",
                     scenario, "--template", "t", "--brick", "memo", "--json")
    return result.code, json.loads(result.out) if result.out.strip() else {}


@pytest.fixture
def ada(hub: Hub) -> str:
    row = {**ADA, "consent_email": "yes"}
    assert hub.cli("contacts", "import", str(hub.write("p.csv", people_csv(row)))).code == 0
    return customer_id_of(hub, ADA["email"])


def test_an_objection_refuses_marketing_and_lets_transactional_through(
    hub: Hub, ada: str
) -> None:
    assert send(hub, ada, "welcome")[0] == 0
    result = hub.cli("contacts", "forget", ada, "--object", "--reason", "letter of 3 March")
    assert result.code == 0, result.err
    assert "marketing and profiling refused" in result.out
    code, outcome = send(hub, ada, "welcome")
    assert code == 3
    assert outcome["rule"] == "consent" and "art. 21" in outcome["reason"]
    assert send(hub, ada, "order_confirmation")[0] == 0
    shown = json.loads(hub.cli("contacts", "show", ada, "--reveal", "--json").out)
    assert shown["status"] == "objected"
    assert shown["fields"]["email"] == "ada.lovelace@example.org"  # nothing deleted
    assert [c["status"] for c in shown["consents"]] == ["granted"]


def test_a_later_consent_grant_does_not_lift_it(hub: Hub, ada: str) -> None:
    assert hub.cli("contacts", "forget", "--email", ADA["email"], "--object").code == 0
    row = {**ADA, "consent_email": "no"}
    hub.cli("contacts", "import", str(hub.write("q.csv", people_csv(row))))
    row = {**ADA, "consent_email": "yes", "first_name": "Augusta"}
    imported = hub.cli("contacts", "import", str(hub.write("r.csv", people_csv(row))), "--json")
    assert json.loads(imported.out)["updated"] == 1
    with hub.session() as session:
        assert session.get(Customer, ada).status == "objected"
    assert send(hub, ada, "welcome")[0] == 3


def test_only_withdraw_lifts_it(hub: Hub, ada: str) -> None:
    assert hub.cli("contacts", "forget", ada, "--object").code == 0
    twice = hub.cli("contacts", "forget", ada, "--object")
    assert twice.code == 2 and "already objected" in twice.err
    lifted = hub.cli("contacts", "forget", ada, "--object", "--withdraw", "--json")
    assert lifted.code == 0
    assert json.loads(lifted.out)["status"] == "active"
    assert send(hub, ada, "welcome")[0] == 0
    again = hub.cli("contacts", "forget", ada, "--object", "--withdraw")
    assert again.code == 2 and "not objected" in again.err
    with hub.session() as session:
        actions = [r.action for r in session.exec(select(ErasureRequest))]
        audit = [r.action for r in session.exec(select(AuditEntry)) if r.customer_id == ada]
    assert actions == ["object", "withdraw"]
    assert {"object", "withdraw_objection"} <= set(audit)


def test_an_erased_customer_cannot_object(hub: Hub, ada: str) -> None:
    assert hub.cli("contacts", "forget", ada).code == 0
    refused = hub.cli("contacts", "forget", ada, "--object")
    assert refused.code == 2 and "only an active customer can object" in refused.err


def test_no_view_is_built_for_profiling_after_an_objection(hub: Hub, ada: str) -> None:
    assert hub.cli("contacts", "forget", ada, "--object").code == 0
    runtime = hub.runtime()
    profiling = replace(runtime.bricks["memo"], purposes=frozenset(Purpose))
    with hub.session(runtime) as session:
        with pytest.raises(BrickNotEnabled, match=r"art\. 21"):
            build_view(session, runtime.identity, profiling, ada, purpose=Purpose.PROFILING,
                       request_id="r1")
        view = build_view(session, runtime.identity, profiling, ada,
                          purpose=Purpose.TRANSACTIONAL, request_id="r2")
    assert view.email == "ada.lovelace@example.org"


def test_verified_identifiers_cannot_merge_an_objecting_customer(hub: Hub, ada: str) -> None:
    phone_only = hub.write("phone.csv", "phone,first_name\n+33 6 99 88 77 66,A.\n")
    assert hub.cli("contacts", "import", str(phone_only)).code == 0
    assert hub.cli("contacts", "forget", ada, "--object").code == 0
    login = {
        "id": "login-1", "type": "customer.logged_in", "source": "shop",
        "occurred_at": "2026-03-03T10:00:00+00:00",
        "identifiers": [
            {"kind": "email", "value": ADA["email"], "verified": True},
            {"kind": "phone", "value": "+33699887766", "verified": True},
        ],
    }
    report = ingest_events(hub.runtime(), [login], source="shop")
    [rejection] = report.rejected
    assert "cannot be merged" in rejection.reason and "objected" in rejection.reason
    with hub.session() as session:
        statuses = sorted(c.status for c in session.exec(select(Customer)))
    assert statuses == ["active", "objected"]
