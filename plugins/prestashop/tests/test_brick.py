"""The brick against the fake webservice: which carts become events, paging, lookups, errors,
``check()``."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
import respx

from contracts import AuthFailed, BrickContext, PayloadRejected, Permanent, RateLimited, Retryable
from plugins.prestashop import PrestaShopBrick
from plugins.prestashop.brick import readable_resources
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

NOW = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)  # 13:00 in Paris


def make_brick(tmp_path: Path, **settings) -> PrestaShopBrick:
    values = {
        "base_url": BASE_URL,
        "webservice_key": KEY,
        "time_zone": "Europe/Paris",
        "first_poll_lookback": "1d",
        **settings,
    }
    return PrestaShopBrick(
        PrestaShopBrick.Settings(**values),
        BrickContext(name="prestashop", data_dir=tmp_path),
        clock=lambda: NOW,
    )


def run(shop: FakeShop, brick: PrestaShopBrick, method: str, cursor: str | None = None):
    async def go():
        with respx.mock(base_url=BASE_URL, assert_all_mocked=True) as router:
            shop.install(router)
            try:
                return await getattr(brick, method)(cursor)
            finally:
                await brick.aclose()

    return asyncio.run(go())


def a_shop() -> FakeShop:
    return FakeShop(
        customers=[
            customer_row(7, "grace@example.net", "2026-01-15 09:00:00"),
            customer_row(8, "alan@example.net", "2026-01-15 09:00:00"),
            customer_row(9, "gone@example.net", "2026-01-15 09:00:00", deleted=True),
        ],
        products=[product_row(3, "demo_3", "29.000000", {1: "Poster"})],
        currencies=[currency_row(1, "EUR"), currency_row(2, "GBP")],
    )


def test_only_carts_left_without_an_order_are_abandoned(tmp_path: Path) -> None:
    shop = a_shop()
    shop.carts = [
        cart_row(1, 7, "2026-01-15 11:00:00", [(3, 1)]),  # abandoned
        cart_row(2, 8, "2026-01-15 11:10:00", [(3, 1)]),  # became order 50
        cart_row(3, 0, "2026-01-15 11:20:00", [(3, 1)]),  # anonymous visitor
        cart_row(4, 7, "2026-01-15 11:30:00", []),  # empty
        cart_row(5, 9, "2026-01-15 11:40:00", [(3, 1)]),  # soft-deleted customer
        cart_row(6, 8, "2026-01-15 12:30:00", [(3, 1)], id_currency=2),  # too recent
    ]
    shop.orders = [order_row(50, 2, 8, "2026-01-15 11:15:00")]
    page = run(shop, make_brick(tmp_path), "poll")
    assert [(e.type, e.id) for e in page.events] == [
        ("cart.abandoned", "cart:1:2026-01-15T11:00:00"),
        ("order.placed", "order:50"),
    ]
    queries = [r.url.params for r in shop.requests if r.url.path == "/api/carts"]
    assert queries[0]["filter[id_customer]"] == "[1,4294967295]"  # anonymous carts not even read
    lookup = [r.url.params for r in shop.requests if r.url.params.get("filter[id_cart]")]
    assert lookup[0]["filter[id_cart]"] == "[1|2|5]"  # one call for the page's candidates
    customers = [r.url.params for r in shop.requests if r.url.path == "/api/customers"]
    assert len(customers) == 1
    assert customers[0]["display"] == "[id,email,deleted]"


def test_second_poll_continues_from_the_cursor(tmp_path: Path) -> None:
    shop = a_shop()
    shop.carts = [cart_row(1, 7, "2026-01-15 11:00:00", [(3, 1)])]
    brick = make_brick(tmp_path)
    first = run(shop, brick, "poll")
    assert len(first.events) == 1 and not first.has_more
    # An hour later: a new cart has been left since, cart 1 is unchanged.
    brick.clock = lambda: datetime(2026, 1, 15, 13, 0, tzinfo=UTC)
    shop.carts.append(cart_row(2, 8, "2026-01-15 12:50:00", [(3, 2)]))
    second = run(shop, brick, "poll", first.next_cursor)
    assert [e.id for e in second.events] == ["cart:2:2026-01-15T12:50:00"]


def test_first_poll_reads_the_lookback_before_each_bound(tmp_path: Path) -> None:
    shop = a_shop()
    run(shop, make_brick(tmp_path, abandonment_delay="3d", first_poll_lookback="1d"), "poll")
    windows = {
        request.url.path: request.url.params.get("filter[date_upd]")
        or request.url.params["filter[date_add]"]
        for request in shop.requests
    }
    # 12:00 UTC is 13:00 in Paris; carts wait three days, orders two minutes.
    assert windows == {
        "/api/carts": "[2026-01-11 13:00:00,2026-01-12 13:00:00]",
        "/api/orders": "[2026-01-14 12:58:00,2026-01-15 12:58:00]",
    }


def test_pages_and_ties(tmp_path: Path) -> None:
    shop = a_shop()
    shop.carts = [cart_row(i, 7, "2026-01-15 11:00:00", [(3, 1)]) for i in range(1, 6)]
    brick = make_brick(tmp_path, page_size=2)
    seen, cursor = [], None
    for _ in range(10):
        page = run(shop, brick, "poll", cursor)
        seen += [e.payload["cart_id"] for e in page.events]
        cursor = page.next_cursor
        if not page.has_more:
            break
    assert seen == ["1", "2", "3", "4", "5"]


def test_currencies_are_read_once(tmp_path: Path) -> None:
    shop = a_shop()
    shop.currencies = [currency_row(1, "EUR")]
    shop.carts = [cart_row(1, 7, "2026-01-15 11:00:00", [(3, 1)])]
    brick = make_brick(tmp_path)
    page = run(shop, brick, "poll")
    shop.orders = [order_row(50, 2, 8, "2026-01-15 12:50:00")]
    brick.clock = lambda: datetime(2026, 1, 15, 13, 0, tzinfo=UTC)
    run(shop, brick, "poll", page.next_cursor)
    assert [r.url.path for r in shop.requests].count("/api/currencies") == 1
    shop.currencies.append(currency_row(2, "GBP"))  # added in the back office meanwhile
    shop.orders = [order_row(51, 3, 8, "2026-01-15 13:50:00", id_currency=2)]
    brick.clock = lambda: datetime(2026, 1, 15, 14, 0, tzinfo=UTC)
    later = run(shop, brick, "poll", page.next_cursor)
    assert [r.url.path for r in shop.requests].count("/api/currencies") == 2  # a new id
    assert later.events[-1].payload["currency"] == "GBP"


def test_multistore_shop_id_is_sent(tmp_path: Path) -> None:
    shop = a_shop()
    run(shop, make_brick(tmp_path, shop_id=2), "poll")
    assert {r.url.params.get("id_shop") for r in shop.requests} == {"2"}


def test_read_changes_skips_deleted_accounts(tmp_path: Path) -> None:
    page = run(a_shop(), make_brick(tmp_path), "read_changes")
    emails = [i.value for c in page.records for i in c.identifiers if i.kind == "email"]
    assert emails == ["grace@example.net", "alan@example.net"]
    assert '"customers"' in page.next_cursor


def test_a_foreign_cursor_is_refused(tmp_path: Path) -> None:
    with pytest.raises(PayloadRejected) as caught:
        run(a_shop(), make_brick(tmp_path), "poll", '{"v":1,"customers":{}}')
    assert caught.value.field == "cursor"


@pytest.mark.parametrize(
    ("answer", "expected", "message"),
    [
        (error(400, 32, 'This filter does not exist. Did you mean: "date_upd"?'),
         PayloadRejected, "This filter does not exist"),
        (error(404, 87, "Id(s) not exists: 12"), PayloadRejected, "Id(s) not exists"),
        (error(401, 20, "Authentification key is not active"), AuthFailed, "not active"),
        (error(405, 25, "Method GET is not allowed for the resource carts with this key"),
         AuthFailed, "not allowed"),
        (error(503, 22, "The PrestaShop webservice is disabled."), Retryable, "disabled"),
        (error(500, 2, "[PHP Error #1] boom"), Retryable, "boom"),
        (httpx.Response(429, headers={"Retry-After": "30"}), RateLimited, "429"),
        (httpx.Response(200, text="<html>Maintenance</html>"), Permanent, "JSON list"),
    ],
    ids=["400", "404", "401", "405", "503", "500", "429", "html"],
)
def test_webservice_errors(tmp_path: Path, answer, expected, message) -> None:
    shop = a_shop()
    shop.fault = lambda request: answer
    with pytest.raises(expected) as caught:
        run(shop, make_brick(tmp_path), "poll")
    assert message in caught.value.message
    if expected is PayloadRejected:
        assert caught.value.vendor_code in {"32", "87"}
    if expected is RateLimited:
        assert caught.value.retry_after == 30


def check(shop: FakeShop, tmp_path: Path, key: str = KEY):
    brick = make_brick(tmp_path, webservice_key=key)

    async def go():
        with respx.mock(base_url=BASE_URL, assert_all_mocked=True) as router:
            shop.install(router)
            try:
                return await brick.check()
            finally:
                await brick.aclose()

    return asyncio.run(go())


def test_check_reports_readable_resources(tmp_path: Path) -> None:
    status = check(a_shop(), tmp_path)
    assert status.ok, status.detail
    assert "carts, orders, customers, products, currencies" in status.detail


def test_check_names_missing_permissions(tmp_path: Path) -> None:
    shop = a_shop()
    shop.readable = frozenset({"carts", "customers"})
    status = check(shop, tmp_path)
    assert not status.ok
    assert "orders, products, currencies" in status.detail


def test_check_with_a_wrong_key(tmp_path: Path) -> None:
    status = check(a_shop(), tmp_path, key="A" * 32)
    assert not status.ok
    assert "refused the key" in status.detail
    assert "A" * 32 not in status.detail


def test_check_when_unreachable(tmp_path: Path) -> None:
    shop = a_shop()
    shop.fault = lambda request: (_ for _ in ()).throw(httpx.ConnectError("refused"))
    status = check(shop, tmp_path)
    assert not status.ok and "unreachable" in status.detail


def test_check_on_a_page_that_is_not_the_webservice(tmp_path: Path) -> None:
    shop = a_shop()
    shop.fault = lambda request: httpx.Response(200, text="<html><body>Shop</body>")
    status = check(shop, tmp_path)
    assert not status.ok and "resource list" in status.detail


def test_resource_list_refuses_dtds() -> None:
    body = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]><prestashop/>'
    with pytest.raises(ValueError, match="DTD"):
        readable_resources(body)
