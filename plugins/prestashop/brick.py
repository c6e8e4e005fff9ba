"""``PrestaShopBrick``: abandoned carts and orders as events, customers as contacts.

Everything comes from the shop's webservice (``{base_url}/api/...``, JSON output, the key as
the Basic-auth user name with an empty password). Each ``poll`` reads one page of each stream
(carts by ``date_upd``, orders by ``date_add``) after the cursor's positions, then the few
lookups the page needs, one call each: which carts already have an order, the customers'
emails, the products in the carts, the currencies (cached). ``read_changes`` reads customers by
``date_upd``. The brick never retries and never logs: errors are raised as the contract's, and
the core owns retries and cursors.
"""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import httpx

from contracts import (
    AuthFailed,
    Brick,
    BrickContext,
    BrickError,
    BrickSettings,
    Capability,
    ContactPage,
    EventEnvelope,
    EventPage,
    HealthStatus,
    Permanent,
)
from hub.sdk.http import VendorError, build_client, error_for_transport, raise_for_status, scrub
from plugins.prestashop.mapping import (
    as_id,
    cart_event,
    cart_product_ids,
    contact_from_customer,
    order_event,
    rows_of,
)
from plugins.prestashop.query import (
    MAX_ID,
    Fetch,
    Params,
    Position,
    decode_cursor,
    encode_cursor,
    id_filter,
    list_params,
    read_keyset,
)
from plugins.prestashop.settings import PrestaShopSettings
from plugins.prestashop.shopclock import settled_bound

__all__ = [
    "CUSTOMER_FIELDS",
    "REQUIRED_RESOURCES",
    "PrestaShopBrick",
    "describe_error",
    "readable_resources",
]

#: Resources the key must be allowed to GET.
REQUIRED_RESOURCES = ("carts", "orders", "customers", "products", "currencies")
#: Customer fields read for contacts: what the mapping uses, and nothing else (no password
#: hash, birthday, notes, company or IP address ever leaves the shop).
CUSTOMER_FIELDS = (
    "id",
    "email",
    "firstname",
    "lastname",
    "id_lang",
    "newsletter",
    "newsletter_date_add",
    "optin",
    "deleted",
    "date_upd",
)
Row = dict[str, Any]


def describe_error(response: httpx.Response) -> VendorError:
    """PrestaShop's JSON error body: ``{"errors": [{"code": 32, "message": "..."}]}``."""
    try:
        body = response.json()
    except ValueError:
        return (response.reason_phrase or f"HTTP {response.status_code}", None, None)
    if isinstance(body, dict):
        errors = body.get("errors")
        if isinstance(errors, list) and errors and isinstance(errors[0], dict):
            code = errors[0].get("code")
            message = errors[0].get("message") or response.reason_phrase
            return (str(message), None if code is None else str(code), None)
        message = body.get("message") or response.reason_phrase
        return (str(message), None, None)
    return (response.reason_phrase or f"HTTP {response.status_code}", None, None)


def _utc_now() -> datetime:
    return datetime.now(UTC)


class PrestaShopBrick(Brick):
    """Polls a PrestaShop shop: ``cart.abandoned``, ``order.placed``, customer contacts."""

    name: ClassVar[str] = "prestashop"
    version: ClassVar[str] = "1.0.0"
    description: ClassVar[str] = (
        "PrestaShop webservice: abandoned carts and orders as events, customers and their "
        "newsletter consent as contacts"
    )
    capabilities: ClassVar[frozenset[Capability]] = frozenset(
        {Capability.EVENT_SOURCE, Capability.CONTACT_SOURCE}
    )

    class Settings(PrestaShopSettings):
        """Shop URL, webservice key, time zone, delays and page size (``settings.py``)."""

    settings: PrestaShopSettings

    def __init__(
        self,
        settings: BrickSettings,
        context: BrickContext,
        *,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        super().__init__(settings, context)
        #: Returns the current time (aware); replace it to control ``now`` in tests.
        self.clock = clock
        self._client: httpx.AsyncClient | None = None
        self._currencies: dict[int, str] = {}
        self._no_currency: set[int] = set()

    # -- plumbing ------------------------------------------------------------------------------
    def _http(self) -> httpx.AsyncClient:
        """Created on first use, so building the brick (config checks) costs nothing."""
        if self._client is None:
            key = self.settings.webservice_key.get_secret_value()
            self._client = build_client(
                self.settings,
                brick_name=self.name,
                brick_version=self.version,
                headers={"Accept": "application/json"},
                auth=httpx.BasicAuth(key, ""),
            )
        return self._client

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def _get(self, path: str, params: Params) -> httpx.Response:
        if self.settings.shop_id is not None:
            params = [*params, ("id_shop", str(self.settings.shop_id))]
        try:
            response = await self._http().get(path, params=params)
        except httpx.HTTPError as exc:
            raise error_for_transport(exc) from exc
        if response.status_code == 405:
            # "Method GET is not allowed for the resource ... with this authentication key"
            message = scrub(describe_error(response)[0])
            raise AuthFailed(f"HTTP 405: {message}", vendor_code="405")
        return raise_for_status(response, describe=describe_error)

    async def _list(self, resource: str, params: Params) -> list[Row]:
        response = await self._get(f"/api/{resource}", params)
        try:
            rows = rows_of(response.json(), resource)
        except ValueError:
            rows = None
        if rows is None:
            raise Permanent(
                f"{resource}: the webservice did not answer a JSON list (check base_url: the "
                "shop root, with the webservice enabled and URL rewriting on)"
            )
        return rows

    def _fetch(self, resource: str) -> Fetch:
        async def fetch(params: Params) -> list[Row]:
            return await self._list(resource, params)

        return fetch

    def _now(self) -> datetime:
        now = self.clock()
        if now.tzinfo is None:
            raise ValueError("the brick's clock must return an aware datetime")
        return now

    def _positions(
        self, cursor: str | None, delays: dict[str, timedelta], now: datetime
    ) -> dict[str, Position]:
        """The cursor's positions, or for a first run each stream's bound minus the lookback:
        ``first_poll_lookback`` of history per stream, however long its delay."""
        if cursor is not None:
            return decode_cursor(cursor, list(delays))
        lookback = self.settings.first_poll_lookback
        return {
            name: Position(self._bound(now, delay + lookback) - timedelta(seconds=1), None)
            for name, delay in delays.items()
        }

    def _bound(self, now: datetime, delay: timedelta) -> datetime:
        return settled_bound(now - delay, self.settings.zone).replace(microsecond=0)

    # -- lookups (one call each per page) -------------------------------------------------------
    async def _ordered_carts(self, cart_ids: list[int]) -> set[int]:
        if not cart_ids:
            return set()
        params = list_params(display=("id", "id_cart"), filters={"id_cart": id_filter(cart_ids)})
        rows = await self._list("orders", params)
        return {as_id(row.get("id_cart")) for row in rows}

    async def _by_id(
        self, resource: str, ids: Iterable[int], display: tuple[str, ...]
    ) -> dict[int, Row]:
        wanted = sorted({i for i in ids if i > 0})
        if not wanted:
            return {}
        params = list_params(display=display, filters={"id": id_filter(wanted)})
        return {as_id(row.get("id")): row for row in await self._list(resource, params)}

    async def _currency_codes(self, ids: Iterable[int]) -> dict[int, str]:
        """``id_currency`` -> ISO code; the list is read once and again only when a new id
        shows up (a currency added while the hub runs)."""
        unknown = set(ids) - set(self._currencies) - self._no_currency
        if unknown:
            rows = await self._list("currencies", list_params(display=("id", "iso_code")))
            self._currencies = {
                as_id(row.get("id")): str(row.get("iso_code", "")).strip().upper() for row in rows
            }
            # An id the shop does not know (a deleted currency) is not asked for again.
            self._no_currency |= unknown - set(self._currencies)
        return self._currencies

    # -- EventSource ---------------------------------------------------------------------------
    async def poll(self, cursor: str | None) -> EventPage:
        """One page of each stream after ``cursor``; ``has_more`` when either has more."""
        now = self._now()
        delays = {"carts": self.settings.abandonment_delay, "orders": self.settings.settle_delay}
        positions = self._positions(cursor, delays, now)
        size = self.settings.page_size
        carts = await read_keyset(
            self._fetch("carts"),
            resource="carts",
            field="date_upd",
            position=positions["carts"],
            upper=self._bound(now, delays["carts"]),
            limit=size,
            filters={"id_customer": f"[1,{MAX_ID}]"},
        )
        orders = await read_keyset(
            self._fetch("orders"),
            resource="orders",
            field="date_add",
            position=positions["orders"],
            upper=self._bound(now, delays["orders"]),
            limit=size,
        )
        candidates = [c for c in carts.rows if as_id(c.get("id_customer")) and cart_product_ids(c)]
        ordered = await self._ordered_carts([as_id(c.get("id")) for c in candidates])
        open_carts = [c for c in candidates if as_id(c.get("id")) not in ordered]
        customers = await self._by_id(
            "customers",
            [as_id(row.get("id_customer")) for row in [*open_carts, *orders.rows]],
            ("id", "email", "deleted"),
        )
        products = await self._by_id(
            "products",
            [pid for cart in open_carts for pid in cart_product_ids(cart)],
            ("id", "reference", "price", "name"),
        )
        currencies = (
            await self._currency_codes(
                as_id(row.get("id_currency")) for row in [*open_carts, *orders.rows]
            )
            if open_carts or orders.rows
            else {}
        )
        events = self._events(open_carts, orders.rows, customers, products, currencies)
        return EventPage(
            events=sorted(events, key=lambda e: (e.occurred_at, e.id)),
            next_cursor=encode_cursor({"carts": carts.position, "orders": orders.position}),
            has_more=carts.has_more or orders.has_more,
        )

    def _events(
        self,
        carts: list[Row],
        orders: list[Row],
        customers: dict[int, Row],
        products: dict[int, Row],
        codes: dict[int, str],
    ) -> list[EventEnvelope]:
        source = self.context.name
        events: list[EventEnvelope | None] = [
            cart_event(
                cart,
                customer=customers.get(as_id(cart.get("id_customer"))),
                products=products,
                currency=codes.get(as_id(cart.get("id_currency"))),
                settings=self.settings,
                source=source,
            )
            for cart in carts
        ]
        events += [
            order_event(
                order,
                customer=customers.get(as_id(order.get("id_customer"))),
                currency=codes.get(as_id(order.get("id_currency"))),
                settings=self.settings,
                source=source,
            )
            for order in orders
        ]
        return [event for event in events if event is not None]

    # -- ContactSource -------------------------------------------------------------------------
    async def read_changes(self, cursor: str | None) -> ContactPage:
        """Customers changed after ``cursor`` (by ``date_upd``), soft-deleted ones left out."""
        now = self._now()
        delay = self.settings.settle_delay
        position = self._positions(cursor, {"customers": delay}, now)["customers"]
        page = await read_keyset(
            self._fetch("customers"),
            resource="customers",
            field="date_upd",
            position=position,
            upper=self._bound(now, delay),
            limit=self.settings.page_size,
            display=CUSTOMER_FIELDS,
        )
        source = self.context.name
        contacts = [contact_from_customer(row, self.settings, source) for row in page.rows]
        return ContactPage(
            records=[contact for contact in contacts if contact is not None],
            next_cursor=encode_cursor({"customers": page.position}),
            has_more=page.has_more,
        )

    # -- health --------------------------------------------------------------------------------
    async def check(self) -> HealthStatus:
        """``GET /api/``: the resources this key may use, with a ``get`` flag for each."""
        try:
            response = await self._get("/api/", [])
            readable = readable_resources(response.content)
        except AuthFailed as exc:
            return HealthStatus(ok=False, detail=f"PrestaShop refused the key: {exc.message}")
        except BrickError as exc:
            return HealthStatus(ok=False, detail=f"PrestaShop unreachable: {exc.message}")
        except (ValueError, ElementTree.ParseError):
            return HealthStatus(
                ok=False, detail="GET /api/ did not answer PrestaShop's resource list (base_url?)"
            )
        missing = [name for name in REQUIRED_RESOURCES if name not in readable]
        if missing:
            return HealthStatus(
                ok=False, detail="the key cannot GET: " + ", ".join(missing) + " (add View)"
            )
        return HealthStatus(ok=True, detail="the key can read " + ", ".join(REQUIRED_RESOURCES))


def readable_resources(body: bytes) -> set[str]:
    """Resource names flagged ``get="true"`` in the XML of ``GET /api/``.

    The body comes from the configured shop; documents declaring a DTD are refused outright
    (no entity expansion), which is what the webservice never sends.
    """
    if b"<!DOCTYPE" in body.upper() or b"<!ENTITY" in body.upper():
        raise ValueError("DTDs are not accepted")
    root = ElementTree.fromstring(body)  # noqa: S314 - DTDs refused above
    api = root if root.tag == "api" else root.find("api")
    if api is None:
        raise ValueError("no <api> element")
    return {child.tag for child in api if child.get("get") == "true"}
