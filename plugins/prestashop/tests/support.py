"""A fake PrestaShop webservice over in-memory rows, for respx.

It applies ``filter[...]``, ``sort``, ``limit``, ``display`` and ``date=1`` the way
``SQLUtils::getSQLRetrieveFilter`` and ``WebserviceRequest::manageFilters`` do (OR lists,
``BETWEEN`` intervals with their bounds sorted, literals, ``>``/``<``; date fields only with
``date=1``), answers JSON shaped like ``WebserviceOutputJSON`` (``{"carts": [...]}``, a bare
``[]`` when nothing matches, errors as ``{"errors": [{"code", "message"}]}``), and lists the
key's permissions as XML on ``GET /api/``. Rows are built by the helpers below with the fields
of the webservice's documented resources.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import httpx
import respx

BASE_URL = "https://shop.example.test"
KEY = "ZQ88PRJX5VWQHCWE4EE7SQ7HPNX00RAJ"
Row = dict[str, Any]
ALL_RESOURCES = ("carts", "orders", "customers", "products", "currencies", "languages")

_DATE_FIELDS = frozenset({"date_add", "date_upd"})
_INTERVAL = re.compile(r"^([\d.:\-\s]+),([\d.:\-\s]+)$")
_NUMBER = re.compile(r"^-?\d+(\.\d+)?$")


def error(status: int, code: int, message: str) -> httpx.Response:
    return httpx.Response(status, json={"errors": [{"code": code, "message": message}]})


def _key(value: Any) -> tuple[int, Any]:
    text = str(value)
    return (0, float(text)) if _NUMBER.match(text) else (1, text)


def _compare(value: Any, other: str) -> int:
    left, right = _key(value), _key(other)
    if left[0] != right[0]:  # MySQL would cast; the fake only compares like with like
        left, right = (1, str(value)), (1, other)
    return (left > right) - (left < right)


def matches(value: Any, spec: str) -> bool:
    """One ``filter[field]=spec`` on one value, as SQLUtils builds the SQL."""
    found = re.match(r"^(.*)\[(.*)\](.*)$", spec)
    if found is None:
        return _compare(value, spec) == 0
    before, inner, after = found.groups()
    text = str(value).lower()
    if before == "%" or after == "%":
        needle = inner.lower()
        if before == "%" and after == "%":
            return needle in text
        return text.endswith(needle) if before == "%" else text.startswith(needle)
    if before == "" and after == "":
        if inner.find("|") > 0:
            return any(_compare(value, option) == 0 for option in inner.split("|"))
        interval = _INTERVAL.match(inner)
        if interval:
            low, high = sorted([interval[1], interval[2]], key=_key)  # PHP sort() on the bounds
            return _compare(value, low) >= 0 and _compare(value, high) <= 0
        return text == inner.lower()
    if before == ">":
        return _compare(value, inner) > 0
    if before == "<":
        return _compare(value, inner) < 0
    if before == "!":
        return all(_compare(value, option) != 0 for option in inner.split("|"))
    return False


@dataclass
class FakeShop:
    """In-memory tables behind ``{BASE_URL}/api``; ``requests`` records every call."""

    carts: list[Row] = field(default_factory=list)
    orders: list[Row] = field(default_factory=list)
    customers: list[Row] = field(default_factory=list)
    products: list[Row] = field(default_factory=list)
    currencies: list[Row] = field(default_factory=lambda: [currency_row(1, "EUR")])
    key: str = KEY
    readable: frozenset[str] = frozenset(ALL_RESOURCES)
    #: Called before each answer; returning a response (or raising) simulates an outage.
    fault: Callable[[httpx.Request], httpx.Response | None] | None = None
    requests: list[httpx.Request] = field(default_factory=list)

    def table(self, resource: str) -> list[Row]:
        return getattr(self, resource)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.fault is not None:
            faulty = self.fault(request)
            if faulty is not None:
                return faulty
        expected = "Basic " + base64.b64encode(f"{self.key}:".encode()).decode()
        if request.headers.get("authorization") != expected:
            return error(401, 20, "Authentification key is not active")
        resource = request.url.path.removeprefix("/api").strip("/")
        if resource == "":
            return self._resource_list()
        if resource not in self.readable:
            return error(401, 26, f'Resource of type "{resource}" is not allowed with this key')
        return self._list(resource, parse_qsl(request.url.query.decode(), keep_blank_values=True))

    def _resource_list(self) -> httpx.Response:
        nodes = "".join(
            f'<{name} xlink:href="{BASE_URL}/api/{name}" get="{str(name in self.readable).lower()}"'
            f' put="false" post="false" patch="false" delete="false" head="true">'
            f"<description>{name}</description></{name}>"
            for name in ALL_RESOURCES
        )
        xml = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            '<prestashop xmlns:xlink="http://www.w3.org/1999/xlink">'
            f'<api shop_name="Demo">{nodes}</api></prestashop>'
        )
        return httpx.Response(200, content=xml.encode(), headers={"content-type": "text/xml"})

    def _list(self, resource: str, query: list[tuple[str, str]]) -> httpx.Response:
        params = dict(query)
        dated = params.get("date") == "1"
        rows = list(self.table(resource))
        for name, value in query:
            found = re.fullmatch(r"filter\[(\w+)\]", name)
            if found is None:
                continue
            column = found[1]
            if column in _DATE_FIELDS and not dated:
                return error(400, 32, f'This filter does not exist. Did you mean: "{column}"?')
            rows = [row for row in rows if column in row and matches(row[column], value)]
        if "sort" in params:
            sorts = params["sort"].strip("[]").split(",")
            for entry in reversed(sorts):
                column, _, direction = entry.rpartition("_")
                if column in _DATE_FIELDS and not dated:
                    return error(400, 38, "Unable to filter by this field.")
                descending = direction == "DESC"
                rows.sort(key=lambda row, c=column: _key(row.get(c, "")), reverse=descending)
        if "limit" in params:
            parts = [int(part) for part in params["limit"].split(",")]
            offset, count = (0, parts[0]) if len(parts) == 1 else (parts[0], parts[1])
            rows = rows[offset : offset + count]
        display = params.get("display", "")
        if display != "full":
            shown = display.strip("[]").split(",") if display else ["id"]
            rows = [{name: row[name] for name in shown if name in row} for row in rows]
        if not rows:
            return httpx.Response(200, json=[])
        return httpx.Response(200, json={resource: rows})

    def install(self, router: respx.Router, *, only: tuple[str, ...] = ()) -> respx.Route:
        """Answer every ``/api/...`` call (or only ``only`` resources) from this shop."""
        pattern = r"^/api/(" + "|".join(only) + r")/?$" if only else r"^/api/.*$"
        return router.route(method="GET", path__regex=pattern).mock(side_effect=self)


# -- rows shaped like the webservice's JSON (display=full) --------------------------------------
def customer_row(
    customer_id: int,
    email: str,
    date_upd: str,
    *,
    firstname: str = "Ada",
    lastname: str = "Lovelace",
    newsletter: bool = False,
    newsletter_date_add: str = "0000-00-00 00:00:00",
    optin: bool = False,
    id_lang: int = 1,
    deleted: bool = False,
    is_guest: bool = False,
) -> Row:
    return {
        "id": customer_id,
        "id_default_group": "3",
        "id_lang": str(id_lang),
        "newsletter_date_add": newsletter_date_add,
        "ip_registration_newsletter": "",
        "last_passwd_gen": "2024-01-01 09:00:00",
        "secure_key": "b44a6d9efd7a0076a0fbce6b15eaf3b1",
        "deleted": "1" if deleted else "0",
        "passwd": "$2y$10$hashhashhashhashhashhashhashhashhashhashhashhashhash",
        "lastname": lastname,
        "firstname": firstname,
        "email": email,
        "id_gender": "1",
        "birthday": "0000-00-00",
        "newsletter": "1" if newsletter else "0",
        "optin": "1" if optin else "0",
        "website": "",
        "company": "",
        "active": "1",
        "is_guest": "1" if is_guest else "0",
        "id_shop": "1",
        "id_shop_group": "1",
        "date_add": "2024-01-01 09:00:00",
        "date_upd": date_upd,
        "associations": {"groups": [{"id": "3"}]},
    }


def cart_row(
    cart_id: int,
    customer_id: int,
    date_upd: str,
    lines: list[tuple[int, int]] | None = None,
    *,
    id_currency: int = 1,
    id_lang: int = 1,
) -> Row:
    """``lines``: ``(id_product, quantity)`` pairs (default: one product 1)."""
    rows = [
        {
            "id_product": str(product),
            "id_product_attribute": "0",
            "id_address_delivery": "0",
            "id_customization": "0",
            "quantity": str(quantity),
        }
        for product, quantity in (lines if lines is not None else [(1, 1)])
    ]
    return {
        "id": cart_id,
        "id_address_delivery": "0",
        "id_address_invoice": "0",
        "id_currency": str(id_currency),
        "id_customer": str(customer_id),
        "id_guest": "12",
        "id_lang": str(id_lang),
        "id_shop_group": "1",
        "id_shop": "1",
        "id_carrier": "0",
        "recyclable": "0",
        "gift": "0",
        "gift_message": "",
        "mobile_theme": "0",
        "delivery_option": "",
        "secure_key": "b44a6d9efd7a0076a0fbce6b15eaf3b1",
        "allow_seperated_package": "0",
        "date_add": date_upd,
        "date_upd": date_upd,
        "associations": {"cart_rows": rows},
    }


def order_row(
    order_id: int,
    cart_id: int,
    customer_id: int,
    date_add: str,
    *,
    reference: str = "XKBKNABJK",
    total_paid: str = "61.800000",
    id_currency: int = 1,
) -> Row:
    return {
        "id": order_id,
        "id_address_delivery": "5",
        "id_address_invoice": "5",
        "id_cart": str(cart_id),
        "id_currency": str(id_currency),
        "id_lang": "1",
        "id_customer": str(customer_id),
        "id_carrier": "2",
        "current_state": "2",
        "module": "ps_checkpayment",
        "invoice_number": "0",
        "invoice_date": "0000-00-00 00:00:00",
        "delivery_number": "0",
        "delivery_date": "0000-00-00 00:00:00",
        "valid": "1",
        "date_add": date_add,
        "date_upd": date_add,
        "shipping_number": "",
        "id_shop_group": "1",
        "id_shop": "1",
        "secure_key": "b44a6d9efd7a0076a0fbce6b15eaf3b1",
        "payment": "Payment by check",
        "total_discounts": "0.000000",
        "total_paid": total_paid,
        "total_paid_tax_incl": total_paid,
        "total_paid_tax_excl": "51.500000",
        "total_paid_real": "0.000000",
        "total_products": "44.500000",
        "total_products_wt": "53.400000",
        "total_shipping": "8.400000",
        "conversion_rate": "1.000000",
        "reference": reference,
        "associations": {
            "order_rows": [
                {
                    "id": str(order_id * 10),
                    "product_id": "1",
                    "product_attribute_id": "1",
                    "product_quantity": "2",
                    "product_name": "Hummingbird printed t-shirt - Size : S- Color : White",
                    "product_reference": "demo_1",
                    "product_ean13": "",
                    "product_isbn": "",
                    "product_upc": "",
                    "product_price": "23.900000",
                    "id_customization": "0",
                    "unit_price_tax_incl": "28.680000",
                    "unit_price_tax_excl": "23.900000",
                }
            ]
        },
    }


def product_row(product_id: int, reference: str, price: str, names: dict[int, str]) -> Row:
    return {
        "id": product_id,
        "reference": reference,
        "price": price,
        "name": [{"id": str(lang), "value": text} for lang, text in names.items()],
    }


def currency_row(currency_id: int, iso_code: str) -> Row:
    return {"id": currency_id, "iso_code": iso_code, "conversion_rate": "1.000000"}
