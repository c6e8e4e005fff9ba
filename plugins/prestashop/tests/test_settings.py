"""Settings validation: every message names the problem, never echoes a secret."""

from __future__ import annotations

from datetime import timedelta

import pytest
from pydantic import ValidationError

from plugins.prestashop import PrestaShopBrick
from plugins.prestashop.settings import parse_duration
from plugins.prestashop.tests.support import BASE_URL, KEY

Settings = PrestaShopBrick.Settings
VALID = {"base_url": BASE_URL, "webservice_key": KEY, "time_zone": "Europe/Paris"}


def errors(**changes) -> dict[str, str]:
    with pytest.raises(ValidationError) as caught:
        Settings(**{**VALID, **changes})
    return {".".join(map(str, e["loc"])): e["msg"] for e in caught.value.errors()}


def test_defaults() -> None:
    settings = Settings(**VALID)
    assert settings.abandonment_delay == timedelta(hours=1)
    assert settings.first_poll_lookback == timedelta(days=7)
    assert settings.settle_delay == timedelta(minutes=2)
    assert settings.page_size == 50
    assert settings.namespace == "prestashop"
    assert settings.cart_url is None
    assert settings.cart_link("4", "7") is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1h", timedelta(hours=1)),
        ("1d12h", timedelta(days=1, hours=12)),
        ("90m", timedelta(minutes=90)),
        ("2w", timedelta(weeks=2)),
        ("PT1H30M", timedelta(hours=1, minutes=30)),
        ("P7D", timedelta(days=7)),
        (" 45s ", timedelta(seconds=45)),
    ],
    ids=["1h", "1d12h", "90m", "2w", "iso-time", "iso-days", "spaces"],
)
def test_durations(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "1", "h", "1y", "1M", "12h1d", "-1h", "1.5h", "P1M"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)


def test_durations_round_trip_through_json() -> None:
    settings = Settings(**VALID, abandonment_delay="1d2h30m")
    dumped = settings.model_dump(mode="json")
    assert dumped["abandonment_delay"] == "1d2h30m"
    assert Settings(**{**dumped, "webservice_key": KEY}) == settings


@pytest.mark.parametrize(
    ("changes", "field", "fragment"),
    [
        ({"time_zone": "Europe/Pariss"}, "time_zone", "unknown time zone"),
        ({"time_zone": "../etc/passwd"}, "time_zone", "unknown time zone"),
        ({"abandonment_delay": "2m"}, "abandonment_delay", "at least 5m"),
        ({"abandonment_delay": "31d"}, "abandonment_delay", "at most 30d"),
        ({"abandonment_delay": "soon"}, "abandonment_delay", "invalid duration"),
        ({"first_poll_lookback": "0s"}, "first_poll_lookback", "longer than zero"),
        ({"settle_delay": "7h"}, "settle_delay", "between 10s and 6h"),
        ({"settle_delay": "5s"}, "settle_delay", "between 10s and 6h"),
        ({"page_size": 0}, "page_size", "greater than or equal to 1"),
        ({"page_size": 201}, "page_size", "less than or equal to 200"),
        ({"base_url": "shop.example.com"}, "base_url", "https://"),
        ({"base_url": f"{BASE_URL}/api"}, "base_url", "without /api"),
        ({"base_url": f"{BASE_URL}/?x=1"}, "base_url", "without query"),
        ({"webservice_key": "two words"}, "webservice_key", "the webservice key itself"),
        ({"webservice_key": "user:password"}, "webservice_key", "the webservice key itself"),
        ({"cart_url": "/cart"}, "cart_url", "absolute"),
        ({"cart_url": "https://s.test/c?id={cart}"}, "cart_url", "unknown placeholder 'cart'"),
        ({"cart_url": "https://s.test/c?id={cart_id"}, "cart_url", "broken placeholder"),
        ({"locales": {1: "French"}}, "locales", "fr-FR"),
        ({"locales": {0: "fr-FR"}}, "locales", "positive"),
        ({"shop_id": 0}, "shop_id", "greater than or equal to 1"),
        ({"namespace": ""}, "namespace", "at least 1"),
    ],
    ids=lambda value: value if isinstance(value, str) else "",
)
def test_invalid_settings_name_the_field(changes: dict, field: str, fragment: str) -> None:
    found = errors(**changes)
    assert field in found, found
    assert fragment in found[field]


def test_messages_never_echo_the_key() -> None:
    found = errors(webservice_key="secret value with spaces")
    assert "secret value" not in str(found)


def test_unknown_keys_are_refused() -> None:
    assert errors(api_key="x") == {"api_key": "Extra inputs are not permitted"}


def test_cart_link_template() -> None:
    settings = Settings(**VALID, cart_url="https://s.test/cart?c={cart_id}&u={customer_id}&x={{y}}")
    assert settings.cart_link("12", "7") == "https://s.test/cart?c=12&u=7&x={y}"


def test_locales_from_toml_string_keys() -> None:
    assert Settings(**VALID, locales={"2": "en-GB"}).locales == {2: "en-GB"}
