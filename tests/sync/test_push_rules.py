"""What each sink receives: its fields, its pseudonym, consented people only, unsubscribe once,
unchanged views not re-sent, inactive people never."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from contracts import Channel, Consent, ConsentStatus, Identifier, IdentifierKind
from hub.consent import record_consents
from hub.storage.db import session_scope
from hub.storage.models import Customer, SinkContact, table
from hub.storage.types import utcnow
from tests.sync.conftest import WHEN, Crm, contact

# Person i: 0 -> email + push granted, 1 -> email granted, 2 -> email denied, 3 -> no consent.
KINDS = ("granted", "granted", "denied", "none")


def _people(count: int = 12) -> list:
    return [contact(i, email=KINDS[i % 4], push=i % 4 == 0) for i in range(count)]


def _customer(hub, i: int) -> str:
    email = Identifier(kind=IdentifierKind.EMAIL, value=f"person{i:06d}@example.org")
    with session_scope(hub.runtime.engine) as session:
        found = hub.runtime.identity.find(session, email)
    assert found
    return found


def _held(hub, sink: str) -> dict[str, str]:
    rows = table(SinkContact)
    with session_scope(hub.runtime.engine) as session:
        return dict(
            session.execute(
                select(rows.c.customer_id, rows.c.state).where(rows.c.sink == sink)
            ).all()
        )


def test_each_sink_gets_its_fields_and_its_own_pseudonym(hub, vendors):
    Crm.serve(_people())
    report = hub.sync()
    assert report.exit_code == 0 and report.pulled == 12
    brevo, onesignal = report.sinks
    assert (brevo.read, brevo.created, brevo.skipped_by_consent) == (12, 6, 6)
    assert (onesignal.read, onesignal.created, onesignal.skipped_by_consent) == (12, 3, 9)
    # Brevo: the batch (6) is under its import threshold, so one POST /contacts each.
    sent = [c.body for c in vendors.requests("brevo")]
    assert len(sent) == 6 and {c.path for c in vendors.requests("brevo")} == {"/v3/contacts"}
    # One page of the source is stamped at one instant: the feed orders it by customer id.
    [first] = [body for body in sent if body["email"] == "person000000@example.org"]
    assert set(first) == {"ext_id", "email", "attributes", "listIds", "updateEnabled"}
    assert first["attributes"] == {"FIRSTNAME": "Ada0", "LASTNAME": "Lovelace"}
    pushes = [c.body for c in vendors.requests("onesignal")]
    [push] = [b for b in pushes if b["subscriptions"][0]["token"] == "fcm-token:APA91b00000000"]
    assert push["subscriptions"] == [{"type": "AndroidPush", "token": "fcm-token:APA91b00000000"}]
    assert push["properties"] == {"language": "fr"}
    assert "example.org" not in str(pushes) and "Ada" not in str(pushes)
    ada = _customer(hub, 0)
    keys = hub.runtime.keys
    assert first["ext_id"] == keys.pseudonym("brevo", ada)
    assert push["identity"] == {"external_id": keys.pseudonym("onesignal", ada)}
    assert first["ext_id"] != push["identity"]["external_id"]
    assert set(_held(hub, "brevo").values()) == {"present"}
    assert len(_held(hub, "brevo")) == 6 and len(_held(hub, "onesignal")) == 3


def test_a_second_run_pushes_nothing_unchanged_and_full_pushes_again(hub, vendors):
    Crm.serve(_people())
    hub.sync(settle=timedelta(hours=1))
    calls = len(vendors.calls)
    # Everything was stamped within the settle window, so the cursor stayed before it: the
    # next run reads it all again and finds every view unchanged.
    again = hub.sync(source="hub")
    assert [(s.read, s.unchanged, s.created + s.updated) for s in again.sinks] == [
        (12, 6, 0),
        (12, 3, 0),
    ]
    assert len(vendors.calls) == calls
    quiet = hub.sync(source="hub")
    assert [s.read for s in quiet.sinks] == [0, 0]
    full = hub.sync("brevo", source="hub", full=True)
    assert (full.sinks[0].read, full.sinks[0].updated) == (12, 6)
    assert len(vendors.calls) == calls + 6


def test_a_profile_change_is_pushed_as_an_update(hub, vendors):
    Crm.serve(_people())
    hub.sync()
    Crm.serve([*_people(), contact(1, first_name="Augusta")])  # the source's next change
    report = hub.sync()
    brevo, onesignal = report.sinks
    assert (brevo.read, brevo.updated) == (1, 1)
    assert (onesignal.read, onesignal.skipped_by_consent) == (1, 1)
    assert vendors.requests("brevo")[-1].body["attributes"]["FIRSTNAME"] == "Augusta"


def test_consent_withdrawn_is_pushed_once_as_unsubscribed_never_resubscribed(hub, vendors):
    Crm.serve(_people(4))
    hub.sync()
    ada = _customer(hub, 0)
    later = WHEN + timedelta(days=1)
    with session_scope(hub.runtime.engine) as session:
        record_consents(
            session,
            ada,
            [Consent(channel=Channel.EMAIL, status=ConsentStatus.DENIED, source="shop",
                     recorded_at=later)],
        )
    report = hub.sync(source="hub")
    brevo = report.sinks[0]
    assert (brevo.read, brevo.unsubscribed, brevo.created + brevo.updated) == (1, 1, 0)
    told = vendors.requests("brevo")[-1].body
    assert told["emailBlacklisted"] is True
    assert _held(hub, "brevo")[ada] == "unsubscribed"
    # OneSignal's view changed too (``opted_out`` lists every denied channel, as
    # ``hub.egress.build_view`` does), and push consent still stands: an update.
    assert (report.sinks[1].updated, report.sinks[1].unsubscribed) == (1, 0)
    calls = len(vendors.calls)
    # Told once: even a full run does not tell Brevo again (person 1 is re-sent, with
    # OneSignal's one push subscriber).
    full = hub.sync(source="hub", full=True).sinks[0]
    assert (full.skipped_by_consent, full.unsubscribed, full.updated) == (3, 0, 1)
    assert len(vendors.calls) == calls + 2
    with session_scope(hub.runtime.engine) as session:
        record_consents(
            session,
            ada,
            [Consent(channel=Channel.EMAIL, status=ConsentStatus.GRANTED, source="shop",
                     recorded_at=later + timedelta(days=1))],
        )
    back = hub.sync("brevo", source="hub").sinks[0]
    assert back.updated == 1
    body = vendors.requests("brevo")[-1].body
    assert "emailBlacklisted" not in body  # the hub never sends a re-subscription
    assert _held(hub, "brevo")[ada] == "present"


def test_inactive_people_are_never_pushed(hub, vendors):
    Crm.serve(_people(8))
    hub.sync("brevo", source="crm")
    statuses = {0: "erased", 1: "suppressed", 4: "objected", 5: "merged"}
    customers = table(Customer)
    ids = {i: _customer(hub, i) for i in statuses}
    with session_scope(hub.runtime.engine) as session:
        for i, status in statuses.items():
            session.execute(
                update(customers)
                .where(customers.c.id == ids[i])
                .values(status=status, updated_at=utcnow())
            )
    calls = len(vendors.calls)
    report = hub.sync("brevo", source="hub", full=True)
    brevo = report.sinks[0]
    assert (brevo.read, brevo.skipped_inactive, brevo.skipped_by_consent) == (8, 4, 4)
    assert brevo.updated + brevo.unsubscribed == 0
    assert len(vendors.calls) == calls
