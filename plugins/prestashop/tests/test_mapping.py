"""Webservice rows -> cart.abandoned, order.placed and contacts (pure functions)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from pydantic import ValidationError

from contracts import CartAbandoned, ConsentStatus, IdentifierKind, OrderPlaced, Purpose
from plugins.prestashop import PrestaShopBrick
from plugins.prestashop.mapping import (
    cart_event,
    contact_from_customer,
    localized,
    order_event,
    rows_of,
)
from plugins.prestashop.tests.support import (
    BASE_URL,
    KEY,
    cart_row,
    customer_row,
    order_row,
    product_row,
)

SETTINGS = PrestaShopBrick.Settings(
    base_url=BASE_URL,
    webservice_key=KEY,
    time_zone="Europe/Paris",
    cart_url="https://shop.example.test/cart?id_cart={cart_id}&c={customer_id}",
    locales={1: "fr-FR"},
)
PRODUCTS = {
    3: product_row(3, "demo_3", "29.000000", {1: "Affiche renard", 2: "Fox poster"}),
    5: product_row(5, "", "12.500000", {1: "Mug"}),
}
CUSTOMER = customer_row(7, "grace@example.net", "2026-01-15 10:00:00")


def cart(**kwargs):
    event = cart_event(
        kwargs.pop("row", cart_row(41, 7, "2026-07-01 11:30:00", [(3, 2), (5, 1)])),
        customer=kwargs.pop("customer", CUSTOMER),
        products=kwargs.pop("products", PRODUCTS),
        currency=kwargs.pop("currency", "EUR"),
        settings=SETTINGS,
        source="prestashop",
    )
    assert not kwargs
    return event


def test_cart_event_maps_items_total_and_times() -> None:
    event = cart()
    assert event.id == "cart:41:2026-07-01T11:30:00"
    assert event.type == "cart.abandoned"
    assert event.source == "prestashop"
    # 11:30 in Paris in July is 09:30 UTC; abandoned one hour (the default delay) later.
    assert event.occurred_at == datetime(2026, 7, 1, 9, 30, tzinfo=UTC)  # the last activity
    payload = CartAbandoned.model_validate(event.payload)
    assert payload.updated_at == datetime(2026, 7, 1, 9, 30, tzinfo=UTC)
    assert payload.cart_id == "41"
    assert payload.cart_url == "https://shop.example.test/cart?id_cart=41&c=7"
    assert payload.currency == "EUR"
    assert payload.total == Decimal("70.50")
    first, second = payload.items
    assert (first.sku, first.name, first.quantity, first.unit_price) == (
        "demo_3",
        "Affiche renard",
        Decimal(2),
        Decimal("29.00"),
    )
    assert second.sku == "5"  # no reference in the shop: the product id stands in


def test_cart_identifiers_are_the_account_and_its_email() -> None:
    kinds = {(i.kind, i.value, i.namespace, i.verified) for i in cart().identifiers}
    assert kinds == {
        (IdentifierKind.SHOP_CUSTOMER_ID, "7", "prestashop", True),
        (IdentifierKind.EMAIL, "grace@example.net", "", False),
    }


def test_cart_of_an_unknown_customer_keeps_the_account_id_only() -> None:
    event = cart(customer=None)
    assert [i.kind for i in event.identifiers] == [IdentifierKind.SHOP_CUSTOMER_ID]


def test_same_cart_touched_again_is_a_new_event() -> None:
    later = cart(row=cart_row(41, 7, "2026-07-01 12:05:00", [(3, 1)]))
    assert later.id != cart().id


def test_combination_without_reference_gets_product_and_combination_ids() -> None:
    row = cart_row(41, 7, "2026-07-01 11:30:00", [(5, 1)])
    row["associations"]["cart_rows"][0]["id_product_attribute"] = "19"
    assert cart(row=row).payload["items"][0]["sku"] == "5-19"


@pytest.mark.parametrize(
    ("case", "kwargs"),
    [
        ("guest-cart", {"row": cart_row(41, 0, "2026-07-01 11:30:00")}),
        ("empty-cart", {"row": cart_row(41, 7, "2026-07-01 11:30:00", [])}),
        ("products-gone", {"products": {}}),
        (
            "deleted-customer",
            {"customer": customer_row(7, "g@example.net", "2026-01-01 00:00:00", deleted=True)},
        ),
    ],
    ids=lambda value: value if isinstance(value, str) else "",
)
def test_carts_with_nothing_to_recover_give_no_event(case, kwargs) -> None:
    assert cart(**kwargs) is None


def test_unreadable_values_reach_the_core_which_refuses_them() -> None:
    row = cart_row(41, 7, "2026-07-01 11:30:00", [(3, 1)])
    row["associations"]["cart_rows"][0]["quantity"] = "lots"
    event = cart(row=row)
    with pytest.raises(ValidationError) as caught:
        CartAbandoned.model_validate(event.payload)
    assert {error["loc"] for error in caught.value.errors()} >= {("items", 0, "quantity")}


def test_unknown_currency_is_left_for_the_core_to_refuse() -> None:
    with pytest.raises(ValidationError):
        CartAbandoned.model_validate(cart(currency=None).payload)


def test_order_event() -> None:
    row = order_row(9, 41, 7, "2026-01-15 12:40:00", total_paid="61.800000")
    event = order_event(row, customer=CUSTOMER, currency="EUR", settings=SETTINGS, source="ps")
    assert event.id == "order:9"
    assert event.occurred_at == datetime(2026, 1, 15, 11, 40, tzinfo=UTC)  # CET in winter
    payload = OrderPlaced.model_validate(event.payload)
    assert payload.order_id == "9"
    assert payload.cart_id == "41"
    assert payload.total == Decimal("61.80")
    item = payload.items[0]
    assert (item.sku, item.quantity, item.unit_price) == ("demo_1", Decimal(2), Decimal("28.68"))
    assert item.name.startswith("Hummingbird")


def test_order_of_a_deleted_customer_or_without_customer_gives_no_event() -> None:
    deleted = customer_row(7, "g@example.net", "2026-01-01 00:00:00", deleted=True)
    row = order_row(9, 41, 7, "2026-01-15 12:40:00")
    assert order_event(row, customer=deleted, currency="EUR", settings=SETTINGS, source="p") is None
    row["id_customer"] = "0"
    assert order_event(row, customer=None, currency="EUR", settings=SETTINGS, source="p") is None


def consents(row):
    contact = contact_from_customer(row, SETTINGS, "prestashop")
    return {(c.purpose, c.status, c.source, c.recorded_at) for c in contact.consents}


def test_newsletter_subscriber_with_a_subscription_date() -> None:
    row = customer_row(
        7,
        "grace@example.net",
        "2026-01-15 10:00:00",
        newsletter=True,
        newsletter_date_add="2025-06-01 08:00:00",
        optin=True,
    )
    assert consents(row) == {
        (
            Purpose.MARKETING,
            ConsentStatus.GRANTED,
            "prestashop:newsletter",
            datetime(2025, 6, 1, 6, 0, tzinfo=UTC),  # CEST
        ),
        (
            Purpose.PROFILING,
            ConsentStatus.GRANTED,
            "prestashop:optin",
            datetime(2026, 1, 15, 9, 0, tzinfo=UTC),
        ),
    }


def test_non_subscriber_is_denied_at_the_last_update() -> None:
    row = customer_row(7, "grace@example.net", "2026-01-15 10:00:00")
    updated = datetime(2026, 1, 15, 9, 0, tzinfo=UTC)
    assert consents(row) == {
        (Purpose.MARKETING, ConsentStatus.DENIED, "prestashop:newsletter", updated),
        (Purpose.PROFILING, ConsentStatus.DENIED, "prestashop:optin", updated),
    }


def test_subscriber_without_a_subscription_date_is_granted_at_the_last_update() -> None:
    row = customer_row(7, "grace@example.net", "2026-01-15 10:00:00", newsletter=True)
    granted = {c for c in consents(row) if c[0] is Purpose.MARKETING}
    assert granted == {
        (
            Purpose.MARKETING,
            ConsentStatus.GRANTED,
            "prestashop:newsletter",
            datetime(2026, 1, 15, 9, 0, tzinfo=UTC),
        )
    }


def test_contact_profile_fields() -> None:
    row = customer_row(7, "grace@example.net", "2026-01-15 10:00:00", firstname="Grace")
    contact = contact_from_customer(row, SETTINGS, "prestashop")
    assert contact.first_name == "Grace"
    assert contact.last_name == "Lovelace"
    assert contact.locale == "fr-FR"
    assert contact.updated_at == datetime(2026, 1, 15, 9, 0, tzinfo=UTC)
    assert {i.kind for i in contact.identifiers} == {
        IdentifierKind.SHOP_CUSTOMER_ID,
        IdentifierKind.EMAIL,
    }


def test_contact_language_without_mapping_has_no_locale() -> None:
    row = customer_row(7, "grace@example.net", "2026-01-15 10:00:00", id_lang=4)
    assert contact_from_customer(row, SETTINGS, "prestashop").locale is None


def test_guests_are_contacts_and_deleted_accounts_are_not() -> None:
    guest = customer_row(8, "guest@example.net", "2026-01-15 10:00:00", is_guest=True)
    assert contact_from_customer(guest, SETTINGS, "prestashop") is not None
    gone = customer_row(9, "gone@example.net", "2026-01-15 10:00:00", deleted=True)
    assert contact_from_customer(gone, SETTINGS, "prestashop") is None


def test_localized_values() -> None:
    names = [{"id": "1", "value": "Affiche"}, {"id": "2", "value": "Poster"}]
    assert localized(names, 2) == "Poster"
    assert localized(names, 9) == "Affiche"
    assert localized([{"id": "1", "value": ""}, {"id": "2", "value": "Poster"}], 1) == "Poster"
    assert localized("Poster") == "Poster"
    assert localized("  ") is None


def test_rows_of_list_answers() -> None:
    assert rows_of({"carts": [{"id": 1}]}, "carts") == [{"id": 1}]
    assert rows_of([], "carts") == []  # PrestaShop's answer when nothing matches
    assert rows_of({}, "carts") == []
    assert rows_of({"cart": {"id": 1}}, "carts") is None
    assert rows_of({"carts": {"id": 1}}, "carts") == [{"id": 1}]
    assert rows_of("<xml/>", "carts") is None
    assert rows_of({"carts": ["x"]}, "carts") is None
    assert rows_of([1], "carts") is None
