"""The Magento brick passes the kit's conformance suite (static and HTTP checks).

The brick's reads depend on the clock (carts are read up to ``now - abandonment_delay``), so
the kit's bricks get a fixed clock: golden files must not change from run to run.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

import httpx
import respx

from contracts import Brick, ContactPage, ContactView, EventPage
from hub.testing import Exchange, HttpBrickConformance
from plugins.magento import MagentoBrick
from plugins.magento.tests.shop import (
    BASE_URL,
    TOKEN,
    cart,
    customer,
    item,
    order,
    order_item,
    search_answer,
)

NOW = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)
RESUME_CURSOR = '{"carts":["2026-01-15 09:30:00",41],"orders":["2026-01-15 09:00:00",7],"v":1}'

SETTINGS: dict[str, Any] = {
    "base_url": BASE_URL,
    "access_token": TOKEN,
    "abandonment_delay": "1h",
    "first_poll_lookback": "2d",
    "page_size": 50,
    "cart_url": "https://shop.magento.test/checkout/cart/restore?id={cart_id}",
}

#: Magento's 400 for a search it cannot run, ``parameters`` as the spec documents them.
REJECTION = httpx.Response(
    400,
    json={
        "message": '"%fieldName" is required. Enter and try again.',
        "parameters": [{"fieldName": "searchCriteria"}],
    },
)

CARTS = [
    cart(
        41,
        "2026-01-15 09:30:00",
        "ada@example.com",
        customer_id=7,
        items=[item("MUG-1", "12.50", 2, "Mug"), item("TEE-L", "19.99", 1, "T-shirt L")],
    ),
    cart(42, "2026-01-15 10:15:00", "guest@example.net", items=[item("CAP", "9.00")]),
]
ORDERS = [
    order(
        8,
        "2026-01-15 11:00:00",
        "ada@example.com",
        customer_id=7,
        quote_id=40,
        items=[
            order_item("TEE", "19.99", product_type="configurable", item_id=100),
            order_item("TEE-L", "0.00", item_id=101, parent_item_id=100),
            order_item("MUG-1", "12.50", 2, item_id=102),
        ],
        grand_total="49.99",
    ),
]
CUSTOMERS = [
    customer(7, "2026-01-15 11:30:00", "ada@example.com", subscribed=True),
    customer(9, "2026-01-15 11:45:00", "bob@example.org", firstname="Bob", subscribed=False),
]


def empty(router: respx.Router, path: str) -> None:
    router.get(path).mock(return_value=search_answer([]))


async def poll(brick: Brick, view: ContactView) -> EventPage:
    assert isinstance(brick, MagentoBrick)
    return await brick.poll(None)


async def resume(brick: Brick, view: ContactView) -> EventPage:
    assert isinstance(brick, MagentoBrick)
    return await brick.poll(RESUME_CURSOR)


async def read_changes(brick: Brick, view: ContactView) -> ContactPage:
    assert isinstance(brick, MagentoBrick)
    return await brick.read_changes(None)


def carts_read(page: Any) -> None:
    assert isinstance(page, EventPage)
    assert [e.id for e in page.events] == [
        "cart-41-20260115T093000Z",
        "cart-42-20260115T101500Z",
    ]
    assert page.events[0].payload["total"] == "44.99"
    assert not page.has_more


def orders_read(page: Any) -> None:
    assert isinstance(page, EventPage)
    assert [e.id for e in page.events] == ["order-8"]
    assert [i["sku"] for i in page.events[0].payload["items"]] == ["TEE", "MUG-1"]


def ties_read(page: Any) -> None:
    assert isinstance(page, EventPage)
    assert [e.id for e in page.events] == ["cart-42-20260115T093000Z"]
    assert page.has_more  # the ties query said more carts share that second


def customers_read(page: Any) -> None:
    assert isinstance(page, ContactPage)
    assert [c.first_name for c in page.records] == ["Ada", "Bob"]
    assert [c.consents[0].status.value for c in page.records] == ["granted", "denied"]


class TestMagentoConformance(HttpBrickConformance):
    brick = MagentoBrick
    settings: ClassVar[dict[str, Any]] = SETTINGS
    vendor_spec = "magento_admin_2.4.8.yaml"
    golden_dir = Path(__file__).parent / "golden"

    def fresh_brick(self) -> Brick:
        return MagentoBrick(self._settings(), self._context(), clock=lambda: NOW)

    def exchanges(self) -> list[Exchange]:
        tie = cart(42, "2026-01-15 09:30:00", "guest@example.net")
        return [
            Exchange(
                name="poll_abandoned_carts",
                call=poll,
                method="GET",
                path="/V1/carts/search",
                success=search_answer(CARTS),
                check=carts_read,
                rejection=REJECTION,
                extra_routes=lambda router: empty(router, f"{BASE_URL}/V1/orders"),
            ),
            Exchange(
                name="poll_placed_orders",
                call=poll,
                method="GET",
                path="/V1/orders",
                success=search_answer(ORDERS),
                check=orders_read,
                rejection=REJECTION,
                extra_routes=lambda router: empty(router, f"{BASE_URL}/V1/carts/search"),
            ),
            Exchange(
                name="poll_carts_sharing_a_second",
                call=resume,
                method="GET",
                path="/V1/carts/search",
                success=search_answer([tie], total=3),
                check=ties_read,
                rejection=REJECTION,
                extra_routes=lambda router: empty(router, f"{BASE_URL}/V1/orders"),
            ),
            Exchange(
                name="read_customer_changes",
                call=read_changes,
                method="GET",
                path="/V1/customers/search",
                success=search_answer(CUSTOMERS),
                check=customers_read,
                rejection=REJECTION,
            ),
        ]
