"""Every request the brick sends, and every answer the tests mock, is valid against Magento's
published admin REST schema (2.4.8, Swagger 2.0). Skipped unless ``HUB_VENDOR_SPECS`` is set.

The fake shop's records (carts of guests and customers, orders with configurable children,
customers with their newsletter flag) are the ones the other tests read, so this proves those
tests read what Magento really sends.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl

import respx
from respx.models import Call

from contracts import BrickContext
from hub.testing import load_vendor_spec
from plugins.magento import MagentoBrick
from plugins.magento.tests.shop import (
    BASE_URL,
    TOKEN,
    FakeMagento,
    cart,
    customer,
    item,
    order,
    order_item,
)

SPEC = "magento_admin_2.4.8.yaml"
NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def populated_shop() -> FakeMagento:
    shop = FakeMagento()
    shop.carts = [
        cart(
            1, "2026-03-02 09:00:00", "ada@example.com", customer_id=7, items=[item("A", "1.50", 2)]
        ),
        cart(2, "2026-03-02 09:00:00", "guest@example.net"),
        cart(3, "2026-03-02 09:00:00", "bob@example.org", customer_id=8),
        cart(4, "2026-03-02 10:30:00", None),
        cart(5, "2026-03-02 08:00:00", "gone@example.org", is_active=False),
    ]
    shop.orders = [
        order(
            10,
            "2026-03-02 09:30:00",
            "ada@example.com",
            customer_id=7,
            quote_id=99,
            items=[
                order_item("TEE", "19.99", product_type="configurable", item_id=1),
                order_item("TEE-L", "0.00", item_id=2, parent_item_id=1),
            ],
        ),
        order(11, "2026-03-02 09:30:00", "guest@example.net"),
    ]
    shop.customers = [
        customer(7, "2026-03-01 10:00:00", "ada@example.com", subscribed=True),
        customer(8, "2026-03-01 10:00:00", "bob@example.org", subscribed=False),
        customer(9, "2026-03-01 11:00:00", "eve@example.org", confirmation="abc123"),
    ]
    return shop


def recorded_calls() -> list[Call]:
    """A first poll, polls resumed mid-second (ties queries), contact pulls, a health check
    and a refused token, all against the fake shop, page size 2 so every query kind occurs."""
    shop = populated_shop()
    settings = MagentoBrick.Settings(base_url=BASE_URL, access_token=TOKEN, page_size=2)
    brick = MagentoBrick(settings, BrickContext(name="magento", data_dir="."), clock=lambda: NOW)
    stranger = MagentoBrick(
        MagentoBrick.Settings(base_url=BASE_URL, access_token="x" * 32),
        BrickContext(name="magento", data_dir="."),
        clock=lambda: NOW + timedelta(days=1),
    )

    async def go() -> list[Call]:
        with respx.mock(assert_all_mocked=True) as router:
            shop.mount(router)
            cursor, more = None, True
            while more:
                page = await brick.poll(cursor)
                cursor, more = page.next_cursor, page.has_more
            cursor, more = None, True
            while more:
                contacts = await brick.read_changes(cursor)
                cursor, more = contacts.next_cursor, contacts.has_more
            assert (await brick.check()).ok
            assert not (await stranger.check()).ok
            await brick.aclose()
            await stranger.aclose()
            return list(router.calls)

    return asyncio.run(go())


def test_every_request_and_answer_matches_the_spec() -> None:
    spec = load_vendor_spec(SPEC)
    calls = recorded_calls()
    assert len(calls) >= 10
    fields = [dict(parse_qsl(c.request.url.query.decode())) for c in calls]
    assert any("entity_id" in query.values() for query in fields), "no ties query was made"
    assert any(c.response.status_code == 401 for c in calls)
    for call in calls:
        label = f"{call.request.method} {call.request.url.path}?{call.request.url.query.decode()}"
        spec.validate_request(call.request, label=label)
        spec.validate_response(call.request, call.response, label=label)
