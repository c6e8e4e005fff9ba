"""Reading one stream a page at a time from its position, and the cursor holding positions.

``read_stream`` is the keyset loop described in ``plugins.magento.search``: the rest of the
records sharing the last timestamp first, then the records after it, page 1 each time. It
checks what Magento answered really is in (time, id) order and past the position: the cursor
is built from the last record, so an answer out of order would silently skip records.

The cursor is compact JSON, one ``[timestamp, last id]`` pair per stream, plus a version::

    {"carts":["2026-01-15 09:00:00",812],"orders":["2026-01-15 09:58:12",4711],"v":1}
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from contracts import PayloadRejected, Permanent
from plugins.magento.search import Params, Position, Stream
from plugins.magento.wire import MAGENTO_TIME, parse_id, parse_time

__all__ = ["CURSOR_VERSION", "Fetch", "StreamRead", "decode_cursor", "encode_cursor", "read_stream"]

CURSOR_VERSION = 1

#: ``fetch(path, params)`` -> the decoded JSON answer of one search call.
Fetch = Callable[[str, Params], Awaitable[Any]]


@dataclass(frozen=True)
class StreamRead:
    records: list[dict[str, Any]]
    position: Position
    has_more: bool


def _page(answer: Any, stream: Stream, size: int) -> tuple[list[dict[str, Any]], bool]:
    """The records of one search answer, and whether more match beyond this page."""
    if not isinstance(answer, dict):
        raise Permanent(f"{stream.path}: the answer is not a search result object")
    items = answer.get("items") or []
    if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
        raise Permanent(f"{stream.path}: 'items' is not a list of records")
    total = answer.get("total_count")
    if isinstance(total, int) and not isinstance(total, bool):
        return items, total > len(items)
    return items, len(items) >= size


def _key(record: dict[str, Any], stream: Stream) -> tuple[datetime, int]:
    what = f"{stream.name[:-1]} {record.get(stream.id_key, '?')}"
    identifier = parse_id(record.get(stream.id_key), stream.id_key, what)
    return parse_time(record.get(stream.time_field), stream.time_field, what), identifier


def _advance(stream: Stream, position: Position, records: list[dict[str, Any]]) -> Position:
    """The position after ``records``, refusing an answer that is not strictly after it."""
    previous = (parse_time(position.at, "cursor", stream.name), position.last_id or 0)
    for record in records:
        key = _key(record, stream)
        if key <= previous:
            raise Permanent(
                f"{stream.path}: Magento answered records out of ({stream.time_field}, "
                f"{stream.id_field}) order; the brick stops rather than skip any"
            )
        previous = key
    if not records:
        return position
    moment, last_id = previous
    return Position(at=moment.strftime(MAGENTO_TIME), last_id=last_id)


async def read_stream(
    stream: Stream, position: Position, *, upper: str, page_size: int, fetch: Fetch
) -> StreamRead:
    """Up to ``page_size`` records after ``position`` and no later than ``upper``."""
    records: list[dict[str, Any]] = []
    size = page_size
    if position.last_id is not None:
        answer = await fetch(stream.path, stream.ties_query(position, upper, page_size))
        records, more = _page(answer, stream, page_size)
        size = page_size - len(records)
        if more or size <= 0:
            return StreamRead(records, _advance(stream, position, records), True)
    answer = await fetch(stream.path, stream.after_query(position, upper, size))
    after, more = _page(answer, stream, size)
    records += after
    return StreamRead(records, _advance(stream, position, records), more)


def encode_cursor(positions: dict[str, Position]) -> str:
    """The opaque cursor handed to the core (stored after the page's events)."""
    data: dict[str, Any] = {name: [p.at, p.last_id] for name, p in positions.items()}
    data["v"] = CURSOR_VERSION
    return json.dumps(data, separators=(",", ":"), sort_keys=True)


def decode_cursor(
    cursor: str | None, streams: Iterable[Stream], start: Position
) -> dict[str, Position]:
    """Each stream's position; ``start`` for a stream the cursor does not know yet."""
    names = [stream.name for stream in streams]
    if cursor is None:
        return dict.fromkeys(names, start)
    try:
        data = json.loads(cursor)
    except ValueError:
        data = None
    if not isinstance(data, dict) or data.get("v") != CURSOR_VERSION:
        raise PayloadRejected(
            f"cursor: not a magento cursor of version {CURSOR_VERSION}", field="cursor"
        )
    positions: dict[str, Position] = {}
    for name in names:
        entry = data.get(name)
        if entry is None:
            positions[name] = start
            continue
        if not (isinstance(entry, list) and len(entry) == 2):
            raise PayloadRejected(f"cursor: {name} is not [timestamp, last id]", field="cursor")
        at, last_id = entry
        parse_time(at, "cursor", f"cursor {name}")
        if last_id is not None:
            last_id = parse_id(last_id, "cursor", f"cursor {name}")
        positions[name] = Position(at=at, last_id=last_id)
    return positions
