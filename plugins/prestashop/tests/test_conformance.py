"""The PrestaShop brick passes the hub's conformance kit (poll and read_changes exchanges)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import httpx
import respx

from contracts import ContactPage, EventPage
from hub.testing import Exchange, HttpBrickConformance
from plugins.prestashop import PrestaShopBrick
from plugins.prestashop.tests.support import (
    BASE_URL,
    KEY,
    FakeShop,
    cart_row,
    customer_row,
    error,
    order_row,
    product_row,
)

#: 2026-01-15 12:00 UTC = 13:00 in Paris: carts updated until 12:00 local are abandoned.
NOW = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)
SETTINGS = {
    "base_url": BASE_URL,
    "webservice_key": KEY,
    "time_zone": "Europe/Paris",
    "abandonment_delay": "1h",
    "first_poll_lookback": "1d",
    "page_size": 20,
    "cart_url": "https://shop.example.test/cart?action=show&id_cart={cart_id}",
}
REJECTION = error(400, 32, 'This filter does not exist. Did you mean: "date_upd"?')


def shop() -> FakeShop:
    return FakeShop(
        customers=[customer_row(7, "grace@example.net", "2026-01-15 10:00:00", newsletter=True)],
        products=[product_row(3, "demo_3", "29.000000", {1: "Mountain fox poster"})],
    )


def _at_noon(brick: PrestaShopBrick) -> PrestaShopBrick:
    brick.clock = lambda: NOW
    return brick


async def poll(brick, view):
    return await _at_noon(brick).poll(None)


async def read_changes(brick, view):
    return await _at_noon(brick).read_changes(None)


def one_cart(result: EventPage) -> None:
    assert [event.type for event in result.events] == ["cart.abandoned"]
    payload = result.events[0].payload
    assert payload["cart_id"] == "41"
    assert payload["total"] == "58.00"
    assert payload["currency"] == "EUR"
    assert not result.has_more


def one_order(result: EventPage) -> None:
    assert [event.type for event in result.events] == ["order.placed"]
    assert result.events[0].payload["order_id"] == "9"


def one_contact(result: ContactPage) -> None:
    assert len(result.records) == 1
    assert result.records[0].consents[0].status == "granted"


def carts_answer() -> httpx.Response:
    cart = cart_row(41, 7, "2026-01-15 11:30:00", [(3, 2)])
    return httpx.Response(200, json={"carts": [cart]})


def orders_answer() -> httpx.Response:
    return httpx.Response(200, json={"orders": [order_row(9, 40, 7, "2026-01-15 12:40:00")]})


def customers_answer() -> httpx.Response:
    row = customer_row(7, "grace@example.net", "2026-01-15 10:00:00", newsletter=True)
    return httpx.Response(200, json={"customers": [row]})


def _around_carts(router: respx.Router) -> None:
    shop().install(router, only=("orders", "customers", "products", "currencies"))


def _around_orders(router: respx.Router) -> None:
    router.route(method="GET", path="/api/carts").mock(return_value=httpx.Response(200, json=[]))
    shop().install(router, only=("customers", "products", "currencies"))


class TestPrestaShopConformance(HttpBrickConformance):
    brick = PrestaShopBrick
    settings = SETTINGS
    golden_dir = Path(__file__).parent / "golden"
    vendor_spec = None  # PrestaShop publishes no OpenAPI document

    def exchanges(self) -> list[Exchange]:
        return [
            Exchange(
                name="poll_carts",
                call=poll,
                method="GET",
                path="/api/carts",
                success=carts_answer(),
                check=one_cart,
                rejection=REJECTION,
                extra_routes=_around_carts,
            ),
            Exchange(
                name="poll_orders",
                call=poll,
                method="GET",
                path="/api/orders",
                success=orders_answer(),
                check=one_order,
                rejection=REJECTION,
                extra_routes=_around_orders,
            ),
            Exchange(
                name="read_changes",
                call=read_changes,
                method="GET",
                path="/api/customers",
                success=customers_answer(),
                check=one_contact,
                rejection=REJECTION,
            ),
        ]
