"""Carts, orders and customers -> contract events and contacts (pure functions, no HTTP)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from contracts import (
    CartAbandoned,
    ConsentStatus,
    IdentifierKind,
    OrderPlaced,
    PayloadRejected,
)
from plugins.magento.mapping import cart_event, customer_contact, order_event
from plugins.magento.settings import MagentoSettings
from plugins.magento.tests.shop import BASE_URL, TOKEN, cart, customer, item, order, order_item

SETTINGS = MagentoSettings(
    base_url=BASE_URL,
    access_token=TOKEN,
    namespace="shop-fr",
    cart_url="https://shop.example.com/cart/restore/{cart_id}",
)


def idents(event: Any) -> list[tuple[str, str, str, bool]]:
    return [(i.kind.value, i.value, i.namespace, i.verified) for i in event.identifiers]


def as_json(row: dict[str, Any]) -> dict[str, Any]:
    """The record as the brick reads it off the wire (floats as Decimal)."""
    return json.loads(json.dumps(row, default=str), parse_float=Decimal)


# -- carts -------------------------------------------------------------------------------------


def test_registered_cart_with_several_items() -> None:
    row = cart(
        812,
        "2026-03-02 09:15:00",
        "Ada@Example.com",
        customer_id=4711,
        items=[item("MUG", "12.50", 2, "Mug"), item("TEE-L", "19.99", 1, "T-shirt")],
    )
    event = cart_event(row, source="magento", settings=SETTINGS)
    assert event is not None
    assert event.id == "cart-812-20260302T091500Z"
    assert event.type == "cart.abandoned"
    assert event.source == "magento"
    assert event.occurred_at == datetime(2026, 3, 2, 9, 15, tzinfo=UTC)
    assert idents(event) == [
        ("email", "Ada@Example.com", "", True),
        ("shop_customer_id", "4711", "shop-fr", True),
    ]
    assert event.payload == {
        "cart_id": "812",
        "items": [
            {"sku": "MUG", "name": "Mug", "quantity": "2", "unit_price": "12.50"},
            {"sku": "TEE-L", "name": "T-shirt", "quantity": "1", "unit_price": "19.99"},
        ],
        "total": "44.99",
        "currency": "EUR",
        "cart_url": "https://shop.example.com/cart/restore/812",
        "updated_at": "2026-03-02T09:15:00+00:00",
    }
    CartAbandoned.model_validate(event.payload)


def test_guest_cart_is_known_by_an_unverified_email() -> None:
    event = cart_event(
        cart(9, "2026-03-02 09:15:00", "guest@example.net"), source="magento", settings=SETTINGS
    )
    assert event is not None
    assert idents(event) == [("email", "guest@example.net", "", False)]


def test_cart_without_email() -> None:
    registered = cart(10, "2026-03-02 09:15:00", None, customer_id=33)
    event = cart_event(registered, source="magento", settings=SETTINGS)
    assert event is not None
    assert idents(event) == [("shop_customer_id", "33", "shop-fr", True)]
    guest = cart(11, "2026-03-02 09:15:00", None)
    assert cart_event(guest, source="magento", settings=SETTINGS) is None
    guest["customer"]["email"] = "   "
    assert cart_event(guest, source="magento", settings=SETTINGS) is None


def test_cart_email_from_the_quote_when_the_customer_object_has_none() -> None:
    row = cart(12, "2026-03-02 09:15:00", None)
    row["customer_email"] = "late@example.org"
    event = cart_event(row, source="magento", settings=SETTINGS)
    assert event is not None and idents(event) == [("email", "late@example.org", "", False)]


def test_amounts_are_exact_and_from_the_base_currency() -> None:
    row = as_json(cart(13, "2026-03-02 09:15:00", "a@example.com", items=[item("X", "0.10", 3)]))
    row["currency"] = {"base_currency_code": "CHF", "quote_currency_code": "EUR"}
    event = cart_event(row, source="magento", settings=SETTINGS)
    assert event is not None
    assert event.payload["total"] == "0.30"
    assert event.payload["currency"] == "CHF"


def test_event_id_changes_with_the_update_only() -> None:
    first = cart_event(
        cart(5, "2026-03-02 09:15:00", "a@example.com"), source="magento", settings=SETTINGS
    )
    again = cart_event(
        cart(5, "2026-03-02 09:15:00", "a@example.com"), source="magento", settings=SETTINGS
    )
    later = cart_event(
        cart(5, "2026-03-03 18:00:01", "a@example.com"), source="magento", settings=SETTINGS
    )
    assert first is not None and again is not None and later is not None
    assert first.id == again.id != later.id


def test_bad_item_content_is_left_to_the_core_to_dead_letter() -> None:
    """A price Magento did not send is passed on as is; the core refuses the event naming
    ``payload.items.0.unit_price`` and keeps polling."""
    row = cart(14, "2026-03-02 09:15:00", "a@example.com", items=[item("X", "1.00")])
    del row["items"][0]["price"]
    event = cart_event(row, source="magento", settings=SETTINGS)
    assert event is not None
    assert event.payload["total"] is None
    with pytest.raises(ValidationError) as caught:
        CartAbandoned.model_validate(event.payload)
    assert ("items", 0, "unit_price") in [e["loc"] for e in caught.value.errors()]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("updated_at", "2026-03-02T09:15:00Z"),
        ("updated_at", "2026-02-30 09:15:00"),
        ("updated_at", None),
        ("updated_at", "0000-00-00 00:00:00"),
        ("id", "abc"),
        ("id", True),
        ("id", -3),
    ],
)
def test_unreadable_cart_keys_are_refused_naming_the_field(field: str, value: Any) -> None:
    row = cart(15, "2026-03-02 09:15:00", "secret.person@example.com")
    row[field] = value
    with pytest.raises(PayloadRejected) as caught:
        cart_event(row, source="magento", settings=SETTINGS)
    assert caught.value.field == field
    assert "secret.person" not in caught.value.message
    if value is not None and field == "updated_at":
        assert str(value) not in caught.value.message


# -- orders ------------------------------------------------------------------------------------


def test_configurable_child_items_are_skipped() -> None:
    row = order(
        301,
        "2026-03-02 10:00:00",
        "ada@example.com",
        customer_id=4711,
        quote_id=812,
        items=[
            order_item("TEE", "19.99", product_type="configurable", item_id=1),
            order_item("TEE-L", "0.00", product_type="simple", item_id=2, parent_item_id=1),
            order_item("MUG", "12.50", 2, item_id=3),
            order_item("BUNDLE-PART", "0.00", item_id=4, parent_item={"item_id": 9, "sku": "B"}),
        ],
        grand_total="49.99",
        currency="USD",
    )
    event = order_event(as_json(row), source="magento", namespace="shop-fr")
    assert event is not None
    assert event.id == "order-301"
    assert event.occurred_at == datetime(2026, 3, 2, 10, tzinfo=UTC)
    assert idents(event) == [
        ("email", "ada@example.com", "", True),
        ("shop_customer_id", "4711", "shop-fr", True),
    ]
    assert event.payload == {
        "order_id": "100000301",
        "cart_id": "812",
        "items": [
            {"sku": "TEE", "name": "Product TEE", "quantity": "1", "unit_price": "19.99"},
            {"sku": "MUG", "name": "Product MUG", "quantity": "2", "unit_price": "12.50"},
        ],
        "total": "49.99",
        "currency": "USD",
    }
    OrderPlaced.model_validate(event.payload)


def test_guest_order_has_the_email_only() -> None:
    row = order(302, "2026-03-02 10:00:00", "guest@example.net")
    event = order_event(row, source="magento", namespace="magento")
    assert event is not None
    assert idents(event) == [("email", "guest@example.net", "", True)]
    assert event.payload["cart_id"] is None
    row["customer_id"] = 5  # some shops keep an id on guest orders: the flag wins
    event = order_event(row, source="magento", namespace="magento")
    assert event is not None and [i.kind for i in event.identifiers] == [IdentifierKind.EMAIL]


def test_unreadable_order_time_is_refused() -> None:
    row = order(303, "2026-03-02 10:00:00", "a@example.com")
    row["created_at"] = "yesterday"
    with pytest.raises(PayloadRejected) as caught:
        order_event(row, source="magento", namespace="magento")
    assert caught.value.field == "created_at"
    assert "order 303" in caught.value.message


# -- customers ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("subscribed", "status"),
    [(True, ConsentStatus.GRANTED), (False, ConsentStatus.DENIED), (None, None)],
    ids=["subscribed", "not-subscribed", "unknown"],
)
def test_newsletter_status_becomes_an_email_consent(
    subscribed: bool | None, status: ConsentStatus | None
) -> None:
    row = customer(4711, "2026-03-02 08:00:00", "ada@example.com", subscribed=subscribed)
    contact = customer_contact(row, source="magento", namespace="shop-fr")
    assert [(i.kind.value, i.value, i.namespace, i.verified) for i in contact.identifiers] == [
        ("email", "ada@example.com", "", True),
        ("shop_customer_id", "4711", "shop-fr", True),
    ]
    assert (contact.first_name, contact.last_name) == ("Ada", "Lovelace")
    assert contact.updated_at == datetime(2026, 3, 2, 8, tzinfo=UTC)
    if status is None:
        assert contact.consents == []
    else:
        [consent] = contact.consents
        assert (consent.channel.value, consent.purpose.value) == ("email", "marketing")
        assert consent.status is status
        assert consent.source == "magento"
        assert consent.recorded_at == contact.updated_at


def test_unconfirmed_account_email_is_not_verified() -> None:
    row = customer(5, "2026-03-02 08:00:00", "new@example.com", confirmation="a1b2c3")
    contact = customer_contact(row, source="magento", namespace="magento")
    assert contact.identifiers[0].verified is False


def test_long_or_missing_names() -> None:
    row = customer(6, "2026-03-02 08:00:00", "x@example.com", firstname="A" * 300)
    del row["lastname"]
    contact = customer_contact(row, source="magento", namespace="magento")
    assert contact.first_name == "A" * 256
    assert contact.last_name is None


def test_customer_without_updated_at_is_refused() -> None:
    row = customer(7, "2026-03-02 08:00:00", "x@example.com")
    del row["updated_at"]
    with pytest.raises(PayloadRejected) as caught:
        customer_contact(row, source="magento", namespace="magento")
    assert caught.value.field == "updated_at"
