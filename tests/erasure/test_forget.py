"""``hub contacts forget``: after it, the person is in no table but the tombstone, the
suppressions and pseudonymous ledger, audit and request rows; every brick got its erase call."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sqlmodel import select

from contracts import Identifier, IdentifierKind
from hub.events.intake import ingest_events
from hub.storage.models import (
    BrickPseudonym,
    Customer,
    ErasureRequest,
    ErasureStep,
    IdentifierEntry,
    SinkContact,
    Suppression,
    metadata,
)
from tests.erasure.conftest import ADA, Hub, Memo, people_csv

WHEN = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
BOB = {"email": "bob@example.org", "first_name": "Bob", "last_name": "Marley"}
#: Tables that may keep the erased person's customer id (pseudonymous by design).
PSEUDONYMOUS = {
    "customers", "pressure_ledger", "pressure_decisions", "audit_log", "erasure_requests",
}


def order(number: int, *, email: str | None = None, pseudonym: str | None = None,
          source: str = "shop") -> dict[str, Any]:
    event: dict[str, Any] = {
        "id": f"order-{number}",
        "type": "order.placed",
        "source": source,
        "occurred_at": WHEN.isoformat(),
        "payload": {
            "order_id": f"o-{number}",
            "items": [{"sku": "BIKE-1", "name": "Ada's bike", "quantity": "1",
                       "unit_price": "120"}],
            "total": "120",
            "currency": "EUR",
        },
    }
    if pseudonym:
        event["pseudonym"] = pseudonym
    else:
        event["identifiers"] = [{"kind": "email", "value": email or ADA["email"]}]
    return event


def customer_id_of(hub: Hub, email: str) -> str:
    runtime = hub.runtime()
    with hub.session(runtime) as session:
        found = runtime.identity.find(session, Identifier(kind=IdentifierKind.EMAIL, value=email))
    assert found is not None
    return found


def populate(hub: Hub) -> str:
    """Ada everywhere: vault, attributes, consents, events, sends at two bricks, a sync, a
    dead-lettered import row; Bob alongside. Returns Ada's id."""
    ada = {**ADA, "consent_email": "yes", "attr.tier": "gold"}
    bob = {**BOB, "consent_email": "yes"}
    people = hub.write("people.csv", people_csv(ada, bob))
    assert hub.cli("contacts", "import", str(people)).code == 0
    bad = hub.write("bad.csv", "email,locale\nADA.lovelace@example.ORG,not a locale\n")
    assert hub.cli("contacts", "import", str(bad)).code == 2
    ada_id = customer_id_of(hub, ADA["email"])
    runtime = hub.runtime()
    report = ingest_events(runtime, [order(1)], source="shop")
    assert report.accepted == 1
    for args in (["--brick", "memo", "--scenario", "welcome"],
                 ["--brick", "outbox", "--scenario", "order_confirmation"]):
        result = hub.cli("send", "--customer", ada_id, "--channel", "email",
                         "--template", "t", *args)
        assert result.code == 0, result.err
    synced = hub.cli("contacts", "sync", "--from", "hub", "--to", "memo")
    assert synced.code == 0, synced.err
    return ada_id


def needles(hub: Hub, ada_id: str) -> dict[str, set[str]]:
    runtime = hub.runtime()
    with hub.session(runtime) as session:
        digests = set(session.exec(select(IdentifierEntry.digest).where(
            IdentifierEntry.customer_id == ada_id)).all())
        pseudonyms = set(session.exec(select(BrickPseudonym.pseudonym).where(
            BrickPseudonym.customer_id == ada_id)).all())
    return {
        "id": {ada_id},
        "digests": digests,
        "pseudonyms": pseudonyms,
        "plain": {"ada.lovelace@example.org", "+33612345678", "Lovelace"},
    }


def dump(hub: Hub) -> dict[str, list[dict[str, Any]]]:
    engine = hub.runtime().ready_engine()
    with engine.connect() as connection:
        return {
            tbl.name: [dict(row._mapping) for row in connection.execute(select(tbl))]
            for tbl in metadata.sorted_tables
        }


def mentions(row: dict[str, Any], words: set[str]) -> set[str]:
    found = set()
    for value in row.values():
        text = value.decode("latin-1") if isinstance(value, bytes) else str(value)
        found |= {w for w in words if w.lower() in text.lower()}
    return found


def test_forget_leaves_only_the_tombstone_and_pseudonymous_rows(hub: Hub) -> None:
    ada_id = populate(hub)
    found = needles(hub, ada_id)
    assert len(found["pseudonyms"]) == 2  # memo and outbox
    before = dump(hub)
    everything = set().union(*found.values())
    named = {name for name, rows in before.items() if any(mentions(r, everything) for r in rows)}
    assert {
        "identifiers", "vault_entries", "customer_keys", "consents", "customer_events", "sends",
        "brick_pseudonyms", "sink_contacts", "pressure_ledger", "audit_log",
    } <= named  # the scan below can see the person where she is
    assert len(before["dead_letters"]) == 1
    result = hub.cli("contacts", "forget", ada_id, "--reason", "asked by email", "--json")
    assert result.code == 0, result.err
    report = json.loads(result.out)
    steps = {s["brick"]: s for s in report["steps"]}
    assert steps["memo"]["status"] == "done"
    assert steps["outbox"]["status"] == "not_applicable"
    assert "no erase call" in steps["outbox"]["error"]
    assert Memo.erase_calls == [steps["memo"]["pseudonym"]]
    assert report["suppressions"] == 2 and report["dead_letters"] == 1
    after = dump(hub)
    assert after["dead_letters"] == []
    for name, rows in after.items():
        for row in rows:
            hits = mentions(row, everything)
            if not hits:
                continue
            assert name in PSEUDONYMOUS | {"suppressions", "erasure_steps"}, (name, row)
            assert not hits & found["plain"], (name, row)
            if name == "suppressions":
                assert hits <= found["digests"]
            else:
                assert not hits & found["digests"], (name, row)
            if name == "customers":
                assert row["status"] == "erased" and row["locale"] is None
                assert row["time_zone"] is None and row["merged_into"] is None
    assert not [r for r in after["audit_log"] if mentions(r, found["plain"])]
    actions = {r["action"] for r in after["audit_log"] if r["customer_id"] == ada_id}
    assert {"forget", "erase", "egress"} <= actions
    erase_rows = [r for r in after["audit_log"] if r["action"] == "erase"]
    assert [r["brick"] for r in erase_rows] == ["memo"]
    # Bob is untouched.
    bob = customer_id_of(hub, BOB["email"])
    shown = hub.cli("contacts", "show", bob, "--reveal", "--json")
    assert json.loads(shown.out)["fields"]["email"] == "bob@example.org"


def test_the_ledger_rows_stay_and_the_request_is_done(hub: Hub) -> None:
    ada_id = populate(hub)
    ledger_before = [r for r in dump(hub)["pressure_ledger"] if r["customer_id"] == ada_id]
    assert hub.cli("contacts", "forget", "--email", "ADA.LOVELACE@example.org").code == 0
    after = dump(hub)
    assert [r for r in after["pressure_ledger"] if r["customer_id"] == ada_id] == ledger_before
    [request] = after["erasure_requests"]
    assert request["status"] == "done" and request["completed_at"] is not None
    assert request["reason"] is None and request["action"] == "erase"
    assert not [r for r in after["sink_contacts"] if r["customer_id"] == ada_id]


def test_a_failed_erase_exits_4_and_resume_finishes_it(hub: Hub) -> None:
    ada_id = populate(hub)
    Memo.failures = 1
    result = hub.cli("contacts", "forget", ada_id)
    assert result.code == 4
    assert "memo: failed: Retryable: memo is down" in result.out
    assert "--resume" in result.out
    runtime = hub.runtime()
    with hub.session(runtime) as session:
        [step] = session.exec(select(ErasureStep).where(ErasureStep.brick == "memo")).all()
        assert step.status == "failed" and step.attempts == 1
        [request] = session.exec(select(ErasureRequest)).all()
        assert request.status == "failed"
        # The sink still holds her: the row stays until the erase is confirmed.
        assert session.get(SinkContact, ("memo", ada_id)) is not None
        assert session.get(Customer, ada_id).status == "erased"  # local erasure committed
    assert hub.cli("contacts", "forget", "--resume").code == 0
    assert len(Memo.erase_calls) == 2
    with hub.session(runtime) as session:
        [step] = session.exec(select(ErasureStep).where(ErasureStep.brick == "memo")).all()
        assert step.status == "done" and step.attempts == 2 and step.last_error is None
        assert session.exec(select(ErasureRequest)).one().status == "done"
        assert session.get(SinkContact, ("memo", ada_id)) is None
    again = hub.cli("contacts", "forget", "--resume", "--json")
    assert again.code == 0 and json.loads(again.out)["steps"] == []


def test_a_permanent_refusal_stays_failed_until_resumed(hub: Hub) -> None:
    ada_id = populate(hub)
    Memo.failures, Memo.permanent = 5, True
    assert hub.cli("contacts", "forget", ada_id).code == 4
    assert len(Memo.erase_calls) == 1  # Permanent: not retried
    assert hub.cli("contacts", "forget", "--resume").code == 4
    Memo.failures = 0
    assert hub.cli("contacts", "forget", "--resume").code == 0


def test_forgetting_again_changes_nothing_and_reports(hub: Hub) -> None:
    ada_id = populate(hub)
    assert hub.cli("contacts", "forget", ada_id).code == 0
    again = hub.cli("contacts", "forget", ada_id, "--json")
    assert again.code == 0
    assert json.loads(again.out)["already_erased"] is True
    assert len(Memo.erase_calls) == 1


def test_unknown_people_and_bad_options_exit_2(hub: Hub) -> None:
    populate(hub)
    assert hub.cli("contacts", "forget", "cus_nobody").code == 2
    missing = hub.cli("contacts", "forget", "--email", "nobody@example.org")
    assert missing.code == 2 and "no customer with this email" in missing.err
    assert hub.cli("contacts", "forget").code == 2
    assert hub.cli("contacts", "forget", "--email", "not an email").code == 2
    both = hub.cli("contacts", "forget", "--email", ADA["email"], "--phone", ADA["phone"])
    assert both.code == 2
    assert hub.cli("contacts", "forget", "--resume", "--email", ADA["email"]).code == 2
    assert hub.cli("contacts", "forget", "--withdraw", "--email", ADA["email"]).code == 2
    assert hub.cli("contacts", "forget", "--phone", ADA["phone"]).code == 0
    gone = hub.cli("contacts", "forget", "--phone", "06 12 34 56 78")
    assert gone.code == 2 and "erased earlier" in gone.err
    # Every command that looks a person up says so, not just forget.
    shown = hub.cli("contacts", "show", "--email", ADA["email"])
    assert shown.code == 2 and "this email belongs to a person erased earlier" in shown.err
    bad = hub.cli("contacts", "forget", "--email", "not an email")
    assert "--email:" in bad.err


def test_suppressions_hold_the_identifier_digests(hub: Hub) -> None:
    ada_id = populate(hub)
    digests = needles(hub, ada_id)["digests"]
    assert hub.cli("contacts", "forget", ada_id).code == 0
    runtime = hub.runtime()
    with hub.session(runtime) as session:
        rows = session.exec(select(Suppression)).all()
    assert {r.digest for r in rows} == digests
    assert {r.kind for r in rows} == {"email", "phone"}
