"""The ``read_links`` cursor: a keyset position in Unomi's event stream, ties included.

Events are read oldest first (``timeStamp``, then ``itemId``). A position is the time of the
last event handed out plus the ids of every event handed out *at that time*: the next search
starts at that time inclusively and drops those ids. Events sharing a millisecond are common
(every event of one ``/cxs/eventcollector`` call gets the call's time), so a time-only cursor
would skip some, and an offset would skip an event indexed late with a smaller id; ids never
miss one. A re-read is harmless: the core stores links idempotently.

The cursor string is opaque to the core: ``u1.`` + base64url of compact JSON.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from contracts import PayloadRejected

__all__ = ["MAX_WINDOW", "Position", "advance", "format_time", "parse_time"]

_PREFIX = "u1."
#: Unomi's search runs on Elasticsearch, whose default ``index.max_result_window`` caps
#: offset + limit of one search at 10,000 results.
MAX_WINDOW = 10_000


def format_time(moment: datetime) -> str:
    """UTC, millisecond precision (what Unomi stores), ``Z`` suffix: one spelling per instant."""
    text = moment.astimezone(UTC).isoformat(timespec="milliseconds")
    return text.replace("+00:00", "Z")


def parse_time(value: object) -> datetime:
    """An event ``timeStamp``: ISO 8601 text (Unomi's JSON) or epoch milliseconds.

    Raises ``ValueError`` for anything else; a time without an offset is UTC (Unomi stores UTC).
    """
    if isinstance(value, bool):
        raise ValueError("a boolean is not a time")
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value / 1000, UTC)
    if not isinstance(value, str) or not value.strip():
        raise ValueError("expected an ISO 8601 time")
    moment = datetime.fromisoformat(value.strip())
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    # Millisecond precision, like Unomi's index, so a position equals the time it was read at.
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000).astimezone(UTC)


@dataclass(frozen=True)
class Position:
    """Where the next page starts: ``at`` (``None``: the beginning) minus ``seen`` there."""

    at: str | None = None
    seen: tuple[str, ...] = ()

    @classmethod
    def decode(cls, cursor: str | None) -> Position:
        if cursor is None:
            return cls()
        try:
            if not cursor.startswith(_PREFIX):
                raise ValueError("unknown prefix")
            raw = cursor[len(_PREFIX) :]
            data = json.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
            at, seen = data["t"], data["ids"]
            if not isinstance(at, str) or not isinstance(seen, list):
                raise ValueError("bad fields")
            if not all(isinstance(item, str) and item for item in seen):
                raise ValueError("bad ids")
            return cls(at=format_time(parse_time(at)), seen=tuple(seen))
        except (ValueError, KeyError, TypeError, binascii.Error):
            raise PayloadRejected(
                "not a cursor issued by the unomi brick", field="cursor"
            ) from None

    def encode(self) -> str | None:
        if self.at is None:
            return None
        data = json.dumps({"t": self.at, "ids": list(self.seen)}, separators=(",", ":"))
        return _PREFIX + base64.urlsafe_b64encode(data.encode()).decode().rstrip("=")


def advance(position: Position, page: Sequence[tuple[str, datetime]]) -> tuple[Position, list[int]]:
    """The position after a page of ``(itemId, time)`` in search order, and the indexes of the
    page's events not handed out before (the ones to map)."""
    fresh = [i for i, (item_id, _) in enumerate(page) if item_id not in position.seen]
    if not page:
        return position, fresh
    times = [format_time(moment) for _, moment in page]
    # The newest time of the page (the last one when Unomi sorts as asked); never move back.
    last = max([*times, *([position.at] if position.at else [])])
    at_last = [page[i][0] for i in fresh if times[i] == last]
    carried = position.seen if last == position.at else ()
    seen = tuple(dict.fromkeys([*carried, *at_last]))
    return Position(at=last, seen=seen), fresh
