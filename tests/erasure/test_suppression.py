"""An erased person's contact points never bring them back: re-imports make one suppressed
record holding no personal data, never pushed or sent to; events about them are refused
without their content being kept."""

from __future__ import annotations

import json

from sqlmodel import select

from contracts import Contact, CustomerField, Identifier, IdentifierKind
from hub.contacts.apply import apply_contacts
from hub.dead_letters import open_payload
from hub.events.intake import ingest_events
from hub.storage.models import (
    AuditEntry,
    ConsentEntry,
    Customer,
    CustomerEvent,
    CustomerKey,
    DeadLetter,
    IdentifierEntry,
    SinkContact,
    VaultEntry,
)
from tests.erasure.conftest import ADA, Hub, Memo, people_csv
from tests.erasure.test_forget import customer_id_of, order, populate

ROW = {**ADA, "consent_email": "yes", "attr.tier": "platinum"}


def forget_ada(hub: Hub) -> str:
    ada_id = populate(hub)
    memo_pseudonym = hub.runtime().keys.pseudonym("memo", ada_id)
    assert hub.cli("contacts", "forget", ada_id).code == 0
    return memo_pseudonym


def suppressed_records(hub: Hub) -> list[Customer]:
    with hub.session() as session:
        return list(session.exec(select(Customer).where(Customer.status == "suppressed")))


def test_a_reimport_makes_one_suppressed_record_with_no_personal_data(hub: Hub) -> None:
    forget_ada(hub)
    path = hub.write("again.csv", people_csv(ROW, {"email": "carol@example.org"}))
    first = hub.cli("contacts", "import", str(path), "--json")
    assert first.code == 0, first.err
    summary = json.loads(first.out)
    assert summary["suppressed"] == 1 and summary["created"] == 1
    text = hub.cli("contacts", "import", str(path))
    assert "1 suppressed (erased people)" in text.out
    [record] = suppressed_records(hub)  # the second import found the same record
    assert record.locale is None and record.time_zone is None
    with hub.session() as session:
        for model in (CustomerKey, VaultEntry, ConsentEntry):
            rows = session.exec(select(model).where(model.customer_id == record.id)).all()
            assert rows == [], model
        kinds = sorted(
            e.kind
            for e in session.exec(
                select(IdentifierEntry).where(IdentifierEntry.customer_id == record.id)
            )
        )
    assert kinds == ["email", "phone"]
    assert customer_id_of(hub, "ADA.LOVELACE@example.org") == record.id
    shown = json.loads(hub.cli("contacts", "show", record.id, "--reveal", "--json").out)
    assert shown["status"] == "suppressed" and shown["fields"] == {}
    assert shown["consents"] == []


def test_a_suppressed_record_is_never_pushed_nor_sent_to(hub: Hub) -> None:
    forget_ada(hub)
    hub.cli("contacts", "import", str(hub.write("again.csv", people_csv(ROW))))
    [record] = suppressed_records(hub)
    Memo.held.clear()
    synced = hub.cli("contacts", "sync", "--from", "hub", "--to", "memo", "--full")
    assert synced.code == 0, synced.err
    with hub.session() as session:
        assert session.get(SinkContact, ("memo", record.id)) is None
        audit = session.exec(select(AuditEntry).where(AuditEntry.customer_id == record.id))
        assert audit.all() == []
    pseudonym = hub.runtime().keys.pseudonym("memo", record.id)
    assert pseudonym not in Memo.held
    for scenario in ("welcome", "order_confirmation"):
        sent = hub.cli("send", "--customer", record.id, "--channel", "email", "--scenario",
                       scenario, "--template", "t", "--brick", "memo", "--json")
        assert sent.code == 3, sent.err
        assert "erased person (suppressed)" in json.loads(sent.out)["reason"]
    assert pseudonym not in {r.recipient.pseudonym for r in Memo.sent}


def test_events_about_an_erased_person_are_refused_and_not_kept(hub: Hub) -> None:
    memo_pseudonym = forget_ada(hub)
    runtime = hub.runtime()
    report = ingest_events(
        runtime,
        [order(1), order(2, email="ada.lovelace@EXAMPLE.org"),
         order(3, pseudonym=memo_pseudonym, source="memo"),
         order(4, email="carol@example.org")],
        source="api",
    )
    assert report.accepted == 1  # Carol's
    assert len(report.rejected) == 3
    assert all("erased at their request" in r.reason for r in report.rejected)
    assert {r.field for r in report.rejected} == {"identifiers", "pseudonym"}
    [suppressed] = suppressed_records(hub)
    with hub.session(runtime) as session:
        letters = {
            letter.id: letter for letter in session.exec(select(DeadLetter))
        }
        for rejection in report.rejected:
            assert open_payload(runtime.vault, letters[rejection.dead_letter_id]) is None
        events = session.exec(
            select(CustomerEvent).where(CustomerEvent.customer_id == suppressed.id)
        ).all()
        assert events == []


def test_a_customer_update_cannot_hand_an_erased_address_to_someone_else(hub: Hub) -> None:
    forget_ada(hub)
    bob_id = customer_id_of(hub, "bob@example.org")
    runtime = hub.runtime()
    pseudonym = runtime.keys.pseudonym("memo", bob_id)
    update = {
        "id": "upd-1", "type": "customer.updated", "source": "memo",
        "occurred_at": "2026-03-03T10:00:00+00:00", "pseudonym": pseudonym,
        "payload": {"contact": {"identifiers": [{"kind": "email", "value": ADA["email"]}]}},
    }
    report = ingest_events(runtime, [update], source="memo")
    [rejection] = report.rejected
    assert "erased at their request" in rejection.reason
    with hub.session(runtime) as session:
        owners = session.exec(select(IdentifierEntry.customer_id)).all()
    assert owners.count(bob_id) == 1  # Bob did not gain Ada's address


def test_a_batch_mixes_suppressed_and_live_contacts(hub: Hub) -> None:
    forget_ada(hub)
    runtime = hub.runtime()
    contacts = [
        Contact(identifiers=[Identifier(kind=IdentifierKind.EMAIL, value="dan@example.org")],
                first_name="Dan"),
        Contact(identifiers=[Identifier(kind=IdentifierKind.PHONE, value=ADA["phone"])],
                first_name="Ada"),
        Contact(identifiers=[Identifier(kind=IdentifierKind.EMAIL, value=ADA["email"]),
                             Identifier(kind=IdentifierKind.CRM_ID, value="crm-77")]),
        Contact(identifiers=[Identifier(kind=IdentifierKind.EMAIL, value="dan@example.org")],
                last_name="Brown"),
    ]
    with hub.session(runtime) as session:
        results = apply_contacts(session, runtime.identity, contacts, source="crm")
    dan, by_phone, by_email, dan_again = results
    assert not dan.suppressed and dan.status == "created"
    assert dan_again.customer_id == dan.customer_id and dan_again.status == "updated"
    assert by_phone.suppressed and by_phone.status == "created"
    assert by_email.suppressed and by_email.status == "created"
    assert by_email.customer_id != by_phone.customer_id  # nothing links them: no merge
    with hub.session(runtime) as session:
        crm = runtime.identity.find(
            session, Identifier(kind=IdentifierKind.CRM_ID, value="crm-77")
        )
        profile = runtime.identity.read_profile(
            session, dan.customer_id, [CustomerField.FIRST_NAME, CustomerField.LAST_NAME]
        )
    assert crm is None  # the suppressed contact's other identifiers are dropped
    assert profile == {CustomerField.FIRST_NAME: "Dan", CustomerField.LAST_NAME: "Brown"}
