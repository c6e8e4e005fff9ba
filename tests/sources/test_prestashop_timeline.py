"""A day of a PrestaShop shop polled through the core: two polls, a crash mid-poll, a resume.

The webservice is the fake from the brick's tests: it really applies ``filter``, ``sort``,
``limit`` and ``date=1`` to in-memory rows, so the brick's keyset reads, order checks and
lookups run as they would against a shop. Rows appear in the shop when their time comes
(``date_upd`` / ``date_add`` in the shop's Paris wall-clock time). The hub is a real
installation (config file, secret by file reference, migrated SQLite) and the polls go
through ``hub.events.poll.poll_events``, cursor storage and de-duplication included.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
import respx
from sqlalchemy import select

from contracts import Channel, Purpose
from hub.consent import current_consents
from hub.contacts.lookup import find_customer
from hub.contacts.pull import pull_contacts
from hub.events.poll import poll_events
from hub.storage.db import session_scope
from hub.storage.models import CustomerEvent
from hub.testing import make_installation
from plugins.prestashop import PrestaShopBrick
from plugins.prestashop.tests.support import (
    BASE_URL,
    KEY,
    FakeShop,
    cart_row,
    currency_row,
    customer_row,
    error,
    order_row,
    product_row,
)

PARIS = ZoneInfo("Europe/Paris")
DAY = "2026-03-10"  # CET (UTC+1) in Paris

#: (cart id, customer id, Paris time of the last change, lines (product, quantity))
CARTS = [
    (1, 1, "09:00:00", [(10, 1)]),  # left: abandoned (later ordered, after the reminder)
    (2, 2, "09:00:00", [(11, 2)]),  # same second: abandoned
    (3, 3, "09:00:00", [(10, 1), (12, 1)]),  # same second: ordered 20 minutes later
    (4, 0, "09:00:00", [(10, 1)]),  # an anonymous visitor: never read
    (5, 4, "09:30:00", []),  # emptied: nothing to recover
    (6, 5, "09:40:00", [(10, 1)]),  # the customer deleted their account
    (7, 4, "10:15:00", [(11, 1)]),  # abandoned
    (8, 1, "10:15:00", [(12, 3)]),  # abandoned
    (9, 2, "10:15:00", [(10, 2)]),  # ordered at 10:40
    (10, 3, "11:50:00", [(10, 1)]),  # abandoned, seen by the second poll
    (11, 1, "12:30:00", [(11, 1)]),  # four carts in one second: more than a page
    (12, 2, "12:30:00", [(11, 1)]),
    (13, 3, "12:30:00", [(11, 1)]),
    (14, 4, "12:30:00", [(11, 1)]),
    (15, 2, "13:30:00", [(12, 1)]),  # abandoned, seen after the crash
]
#: (order id, cart id, customer id, Paris time)
ORDERS = [
    (100, 3, 3, "09:20:00"),
    (101, 9, 2, "10:40:00"),
    (102, 1, 1, "13:00:00"),  # four orders in one second
    (103, 16, 2, "13:00:00"),
    (104, 17, 3, "13:00:00"),
    (105, 18, 4, "13:00:00"),
    (106, 19, 1, "14:30:00"),
]
EXPECTED_CARTS = {1, 2, 7, 8, 10, 11, 12, 13, 14, 15}
#: Poll times (UTC) and what each one may see.
FIRST, SECOND, THIRD = (
    datetime(2026, 3, 10, 10, 30, tzinfo=UTC),  # 11:30 Paris: carts up to 10:30
    datetime(2026, 3, 10, 12, 10, tzinfo=UTC),  # 13:10 Paris: carts up to 12:10
    datetime(2026, 3, 10, 14, 45, tzinfo=UTC),  # 15:45 Paris: carts up to 14:45
)


class Timeline(FakeShop):
    """The shop at ``now``: rows whose time has come."""

    def at(self, now: datetime) -> None:
        wall = now.astimezone(PARIS).strftime("%H:%M:%S")
        self.carts = [
            cart_row(cart_id, customer, f"{DAY} {time}", lines)
            for cart_id, customer, time, lines in CARTS
            if time <= wall
        ]
        self.orders = [
            order_row(order_id, cart_id, customer, f"{DAY} {time}")
            for order_id, cart_id, customer, time in ORDERS
            if time <= wall
        ]


@pytest.fixture
def hub(tmp_path: Path):
    key_file = tmp_path / "prestashop_key"
    key_file.write_text(KEY, encoding="utf-8")
    installation = make_installation(
        tmp_path / "hub",
        extra='[sending]\nmax_attempts = 2\nbackoff_initial = "1s"\n',
        bricks=(
            "[bricks.prestashop]\n"
            f'base_url = "{BASE_URL}"\n'
            f'webservice_key = {{file = "{key_file.as_posix()}"}}\n'
            'time_zone = "Europe/Paris"\n'
            'abandonment_delay = "1h"\n'
            'first_poll_lookback = "1d"\n'
            "page_size = 3\n"
        ),
    )
    runtime = installation.runtime()
    shop = Timeline(
        customers=[
            customer_row(1, "ada@example.net", f"{DAY} 08:00:00", newsletter=True),
            customer_row(2, "alan@example.net", f"{DAY} 08:00:00"),
            customer_row(3, "grace@example.net", f"{DAY} 08:00:00", is_guest=True),
            customer_row(4, "linus@example.net", f"{DAY} 08:00:00"),
            customer_row(5, "gone@example.net", f"{DAY} 08:00:00", deleted=True),
        ],
        products=[
            product_row(10, "demo_10", "20.000000", {1: "Poster"}),
            product_row(11, "demo_11", "5.500000", {1: "Mug"}),
            product_row(12, "", "9.990000", {1: "Notebook"}),
        ],
        currencies=[currency_row(1, "EUR")],
    )
    yield runtime, shop
    asyncio.run(runtime.aclose())


def poll(runtime, shop: Timeline, now: datetime, read=poll_events):
    """``read`` (events by default) through the core, the shop and the brick's clock at ``now``."""
    shop.at(now)
    brick = runtime.brick("prestashop")
    assert isinstance(brick, PrestaShopBrick)
    brick.clock = lambda: now

    async def no_sleep(_seconds: float) -> None:
        return None

    async def go():
        # A poll with nothing settled since the last one makes no call at all.
        with respx.mock(base_url=BASE_URL, assert_all_called=False) as router:
            shop.install(router)
            return await read(runtime, "prestashop", sleep=no_sleep)

    return asyncio.run(go())


def stored(runtime) -> list[str]:
    with runtime.engine.connect() as connection:
        rows = connection.execute(
            select(CustomerEvent.source_event_id).where(CustomerEvent.source == "prestashop")
        )
        return [row[0] for row in rows]


def test_a_day_of_carts_and_orders(hub) -> None:
    runtime, shop = hub
    first = poll(runtime, shop, FIRST)
    assert sorted(stored(runtime)) == [
        "cart:1:2026-03-10T09:00:00",
        "cart:2:2026-03-10T09:00:00",
        "cart:7:2026-03-10T10:15:00",
        "cart:8:2026-03-10T10:15:00",
        "order:100",
        "order:101",
    ]
    assert first.pages >= 2 and not first.has_more and not first.rejected

    second = poll(runtime, shop, SECOND)
    assert second.accepted == 1 + 4  # cart 10; orders 102-105, one second, two pages
    assert not second.rejected

    # The third poll dies on its second carts page: the shop stops answering (503) and the
    # core's retries run out. Pages stored before the crash stay, with their cursor.
    carts_calls = []

    def outage(request: httpx.Request):
        if request.url.path == "/api/carts":
            carts_calls.append(request)
            if len(carts_calls) >= 2:
                return error(503, 22, "The PrestaShop webservice is disabled.")
        return None

    shop.fault = outage
    before = len(stored(runtime))
    with pytest.raises(Exception, match="disabled"):
        poll(runtime, shop, THIRD)
    assert len(stored(runtime)) > before  # the first page of the third poll was kept

    shop.fault = None
    resumed = poll(runtime, shop, THIRD)
    assert not resumed.has_more and not resumed.rejected
    assert resumed.duplicates == 0  # it resumed after the last stored page, not before

    events = stored(runtime)
    assert len(events) == len(set(events))  # no duplicate
    carts = {int(event.split(":")[1]) for event in events if event.startswith("cart:")}
    orders = {int(event.split(":")[1]) for event in events if event.startswith("order:")}
    assert carts == EXPECTED_CARTS  # none missing; carts 3 and 9 were ordered in time
    assert orders == {order_id for order_id, *_ in ORDERS}
    kept_by_the_crash = len(events) - first.accepted - second.accepted - resumed.accepted
    assert kept_by_the_crash > 0


def test_polling_again_finds_nothing_new(hub) -> None:
    runtime, shop = hub
    poll(runtime, shop, THIRD)
    count = len(stored(runtime))
    shop.requests.clear()
    again = poll(runtime, shop, THIRD)
    assert (again.accepted, again.duplicates) == (0, 0)
    assert shop.requests == []  # both positions are at their bounds: nothing to ask
    # Seen only now, cart 1 already has its order (13:00): no reminder for it this time.
    assert len(stored(runtime)) == count == len(EXPECTED_CARTS - {1}) + len(ORDERS)


def test_customers_pulled_are_the_people_of_the_events(hub) -> None:
    runtime, shop = hub
    poll(runtime, shop, THIRD)
    report = poll(runtime, shop, THIRD, read=pull_contacts)
    # Four accounts (a guest among them); the deleted one is left out. Each is the customer
    # its carts and orders already created: same shop id namespace, same email.
    assert (report.created, report.updated, report.rejected) == (0, 4, [])
    assert report.pages == 2  # page_size = 3
    with session_scope(runtime.engine) as session:
        ada = find_customer(session, runtime.identity, email="ada@example.net")
        consents = current_consents(session, ada)
        events = (
            session.execute(
                select(CustomerEvent.customer_id).where(
                    CustomerEvent.source_event_id == "order:102"
                )
            )
            .scalars()
            .all()
        )
    assert events == [ada]
    assert consents[(Channel.EMAIL, Purpose.MARKETING)].status == "granted"
    assert consents[(Channel.EMAIL, Purpose.PROFILING)].status == "denied"
    again = poll(runtime, shop, THIRD, read=pull_contacts)
    assert (again.created, again.updated) == (0, 0)
