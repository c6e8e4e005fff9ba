"""``MagentoBrick``: abandoned carts and orders as events, customers as contacts, by polling.

Magento has no outgoing webhooks for carts, so the hub asks: ``hub events poll --from
magento`` reads active carts untouched for ``abandonment_delay`` and new orders,
``hub contacts pull --from magento`` reads customers changed since the last pull. Every read is
a keyset query (``plugins.magento.search``) from a position the core stores with the page, so
re-reading after a crash yields the same event ids (de-duplicated by the core) and nothing is
skipped. The brick never retries: ``hub.sdk.http`` turns Magento's answers into contract
errors and the core retries the transient ones.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
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
    CustomerField,
    EventPage,
    HealthStatus,
)
from hub.sdk.http import build_client, request
from plugins.magento.mapping import cart_event, customer_contact, order_event
from plugins.magento.search import CARTS, CUSTOMERS, ORDERS, Params, Position, search_params
from plugins.magento.settings import MagentoSettings
from plugins.magento.streams import decode_cursor, encode_cursor, read_stream
from plugins.magento.wire import describe_error, format_time, json_body

__all__ = ["CONTACTS_START", "MagentoBrick", "utc_now"]

#: Where a contact pull without a cursor starts: the beginning, every customer is read once.
CONTACTS_START = Position(at="1970-01-01 00:00:00")


def utc_now() -> datetime:
    return datetime.now(UTC)


class MagentoBrick(Brick):
    """Reads a Magento 2 / Adobe Commerce store: carts, orders and customers."""

    name: ClassVar[str] = "magento"
    version: ClassVar[str] = "1.0.0"
    description: ClassVar[str] = (
        "Magento 2 / Adobe Commerce: abandoned carts and orders as events, customers and "
        "newsletter consent as contacts (REST polling)"
    )
    capabilities: ClassVar[frozenset[Capability]] = frozenset(
        {Capability.EVENT_SOURCE, Capability.CONTACT_SOURCE}
    )
    #: A source only: the hub sends this brick no customer data at all.
    fields: ClassVar[frozenset[CustomerField]] = frozenset()

    Settings: ClassVar[type[BrickSettings]] = MagentoSettings
    settings: MagentoSettings

    def __init__(
        self,
        settings: BrickSettings,
        context: BrickContext,
        *,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        super().__init__(settings, context)
        #: Returns the current time, aware; tests replace it to move time forward.
        self.clock = clock
        self._http: httpx.AsyncClient | None = None

    # -- HTTP ------------------------------------------------------------------------------

    def _client(self) -> httpx.AsyncClient:
        if self._http is None:
            token = self.settings.access_token.get_secret_value()
            self._http = build_client(
                self.settings,
                brick_name=self.name,
                brick_version=self.version,
                headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
            )
        return self._http

    async def _get(self, path: str, params: Params) -> Any:
        """One GET under the REST root; Magento's errors raised as contract errors."""
        response = await request(
            self._client(), "GET", path.lstrip("/"), params=params, describe=describe_error
        )
        return json_body(response, path)

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    def _now(self) -> datetime:
        now = self.clock()
        if now.tzinfo is None:
            raise ValueError("the brick's clock must return an aware datetime (UTC)")
        return now

    # -- EventSource -----------------------------------------------------------------------

    async def poll(self, cursor: str | None) -> EventPage:
        """Abandoned carts and placed orders after ``cursor``, up to ``page_size`` of each.

        Without a cursor both streams start ``first_poll_lookback`` ago. Carts are read up to
        ``now - abandonment_delay``, orders up to ``now - settle_delay``; ``has_more`` is set
        while either stream has more to read right now.
        """
        settings = self.settings
        now = self._now()
        start = Position(at=format_time(now - settings.first_poll_lookback))
        positions = decode_cursor(cursor, (CARTS, ORDERS), start)
        carts = await read_stream(
            CARTS,
            positions[CARTS.name],
            upper=format_time(now - settings.abandonment_delay),
            page_size=settings.page_size,
            fetch=self._get,
        )
        orders = await read_stream(
            ORDERS,
            positions[ORDERS.name],
            upper=format_time(now - settings.settle_delay),
            page_size=settings.page_size,
            fetch=self._get,
        )
        source = self.context.name
        events = [cart_event(c, source=source, settings=settings) for c in carts.records]
        events += [
            order_event(o, source=source, namespace=settings.namespace) for o in orders.records
        ]
        return EventPage(
            events=[event for event in events if event is not None],
            next_cursor=encode_cursor({CARTS.name: carts.position, ORDERS.name: orders.position}),
            has_more=carts.has_more or orders.has_more,
        )

    # -- ContactSource ---------------------------------------------------------------------

    async def read_changes(self, cursor: str | None) -> ContactPage:
        """Customers created or changed after ``cursor`` (all of them without one), up to
        ``now - settle_delay``, ``page_size`` at a time, with their newsletter consent."""
        settings = self.settings
        now = self._now()
        positions = decode_cursor(cursor, (CUSTOMERS,), CONTACTS_START)
        customers = await read_stream(
            CUSTOMERS,
            positions[CUSTOMERS.name],
            upper=format_time(now - settings.settle_delay),
            page_size=settings.page_size,
            fetch=self._get,
        )
        return ContactPage(
            records=[
                customer_contact(c, source=self.context.name, namespace=settings.namespace)
                for c in customers.records
            ],
            next_cursor=encode_cursor({CUSTOMERS.name: customers.position}),
            has_more=customers.has_more,
        )

    # -- Health ----------------------------------------------------------------------------

    async def check(self) -> HealthStatus:
        """One single-record search on each resource the brick reads: proves the URL, the
        token and the integration's access to carts, orders and customers. Never raises."""
        for stream in (CARTS, ORDERS, CUSTOMERS):
            try:
                await self._get(stream.path, search_params([], page_size=1))
            except AuthFailed as exc:
                return HealthStatus(
                    ok=False,
                    detail=f"Magento refused the access token for {stream.name} ({exc.message}); "
                    "grant the integration access to carts, orders and customers",
                )
            except BrickError as exc:
                return HealthStatus(
                    ok=False, detail=f"Magento {stream.name} search failed: {exc.message}"
                )
        return HealthStatus(
            ok=True, detail="Magento reachable; carts, orders and customers readable"
        )
