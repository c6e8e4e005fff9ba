"""Identity on both backends: one person per identifier, opaque ids, PII only in the vault."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import inspect, text
from sqlmodel import select

from contracts import Contact, CustomerField, Identifier, IdentifierKind
from hub.contacts.apply import ContactRejected, apply_contact
from hub.identity.service import IdentityConflict, new_customer_id
from hub.storage.db import session_scope
from hub.storage.models import BrickPseudonym, Customer, IdentifierEntry
from hub.storage.types import utcnow

SEEDED = {
    "email": "Ada.Lovelace@Example.com",
    "phone": "+33 6 12 34 56 78",
    "first_name": "Adalinde",
    "last_name": "Byronesque",
}


def _email(value: str, verified: bool = False) -> Identifier:
    return Identifier(kind=IdentifierKind.EMAIL, value=value, verified=verified)


def _contact(**fields: str) -> Contact:
    identifiers = [_email(fields.pop("email"))]
    if "phone" in fields:
        identifiers.append(Identifier(kind=IdentifierKind.PHONE, value=fields.pop("phone")))
    return Contact(identifiers=identifiers, **fields)


def test_same_email_in_other_case_and_spaces_is_one_customer(installation):
    runtime = installation.runtime()
    with session_scope(runtime.engine) as session:
        first = apply_contact(session, runtime.identity, _contact(email="ada@example.com"),
                              source="test")
        second = apply_contact(session, runtime.identity, _contact(email="  ADA@Example.COM "),
                               source="test")
        assert first.status == "created"
        assert second.status == "unchanged"
        assert first.customer_id == second.customer_id
        assert len(session.exec(select(Customer)).all()) == 1


def test_two_customers_never_share_an_id(installation):
    runtime = installation.runtime()
    with session_scope(runtime.engine) as session:
        ids = {
            apply_contact(session, runtime.identity, _contact(email=f"p{i}@example.com"),
                          source="test").customer_id
            for i in range(50)
        }
    assert len(ids) == 50


def test_customer_ids_are_random_and_long():
    ids = {new_customer_id() for _ in range(2000)}
    assert len(ids) == 2000
    for value in list(ids)[:20]:
        assert re.fullmatch(r"cus_[a-z2-7]{32}", value)  # 160 bits of base32


def test_identifiers_of_different_customers_conflict(installation):
    runtime = installation.runtime()
    with session_scope(runtime.engine) as session:
        apply_contact(session, runtime.identity, _contact(email="a@example.com"), source="t")
        apply_contact(session, runtime.identity,
                      _contact(email="b@example.com", phone="+33612345678"), source="t")
        with pytest.raises(IdentityConflict):
            runtime.identity.resolve(
                session,
                [_email("a@example.com"), Identifier(kind=IdentifierKind.PHONE,
                                                     value="06 12 34 56 78")],
                source="t",
            )
        with pytest.raises(ContactRejected) as caught:
            apply_contact(session, runtime.identity,
                          _contact(email="a@example.com", phone="+33612345678"), source="t")
        assert caught.value.field == "identifiers"


def test_new_identifier_attaches_to_the_known_customer(installation):
    runtime = installation.runtime()
    with session_scope(runtime.engine) as session:
        created = apply_contact(session, runtime.identity, _contact(email="c@example.com"),
                                source="t")
        again = apply_contact(session, runtime.identity,
                              _contact(email="c@example.com", phone="0612345679"), source="t")
        assert again.status == "updated"
        assert again.customer_id == created.customer_id
        found = runtime.identity.find(
            session, Identifier(kind=IdentifierKind.PHONE, value="+33 6 12 34 56 79")
        )
        assert found == created.customer_id


def test_cookie_links_expire_and_cookies_alone_never_create(installation):
    runtime = installation.runtime()
    cookie = Identifier(kind=IdentifierKind.SITE_COOKIE, value="ck-123456")
    with session_scope(runtime.engine) as session:
        assert runtime.identity.resolve(session, [cookie], source="web") is None
        linked = runtime.identity.resolve(
            session, [cookie, _email("k@example.com", verified=True)], source="web"
        )
        entry = session.exec(
            select(IdentifierEntry).where(IdentifierEntry.kind == "site_cookie")
        ).one()
        assert entry.customer_id == linked.customer_id and entry.verified
        assert entry.expires_at is not None
        assert entry.expires_at - utcnow() > timedelta(days=390)
        assert runtime.identity.find(session, cookie) == linked.customer_id
        entry.expires_at = utcnow() - timedelta(seconds=1)
        session.add(entry)
        session.flush()
        assert runtime.identity.find(session, cookie) is None  # an expired link names nobody
        assert runtime.identity.resolve(session, [cookie], source="web") is None


def test_profile_round_trips_through_the_vault(installation):
    runtime = installation.runtime()
    with session_scope(runtime.engine) as session:
        applied = apply_contact(
            session, runtime.identity,
            _contact(email="d@example.com", first_name="Dora", locale="fr_fr",
                     time_zone="Europe/Paris"),
            source="t",
        )
        profile = runtime.identity.read_profile(session, applied.customer_id, list(CustomerField))
    assert profile == {
        CustomerField.EMAIL: "d@example.com",
        CustomerField.FIRST_NAME: "Dora",
        CustomerField.LOCALE: "fr-FR",
        CustomerField.TIME_ZONE: "Europe/Paris",
    }


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"email": "null"}, "email"),
        ({"email": "x@example.com", "time_zone": "Mars/Base"}, "time_zone"),
        ({"email": "x@example.com", "locale": "french!"}, "locale"),
        ({"email": "x@example.com", "phone": "12"}, "phone"),
    ],
)
def test_rejections_name_the_field_and_leave_nothing(installation, fields, field):
    runtime = installation.runtime()
    with session_scope(runtime.engine) as session:
        with pytest.raises(ContactRejected) as caught, session.begin_nested():
            apply_contact(session, runtime.identity, _contact(**fields), source="t")
        assert caught.value.field == field
        assert session.exec(select(Customer)).all() == []


def test_pseudonyms_are_stable_per_brick_and_differ_between_bricks(installation):
    runtime = installation.runtime()
    with session_scope(runtime.engine) as session:
        customer = apply_contact(session, runtime.identity, _contact(email="e@example.com"),
                                 source="t").customer_id
        at_a = runtime.identity.pseudonym_for(session, "brevo", customer)
        at_b = runtime.identity.pseudonym_for(session, "twilio", customer)
        assert at_a == runtime.identity.pseudonym_for(session, "brevo", customer)
        assert at_a != at_b
        assert customer not in at_a and customer[4:] not in at_a
        assert runtime.identity.customer_for_pseudonym(session, "brevo", at_a) == customer
        assert runtime.identity.customer_for_pseudonym(session, "twilio", at_a) is None
        assert len(session.exec(select(BrickPseudonym)).all()) == 2


def _all_stored_text(engine) -> str:
    """Every value of every table, as text (bytes decoded leniently)."""
    chunks = []
    with engine.connect() as connection:
        for table in inspect(engine).get_table_names():
            for row in connection.execute(text(f'SELECT * FROM "{table}"')):
                for value in row:
                    if isinstance(value, bytes | memoryview):
                        chunks.append(bytes(value).decode("latin-1"))
                    else:
                        chunks.append(str(value))
    return "\n".join(chunks).lower()


def test_no_column_holds_plaintext_pii(installation):
    runtime = installation.runtime()
    with session_scope(runtime.engine) as session:
        apply_contact(session, runtime.identity, _contact(**SEEDED), source="t")
    stored = _all_stored_text(runtime.engine)
    for needle in ("ada.lovelace@example.com", "+33612345678", "612345678", "adalinde",
                   "byronesque", "lovelace"):
        assert needle not in stored, needle
    assert "email" in stored  # the scan does see the rows (identifier kinds are stored)


def test_sqlite_file_bytes_hold_no_plaintext_pii(sqlite_installation):
    runtime = sqlite_installation.runtime()
    with session_scope(runtime.engine) as session:
        apply_contact(session, runtime.identity, _contact(**SEEDED), source="t")
    runtime.engine.dispose()
    data = b"".join(p.read_bytes() for p in (sqlite_installation.root / "data").glob("hub.db*"))
    for needle in (b"lovelace", b"612345678", b"adalinde", b"byronesque"):
        assert needle not in data.lower()
    assert len(data) > 10_000
