"""A day at a Magento shop, polled by the hub: every abandoned cart and order stored exactly once.

The shop is an in-memory Magento that really applies the brick's searchCriteria (filters, sort,
paging). Carts are created, updated and abandoned, some shoppers order (their cart becomes
``is_active = 0``), guests and registered customers mix, several carts share one second. The
hub polls through its real intake (``poll_events``) with the brick configured from
``hub.toml`` (the token as a ``{file = ...}`` reference), on a clock the test moves forward.
One poll dies mid-way twice, once on the vendor's side after a page was stored and once while
storing a page; the resumed poll completes the stream.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
from sqlalchemy import select

import hub.events.poll
from contracts import Retryable
from hub.events.poll import PollReport, poll_events
from hub.runtime import Runtime
from hub.storage.models import CustomerEvent
from hub.testing import make_installation
from plugins.magento import MagentoBrick
from plugins.magento.tests.shop import BASE_URL, TOKEN, FakeMagento, cart, item, order
from tests.conftest import HIDDEN_BRICKS

pytestmark = pytest.mark.skipif("magento" in HIDDEN_BRICKS, reason="magento is uninstalled")


def at(text: str) -> datetime:
    return datetime.fromisoformat(f"2026-03-02T{text}+00:00")


class Shop:
    """The fake Magento plus the story's moves, at shop time ``HH:MM[:SS]`` on 2 March 2026."""

    def __init__(self) -> None:
        self.magento = FakeMagento()
        self.next_order = 500

    def leave_cart(self, cart_id: int, time: str, email: str | None, **kw: Any) -> None:
        self.magento.carts.append(cart(cart_id, f"2026-03-02 {time}", email, **kw))

    def touch_cart(self, cart_id: int, time: str, *items: dict[str, Any]) -> None:
        row = next(c for c in self.magento.carts if c["id"] == cart_id)
        row["items"].extend(items)
        row["items_count"] = len(row["items"])
        row["updated_at"] = f"2026-03-02 {time}"

    def place_order(self, cart_id: int, time: str) -> None:
        """Checkout: the cart is converted (inactive, updated) and an order is created."""
        row = next(c for c in self.magento.carts if c["id"] == cart_id)
        row["is_active"] = False
        row["updated_at"] = f"2026-03-02 {time}"
        self.next_order += 1
        self.magento.orders.append(
            order(
                self.next_order,
                f"2026-03-02 {time}",
                row["customer"]["email"],
                customer_id=row["customer"].get("id"),
                quote_id=cart_id,
            )
        )


class Clock:
    def __init__(self) -> None:
        self.now = at("07:00")

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def shop_hub(tmp_path: Path, database_url: str) -> Iterator[tuple[Runtime, Clock]]:
    token = tmp_path / "magento_token"
    token.write_text(TOKEN, encoding="utf-8")
    installation = make_installation(
        tmp_path / "hub",
        database_url=database_url,
        extra='[sending]\nmax_attempts = 2\nbackoff_initial = "1s"\n',
        bricks=(
            "[bricks.magento]\n"
            f'base_url = "{BASE_URL}"\n'
            f'access_token = {{file = "{token.as_posix()}"}}\n'
            'abandonment_delay = "1h"\n'
            'first_poll_lookback = "1d"\n'
            "page_size = 2\n"
            'namespace = "demo-shop"\n'
            'cart_url = "https://shop.magento.test/checkout/cart/restore/{cart_id}"\n'
        ),
    )
    runtime = installation.runtime()
    brick = runtime.brick("magento")
    assert isinstance(brick, MagentoBrick)
    assert brick.settings.access_token.get_secret_value() == TOKEN
    clock = Clock()
    brick.clock = clock
    yield runtime, clock
    asyncio.run(runtime.aclose())


def poll(runtime: Runtime, shop: Shop) -> PollReport:
    async def no_sleep(_seconds: float) -> None:
        return None

    async def go() -> PollReport:
        with respx.mock(assert_all_mocked=True, assert_all_called=False) as router:
            shop.magento.mount(router)
            return await poll_events(runtime, "magento", sleep=no_sleep)

    return asyncio.run(go())


def stored(runtime: Runtime) -> list[tuple[str, str, str]]:
    with runtime.engine.connect() as connection:
        rows = connection.execute(
            select(CustomerEvent.source_event_id, CustomerEvent.type, CustomerEvent.customer_id)
            .where(CustomerEvent.source == "magento")
            .order_by(CustomerEvent.id)
        )
        return [tuple(row) for row in rows]


def failing_after_first_page(
    monkeypatch: pytest.MonkeyPatch, then: Callable[[], None]
) -> list[int]:
    """Run ``then`` once the poll's first page is stored (the core stores page by page)."""
    real = hub.events.poll._store_page
    pages: list[int] = []

    def store(*args: Any, **kwargs: Any) -> Any:
        result = real(*args, **kwargs)
        pages.append(len(args[2].events))
        if len(pages) == 1:
            then()
        return result

    monkeypatch.setattr(hub.events.poll, "_store_page", store)
    return pages


def test_a_day_of_carts_and_orders(shop_hub, monkeypatch: pytest.MonkeyPatch) -> None:
    runtime, clock = shop_hub
    shop = Shop()
    # Morning: four shoppers, one never gives an email, one orders 30 minutes later.
    shop.leave_cart(
        1, "08:00:00", "ada@example.com", customer_id=101, items=[item("MUG", "12.50", 2)]
    )
    shop.leave_cart(2, "08:10:00", "chloe@example.net")
    shop.leave_cart(3, "08:20:00", "bob@example.org", customer_id=102)
    shop.leave_cart(4, "08:30:00", None)
    shop.place_order(3, "08:50:00")
    for cart_id in (5, 6, 7, 8):  # a newsletter link: four guests in the same second
        shop.leave_cart(cart_id, "09:00:00", f"guest{cart_id}@example.net")

    clock.now = at("10:05")
    first = poll(runtime, shop)
    assert (first.accepted, first.duplicates, first.rejected) == (7, 0, [])
    assert first.pages == 4  # page size 2: the four ties alone fill two pages

    # Ada comes back and adds to her cart; Chloe (a guest) orders; Eve leaves a cart.
    shop.touch_cart(1, "10:30:00", item("TEA", "6.00"))
    shop.place_order(2, "10:45:00")
    shop.leave_cart(9, "11:00:00", "eve@example.org", customer_id=103)
    clock.now = at("11:35")
    second = poll(runtime, shop)
    assert (second.accepted, second.duplicates) == (2, 0)  # Ada's cart again, Chloe's order

    # Ada orders at last; three more carts share a second.
    shop.place_order(1, "12:10:00")
    for cart_id in (10, 11, 12):
        shop.leave_cart(cart_id, "12:20:00", f"late{cart_id}@example.net")

    # The vendor goes down right after the first page is stored.
    clock.now = at("13:30")
    outage = httpx.Response(503, json={"message": "Service Unavailable"})
    pages = failing_after_first_page(monkeypatch, lambda: setattr(shop.magento, "outage", outage))
    with pytest.raises(Retryable):
        poll(runtime, shop)
    assert pages == [3]  # carts 9 and 10, Ada's order
    shop.magento.outage = None

    # Then the hub's own storage fails on the next page: nothing of it is kept.
    def broken_store(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("disk full")

    monkeypatch.setattr(hub.events.poll, "_store_page", broken_store)
    clock.now = at("13:31")
    with pytest.raises(RuntimeError, match="disk full"):
        poll(runtime, shop)
    monkeypatch.undo()

    clock.now = at("13:32")
    resumed = poll(runtime, shop)
    assert (resumed.accepted, resumed.duplicates, resumed.has_more) == (2, 0, False)

    events = stored(runtime)
    assert [event_id for event_id, _, _ in events] == [
        "cart-1-20260302T080000Z",
        "cart-2-20260302T081000Z",
        "order-501",  # Bob's order: his cart was never abandoned
        "cart-5-20260302T090000Z",
        "cart-6-20260302T090000Z",
        "cart-7-20260302T090000Z",
        "cart-8-20260302T090000Z",
        "cart-1-20260302T103000Z",
        "order-502",
        "cart-9-20260302T110000Z",
        "cart-10-20260302T122000Z",
        "order-503",
        "cart-11-20260302T122000Z",
        "cart-12-20260302T122000Z",
    ]
    assert not any(event_id.startswith(("cart-3-", "cart-4-")) for event_id, _, _ in events)
    by_id = {event_id: customer for event_id, _, customer in events}
    # Ada's carts and order (email + shop customer id) are one customer; Chloe's guest cart and
    # guest order (same email) too; Bob's order created him.
    assert (
        by_id["cart-1-20260302T080000Z"] == by_id["order-503"] == by_id["cart-1-20260302T103000Z"]
    )
    assert by_id["cart-2-20260302T081000Z"] == by_id["order-502"]
    assert len(set(by_id.values())) == 11

    # A later poll finds nothing new; the stream is complete.
    clock.now = at("14:00")
    assert poll(runtime, shop).accepted == 0
