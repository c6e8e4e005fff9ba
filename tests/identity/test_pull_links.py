"""``pull_links``: a DMP's links read page by page, each page and its cursor in one transaction."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlmodel import select

import hub.identity.links as hub_links
from contracts import IdentityLinkPage, Permanent, Retryable
from hub.events.cursors import read_cursor
from hub.identity.links import LINKS_STREAM, NotALinkSource, pull_links
from hub.storage.db import session_scope
from hub.storage.models import DeadLetter, IdentityMerge
from tests.identity.conftest import NOW, Dmp, cookie, ident, link, page_view


def _pull(hub, **kwargs):
    async def no_sleep(_seconds: float) -> None:
        return None

    return asyncio.run(pull_links(hub.runtime, "dmp", sleep=no_sleep, **kwargs))


def _find(hub, kind: str, value: str, namespace: str = "") -> str | None:
    with session_scope(hub.runtime.engine) as session:
        return hub.runtime.identity.find(session, ident(kind, value, namespace=namespace))


def test_links_are_applied_skipped_or_refused_and_the_cursor_follows_the_pages(hub):
    ann = hub.customer("ann@example.com")
    bob = hub.customer("bob@example.com")
    hub.ingest(page_view("pv-1", cookie("ck-ann", namespace="unomi")))  # parked
    Dmp.pages = {
        None: IdentityLinkPage(
            links=[
                link(ident("site_cookie", "ck-ann", namespace="unomi"),
                     ident("email", "ann@example.com", verified=True), ref="ev-1"),
                link(ident("site_cookie", "ck-anon"), ident("email", "ann@example.com"),
                     evidence="anonymous"),
                link(ident("site_cookie", "null"), ident("email", "ann@example.com", verified=True),
                     ref="ev-3"),
            ],
            next_cursor="c1",
            has_more=True,
        ),
        "c1": IdentityLinkPage(
            links=[
                link(ident("site_cookie", "ck-who"), ident("email", "nobody@example.com")),
                link(ident("partner_cookie", "pc-1", namespace="dsp"),
                     ident("site_cookie", "ck-ann", namespace="unomi")),
                link(ident("site_cookie", "ck-ann", namespace="unomi"),
                     ident("email", "ann@example.com", verified=True)),
            ],
            next_cursor="c2",
        ),
        "c2": IdentityLinkPage(links=[], next_cursor="c2"),
    }
    report = _pull(hub)
    assert (report.pages, report.links, report.cursor, report.has_more) == (2, 6, "c2", False)
    assert (report.linked, report.refreshed, report.merged) == (2, 2, 0)
    assert dict(report.skipped) == {"anonymous": 1, "unknown person": 1}
    [refused] = report.rejected
    assert (refused.index, refused.field) == (2, "links.2.identifiers.0.value")
    assert refused.reason == "site_cookie: placeholder value is not an identifier"
    assert report.replayed == 1 and hub.events_of(ann) == ["pv-1"]
    assert _find(hub, "site_cookie", "ck-ann", "unomi") == ann
    assert _find(hub, "partner_cookie", "pc-1", "dsp") == ann  # cookie matched via a cookie
    assert _find(hub, "site_cookie", "ck-anon") is None
    assert _find(hub, "email", "nobody@example.com") is None  # links never create from that
    with session_scope(hub.runtime.engine) as session:
        assert read_cursor(session, "dmp", LINKS_STREAM) == "c2"
        letters = session.exec(select(DeadLetter).where(DeadLetter.kind == "identity_link")).all()
    assert [(d.source, d.reference, d.field) for d in letters] == [
        ("dmp", "ev-3", "links.2.identifiers.0.value")
    ]
    assert bob != ann
    again = _pull(hub)
    assert (again.pages, again.links, Dmp.asked) == (1, 0, [None, "c1", "c2"])


def test_a_verified_link_spanning_two_customers_merges_them(hub):
    ann = hub.customer("ann@example.com")
    shop = hub.ingest(
        {**page_view("o-1", {"kind": "shop_customer_id", "value": "4711", "namespace": "shop"})}
    ).stored[0].customer_id
    Dmp.pages = {
        None: IdentityLinkPage(
            links=[
                link(ident("site_cookie", "ck-9"), ident("email", "ann@example.com", verified=True),
                     ident("shop_customer_id", "4711", verified=True, namespace="shop"),
                     evidence="purchase", ref="order-9"),
            ],
            next_cursor="c1",
        )
    }
    report = _pull(hub)
    assert (report.merged, report.linked) == (1, 1)
    assert _find(hub, "shop_customer_id", "4711", "shop") == ann
    assert hub.events_of(ann) == ["o-1"]
    with session_scope(hub.runtime.engine) as session:
        [merge] = session.exec(select(IdentityMerge)).all()
    assert (merge.survivor_id, merge.absorbed_id) == (ann, shop)
    assert (merge.evidence, merge.source, merge.source_reference) == ("purchase", "dmp", "order-9")


def test_unverified_identifiers_of_two_customers_are_a_conflict_not_a_merge(hub):
    hub.customer("ann@example.com")
    hub.customer("bob@example.com")
    Dmp.pages = {
        None: IdentityLinkPage(
            links=[link(ident("email", "ann@example.com"), ident("email", "bob@example.com"))],
            next_cursor=None,
        )
    }
    report = _pull(hub)
    assert dict(report.skipped) == {"conflict": 1} and report.merged == 0


def test_brick_failures_go_through_the_core_retries(hub):
    Dmp.pages = {None: IdentityLinkPage(links=[], next_cursor="c1")}
    Dmp.failures = [Retryable("timeout")]
    assert _pull(hub).pages == 1 and Dmp.asked == [None, None]
    Dmp.failures = [Permanent("bad credentials")]
    with pytest.raises(Permanent):
        _pull(hub)
    with pytest.raises(NotALinkSource, match="not an identity link source"):
        asyncio.run(pull_links(hub.runtime, "outbox"))


def test_old_evidence_does_not_link_cookies(hub):
    hub.customer("ann@example.com")
    Dmp.pages = {
        None: IdentityLinkPage(
            links=[link(ident("site_cookie", "ck-old"), ident("email", "ann@example.com",
                                                               verified=True),
                        observed_at=NOW - timedelta(days=400))],
            next_cursor=None,
        )
    }
    report = _pull(hub)
    assert dict(report.skipped) == {"already known": 1}
    assert _find(hub, "site_cookie", "ck-old") is None


def test_a_page_and_its_cursor_commit_together(hub, monkeypatch):
    ann = hub.customer("ann@example.com")
    proof = ident("email", "ann@example.com", verified=True)
    Dmp.pages = {
        None: IdentityLinkPage(links=[link(ident("site_cookie", "ck-1"), proof)],
                               next_cursor="c1", has_more=True),
        "c1": IdentityLinkPage(links=[link(ident("site_cookie", "ck-2"), proof)],
                               next_cursor="c2"),
    }
    real = hub_links.advance_cursor

    def crash_on_second_page(session, brick, stream, cursor):
        if cursor == "c2":
            raise RuntimeError("disk full")
        real(session, brick, stream, cursor)

    monkeypatch.setattr(hub_links, "advance_cursor", crash_on_second_page)
    with pytest.raises(RuntimeError):
        _pull(hub)
    with session_scope(hub.runtime.engine) as session:
        assert read_cursor(session, "dmp", LINKS_STREAM) == "c1"
    assert _find(hub, "site_cookie", "ck-1") == ann
    assert _find(hub, "site_cookie", "ck-2") is None  # rolled back with its cursor
    monkeypatch.setattr(hub_links, "advance_cursor", real)
    resumed = _pull(hub)
    assert (resumed.pages, resumed.linked, Dmp.asked[-1]) == (1, 1, "c1")
    assert _find(hub, "site_cookie", "ck-2") == ann
