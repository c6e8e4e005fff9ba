"""searchCriteria query strings: names from the spec, groups ANDed, keyset filters, bounds."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

import pytest
import respx

from contracts import BrickContext
from plugins.magento import MagentoBrick
from plugins.magento.search import CARTS, CUSTOMERS, ORDERS, Filter, Position, search_params
from plugins.magento.tests.shop import BASE_URL, TOKEN, FakeMagento

NOW = datetime(2026, 3, 2, 12, 0, 30, 999, tzinfo=UTC)


def criteria(params: list[tuple[str, str]]) -> dict[str, Any]:
    """Read a query back as (groups of (field, condition, value)), sorts, page size, page."""
    groups: dict[int, dict[int, dict[str, str]]] = {}
    sorts: dict[int, dict[str, str]] = {}
    other = {}
    for key, value in params:
        if key.startswith("searchCriteria[filterGroups]"):
            parts = key.replace("]", "").split("[")
            groups.setdefault(int(parts[2]), {}).setdefault(int(parts[4]), {})[parts[5]] = value
        elif key.startswith("searchCriteria[sortOrders]"):
            parts = key.replace("]", "").split("[")
            sorts.setdefault(int(parts[2]), {})[parts[3]] = value
        else:
            other[key] = value
    return {
        "groups": [
            [(f["field"], f["conditionType"], f["value"]) for _, f in sorted(g.items())]
            for _, g in sorted(groups.items())
        ],
        "sort": [(s["field"], s["direction"]) for _, s in sorted(sorts.items())],
        **other,
    }


def test_search_params_exact_names_and_order() -> None:
    params = search_params(
        [[Filter("status", "pending"), Filter("status", "processing")], [Filter("a", "1", "gt")]],
        [("created_at", "DESC")],
        page_size=20,
        current_page=3,
    )
    assert params == [
        ("searchCriteria[filterGroups][0][filters][0][field]", "status"),
        ("searchCriteria[filterGroups][0][filters][0][value]", "pending"),
        ("searchCriteria[filterGroups][0][filters][0][conditionType]", "eq"),
        ("searchCriteria[filterGroups][0][filters][1][field]", "status"),
        ("searchCriteria[filterGroups][0][filters][1][value]", "processing"),
        ("searchCriteria[filterGroups][0][filters][1][conditionType]", "eq"),
        ("searchCriteria[filterGroups][1][filters][0][field]", "a"),
        ("searchCriteria[filterGroups][1][filters][0][value]", "1"),
        ("searchCriteria[filterGroups][1][filters][0][conditionType]", "gt"),
        ("searchCriteria[sortOrders][0][field]", "created_at"),
        ("searchCriteria[sortOrders][0][direction]", "DESC"),
        ("searchCriteria[pageSize]", "20"),
        ("searchCriteria[currentPage]", "3"),
    ]


CART_FILTERS = [
    [("is_active", "eq", "1")],
    [("items_count", "gt", "0")],
    [("customer_email", "notnull", "1")],
]
SORT = [("updated_at", "ASC"), ("entity_id", "ASC")]


def test_first_cart_query_is_inclusive_from_the_start() -> None:
    query = criteria(CARTS.after_query(Position("2026-02-23 12:00:30"), "2026-03-02 11:00:30", 50))
    assert query == {
        "groups": [
            *CART_FILTERS,
            [("updated_at", "gteq", "2026-02-23 12:00:30")],
            [("updated_at", "lteq", "2026-03-02 11:00:30")],
        ],
        "sort": SORT,
        "searchCriteria[pageSize]": "50",
        "searchCriteria[currentPage]": "1",
    }


def test_ties_then_after_queries() -> None:
    position = Position("2026-03-02 09:00:00", 812)
    ties = criteria(CARTS.ties_query(position, "2026-03-02 11:00:30", 50))
    assert ties["groups"][3:] == [
        [("updated_at", "eq", "2026-03-02 09:00:00")],
        [("entity_id", "gt", "812")],
        [("updated_at", "lteq", "2026-03-02 11:00:30")],
    ]
    after = criteria(CARTS.after_query(position, "2026-03-02 11:00:30", 7))
    assert after["groups"][3:] == [
        [("updated_at", "gt", "2026-03-02 09:00:00")],
        [("updated_at", "lteq", "2026-03-02 11:00:30")],
    ]
    assert after["searchCriteria[pageSize]"] == "7"
    assert ties["searchCriteria[currentPage]"] == after["searchCriteria[currentPage]"] == "1"
    with pytest.raises(ValueError, match="last id"):
        CARTS.ties_query(Position("2026-03-02 09:00:00"), "2026-03-02 11:00:30", 50)


def test_orders_and_customers_streams() -> None:
    orders = criteria(
        ORDERS.after_query(Position("2026-03-01 00:00:00", 4), "2026-03-02 11:59:30", 9)
    )
    assert orders["groups"] == [
        [("created_at", "gt", "2026-03-01 00:00:00")],
        [("created_at", "lteq", "2026-03-02 11:59:30")],
    ]
    assert orders["sort"] == [("created_at", "ASC"), ("entity_id", "ASC")]
    customers = criteria(CUSTOMERS.ties_query(Position("2026-03-01 00:00:00", 4), "x", 9))
    assert customers["groups"][:2] == [
        [("updated_at", "eq", "2026-03-01 00:00:00")],
        [("entity_id", "gt", "4")],
    ]


def brick(**overrides: Any) -> MagentoBrick:
    settings = MagentoBrick.Settings(
        base_url=BASE_URL, access_token=TOKEN, page_size=25, **overrides
    )
    context = BrickContext(name="magento", data_dir=".")
    return MagentoBrick(settings, context, clock=lambda: NOW)


async def _poll_and_pull(magento: MagentoBrick) -> None:
    try:
        await magento.poll(None)
        await magento.read_changes(None)
    finally:
        await magento.aclose()


def test_bounds_follow_the_clock_and_the_settings() -> None:
    shop = FakeMagento()
    magento = brick(abandonment_delay="2h", first_poll_lookback="3d", settle_delay="30s")
    with respx.mock(assert_all_mocked=True) as router:
        shop.mount(router)
        asyncio.run(_poll_and_pull(magento))
    carts, orders, customers = (criteria(parse_qsl(r.url.query.decode())) for r in shop.requests)
    assert carts["groups"][3:] == [
        [("updated_at", "gteq", "2026-02-27 12:00:30")],
        [("updated_at", "lteq", "2026-03-02 10:00:30")],
    ]
    assert orders["groups"] == [
        [("created_at", "gteq", "2026-02-27 12:00:30")],
        [("created_at", "lteq", "2026-03-02 12:00:00")],
    ]
    assert customers["groups"] == [
        [("updated_at", "gteq", "1970-01-01 00:00:00")],
        [("updated_at", "lteq", "2026-03-02 12:00:00")],
    ]
    assert {c["searchCriteria[pageSize]"] for c in (carts, orders, customers)} == {"25"}
    assert [r.url.path for r in shop.requests] == [
        "/rest/default/V1/carts/search",
        "/rest/default/V1/orders",
        "/rest/default/V1/customers/search",
    ]
    assert all(r.headers["authorization"] == f"Bearer {TOKEN}" for r in shop.requests)
    assert all(r.headers["accept"] == "application/json" for r in shop.requests)
