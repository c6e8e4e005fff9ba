"""PrestaShop webservice rows -> contract events and contacts. Pure: no HTTP, no clock.

The webservice's JSON writes nearly every value as a string (``"id_customer": "7"``,
``"price": "19.900000"``) and localised fields either as a plain string (one language asked or
installed) or as ``[{"id": 1, "value": "..."}]``. Values are read leniently here; what cannot
make a valid event is passed on as it is, so the core's validation refuses the event with the
field and reason and keeps it as a dead letter, instead of the brick dropping it silently.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from contracts import (
    Channel,
    Consent,
    ConsentStatus,
    Contact,
    EventEnvelope,
    Identifier,
    IdentifierKind,
    Purpose,
)
from plugins.prestashop.settings import PrestaShopSettings
from plugins.prestashop.shopclock import ShopDateError, parse_shop, to_utc

__all__ = [
    "as_id",
    "cart_event",
    "cart_product_ids",
    "contact_from_customer",
    "customer_identifiers",
    "is_deleted",
    "localized",
    "order_event",
    "rows_of",
]

Row = dict[str, Any]
_CENT = Decimal("0.01")


def rows_of(body: Any, resource: str) -> list[Row] | None:
    """The rows of a list answer, or ``None`` when the body is not one.

    ``{"carts": [...]}`` normally; PrestaShop answers a bare ``[]`` when nothing matches.
    """
    if isinstance(body, list):
        return [] if not body else None
    if not isinstance(body, dict) or (body and resource not in body):
        return None
    rows = body.get(resource, [])
    if isinstance(rows, dict):
        rows = [rows]
    if not isinstance(rows, list) or not all(isinstance(row, dict) for row in rows):
        return None
    return rows


def as_id(value: Any) -> int:
    """A row id or foreign key as an int; ``0`` (PrestaShop's "none") for anything unusable."""
    try:
        number = int(str(value).strip())
    except (TypeError, ValueError):
        return 0
    return max(number, 0)


def _flag(value: Any) -> bool:
    return str(value).strip() in {"1", "true", "True"}


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def localized(value: Any, id_lang: int = 0) -> str | None:
    """A localised field's text: in ``id_lang`` when given and present, else the first one."""
    if isinstance(value, list):
        texts = {
            as_id(item.get("id")): item.get("value") for item in value if isinstance(item, dict)
        }
        chosen = texts.get(id_lang)
        if not _text(chosen):
            chosen = next((text for text in texts.values() if _text(text)), None)
        return _text(chosen)
    return _text(value)


def _decimal(value: Any) -> Decimal | None:
    try:
        number = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() else None


def _amount(value: Any) -> Any:
    """A money or quantity value as contract text (``"19.90"``, ``"16.666667"``, ``"2"``).

    Unreadable values are passed on unchanged for the core to refuse with the field name.
    """
    number = _decimal(value)
    if number is None:
        return value
    text = format(number.normalize(), "f")
    if "." in text and len(text.split(".")[1]) < 2:
        text = format(number.quantize(_CENT), "f")
    return text


def _instant(value: Any, zone: ZoneInfo) -> datetime | None:
    try:
        local = parse_shop(value)
    except ShopDateError:
        return None
    return None if local is None else to_utc(local, zone)


def customer_identifiers(
    customer_id: int, customer: Row | None, settings: PrestaShopSettings
) -> list[Identifier]:
    """The shop's account id (verified: the shop's own key) and the account email.

    PrestaShop does not confirm addresses, so the email is never marked verified.
    """
    identifiers = [
        Identifier(
            kind=IdentifierKind.SHOP_CUSTOMER_ID,
            value=str(customer_id),
            namespace=settings.namespace,
            verified=True,
        )
    ]
    email = _text((customer or {}).get("email"))
    if email is not None:
        identifiers.append(Identifier(kind=IdentifierKind.EMAIL, value=email))
    return identifiers


def is_deleted(customer: Row | None) -> bool:
    """A soft-deleted account (``deleted = 1``): the brick emits nothing about it."""
    return customer is not None and _flag(customer.get("deleted"))


def cart_product_ids(cart: Row) -> list[int]:
    rows = (cart.get("associations") or {}).get("cart_rows") or []
    return [as_id(row.get("id_product")) for row in rows if isinstance(row, dict)]


def _cart_items(cart: Row, products: Mapping[int, Row]) -> list[dict[str, Any]]:
    """Cart rows carry product ids and quantities only; the catalogue gives the rest.

    ``unit_price`` is the product's catalogue ``price`` (tax excluded, before combination
    impacts and specific prices): the cart resource has no prices. A product no longer in the
    catalogue is left out. ``sku`` is the product ``reference``, or ``<id>`` /
    ``<id>-<combination id>`` when the shop left it empty.
    """
    id_lang = as_id(cart.get("id_lang"))
    items = []
    for row in (cart.get("associations") or {}).get("cart_rows") or []:
        if not isinstance(row, dict):
            continue
        product_id = as_id(row.get("id_product"))
        product = products.get(product_id)
        if product is None:
            continue
        combination = as_id(row.get("id_product_attribute"))
        fallback = f"{product_id}-{combination}" if combination else str(product_id)
        item = {
            "sku": _text(product.get("reference")) or fallback,
            "quantity": _amount(row.get("quantity")),
            "unit_price": _amount(product.get("price")),
        }
        name = localized(product.get("name"), id_lang)
        if name is not None:
            item["name"] = name
        items.append(item)
    return items


def _total(items: list[dict[str, Any]]) -> Any:
    total = Decimal(0)
    for item in items:
        quantity, price = _decimal(item["quantity"]), _decimal(item["unit_price"])
        if quantity is None or price is None:
            return None  # the core refuses the item's own value, naming it
        total += quantity * price
    return format(total.quantize(_CENT), "f")


def cart_event(
    cart: Row,
    *,
    customer: Row | None,
    products: Mapping[int, Row],
    currency: str | None,
    settings: PrestaShopSettings,
    source: str,
) -> EventEnvelope | None:
    """``cart.abandoned`` for a cart the caller found without an order, or ``None``.

    ``None`` for carts with nothing to recover: no product still in the catalogue, no
    customer (``id_customer = 0``), or a soft-deleted customer. The event id holds the cart id
    and its ``date_upd``: a re-read gives the same id, a cart touched and left again a new one.
    ``occurred_at`` is the shopper's last activity (``date_upd``), as for every shop brick: an
    order placed any time after it cancels the reminders, and scenario delays count from it.
    """
    customer_id = as_id(cart.get("id_customer"))
    if customer_id == 0 or is_deleted(customer):
        return None
    items = _cart_items(cart, products)
    if not items:
        return None
    cart_id = str(as_id(cart.get("id")))
    stamp = str(cart.get("date_upd", "")).strip()
    updated_at = _instant(stamp, settings.zone)
    if updated_at is None:
        return None  # unreachable: the keyset read already refused undated rows
    payload: dict[str, Any] = {
        "cart_id": cart_id,
        "updated_at": updated_at.isoformat(),
        "items": items,
        "total": _total(items),
        "currency": currency,
    }
    link = settings.cart_link(cart_id, str(customer_id))
    if link is not None:
        payload["cart_url"] = link
    return EventEnvelope(
        id=f"cart:{cart_id}:{stamp.replace(' ', 'T')}",
        type="cart.abandoned",
        source=source,
        occurred_at=updated_at,
        identifiers=customer_identifiers(customer_id, customer, settings),
        payload=payload,
    )


def _order_items(order: Row) -> list[dict[str, Any]]:
    items = []
    for row in (order.get("associations") or {}).get("order_rows") or []:
        if not isinstance(row, dict):
            continue
        product_id = as_id(row.get("product_id"))
        combination = as_id(row.get("product_attribute_id"))
        fallback = f"{product_id}-{combination}" if combination else str(product_id)
        item = {
            "sku": _text(row.get("product_reference")) or fallback,
            "quantity": _amount(row.get("product_quantity")),
            "unit_price": _amount(row.get("unit_price_tax_incl")),
        }
        name = _text(row.get("product_name"))
        if name is not None:
            item["name"] = name
        items.append(item)
    return items


def order_event(
    order: Row,
    *,
    customer: Row | None,
    currency: str | None,
    settings: PrestaShopSettings,
    source: str,
) -> EventEnvelope | None:
    """``order.placed`` for one order row (``display=full``), or ``None`` for a soft-deleted
    customer's order. ``order_id`` is the order's numeric id: its ``reference`` is shared by
    the orders PrestaShop splits one cart into (several carriers or warehouses)."""
    customer_id = as_id(order.get("id_customer"))
    if customer_id == 0 or is_deleted(customer):
        return None  # every order has a customer (guests too); 0 is a broken row
    order_id = str(as_id(order.get("id")))
    placed_at = _instant(order.get("date_add"), settings.zone)
    if placed_at is None:
        return None  # unreachable: the keyset read already refused undated rows
    payload: dict[str, Any] = {
        "order_id": order_id,
        "items": _order_items(order),
        "total": _amount(order.get("total_paid")),
        "currency": currency,
    }
    cart_id = as_id(order.get("id_cart"))
    if cart_id:
        payload["cart_id"] = str(cart_id)
    return EventEnvelope(
        id=f"order:{order_id}",
        type="order.placed",
        source=source,
        occurred_at=placed_at,
        identifiers=customer_identifiers(customer_id, customer, settings),
        payload=payload,
    )


def _consent(flag: Any, purpose: Purpose, source: str, recorded_at: datetime) -> Consent:
    return Consent(
        channel=Channel.EMAIL,
        purpose=purpose,
        status=ConsentStatus.GRANTED if _flag(flag) else ConsentStatus.DENIED,
        source=source,
        recorded_at=recorded_at,
    )


def contact_from_customer(
    customer: Row, settings: PrestaShopSettings, source: str
) -> Contact | None:
    """A customer row -> ``Contact``, or ``None`` for a soft-deleted account.

    ``newsletter`` is email marketing consent (recorded at ``newsletter_date_add`` when the
    shop kept it, else ``date_upd``); ``optin`` ("receive offers from our partners") is
    recorded as email consent for the ``profiling`` purpose: sharing the person's data with
    third parties for their offers is not the shop's own marketing.
    """
    if is_deleted(customer):
        return None
    customer_id = as_id(customer.get("id"))
    updated_at = _instant(customer.get("date_upd"), settings.zone)
    if updated_at is None:
        return None  # unreachable: the keyset read already refused undated rows
    subscribed = _flag(customer.get("newsletter"))
    since = _instant(customer.get("newsletter_date_add"), settings.zone) if subscribed else None
    consents = [
        _consent(
            customer.get("newsletter"),
            Purpose.MARKETING,
            f"{source}:newsletter",
            since or updated_at,
        ),
        _consent(customer.get("optin"), Purpose.PROFILING, f"{source}:optin", updated_at),
    ]
    locale = settings.locales.get(as_id(customer.get("id_lang")))
    return Contact(
        identifiers=customer_identifiers(customer_id, customer, settings),
        first_name=_text(customer.get("firstname")),
        last_name=_text(customer.get("lastname")),
        locale=locale,
        consents=consents,
        updated_at=updated_at,
    )
