"""The hub's change feed: which customers changed since a sink's cursor.

A *change* is anything that can alter what a sink receives or whether it may receive it: a
profile field (``ProfileStore.write_profiles``), a consent statement (``record_consents_many``),
a free-form attribute (``write_attributes``), a merge or unmerge (``hub.identity.merges``), a
status change (erasure, suppression, objection). Every one of those writes sets
``customers.updated_at`` (``touch_customers`` is the helper for writes that do not rewrite the
customer row themselves), so the feed is one keyset walk over ``(updated_at, id)``: ties in
time are ordered by id, and a cursor is the last ``(updated_at, id)`` a sink confirmed.

Commit order is not timestamp order: a writer stamps ``now`` and may commit later (it waited
for SQLite's write lock, or a PostgreSQL transaction ran long), after a sync already walked
past that instant. So a stored cursor never goes beyond ``settle`` before the run started
(``cap``): the next run reads that window again, and the view digests in ``sink_contacts``
make the re-read free of duplicates (an unchanged view is not pushed twice). The guarantee:
a change is never missed when its transaction commits within ``settle`` of the time it was
stamped (plus the clock skew between hub processes). See docs/sync.md.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

from sqlalchemy import and_, func, or_, select, update
from sqlmodel import Session

from hub.storage.db import chunks
from hub.storage.models import Customer, table

__all__ = [
    "DEFAULT_SETTLE",
    "SYNC_STREAM",
    "FeedItem",
    "FeedKey",
    "cap",
    "count_feed",
    "decode_cursor",
    "encode_cursor",
    "read_feed",
    "touch_customers",
]

#: The stream name of a sink's cursor in ``source_cursors`` (``brick`` = the sink).
SYNC_STREAM = "sync"
#: How long a write may take between stamping ``updated_at`` and committing (see above).
DEFAULT_SETTLE = timedelta(seconds=60)

_CUSTOMERS = table(Customer)


class FeedKey(NamedTuple):
    """A position in the feed: every customer at or before it is handled (tuples compare
    as the feed is ordered: time, then id)."""

    at: datetime
    customer_id: str


class FeedItem(NamedTuple):
    key: FeedKey
    customer_id: str
    status: str
    locale: str | None
    time_zone: str | None


def touch_customers(session: Session, customer_ids: Iterable[str], now: datetime) -> None:
    """Mark customers changed (``updated_at = now``) in the caller's transaction, for writes
    that change what a sink would receive without rewriting the customer row."""
    ids = sorted(set(customer_ids))
    for chunk in chunks(ids):
        session.execute(
            update(_CUSTOMERS)
            .where(_CUSTOMERS.c.id.in_(chunk))
            .values(updated_at=now)
            .execution_options(synchronize_session=False)
        )


def encode_cursor(key: FeedKey | None) -> str | None:
    if key is None:
        return None
    return f"{key.at.astimezone(UTC).isoformat(timespec='microseconds')}|{key.customer_id}"


def decode_cursor(text: str | None) -> FeedKey | None:
    """The stored cursor; an unreadable one is an error (reading from the start would silently
    re-push everything, which ``--full`` does on purpose)."""
    if not text:
        return None
    stamp, sep, customer_id = text.partition("|")
    try:
        at = datetime.fromisoformat(stamp)
    except ValueError:
        at = None
    if not sep or at is None or at.tzinfo is None:
        raise ValueError(f"unreadable sync cursor {text[:80]!r}")
    return FeedKey(at.astimezone(UTC), customer_id)


def cap(key: FeedKey, started: datetime, settle: timedelta) -> FeedKey:
    """The cursor to store after handling ``key``: never past ``started - settle``."""
    limit = FeedKey(started - settle, "")
    return min(key, limit)


def _after(key: FeedKey | None):  # type: ignore[no-untyped-def]
    if key is None:
        return None
    at, customer_id = _CUSTOMERS.c.updated_at, _CUSTOMERS.c.id
    # The redundant ``>=`` lets the index seek to the cursor instead of filtering from the start.
    return and_(at >= key.at, or_(at > key.at, customer_id > key.customer_id))


def _until(upper: datetime | None):  # type: ignore[no-untyped-def]
    return None if upper is None else _CUSTOMERS.c.updated_at <= upper


def read_feed(
    session: Session, after: FeedKey | None, *, upper: datetime | None, limit: int
) -> list[FeedItem]:
    """The next ``limit`` customers changed after ``after`` (and at or before ``upper``), in
    ``(updated_at, id)`` order, whatever their status (the caller skips inactive ones)."""
    columns = (
        _CUSTOMERS.c.id,
        _CUSTOMERS.c.updated_at,
        _CUSTOMERS.c.status,
        _CUSTOMERS.c.locale,
        _CUSTOMERS.c.time_zone,
    )
    query = select(*columns)
    for condition in (_after(after), _until(upper)):
        if condition is not None:
            query = query.where(condition)
    query = query.order_by(_CUSTOMERS.c.updated_at, _CUSTOMERS.c.id).limit(limit)
    return [
        FeedItem(FeedKey(at, customer_id), customer_id, status, locale, time_zone)
        for customer_id, at, status, locale, time_zone in session.execute(query).all()
    ]


def count_feed(session: Session, after: FeedKey | None, *, upper: datetime | None) -> int:
    """How many customers the walk will read (for a progress bar's total)."""
    query = select(func.count()).select_from(_CUSTOMERS)
    for condition in (_after(after), _until(upper)):
        if condition is not None:
            query = query.where(condition)
    return int(session.execute(query).scalar_one())
