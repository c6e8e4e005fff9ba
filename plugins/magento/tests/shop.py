"""A small in-memory Magento for tests: records shaped like the REST API, search applied for real.

``FakeMagento`` serves ``/V1/carts/search``, ``/V1/orders`` and ``/V1/customers/search`` under
respx and really applies ``searchCriteria``: filter groups ANDed, filters inside a group ORed,
SQL-like comparisons (``NULL`` matches nothing but ``null``), multi-key sorts, ``pageSize`` and
``currentPage`` (clamped to the last page, as Magento's collections do). It parses the query
string on its own, independently of the brick's builder, so a wrong parameter name or
condition in the brick shows up as wrong results, not as matching bugs on both sides.

The builders (``cart``, ``order``, ``customer``) write records with the field names of the
Magento 2.4.8 admin schema (``quote-data-cart-interface``, ``sales-data-order-interface``,
``customer-data-customer-interface``).
"""

from __future__ import annotations

import json
import re
import zlib
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import parse_qsl

import httpx
import respx

BASE_URL = "https://shop.magento.test/rest/default"
TOKEN = "magento-integration-token-0123456789"

_FILTER = re.compile(
    r"^searchCriteria\[(?:filterGroups|filter_groups)\]\[(\d+)\]\[filters\]\[(\d+)\]"
    r"\[(field|value|conditionType|condition_type)\]$"
)
_SORT = re.compile(r"^searchCriteria\[(?:sortOrders|sort_orders)\]\[(\d+)\]\[(field|direction)\]$")

Row = dict[str, Any]
_JSON_HEADERS = {"Content-Type": "application/json; charset=utf-8"}


def item(sku: str, price: str, qty: int = 1, name: str | None = None, **extra: Any) -> Row:
    """A visible quote item (the cart resource lists no child items)."""
    return {
        "item_id": zlib.crc32(sku.encode()) % 100_000 + 1,
        "sku": sku,
        "qty": qty,
        "name": name or f"Product {sku}",
        "price": Decimal(price),
        "product_type": "simple",
        "quote_id": "0",
        **extra,
    }


def cart(
    cart_id: int,
    updated_at: str,
    email: str | None,
    *,
    customer_id: int | None = None,
    items: list[Row] | None = None,
    is_active: bool = True,
    currency: str = "EUR",
) -> Row:
    """A cart as ``GET /V1/carts/search`` lists it; a guest has no ``customer.id``."""
    lines = items if items is not None else [item("SKU-1", "10.00")]
    for line in lines:
        line["quote_id"] = str(cart_id)
    customer: Row = {"firstname": "Test", "lastname": "Shopper"}
    if email is not None:
        customer["email"] = email
    if customer_id is not None:
        customer["id"] = customer_id
    return {
        "id": cart_id,
        "created_at": updated_at,
        "updated_at": updated_at,
        "is_active": is_active,
        "is_virtual": False,
        "items": lines,
        "items_count": len(lines),
        "items_qty": sum(line["qty"] for line in lines),
        "customer": customer,
        "currency": {
            "global_currency_code": currency,
            "base_currency_code": currency,
            "store_currency_code": currency,
            "quote_currency_code": currency,
        },
        "customer_is_guest": customer_id is None,
        "store_id": 1,
    }


def order_item(sku: str, price: str, qty: int = 1, **extra: Any) -> Row:
    return {
        "item_id": zlib.crc32(f"{sku}:{price}".encode()) % 100_000 + 1,
        "sku": sku,
        "name": extra.pop("name", f"Product {sku}"),
        "price": Decimal(price),
        "qty_ordered": Decimal(qty),
        "product_type": extra.pop("product_type", "simple"),
        **extra,
    }


def order(
    entity_id: int,
    created_at: str,
    email: str,
    *,
    customer_id: int | None = None,
    quote_id: int | None = None,
    items: list[Row] | None = None,
    grand_total: str | None = None,
    currency: str = "EUR",
) -> Row:
    """An order as ``GET /V1/orders`` lists it; guest orders have no ``customer_id``."""
    lines = items if items is not None else [order_item("SKU-1", "10.00")]
    total = grand_total or str(sum(line["price"] * line["qty_ordered"] for line in lines))
    row: Row = {
        "entity_id": entity_id,
        "increment_id": f"{100000000 + entity_id}",
        "created_at": created_at,
        "updated_at": created_at,
        "customer_email": email,
        "customer_is_guest": 1 if customer_id is None else 0,
        "base_grand_total": Decimal(total),
        "grand_total": Decimal(total),
        "base_currency_code": currency,
        "order_currency_code": currency,
        "state": "new",
        "status": "pending",
        "store_id": 1,
        "items": lines,
    }
    if customer_id is not None:
        row["customer_id"] = customer_id
    if quote_id is not None:
        row["quote_id"] = quote_id
    return row


def customer(
    customer_id: int,
    updated_at: str,
    email: str,
    *,
    firstname: str = "Ada",
    lastname: str = "Lovelace",
    subscribed: bool | None = None,
    **extra: Any,
) -> Row:
    row: Row = {
        "id": customer_id,
        "group_id": 1,
        "created_at": updated_at,
        "updated_at": updated_at,
        "created_in": "Default Store View",
        "email": email,
        "firstname": firstname,
        "lastname": lastname,
        "store_id": 1,
        "website_id": 1,
        "addresses": [],
        "disable_auto_group_change": 0,
        **extra,
    }
    if subscribed is not None:
        row["extension_attributes"] = {"is_subscribed": subscribed}
    return row


def _cart_column(row: Row, field: str) -> Any:
    """The quote table's columns, read from a cart record."""
    if field == "entity_id":
        return row["id"]
    if field == "is_active":
        return int(row["is_active"])
    if field == "customer_email":
        return row["customer"].get("email")
    return row.get(field)


def _entity_column(id_key: str) -> Callable[[Row, str], Any]:
    return lambda row, field: row.get(id_key if field == "entity_id" else field)


def _number(value: Any) -> Decimal | None:
    if isinstance(value, bool):
        return Decimal(int(value))
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def _compare(actual: Any, condition: str, expected: str) -> bool:
    """One SQL-like comparison; timestamps compare as text, like MySQL's DATETIME literals."""
    if condition == "null":
        return actual is None
    if condition == "notnull":
        return actual is not None
    if actual is None:
        return False
    if condition in ("in", "nin"):
        found = str(actual) in [v.strip() for v in expected.split(",")]
        return found if condition == "in" else not found
    left, right = _number(actual), _number(expected)
    pair: tuple[Any, Any] = (left, right) if None not in (left, right) else (str(actual), expected)
    a, b = pair
    return {
        "eq": a == b,
        "neq": a != b,
        "gt": a > b,
        "gteq": a >= b,
        "lt": a < b,
        "lteq": a <= b,
    }[condition]


CONDITIONS = frozenset({"eq", "neq", "gt", "gteq", "lt", "lteq", "null", "notnull", "in", "nin"})


class FakeMagento:
    """Three searchable resources plus a request log; ``outage`` answers every call."""

    def __init__(self, base_url: str = BASE_URL) -> None:
        self.base_url = base_url
        self.carts: list[Row] = []
        self.orders: list[Row] = []
        self.customers: list[Row] = []
        self.requests: list[httpx.Request] = []
        self.outage: httpx.Response | None = None
        #: Called with each request before it is answered (tests inject failures here).
        self.before: Callable[[httpx.Request], httpx.Response | None] | None = None

    def mount(self, router: respx.Router) -> None:
        resources = [
            ("/V1/carts/search", lambda: self.carts, _cart_column),
            ("/V1/orders", lambda: self.orders, _entity_column("entity_id")),
            ("/V1/customers/search", lambda: self.customers, _entity_column("id")),
        ]
        for path, rows, column in resources:
            router.get(f"{self.base_url}{path}").mock(side_effect=self._handler(rows, column))

    def _handler(
        self, rows: Callable[[], list[Row]], column: Callable[[Row, str], Any]
    ) -> Callable[[httpx.Request], httpx.Response]:
        def handle(request: httpx.Request) -> httpx.Response:
            self.requests.append(request)
            if request.headers.get("authorization") != f"Bearer {TOKEN}":
                return _error(401, "The consumer isn't authorized to access %resources.")
            if self.before is not None and (answer := self.before(request)) is not None:
                return answer
            if self.outage is not None:
                return self.outage
            return self.search(rows(), column, request)

        return handle

    def search(
        self, rows: list[Row], column: Callable[[Row, str], Any], request: httpx.Request
    ) -> httpx.Response:
        groups: dict[int, dict[int, dict[str, str]]] = {}
        sorts: dict[int, dict[str, str]] = {}
        page_size: int | None = None
        current_page = 1
        for key, value in parse_qsl(request.url.query.decode(), keep_blank_values=True):
            if match := _FILTER.match(key):
                g, f, part = int(match[1]), int(match[2]), match[3].replace("_type", "Type")
                groups.setdefault(g, {}).setdefault(f, {})[part] = value
            elif match := _SORT.match(key):
                sorts.setdefault(int(match[1]), {})[match[2]] = value
            elif key == "searchCriteria[pageSize]":
                page_size = int(value)
            elif key == "searchCriteria[currentPage]":
                current_page = int(value)
            else:
                return _error(400, '"%fieldName" is not supported.', fieldName=key)
        for group in groups.values():
            for flt in group.values():
                if flt.get("conditionType", "eq") not in CONDITIONS or "field" not in flt:
                    return _error(400, "Invalid filter %fieldName", fieldName=flt.get("field", ""))

        def keep(row: Row) -> bool:
            return all(
                any(
                    _compare(column(row, f["field"]), f.get("conditionType", "eq"), f["value"])
                    for f in group.values()
                )
                for group in groups.values()
            )

        found = [row for row in rows if keep(row)]
        for index in sorted(sorts, reverse=True):
            field, direction = sorts[index]["field"], sorts[index].get("direction", "ASC")
            found.sort(key=lambda r: _sort_key(column(r, field)), reverse=direction == "DESC")
        page = found
        if page_size:
            last_page = max(1, -(-len(found) // page_size))
            start = (min(current_page, last_page) - 1) * page_size
            page = found[start : start + page_size]
        return httpx.Response(
            200,
            content=json.dumps(
                {
                    "items": page,
                    "search_criteria": _echo(groups, sorts, page_size, current_page),
                    "total_count": len(found),
                },
                default=_json_default,
            ),
            headers=_JSON_HEADERS,
        )


def _sort_key(value: Any) -> tuple[int, Any]:
    number = _number(value) if value is not None else None
    if value is None:
        return (0, 0)
    return (1, number) if number is not None else (2, str(value))


def _echo(
    groups: dict[int, dict[int, dict[str, str]]],
    sorts: dict[int, dict[str, str]],
    page_size: int | None,
    current_page: int,
) -> Row:
    """The ``search_criteria`` Magento repeats in its answer."""
    echo: Row = {
        "filter_groups": [
            {
                "filters": [
                    {"field": f["field"], "value": f["value"], "condition_type": f["conditionType"]}
                    for _, f in sorted(group.items())
                ]
            }
            for _, group in sorted(groups.items())
        ],
        "current_page": current_page,
    }
    if sorts:
        echo["sort_orders"] = [
            {"field": s["field"], "direction": s.get("direction", "ASC")}
            for _, s in sorted(sorts.items())
        ]
    if page_size:
        echo["page_size"] = page_size
    return echo


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value) if value != value.to_integral() else int(value)
    raise TypeError(type(value).__name__)


def _error(status: int, message: str, **parameters: str) -> httpx.Response:
    """Magento's error body, ``parameters`` as the spec's list of maps."""
    body: Row = {"message": message}
    if parameters:
        body["parameters"] = [parameters]
    return httpx.Response(status, json=body)


def search_answer(items: list[Row], total: int | None = None) -> httpx.Response:
    """A fixed search answer (for exchanges and single-call tests)."""
    body = {
        "items": items,
        "search_criteria": {"filter_groups": []},
        "total_count": len(items) if total is None else total,
    }
    return httpx.Response(
        200, content=json.dumps(body, default=_json_default), headers=_JSON_HEADERS
    )
