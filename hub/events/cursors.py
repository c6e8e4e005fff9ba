"""Where polling a brick's stream got to (``source_cursors``), read and advanced in the caller's
transaction: the cursor commits with the page it follows, or not at all.

A crash between storing a page and advancing its cursor is impossible by construction; a crash
before the commit re-reads the page, and de-duplication on (source, event id) absorbs it.
"""

from __future__ import annotations

from sqlmodel import Session

from hub.storage.models import SourceCursor
from hub.storage.types import utcnow

__all__ = ["EVENTS_STREAM", "advance_cursor", "read_cursor"]

#: The stream name of ``EventSource.poll`` cursors (contact and link sources use others).
EVENTS_STREAM = "events"


def read_cursor(session: Session, brick: str, stream: str) -> str | None:
    """The stored cursor, or ``None`` (poll from the beginning)."""
    row = session.get(SourceCursor, (brick, stream), populate_existing=True)
    return row.cursor if row is not None else None


def advance_cursor(session: Session, brick: str, stream: str, cursor: str | None) -> None:
    """Store ``cursor`` in ``session``'s transaction (committed with the page's data)."""
    row = session.get(SourceCursor, (brick, stream), populate_existing=True)
    if row is None:
        session.add(SourceCursor(brick=brick, stream=stream, cursor=cursor, updated_at=utcnow()))
    else:
        row.cursor = cursor
        row.updated_at = utcnow()
        session.add(row)
    session.flush()
