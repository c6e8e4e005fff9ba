"""Which events link cookies: only those proving identity; anonymous ones only look up."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import event, inspect, text
from sqlmodel import select

from contracts import Identifier, IdentifierKind
from hub.identity.cookies import linked_cookies
from hub.storage.db import session_scope
from hub.storage.models import Customer, IdentifierEntry, IdentityMerge, VaultEntry
from tests.identity.conftest import NOW, cookie, email, login, page_view, when

TTL = timedelta(days=395)


def _site(value: str, namespace: str = "web") -> Identifier:
    return Identifier(kind=IdentifierKind.SITE_COOKIE, value=value, namespace=namespace)


def _row(hub, value: str) -> IdentifierEntry | None:
    digest = hub.runtime.identity.normalise(_site(value)).digest
    with session_scope(hub.runtime.engine) as session:
        return session.get(IdentifierEntry, digest)


def _find(hub, value: str) -> str | None:
    with session_scope(hub.runtime.engine) as session:
        return hub.runtime.identity.find(session, _site(value))


def test_an_unverified_event_never_links_its_cookie(hub):
    report = hub.ingest(login("e1", cookie("ck-1"), email("ann@example.com")))
    assert report.accepted == 1
    assert _row(hub, "ck-1") is None and _find(hub, "ck-1") is None


def test_a_verified_event_links_its_cookie_until_seen_time_plus_ttl(hub):
    seen = datetime.fromisoformat(when(timedelta(hours=-5)))
    report = hub.ingest(
        login("e1", cookie("ck-1"), email("ann@example.com", verified=True), at=seen.isoformat())
    )
    customer = report.stored[0].customer_id
    row = _row(hub, "ck-1")
    assert row is not None and row.customer_id == customer and row.verified
    assert row.expires_at == seen + TTL
    # A later proof pushes the expiry back; an older one never shortens it.
    later = seen + timedelta(hours=3)
    hub.ingest(login("e2", cookie("ck-1"), email("ann@example.com", verified=True),
                     at=later.isoformat()))
    assert _row(hub, "ck-1").expires_at == later + TTL
    hub.ingest(login("e3", cookie("ck-1"), email("ann@example.com", verified=True),
                     at=seen.isoformat()))
    assert _row(hub, "ck-1").expires_at == later + TTL
    # Evidence older than a link lives proves nothing any more.
    stale = (NOW - TTL - timedelta(days=1)).isoformat()
    hub.ingest(login("e4", cookie("ck-old"), email("ann@example.com", verified=True), at=stale))
    assert _row(hub, "ck-old") is None


def test_a_verified_login_moves_a_shared_cookie_to_the_new_person_without_merging(hub):
    ann = hub.ingest(login("e1", cookie("ck-1"), email("ann@example.com", verified=True)))
    bob = hub.ingest(login("e2", cookie("ck-1"), email("bob@example.com", verified=True)))
    ann_id, bob_id = ann.stored[0].customer_id, bob.stored[0].customer_id
    assert ann_id != bob_id and _find(hub, "ck-1") == bob_id
    with session_scope(hub.runtime.engine) as session:
        assert session.exec(select(IdentityMerge)).all() == []
        cookies = linked_cookies(session, hub.runtime.identity, [ann_id, bob_id], now=NOW)
    assert cookies[ann_id] == [] and [c.value for c in cookies[bob_id]] == ["ck-1"]
    with session_scope(hub.runtime.engine) as session:  # and Ann's vault no longer holds it
        holders = session.exec(select(VaultEntry.customer_id).where(VaultEntry.field == "cookies"))
        assert list(holders) == [bob_id]


def test_an_unverified_email_with_a_known_cookie_is_not_joined_to_the_cookie_owner(hub):
    ann = hub.ingest(login("e1", cookie("ck-1"), email("ann@example.com", verified=True)))
    other = hub.ingest(page_view("e2", cookie("ck-1"), email("typed@example.com")))
    assert other.accepted == 1
    assert other.stored[0].customer_id != ann.stored[0].customer_id
    assert _find(hub, "ck-1") == ann.stored[0].customer_id


def test_an_anonymous_event_resolves_by_a_known_cookie_and_links_no_new_one(hub):
    ann = hub.ingest(login("e1", cookie("ck-1"), email("ann@example.com", verified=True)))
    view = hub.ingest(page_view("e2", cookie("ck-1"), cookie("ck-new")))
    assert view.stored[0].customer_id == ann.stored[0].customer_id
    assert _row(hub, "ck-new") is None


def test_verified_identifiers_of_two_customers_merge_them_unverified_ones_conflict(hub):
    phone_owner = hub.ingest(
        {**login("e1", {"kind": "phone", "value": "+33612345678", "verified": True})}
    ).stored[0].customer_id
    email_owner = hub.customer("ann@example.com")
    refused = hub.ingest(
        login("e2", email("ann@example.com", verified=True),
              {"kind": "phone", "value": "+33612345678"})
    )
    assert refused.rejected[0].field == "identifiers"
    assert "belong to different customers" in refused.rejected[0].reason
    merged = hub.ingest(
        login("e3", email("ann@example.com", verified=True),
              {"kind": "phone", "value": "+33612345678", "verified": True})
    )
    # The survivor is the customer known by a verified email, though the other is older.
    assert merged.stored[0].customer_id == email_owner
    assert sorted(hub.events_of(email_owner)) == ["e1", "e3"]
    with session_scope(hub.runtime.engine) as session:
        absorbed = session.get(Customer, phone_owner)
        assert (absorbed.status, absorbed.merged_into) == ("merged", email_owner)
        [entry] = session.exec(select(IdentityMerge)).all()
    assert (entry.survivor_id, entry.absorbed_id, entry.evidence, entry.source_reference) == (
        email_owner, phone_owner, "event customer.logged_in", "e3")


def test_linked_cookies_are_live_only_and_read_set_wise(hub):
    customers = []
    for n in range(30):
        report = hub.ingest(
            login(f"e{n}", cookie(f"ck-{n}"), cookie(f"pc-{n}", "partner_cookie", "dmp"),
                  email(f"p{n}@example.com", verified=True))
        )
        customers.append(report.stored[0].customer_id)
    engine = hub.runtime.engine
    with session_scope(engine) as session:
        row = session.get(IdentifierEntry, hub.runtime.identity.normalise(_site("ck-0")).digest)
        row.expires_at = NOW - timedelta(seconds=1)
        session.add(row)
    statements = []

    def count(*_args) -> None:
        statements.append(1)

    event.listen(engine, "before_cursor_execute", count)
    try:
        with session_scope(engine) as session:
            found = linked_cookies(session, hub.runtime.identity, customers, now=NOW)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert len(statements) <= 6  # merged-into lookup, vault, keys, identifiers: not per customer
    assert [c.value for c in found[customers[0]]] == ["pc-0"]  # its site cookie expired
    assert [(c.kind.value, c.namespace, c.value) for c in found[customers[7]]] == [
        ("partner_cookie", "dmp", "pc-7"), ("site_cookie", "web", "ck-7")
    ]
    assert all(c.expires_at and c.expires_at > NOW for c in found[customers[7]])


def test_cookie_values_are_stored_only_sealed(hub):
    hub.ingest(login("e1", cookie("ck-needle-4242"), email("ann@example.com", verified=True)))
    chunks = []
    with hub.runtime.engine.connect() as connection:
        for table in inspect(hub.runtime.engine).get_table_names():
            for row in connection.execute(text(f'SELECT * FROM "{table}"')):
                chunks.extend(
                    bytes(v).decode("latin-1") if isinstance(v, bytes | memoryview) else str(v)
                    for v in row
                )
    stored = "\n".join(chunks)
    assert "ck-needle-4242" not in stored and "ann@example.com" not in stored
    assert "site_cookie" in stored
