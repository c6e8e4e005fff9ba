"""Webservice list queries and the keyset walk over ``(date, id)``.

The webservice has no "after this row" filter: ``filter[date_upd]=[A,B]`` is a SQL ``BETWEEN``
(both ends included) and works only with ``date=1``; ``sort=[date_upd_ASC,id_ASC]`` and
``limit=offset,count`` do the rest. Offsets are not safe for resuming (a row that moves to a
later date shifts every offset after it), so a position is the last ``(date, id)`` read and
each page is at most two calls:

1. **ties**: rows at exactly the position's second with a larger id
   (``filter[date_upd]=[date]`` and ``filter[id]=[id+1,4294967295]``), when the previous page
   ended inside a second;
2. **later**: rows in ``[date + 1 s, upper]``: dates have second precision, so ``date + 1 s``
   is "strictly after".

``upper`` is a settled wall-clock bound (``shopclock.settled_bound``): rows at or before it are
all written, so a position never passes a row that could still appear. Everything read is kept;
re-reading is harmless (the core de-duplicates on event id), missing a row is not.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from contracts import PayloadRejected
from plugins.prestashop.shopclock import ShopDateError, format_shop, parse_shop

__all__ = [
    "MAX_ID",
    "Fetch",
    "KeysetPage",
    "Params",
    "Position",
    "decode_cursor",
    "encode_cursor",
    "id_filter",
    "list_params",
    "read_keyset",
]

#: ``id`` columns are ``INT(10) UNSIGNED``: the top of an open-ended id interval.
MAX_ID = 4_294_967_295
CURSOR_VERSION = 1

Params = list[tuple[str, str]]
Row = dict[str, Any]
#: One list call: query parameters in, the rows of the answer out.
Fetch = Callable[[Params], Awaitable[list[Row]]]


def list_params(
    *,
    display: str | Sequence[str] = "full",
    filters: Mapping[str, str] | None = None,
    sort: Sequence[str] = (),
    limit: tuple[int, int] | None = None,
    date: bool = False,
) -> Params:
    """Query parameters of a list call, in a fixed order (stable golden snapshots).

    ``display`` is ``"full"`` or field names; ``filters`` maps a field to its filter value
    (``"[1|5]"``, ``"[A,B]"``, ``"[x]"``); ``sort`` entries are ``field_ASC`` / ``field_DESC``;
    ``limit`` is ``(offset, count)``; ``date`` enables ``date_add`` / ``date_upd`` filters
    and sorting (``date=1``), which PrestaShop ignores otherwise.
    """
    shown = display if isinstance(display, str) else "[" + ",".join(display) + "]"
    params: Params = [("output_format", "JSON"), ("display", shown)]
    params += [(f"filter[{name}]", value) for name, value in (filters or {}).items()]
    if sort:
        params.append(("sort", "[" + ",".join(sort) + "]"))
    if limit is not None:
        params.append(("limit", f"{limit[0]},{limit[1]}"))
    if date:
        params.append(("date", "1"))
    return params


def id_filter(ids: Sequence[int]) -> str:
    """``[3|7|9]`` (PrestaShop's OR list) for a page's distinct ids, sorted."""
    if not ids:
        raise ValueError("an id filter needs at least one id")
    return "[" + "|".join(str(i) for i in sorted(set(ids))) + "]"


@dataclass(frozen=True)
class Position:
    """Everything up to here is read: rows before ``at``, and rows at ``at`` with an id up to
    ``id`` (``None``: every row at ``at``). ``at`` is the shop's wall-clock time."""

    at: datetime
    id: int | None = None

    def dump(self) -> dict[str, Any]:
        return {"at": format_shop(self.at), "id": self.id}

    @classmethod
    def load(cls, data: Any) -> Position:
        if not isinstance(data, dict):
            raise ValueError("not an object")
        at = parse_shop(data.get("at"))
        row_id = data.get("id")
        if at is None or not (row_id is None or (isinstance(row_id, int) and row_id >= 0)):
            raise ValueError("bad position")
        return cls(at=at, id=row_id)


def encode_cursor(positions: Mapping[str, Position]) -> str:
    """The opaque cursor the core stores: compact JSON, keys sorted (stable)."""
    body = {"v": CURSOR_VERSION, **{name: pos.dump() for name, pos in positions.items()}}
    return json.dumps(body, separators=(",", ":"), sort_keys=True)


def decode_cursor(cursor: str, streams: Sequence[str]) -> dict[str, Position]:
    """Positions of ``streams`` from a cursor this brick wrote; ``PayloadRejected`` otherwise."""
    try:
        data = json.loads(cursor)
        if not isinstance(data, dict) or data.get("v") != CURSOR_VERSION:
            raise ValueError("unknown cursor version")
        return {name: Position.load(data[name]) for name in streams}
    except (ValueError, KeyError, TypeError, ShopDateError):
        raise PayloadRejected(
            "the stored cursor was not written by this brick version: reset it", field="cursor"
        ) from None


@dataclass(frozen=True)
class KeysetPage:
    rows: list[Row]
    position: Position
    has_more: bool


def _row_key(row: Row, field: str, resource: str) -> tuple[datetime, int]:
    try:
        at = parse_shop(row.get(field))
        row_id = int(row["id"])
    except (ShopDateError, KeyError, TypeError, ValueError):
        at = None
        row_id = -1
    if at is None or row_id < 0:
        raise PayloadRejected(
            f"{resource}: a row without a valid id or {field}", field=f"{resource}.{field}"
        )
    return at, row_id


async def read_keyset(
    fetch: Fetch,
    *,
    resource: str,
    field: str,
    position: Position,
    upper: datetime,
    limit: int,
    display: str | Sequence[str] = "full",
    filters: Mapping[str, str] | None = None,
) -> KeysetPage:
    """One page of ``resource`` after ``position`` and up to ``upper`` (both wall-clock).

    ``filters`` are extra conditions every call carries (``id_customer`` of carts). At most
    ``limit`` rows; ``has_more`` when the page is full (the next page may be empty).
    """
    extra = dict(filters or {})
    rows: list[Row] = []
    at, last_id = position.at, position.id
    if last_id is not None:
        ties = await fetch(
            list_params(
                display=display,
                filters={**extra, field: f"[{format_shop(at)}]", "id": f"[{last_id + 1},{MAX_ID}]"},
                sort=("id_ASC",),
                limit=(0, limit),
                date=True,
            )
        )
        rows += ties[:limit]
        if rows:
            last_id = max(_row_key(row, field, resource)[1] for row in rows)
        if len(ties) >= limit:
            return KeysetPage(rows, Position(at, last_id), has_more=True)
    lower = at + timedelta(seconds=1)
    upper = upper.replace(microsecond=0)
    if lower > upper:
        # Nothing settled after the position yet (or the bound went back: a DST fold, a longer
        # delay). PrestaShop would swap reversed interval bounds, so do not ask at all.
        return KeysetPage(rows, Position(at, None), has_more=False)
    remaining = limit - len(rows)
    later = await fetch(
        list_params(
            display=display,
            filters={**extra, field: f"[{format_shop(lower)},{format_shop(upper)}]"},
            sort=(f"{field}_ASC", "id_ASC"),
            limit=(0, remaining),
            date=True,
        )
    )
    later = later[:remaining]
    rows += later
    if len(later) >= remaining:
        last_at, last_row = max(_row_key(row, field, resource) for row in later)
        return KeysetPage(rows, Position(last_at, last_row), has_more=True)
    return KeysetPage(rows, Position(upper, None), has_more=False)
