"""The change feed: ties in time, the settle window, and every kind of change bumping it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from contracts import Channel, Consent, ConsentStatus, CustomerField
from hub.consent import record_consents
from hub.contacts.attributes import write_attributes
from hub.identity.merges import merge_customers, unmerge
from hub.storage.db import session_scope
from hub.storage.models import Customer, table
from hub.storage.types import utcnow
from hub.sync.feed import FeedKey, cap, decode_cursor, encode_cursor, read_feed
from tests.sync.conftest import Crm, contact

CUSTOMERS = table(Customer)
LONG_AGO = datetime(2026, 1, 1, tzinfo=UTC)


def _pull(hub, count: int) -> list[str]:
    Crm.serve([contact(i) for i in range(count)])
    hub.sync("brevo")
    with session_scope(hub.runtime.engine) as session:
        return sorted(session.execute(select(CUSTOMERS.c.id)).scalars())


def _stamp(hub, ids: list[str], at: datetime) -> None:
    with session_scope(hub.runtime.engine) as session:
        session.execute(update(CUSTOMERS).where(CUSTOMERS.c.id.in_(ids)).values(updated_at=at))


def _walk(hub, after: FeedKey | None, limit: int) -> list[str]:
    seen: list[str] = []
    with session_scope(hub.runtime.engine) as session:
        while items := read_feed(session, after, upper=utcnow(), limit=limit):
            seen += [item.customer_id for item in items]
            after = items[-1].key
    return seen


def test_ties_in_time_are_walked_by_id_each_once(hub, vendors):
    ids = _pull(hub, 7)
    _stamp(hub, ids, LONG_AGO)
    assert _walk(hub, None, limit=2) == ids
    # A cursor in the middle of a tie resumes after that id, not after the instant.
    assert _walk(hub, FeedKey(LONG_AGO, ids[2]), limit=3) == ids[3:]


def test_changes_stamped_after_the_upper_bound_wait_for_the_next_run(hub, vendors):
    ids = _pull(hub, 3)
    _stamp(hub, ids[:1], utcnow() + timedelta(hours=1))
    assert sorted(_walk(hub, None, limit=10)) == sorted(ids[1:])


def test_cursor_text_round_trip_and_unreadable_cursor():
    key = FeedKey(datetime(2026, 3, 2, 10, 0, 0, 123456, tzinfo=UTC), "cus_abc")
    assert decode_cursor(encode_cursor(key)) == key
    assert decode_cursor(None) is None
    with pytest.raises(ValueError, match="unreadable sync cursor"):
        decode_cursor("not-a-cursor")


def test_the_stored_cursor_never_passes_the_settle_window():
    started = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
    settle = timedelta(seconds=60)
    early = FeedKey(started - timedelta(minutes=5), "cus_b")
    late = FeedKey(started - timedelta(seconds=10), "cus_a")
    assert cap(early, started, settle) == early
    assert cap(late, started, settle) == FeedKey(started - settle, "")


@pytest.mark.parametrize(("settle", "caught"), [(0, False), (60, True)], ids=["0s", "60s"])
def test_a_change_committed_late_is_caught_within_the_settle_window(hub, vendors, settle, caught):
    """X is stamped, then Y is stamped and committed, a sync goes by, and only then X commits
    (a slow transaction). With no settle window the cursor passed X's stamp with Y: X would
    never be read again; with one, the next run reads X."""
    window = timedelta(seconds=settle)
    Crm.serve([contact(i) for i in range(3)])
    hub.sync("brevo", settle=window)
    ids = {}
    with session_scope(hub.runtime.engine) as session:
        for i in (0, 1):
            ids[i] = hub.runtime.identity.find(session, contact(i).identifiers[0])
    x_stamped = utcnow()
    with session_scope(hub.runtime.engine) as session:
        hub.runtime.identity.write_profile(session, ids[1], {CustomerField.FIRST_NAME: "Early"})
    assert hub.sync("brevo", source="hub", settle=window).sinks[0].updated == 1
    with session_scope(hub.runtime.engine) as session:
        hub.runtime.identity.write_profile(
            session, ids[0], {CustomerField.FIRST_NAME: "Late"}, now=x_stamped
        )
    late = hub.sync("brevo", source="hub", settle=window).sinks[0]
    assert late.updated == (1 if caught else 0)
    names = [c.body.get("attributes", {}).get("FIRSTNAME") for c in vendors.requests("brevo")]
    assert ("Late" in names) is caught


def test_consent_attribute_and_merge_writes_mark_the_customer_changed(hub, vendors):
    ids = _pull(hub, 3)
    _stamp(hub, ids, LONG_AGO)
    cursor = FeedKey(LONG_AGO, "~")  # past every customer stamped LONG_AGO
    assert _walk(hub, cursor, limit=10) == []
    with session_scope(hub.runtime.engine) as session:
        record_consents(
            session,
            ids[0],
            [Consent(channel=Channel.SMS, status=ConsentStatus.DENIED, source="shop",
                     recorded_at=LONG_AGO)],
        )
    with session_scope(hub.runtime.engine) as session:
        write_attributes(session, hub.runtime.vault, [(ids[1], {"loyalty_tier": "gold"})])
    assert sorted(_walk(hub, cursor, limit=10)) == sorted(ids[:2])
    _stamp(hub, ids, LONG_AGO)
    with session_scope(hub.runtime.engine) as session:
        merge = merge_customers(
            session, hub.runtime.vault, ids[2], ids[0], evidence="login", source="test"
        )
    assert sorted(_walk(hub, cursor, limit=10)) == sorted([ids[0], ids[2]])
    _stamp(hub, ids, LONG_AGO)
    with session_scope(hub.runtime.engine) as session:
        unmerge(session, hub.runtime.vault, merge.id or 0)
    assert sorted(_walk(hub, cursor, limit=10)) == sorted([ids[0], ids[2]])
