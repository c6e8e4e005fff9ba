"""Magento records -> contract events and contacts. Pure functions: no HTTP, no clock.

Field names are Magento's REST ones (admin schema 2.4.8): ``quote-data-cart-interface``,
``sales-data-order-interface``, ``customer-data-customer-interface``.

What is strict and what is not: the keys the cursor is built from (ids, ``updated_at``,
``created_at``) raise ``PayloadRejected`` naming the field, because a record that cannot be
positioned cannot be skipped safely. The payload's content (a missing SKU, a price that is not
a number) is passed on as Magento sent it: the core validates every event against its
contract and dead-letters a bad one with the field and reason, without stopping the poll.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from pydantic import ValidationError

from contracts import (
    Channel,
    Consent,
    ConsentStatus,
    Contact,
    EventEnvelope,
    Identifier,
    IdentifierKind,
)
from plugins.magento.settings import MagentoSettings
from plugins.magento.wire import parse_amount, parse_id, parse_time

__all__ = ["cart_event", "cart_event_id", "customer_contact", "order_event", "order_event_id"]

_NAME_MAX = 256
_ITEM_NAME_MAX = 512


def _text(value: Any) -> str | None:
    """A non-empty, stripped string, or ``None``."""
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


def _decimal_text(value: Decimal) -> str:
    return format(value, "f")


def _identifier(
    kind: IdentifierKind, value: str | None, *, namespace: str = "", verified: bool
) -> list[Identifier]:
    """Zero or one identifier: a value the contract cannot hold (over 512 characters) is no
    identifier at all, and the core normalises (and may refuse) the rest."""
    if value is None:
        return []
    try:
        return [Identifier(kind=kind, value=value, namespace=namespace, verified=verified)]
    except ValidationError:
        return []


def _shop_id(value: Any, namespace: str) -> list[Identifier]:
    """The registered customer's id; guests have none (``None``, ``0``)."""
    if value is None or value == 0 or value == "0":
        return []
    customer_id = parse_id(value, "customer_id", "customer")
    # The shop's own key for the account: a login proves it.
    return _identifier(
        IdentifierKind.SHOP_CUSTOMER_ID, str(customer_id), namespace=namespace, verified=True
    )


def _line_item(sku: Any, name: Any, quantity: Any, unit_price: Any) -> dict[str, Any]:
    qty, price = parse_amount(quantity), parse_amount(unit_price)
    label = _text(name)
    return {
        "sku": _text(sku) if _text(sku) is not None else sku,
        "name": None if label is None else label[:_ITEM_NAME_MAX],
        "quantity": quantity if qty is None else _decimal_text(qty),
        "unit_price": unit_price if price is None else _decimal_text(price),
    }


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y%m%dT%H%M%SZ")


def cart_event_id(cart_id: int, updated_at: datetime) -> str:
    """Same cart, same last update: same id (a re-read is a duplicate); a cart updated and
    abandoned again later gets a new one."""
    return f"cart-{cart_id}-{_stamp(updated_at)}"


def order_event_id(entity_id: int) -> str:
    return f"order-{entity_id}"


def cart_event(
    cart: dict[str, Any], *, source: str, settings: MagentoSettings
) -> EventEnvelope | None:
    """A ``cart.abandoned`` event, or ``None`` when nothing in the cart names a person.

    The cart resource has no totals: ``total`` is the sum of ``price x qty`` over its items,
    and quote item prices are in the store's base currency (``currency.base_currency_code``),
    before tax, shipping and cart-level discounts. ``occurred_at`` is the cart's last update:
    the moment the shopper left it, so an order placed any time after it cancels reminders.
    """
    cart_id = parse_id(cart.get("id"), "id", "cart")
    what = f"cart {cart_id}"
    updated_at = parse_time(cart.get("updated_at"), "updated_at", what)
    customer = cart.get("customer") if isinstance(cart.get("customer"), dict) else {}
    guest = cart.get("customer_is_guest") is True or customer.get("id") in (None, 0, "0")
    email = _text(customer.get("email")) or _text(cart.get("customer_email"))
    identifiers = _identifier(IdentifierKind.EMAIL, email, verified=not guest)
    if not guest:
        identifiers += _shop_id(customer.get("id"), settings.namespace)
    if not identifiers:
        return None
    lines = [item for item in cart.get("items") or [] if isinstance(item, dict)]
    items = [_line_item(i.get("sku"), i.get("name"), i.get("qty"), i.get("price")) for i in lines]
    amounts = [(parse_amount(i.get("price")), parse_amount(i.get("qty"))) for i in lines]
    total = None
    if all(price is not None and qty is not None for price, qty in amounts):
        total = _decimal_text(sum((p * q for p, q in amounts), Decimal(0)))  # type: ignore[operator]
    currency = cart.get("currency") if isinstance(cart.get("currency"), dict) else {}
    payload = {
        "cart_id": str(cart_id),
        "items": items,
        "total": total,
        "currency": currency.get("base_currency_code"),
        "cart_url": settings.cart_link(str(cart_id)),
        "updated_at": updated_at.isoformat(),
    }
    return EventEnvelope(
        id=cart_event_id(cart_id, updated_at),
        type="cart.abandoned",
        source=source,
        occurred_at=updated_at,
        identifiers=identifiers,
        payload=payload,
    )


def _is_child(item: dict[str, Any]) -> bool:
    """A configurable's (or bundle's) child line: its parent line carries name and price."""
    return item.get("parent_item_id") is not None or item.get("parent_item") is not None


def order_event(order: dict[str, Any], *, source: str, namespace: str) -> EventEnvelope | None:
    """An ``order.placed`` event; guests are known by their email only.

    A purchase proves the person uses the address, so the order's email is ``verified``.
    """
    entity_id = parse_id(order.get("entity_id"), "entity_id", "order")
    what = f"order {entity_id}"
    created_at = parse_time(order.get("created_at"), "created_at", what)
    identifiers = _identifier(
        IdentifierKind.EMAIL, _text(order.get("customer_email")), verified=True
    )
    if not order.get("customer_is_guest"):
        identifiers += _shop_id(order.get("customer_id"), namespace)
    if not identifiers:
        return None
    lines = [i for i in order.get("items") or [] if isinstance(i, dict) and not _is_child(i)]
    total = parse_amount(order.get("grand_total"))
    quote_id = order.get("quote_id")
    payload = {
        "order_id": _text(order.get("increment_id")),
        "cart_id": None if quote_id in (None, 0) else str(quote_id),
        "items": [
            _line_item(i.get("sku"), i.get("name"), i.get("qty_ordered"), i.get("price"))
            for i in lines
        ],
        "total": order.get("grand_total") if total is None else _decimal_text(total),
        "currency": order.get("order_currency_code"),
    }
    return EventEnvelope(
        id=order_event_id(entity_id),
        type="order.placed",
        source=source,
        occurred_at=created_at,
        identifiers=identifiers,
        payload=payload,
    )


def _name(value: Any) -> str | None:
    text = _text(value)
    return None if text is None else text[:_NAME_MAX]


def customer_contact(customer: dict[str, Any], *, source: str, namespace: str) -> Contact:
    """The shop's picture of a registered customer, with their newsletter status.

    ``extension_attributes.is_subscribed`` (Magento's newsletter module) becomes an email
    marketing consent, granted or denied, recorded at the customer's ``updated_at``; without it
    no consent is stated. The email counts as verified unless the account still awaits its
    email confirmation (``confirmation`` set).
    """
    customer_id = parse_id(customer.get("id"), "id", "customer")
    updated_at = parse_time(customer.get("updated_at"), "updated_at", f"customer {customer_id}")
    confirmed = customer.get("confirmation") in (None, "")
    identifiers = _identifier(
        IdentifierKind.EMAIL, _text(customer.get("email")), verified=confirmed
    )
    identifiers += _shop_id(customer_id, namespace)
    extension = customer.get("extension_attributes")
    subscribed = extension.get("is_subscribed") if isinstance(extension, dict) else None
    consents = []
    if isinstance(subscribed, bool):
        status = ConsentStatus.GRANTED if subscribed else ConsentStatus.DENIED
        consents.append(
            Consent(channel=Channel.EMAIL, status=status, source=source, recorded_at=updated_at)
        )
    return Contact(
        identifiers=identifiers,
        first_name=_name(customer.get("firstname")),
        last_name=_name(customer.get("lastname")),
        consents=consents,
        updated_at=updated_at,
    )
