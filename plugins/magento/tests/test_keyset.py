"""The keyset cursor reads every record exactly once, whatever the ties, page sizes and writes.

The shop is ``FakeMagento``, which applies the brick's searchCriteria for real. Timestamps are
drawn from a handful of seconds so that many records share one, often more than a page.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import respx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contracts import BrickContext, EventEnvelope, PayloadRejected, Permanent
from plugins.magento import MagentoBrick
from plugins.magento.tests.shop import (
    BASE_URL,
    TOKEN,
    FakeMagento,
    cart,
    customer,
    order,
    search_answer,
)
from plugins.magento.wire import format_time

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
PROPERTY = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def make_brick(clock: Clock, page_size: int) -> MagentoBrick:
    values = {
        "base_url": BASE_URL,
        "access_token": TOKEN,
        "page_size": page_size,
        "abandonment_delay": "5m",
        "first_poll_lookback": "1d",
        "settle_delay": "1s",
    }
    context = BrickContext(name="magento", data_dir=".")
    return MagentoBrick(MagentoBrick.Settings(**values), context, clock=clock)


def run(shop: FakeMagento, work: Callable[[], Awaitable[Any]]) -> Any:
    async def go() -> Any:
        with respx.mock(assert_all_mocked=True, assert_all_called=False) as router:
            shop.mount(router)
            return await work()

    return asyncio.run(go())


async def drain(read: Callable[[str | None], Awaitable[Any]], cursor: str | None) -> tuple:
    """Read pages until the brick says nothing more; the cursor must move on every page."""
    items: list[Any] = []
    for _ in range(500):
        page = await read(cursor)
        items += getattr(page, "events", None) or getattr(page, "records", [])
        if page.has_more:
            assert page.next_cursor != cursor, "more pages announced without a new cursor"
        cursor = page.next_cursor
        if not page.has_more:
            return items, cursor
    raise AssertionError("the stream never ended")


def at(second: int) -> str:
    return format_time(START + timedelta(seconds=second))


ties = st.lists(
    st.tuples(st.integers(1, 10_000), st.integers(0, 5)),
    max_size=60,
    unique_by=lambda pair: pair[0],
)


@PROPERTY
@given(carts=ties, orders=ties, page_size=st.integers(1, 12))
def test_every_cart_and_order_read_exactly_once(
    carts: list[tuple[int, int]], orders: list[tuple[int, int]], page_size: int
) -> None:
    shop = FakeMagento()
    shop.carts = [cart(i, at(s), f"c{i}@example.com") for i, s in carts]
    shop.orders = [order(i, at(s), f"o{i}@example.com") for i, s in orders]
    clock = Clock(START + timedelta(hours=1))
    brick = make_brick(clock, page_size)
    events, cursor = run(shop, lambda: drain(brick.poll, None))
    ids = Counter(event.id for event in events)
    assert max(ids.values(), default=1) == 1
    expected = {f"cart-{i}-{(START + timedelta(seconds=s)):%Y%m%dT%H%M%SZ}" for i, s in carts}
    expected |= {f"order-{i}" for i, _ in orders}
    assert set(ids) == expected
    carts_read = [e for e in events if e.type == "cart.abandoned"]
    keys = [(e.occurred_at, int(e.payload["cart_id"])) for e in carts_read]
    assert keys == sorted(keys)
    # A later poll from the final cursor finds nothing new.
    again, _ = run(shop, lambda: drain(brick.poll, cursor))
    assert again == []


@PROPERTY
@given(customers=ties, page_size=st.integers(1, 12))
def test_every_customer_read_exactly_once(customers: list[tuple[int, int]], page_size: int) -> None:
    shop = FakeMagento()
    shop.customers = [customer(i, at(s), f"p{i}@example.com") for i, s in customers]
    brick = make_brick(Clock(START + timedelta(minutes=1)), page_size)
    records, _ = run(shop, lambda: drain(brick.read_changes, None))
    read = Counter(c.identifiers[1].value for c in records)
    assert max(read.values(), default=1) == 1
    assert set(read) == {str(i) for i, _ in customers}


operations = st.lists(
    st.one_of(
        st.tuples(st.just("poll"), st.just(0)),
        st.tuples(st.just("advance"), st.integers(0, 400)),
        st.tuples(st.just("add_cart"), st.integers(0, 3)),
        st.tuples(st.just("update_cart"), st.integers(0, 50)),
        st.tuples(st.just("order_cart"), st.integers(0, 50)),
    ),
    max_size=40,
)


@PROPERTY
@given(ops=operations, page_size=st.integers(1, 5))
def test_writes_between_polls_are_never_missed(ops: list[tuple[str, int]], page_size: int) -> None:
    """Carts are added, updated and ordered while the hub polls now and then; at the end every
    cart still abandoned has been read in its latest version, and no event came twice."""
    shop = FakeMagento()
    clock = Clock(START)
    brick = make_brick(clock, page_size)
    seen: list[EventEnvelope] = []
    next_id = iter(range(1, 10_000))

    async def scenario() -> None:
        cursor = None
        for op, arg in ops:
            now = format_time(clock.now)
            if op == "poll":
                events, cursor = await drain(brick.poll, cursor)
                seen.extend(events)
            elif op == "advance":
                clock.now += timedelta(seconds=arg)
            elif op == "add_cart":
                for _ in range(arg + 1):
                    shop.carts.append(cart(next(next_id), now, "x@example.com", customer_id=9))
            elif shop.carts:
                row = shop.carts[arg % len(shop.carts)]
                row["updated_at"] = now
                if op == "order_cart":
                    row["is_active"] = False
                    shop.orders.append(
                        order(next(next_id), now, "x@example.com", quote_id=row["id"])
                    )
        clock.now += timedelta(hours=1)
        events, _ = await drain(brick.poll, cursor)
        seen.extend(events)

    run(shop, scenario)
    ids = Counter(event.id for event in seen)
    assert max(ids.values(), default=1) == 1
    latest = {
        f"cart-{row['id']}-{row['updated_at'].replace('-', '').replace(' ', 'T').replace(':', '')}Z"
        for row in shop.carts
        if row["is_active"]
    }
    assert latest <= set(ids)
    assert {f"order-{row['entity_id']}" for row in shop.orders} <= set(ids)


# -- deterministic edges -------------------------------------------------------------------------


def test_more_ties_than_a_page_take_several_polls() -> None:
    shop = FakeMagento()
    shop.carts = [cart(i, at(0), "a@example.com") for i in range(1, 8)]
    brick = make_brick(Clock(START + timedelta(hours=1)), page_size=3)

    async def pages() -> list[list[str]]:
        out, cursor, more = [], None, True
        while more:
            page = await brick.poll(cursor)
            out.append([e.payload["cart_id"] for e in page.events if e.type == "cart.abandoned"])
            cursor, more = page.next_cursor, page.has_more
        return out

    assert run(shop, pages) == [["1", "2", "3"], ["4", "5", "6"], ["7"]]


def test_a_re_read_from_an_old_cursor_yields_the_same_event_ids() -> None:
    shop = FakeMagento()
    shop.carts = [cart(i, at(i % 2), "a@example.com") for i in range(1, 6)]
    brick = make_brick(Clock(START + timedelta(hours=1)), page_size=2)

    async def twice() -> tuple[list[str], list[str]]:
        first = await brick.poll(None)
        second = await brick.poll(first.next_cursor)
        replay = await brick.poll(first.next_cursor)  # the core crashed before storing page 2
        return [e.id for e in second.events], [e.id for e in replay.events]

    second, replay = run(shop, twice)
    assert second == replay and second


def test_answers_out_of_order_stop_the_poll() -> None:
    brick = make_brick(Clock(START + timedelta(hours=1)), page_size=10)
    rows = [cart(2, at(3), "a@example.com"), cart(1, at(1), "b@example.com")]

    async def poll() -> Any:
        with respx.mock(base_url=BASE_URL, assert_all_mocked=True) as router:
            router.get("/V1/carts/search").mock(return_value=search_answer(rows))
            router.get("/V1/orders").mock(return_value=search_answer([]))
            return await brick.poll(None)

    with pytest.raises(Permanent, match="out of"):
        asyncio.run(poll())


@pytest.mark.parametrize(
    "cursor",
    [
        "not json",
        '{"v": 2}',
        '{"v":1,"carts":"2026-03-02 09:00:00"}',
        '{"v":1,"carts":["2026-03-02T09:00:00",1]}',
        '{"v":1,"carts":["2026-03-02 09:00:00",0]}',
    ],
)
def test_unreadable_cursor_is_refused(cursor: str) -> None:
    brick = make_brick(Clock(START), page_size=10)
    with pytest.raises(PayloadRejected) as caught:
        asyncio.run(brick.poll(cursor))
    assert caught.value.field == "cursor"


def test_first_poll_with_nothing_keeps_its_starting_point() -> None:
    """The start (now - first_poll_lookback) is kept in the cursor, not recomputed later."""
    shop = FakeMagento()
    clock = Clock(START)
    brick = make_brick(clock, page_size=10)
    page = run(shop, lambda: brick.poll(None))
    assert page.events == [] and not page.has_more
    assert page.next_cursor == (
        '{"carts":["2026-03-01 09:00:00",null],"orders":["2026-03-01 09:00:00",null],"v":1}'
    )
    clock.now += timedelta(days=3)
    shop.carts = [cart(1, "2026-03-01 10:00:00", "late@example.com")]
    later = run(shop, lambda: brick.poll(page.next_cursor))
    assert [e.id for e in later.events] == ["cart-1-20260301T100000Z"]


def test_an_exactly_full_page_trusts_total_count() -> None:
    """Two orders, page size two: Magento's ``total_count`` says nothing more waits."""
    shop = FakeMagento()
    shop.orders = [order(i, at(0), "a@example.com") for i in (1, 2)]
    brick = make_brick(Clock(START + timedelta(minutes=1)), page_size=2)
    first = run(shop, lambda: brick.poll(None))
    assert [e.id for e in first.events] == ["order-1", "order-2"]
    assert not first.has_more
    second = run(shop, lambda: brick.poll(first.next_cursor))
    assert second.events == [] and not second.has_more
