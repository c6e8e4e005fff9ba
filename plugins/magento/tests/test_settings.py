"""Settings are checked at load time: the REST root, the token, durations, bounds, the cart link."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from plugins.magento import MagentoBrick
from plugins.magento.settings import MagentoSettings, format_duration, parse_duration
from plugins.magento.tests.shop import BASE_URL, TOKEN


def settings(**overrides: Any) -> MagentoSettings:
    values: dict[str, Any] = {"base_url": BASE_URL, "access_token": TOKEN, **overrides}
    return MagentoSettings(**values)


def test_defaults() -> None:
    loaded = settings()
    assert MagentoBrick.Settings is MagentoSettings
    assert loaded.abandonment_delay == timedelta(hours=1)
    assert loaded.first_poll_lookback == timedelta(days=7)
    assert loaded.settle_delay == timedelta(minutes=1)
    assert loaded.page_size == 100
    assert loaded.namespace == "magento"
    assert loaded.cart_url is None
    assert loaded.cart_link("5") is None
    assert TOKEN not in repr(loaded)


def test_durations_serialise_back_to_text() -> None:
    loaded = settings(abandonment_delay="1d12h", first_poll_lookback="2w", settle_delay="1s")
    dumped = loaded.model_dump(mode="json")
    assert dumped["abandonment_delay"] == "1d12h"
    assert dumped["first_poll_lookback"] == "2w"
    assert dumped["settle_delay"] == "1s"
    assert MagentoSettings.model_validate({**dumped, "access_token": TOKEN}) == loaded


@pytest.mark.parametrize(
    "url",
    [
        "https://shop.example.com/rest/default",
        "https://shop.example.com/rest/all",
        "https://shop.example.com/rest",
        "https://shop.example.com/shop/rest/fr_store/",
        "http://127.0.0.1:8080/rest/default",
    ],
)
def test_rest_roots_accepted(url: str) -> None:
    assert settings(base_url=url).base_url == url.rstrip("/")


def test_cart_link_template() -> None:
    loaded = settings(cart_url="https://shop.example.com/recover?cart={cart_id}&utm=hub")
    assert loaded.cart_link("812") == "https://shop.example.com/recover?cart=812&utm=hub"
    assert settings(cart_url="https://shop.example.com/checkout/cart/").cart_link("9") == (
        "https://shop.example.com/checkout/cart/"
    )


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"base_url": "shop.example.com/rest/default"}, "base_url", "https://"),
        ({"base_url": "https://shop.example.com/rest/default/V1"}, "base_url", "before /V1"),
        ({"base_url": "https://shop.example.com/"}, "base_url", "REST root"),
        ({"base_url": "https://shop.example.com/checkout/cart"}, "base_url", "REST root"),
        ({"access_token": "short"}, "access_token", "16-256 characters"),
        ({"access_token": "has spaces in the middle ok?"}, "access_token", "no spaces"),
        ({"abandonment_delay": "1 hour"}, "abandonment_delay", "a number and a unit"),
        ({"abandonment_delay": "3600"}, "abandonment_delay", "a number and a unit"),
        ({"abandonment_delay": 3600}, "abandonment_delay", "a number and a unit"),
        ({"abandonment_delay": "1m"}, "abandonment_delay", "between 5m and 30d"),
        ({"abandonment_delay": "31d"}, "abandonment_delay", "between 5m and 30d"),
        ({"abandonment_delay": "30m1h"}, "abandonment_delay", "largest first"),
        ({"first_poll_lookback": "0s"}, "first_poll_lookback", "longer than zero"),
        ({"first_poll_lookback": "53w"}, "first_poll_lookback", "between 1m and 365d"),
        ({"settle_delay": "2h"}, "settle_delay", "between 1s and 1h"),
        ({"settle_delay": "0s"}, "settle_delay", "longer than zero"),
        ({"page_size": 0}, "page_size", "greater than or equal to 1"),
        ({"page_size": 501}, "page_size", "less than or equal to 500"),
        ({"namespace": "My Shop"}, "namespace", "lower-case"),
        ({"namespace": ""}, "namespace", "lower-case"),
        ({"cart_url": "/checkout/cart"}, "cart_url", "absolute"),
        ({"cart_url": "https://s.example/{quote}"}, "cart_url", "only {cart_id}"),
        ({"cart_url": "https://s.example/{cart_id"}, "cart_url", "broken placeholder"),
        ({"colour": "blue"}, "colour", "Extra inputs"),
    ],
)
def test_invalid_settings_name_the_field(
    overrides: dict[str, Any], field: str, message: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        settings(**overrides)
    errors = caught.value.errors()
    assert [e["loc"][0] for e in errors] == [field]
    assert message in errors[0]["msg"]


def test_messages_never_echo_the_token() -> None:
    """``hub config validate`` prints each error's message: it must not carry the value."""
    secret = "tok" + " secret-value-" * 3
    with pytest.raises(ValidationError) as caught:
        settings(access_token=secret)
    assert all("secret-value" not in e["msg"] for e in caught.value.errors())


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90s", 90),
        ("15m", 900),
        ("1h", 3600),
        ("7d", 604_800),
        ("2w", 1_209_600),
        ("1d12h", 129_600),
    ],
)
def test_parse_duration(text: str, seconds: int) -> None:
    assert parse_duration(text) == timedelta(seconds=seconds)


@given(st.integers(min_value=1, max_value=400 * 86_400))
def test_durations_round_trip(seconds: int) -> None:
    value = timedelta(seconds=seconds)
    assert parse_duration(format_duration(value)) == value
