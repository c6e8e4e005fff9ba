"""The issue's must-show: an anonymous site cookie seen on page views becomes linked to the
customer on a verified login event, and its earlier page views end up under that customer."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import select

from contracts import Identifier, IdentifierKind
from hub.identity.cookies import linked_cookies
from hub.storage.db import session_scope
from hub.storage.models import Customer, ParkedLetter
from tests.identity.conftest import NOW, cookie, email, login, page_view, when


def test_page_views_of_an_anonymous_cookie_come_back_under_the_customer_who_logs_in(hub):
    visitor = cookie("ck-7f3a9e", namespace="shop")
    first = hub.ingest(
        page_view("pv-1", visitor, url="https://shop.example/boots"),
        page_view("pv-2", visitor, url="https://shop.example/b/42", at=when(timedelta(minutes=1))),
    )
    assert first.accepted == 0 and len(first.rejected) == 2
    assert all(r.field == "identifiers" for r in first.rejected)
    assert {letter.status for letter in hub.letters()} == {"pending"}
    with session_scope(hub.runtime.engine) as session:
        assert session.exec(select(Customer)).all() == []  # cookies alone create nobody

    ada = hub.customer("ada@example.com")
    logged = hub.ingest(login("in-1", visitor, email("ada@example.com", verified=True)))
    assert logged.accepted == 1 and not logged.rejected
    # The parked page views were replayed in the same run, through the door they came by.
    assert sorted(hub.events_of(ada)) == ["in-1", "pv-1", "pv-2"]
    assert {s.source_event_id for s in logged.stored} == {"in-1", "pv-1", "pv-2"}
    assert {letter.status for letter in hub.letters()} == {"replayed"}
    with session_scope(hub.runtime.engine) as session:
        assert session.exec(select(ParkedLetter)).all() == []
        site = Identifier(kind=IdentifierKind.SITE_COOKIE, value="ck-7f3a9e", namespace="shop")
        found = hub.runtime.identity.find(session, site)
        assert found == ada
        cookies = linked_cookies(session, hub.runtime.identity, [ada], now=NOW)
    assert [(c.kind.value, c.namespace, c.value) for c in cookies[ada]] == [
        ("site_cookie", "shop", "ck-7f3a9e")
    ]

    # Later anonymous views of that cookie resolve to Ada directly.
    later = hub.ingest(page_view("pv-3", visitor, at=when(timedelta(minutes=5))))
    assert later.accepted == 1 and later.stored[0].customer_id == ada


def test_an_unverified_login_links_nothing_and_the_views_stay_parked(hub):
    visitor = cookie("ck-unproven")
    hub.ingest(page_view("pv-1", visitor))
    report = hub.ingest(login("in-1", visitor, email("bob@example.com")))  # not verified
    assert report.accepted == 1
    [stored] = report.stored
    assert hub.events_of(stored.customer_id) == ["in-1"]
    assert [letter.status for letter in hub.letters()] == ["pending"]
    again = hub.ingest(page_view("pv-2", visitor))
    assert again.accepted == 0 and again.rejected[0].field == "identifiers"


def test_views_and_login_in_one_batch_behave_as_one_by_one(hub):
    visitor = cookie("ck-batch")
    report = hub.ingest(
        page_view("pv-1", visitor),
        login("in-1", visitor, email("cy@example.com", verified=True)),
        page_view("pv-2", visitor),
    )
    # pv-2 resolves directly (the cookie is linked by then); pv-1 is parked, then replayed.
    assert report.accepted == 2 and len(report.rejected) == 1
    customer = report.stored[0].customer_id
    assert sorted(hub.events_of(customer)) == ["in-1", "pv-1", "pv-2"]
    assert [letter.status for letter in hub.letters()] == ["replayed"]


def test_a_parked_event_still_refused_on_replay_keeps_its_letter_with_the_new_reason(hub):
    shared, other = cookie("ck-shared"), cookie("ck-other")
    hub.ingest(page_view("pv-1", shared, other))
    [letter] = hub.letters()
    assert "cookies alone cannot create" in letter.reason
    # One batch links each cookie to a different person: the parked view names both.
    hub.ingest(
        login("in-a", shared, email("ann@example.com", verified=True)),
        login("in-b", other, email("ben@example.com", verified=True)),
    )
    [letter] = hub.letters()
    assert letter.status == "pending" and letter.field == "identifiers"
    assert letter.reason == "identifiers (site_cookie) belong to different customers"
