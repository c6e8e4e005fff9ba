"""Keyset walks over the fake webservice: every row read exactly once, whatever the page size
and however many rows share a second; rows that move read again at their new date."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from datetime import datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from plugins.prestashop.mapping import rows_of
from plugins.prestashop.query import MAX_ID, Position, read_keyset
from plugins.prestashop.shopclock import format_shop
from plugins.prestashop.tests.support import FakeShop

START = datetime(2026, 3, 1, 9, 0, 0)


def fetcher(shop: FakeShop):
    """The fake's own list semantics (filters, sort, limit) without HTTP, for speed."""

    async def fetch(params):
        response = shop._list("carts", params)
        assert response.status_code == 200, response.text
        return rows_of(json.loads(response.content), "carts")

    return fetch


def _order(position: Position) -> tuple[datetime, int]:
    """``(at, None)`` means every row at ``at`` is read: after any id at that second."""
    return (position.at, MAX_ID + 1 if position.id is None else position.id)


def walk(shop: FakeShop, page_sizes: list[int], bounds: list[datetime]) -> list[tuple]:
    """Poll until the last bound is reached and nothing more is waiting."""
    position = Position(START - timedelta(seconds=1))
    seen: list[tuple] = []
    for step in range(500):
        upper = bounds[min(step, len(bounds) - 1)]
        page = asyncio.run(
            read_keyset(
                fetcher(shop),
                resource="carts",
                field="date_upd",
                position=position,
                upper=upper,
                limit=page_sizes[step % len(page_sizes)],
            )
        )
        seen += [(row["id"], row["date_upd"]) for row in page.rows]
        assert _order(page.position) >= _order(position), "a position never goes back"
        position = page.position
        if not page.has_more and step >= len(bounds) - 1:
            return seen
    raise AssertionError("the walk never finished")


# Few distinct seconds for many rows: ties everywhere.
offsets = st.lists(st.integers(min_value=0, max_value=6), min_size=0, max_size=60)
sizes = st.lists(st.integers(min_value=1, max_value=7), min_size=1, max_size=5)


@settings(max_examples=150, deadline=None)
@given(offsets=offsets, page_sizes=sizes, id_order=st.randoms(use_true_random=False))
def test_every_row_is_read_exactly_once(offsets, page_sizes, id_order) -> None:
    ids = list(range(1, len(offsets) + 1))
    id_order.shuffle(ids)  # ids do not follow dates (carts are updated in any order)
    shop = FakeShop(
        carts=[
            {"id": i, "date_upd": format_shop(START + timedelta(seconds=s))}
            for i, s in zip(ids, offsets, strict=True)
        ]
    )
    seen = walk(shop, page_sizes, [START + timedelta(seconds=10)])
    assert Counter(seen) == Counter((c["id"], c["date_upd"]) for c in shop.carts)


@settings(max_examples=100, deadline=None)
@given(
    offsets=offsets,
    page_sizes=sizes,
    cuts=st.lists(st.integers(min_value=-1, max_value=7), min_size=1, max_size=6),
)
def test_a_moving_bound_never_skips_a_row(offsets, page_sizes, cuts) -> None:
    """The bound advances (and may even step back, as around a DST fold) between pages."""
    shop = FakeShop(
        carts=[
            {"id": i, "date_upd": format_shop(START + timedelta(seconds=s))}
            for i, s in enumerate(offsets, 1)
        ]
    )
    bounds = [START + timedelta(seconds=c) for c in cuts] + [START + timedelta(seconds=10)]
    seen = walk(shop, page_sizes, bounds)
    assert Counter(seen) == Counter((c["id"], c["date_upd"]) for c in shop.carts)


@settings(max_examples=100, deadline=None)
@given(
    offsets=offsets,
    page_sizes=sizes,
    moves=st.lists(st.tuples(st.integers(0, 59), st.integers(0, 6)), max_size=10),
)
def test_rows_updated_during_the_walk_are_read_at_their_last_date(
    offsets, page_sizes, moves
) -> None:
    """A cart touched again gets a later ``date_upd``: its latest version is always read."""
    shop = FakeShop(
        carts=[
            {"id": i, "date_upd": format_shop(START + timedelta(seconds=s))}
            for i, s in enumerate(offsets, 1)
        ]
    )
    position = Position(START - timedelta(seconds=1))
    seen: set[tuple] = set()
    pending = list(moves)
    for step in range(500):
        now = START + timedelta(seconds=20 + 10 * step)
        if pending and shop.carts:
            index, extra = pending.pop(0)
            cart = shop.carts[index % len(shop.carts)]
            # Touched "now": later than every bound used so far (the bound trails the clock).
            cart["date_upd"] = format_shop(now + timedelta(seconds=extra))
        page = asyncio.run(
            read_keyset(
                fetcher(shop),
                resource="carts",
                field="date_upd",
                position=position,
                upper=now - timedelta(seconds=5),
                limit=page_sizes[step % len(page_sizes)],
            )
        )
        seen |= {(row["id"], row["date_upd"]) for row in page.rows}
        position = page.position
        latest = max((c["date_upd"] for c in shop.carts), default="")
        if not page.has_more and not pending and format_shop(position.at) >= latest:
            break
    assert {(c["id"], c["date_upd"]) for c in shop.carts} <= seen
