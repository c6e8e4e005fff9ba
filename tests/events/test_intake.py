"""Event intake on SQLite and PostgreSQL: store, de-duplicate, refuse with a reason, resolve."""

from __future__ import annotations

from sqlalchemy import func, select

from contracts import Channel, CustomerField, Purpose
from hub.consent import current_consents
from hub.dead_letters import list_dead_letters, open_payload
from hub.events.intake import ingest_events
from hub.events.store import read_events
from hub.storage.db import session_scope
from hub.storage.models import Customer, CustomerEvent, DeadLetter
from tests.events.conftest import WHEN, cart, event


def _count(runtime, model) -> int:
    with runtime.engine.connect() as connection:
        return connection.execute(select(func.count()).select_from(model)).scalar_one()


def test_an_event_is_stored_once_with_a_sealed_payload(runtime):
    report = ingest_events(runtime, [event()], source="api")
    assert (report.accepted, report.duplicates, report.rejected) == (1, 0, [])
    [stored] = report.stored
    assert stored.customer_id.startswith("cus_")
    assert (stored.type, stored.source, stored.source_event_id) == ("cart.abandoned", "shop", "e-1")
    assert stored.payload["total"] == "19.90" and stored.payload["cart_url"] is None
    with runtime.engine.connect() as connection:
        row = connection.execute(select(CustomerEvent.__table__)).mappings().one()
    assert b"sku-1" not in row["payload"] and b"19.90" not in row["payload"]
    with session_scope(runtime.engine) as session:
        assert read_events(session, runtime.vault, [stored.id]) == [stored]


def test_duplicates_are_counted_within_a_batch_and_across_calls(runtime):
    first = ingest_events(runtime, [event("a"), event("a"), event("b")], source="api")
    assert (first.accepted, first.duplicates) == (2, 1)
    again = ingest_events(runtime, [event("a"), event("a", source="other")], source="api")
    assert (again.accepted, again.duplicates, again.rejected) == (1, 1, [])
    assert _count(runtime, CustomerEvent) == 3
    assert _count(runtime, Customer) == 1


def test_a_bad_payload_is_dead_lettered_naming_the_dotted_field(runtime):
    bad = event(payload=cart(items=[{"sku": "sku-1", "quantity": 0, "unit_price": "1"}]))
    report = ingest_events(runtime, [event("ok"), bad], source="api")
    assert report.accepted == 1
    [rejection] = report.rejected
    assert rejection.index == 1
    assert rejection.field == "payload.items.0.quantity"
    assert "greater than 0" in rejection.reason
    with session_scope(runtime.engine) as session:
        [letter] = list_dead_letters(session, kind="event")
        assert letter.id == rejection.dead_letter_id
        assert (letter.source, letter.reference, letter.field) == ("api", "e-1", rejection.field)
        assert b"ada@example.com" not in letter.payload
        assert open_payload(runtime.vault, letter) == bad


def test_an_unknown_type_is_refused_naming_type(runtime):
    report = ingest_events(runtime, [event(type="acme.points_earned", payload={})], source="api")
    [rejection] = report.rejected
    assert rejection.field == "type"
    assert "unknown event type 'acme.points_earned'" in rejection.reason
    assert "cart.abandoned" in rejection.reason


def test_reasons_never_carry_the_value(runtime):
    secret = "ada.lovelace-at-example"
    report = ingest_events(
        runtime,
        [
            event("a", email=secret),
            event("b", payload=cart(currency=secret)),
            event("c", occurred_at=secret),
        ],
        source="api",
    )
    fields = [r.field for r in report.rejected]
    assert fields == ["identifiers.0.value", "payload.currency", "occurred_at"]
    assert all(secret not in r.reason for r in report.rejected)
    with session_scope(runtime.engine) as session:
        assert all(secret not in (d.reason or "") for d in list_dead_letters(session))


def test_envelope_problems_name_the_envelope_field(runtime):
    both = event(pseudonym="p" * 20)
    report = ingest_events(
        runtime,
        [event(id=""), {"id": "x"}, both, "not an object"],
        source="api",  # type: ignore[list-item]
    )
    fields = [r.field for r in report.rejected]
    assert fields[0] == "id" and fields[1] in {"type", "source", "occurred_at"}
    assert fields[2] == "event" and "either identifiers or a pseudonym" in report.rejected[2].reason
    assert fields[3] == "event"
    assert all(r.dead_letter_id for r in report.rejected)


def test_cookie_only_events_cannot_create_a_customer_until_the_cookie_is_linked(runtime):
    cookie = [{"kind": "site_cookie", "value": "ck-123456"}]
    anonymous = event("anon", email=None, identifiers=cookie)
    first = ingest_events(runtime, [anonymous], source="api")
    [refused] = first.rejected
    assert refused.field == "identifiers" and "cookies alone cannot create" in refused.reason
    assert _count(runtime, Customer) == 0
    linking = event(  # a verified email proves who holds the cookie: it gets linked
        "login",
        email=None,
        identifiers=[*cookie, {"kind": "email", "value": "a@x.io", "verified": True}],
    )
    # In one batch: the linking event comes first, so the cookie-only one after it resolves.
    second = ingest_events(
        runtime, [linking, event("later", email=None, identifiers=cookie)], source="api"
    )
    assert second.accepted == 2
    assert second.stored[0].customer_id == second.stored[1].customer_id


def test_pseudonym_events_resolve_through_the_emitting_bricks_pseudonyms(runtime):
    created = ingest_events(runtime, [event("seed")], source="api").stored[0].customer_id
    with session_scope(runtime.engine) as session:
        pseudonym = runtime.identity.pseudonym_for(session, "outbox", created)
    mine = event("p1", source="outbox", email=None, pseudonym=pseudonym)
    theirs = event("p2", source="brevo", email=None, pseudonym=pseudonym)
    unknown = event("p3", source="outbox", email=None, pseudonym="z" * 32)
    report = ingest_events(runtime, [mine, theirs, unknown], source="api")
    assert [s.customer_id for s in report.stored] == [created]
    assert [(r.index, r.field) for r in report.rejected] == [(1, "pseudonym"), (2, "pseudonym")]
    assert "brick 'brevo'" in report.rejected[0].reason


def test_a_brick_speaks_only_for_itself(runtime):
    report = ingest_events(runtime, [event(source="shop")], source="outbox")
    [rejection] = report.rejected
    assert rejection.field == "source"
    assert ingest_events(runtime, [event(source="outbox")], source="outbox").accepted == 1


def test_customer_updated_applies_profile_consents_and_identifiers(runtime):
    consent = {"channel": "sms", "status": "granted", "source": "shop", "recorded_at": WHEN}
    contact = {
        "identifiers": [{"kind": "phone", "value": "06 12 34 56 78"}],
        "first_name": "Ada",
        "time_zone": "Europe/Paris",
        "consents": [consent],
    }
    report = ingest_events(
        runtime, [event("u1", type="customer.updated", payload={"contact": contact})], source="api"
    )
    [stored] = report.stored
    customer = stored.customer_id
    with session_scope(runtime.engine) as session:
        profile = runtime.identity.read_profile(
            session,
            customer,
            [
                CustomerField.FIRST_NAME,
                CustomerField.PHONE,
                CustomerField.EMAIL,
                CustomerField.TIME_ZONE,
            ],
        )
        consents = current_consents(session, customer)
    assert profile == {
        CustomerField.FIRST_NAME: "Ada",
        CustomerField.PHONE: "+33612345678",
        CustomerField.EMAIL: "ada@example.com",
        CustomerField.TIME_ZONE: "Europe/Paris",
    }
    assert consents[(Channel.SMS, Purpose.MARKETING)].status == "granted"
    # The phone now finds the same person.
    by_phone = event(
        "o1",
        type="order.placed",
        email=None,
        identifiers=[{"kind": "phone", "value": "+33612345678"}],
        payload={
            k: v for k, v in cart(order_id="o-1").items() if k not in {"cart_id", "updated_at"}
        },
    )
    assert ingest_events(runtime, [by_phone], source="api").stored[0].customer_id == customer


def test_customer_updated_through_a_pseudonym_attaches_new_identifiers(runtime):
    customer = ingest_events(runtime, [event("seed")], source="api").stored[0].customer_id
    with session_scope(runtime.engine) as session:
        pseudonym = runtime.identity.pseudonym_for(session, "outbox", customer)
    contact = {"identifiers": [{"kind": "email", "value": "new@example.com"}], "locale": "fr_fr"}
    update = event(
        "u",
        type="customer.updated",
        source="outbox",
        email=None,
        pseudonym=pseudonym,
        payload={"contact": contact},
    )
    assert ingest_events(runtime, [update], source="outbox").accepted == 1
    later = ingest_events(runtime, [event("n", email="new@example.com")], source="api")
    assert later.stored[0].customer_id == customer
    assert _count(runtime, Customer) == 1


def test_bad_profile_values_are_refused_before_anything_is_written(runtime):
    contact = {
        "identifiers": [{"kind": "email", "value": "z@example.com"}],
        "time_zone": "Mars/Base",
    }
    report = ingest_events(
        runtime,
        [event("u", type="customer.updated", email="y@example.com", payload={"contact": contact})],
        source="api",
    )
    assert [r.field for r in report.rejected] == ["payload.contact.time_zone"]
    assert _count(runtime, Customer) == 0


def test_identifiers_of_two_customers_are_refused(runtime):
    ingest_events(
        runtime,
        [event("a", email="a@example.com"), event("b", email="b@example.com")],
        source="api",
    )
    both = event(
        "c",
        email=None,
        identifiers=[
            {"kind": "email", "value": "a@example.com"},
            {"kind": "email", "value": "b@example.com"},
        ],
    )
    [rejection] = ingest_events(runtime, [both], source="api").rejected
    assert rejection.field == "identifiers" and "different customers" in rejection.reason


def test_sign_up_records_the_consents_given(runtime):
    consent = {"channel": "email", "status": "granted", "source": "signup", "recorded_at": WHEN}
    report = ingest_events(
        runtime,
        [
            event(
                "s",
                type="customer.signed_up",
                payload={"method": "newsletter", "consents": [consent]},
            )
        ],
        source="api",
    )
    customer = report.stored[0].customer_id
    with session_scope(runtime.engine) as session:
        consents = current_consents(session, customer)
        profile = runtime.identity.read_profiles(session, [customer], [CustomerField.EMAIL])
    assert consents[(Channel.EMAIL, Purpose.MARKETING)].source == "signup"
    # The address typed in the sign-up form is the person's email from now on.
    assert profile[customer] == {CustomerField.EMAIL: "ada@example.com"}


def test_many_events_go_in_batches(runtime):
    events = [event(f"e{i}", email=f"person{i}@example.com") for i in range(1203)]
    events.append(event("e7", email="person7@example.com"))  # a duplicate in another batch
    events.append(event("bad", payload={}))
    report = ingest_events(runtime, events, source="api")
    assert (report.accepted, report.duplicates) == (1203, 1)
    assert [r.index for r in report.rejected] == [1204]
    assert _count(runtime, Customer) == 1203
    assert _count(runtime, DeadLetter) == 1
    assert len({s.id for s in report.stored}) == 1203
