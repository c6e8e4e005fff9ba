"""Settings of the PrestaShop brick, validated from ``[bricks.prestashop]`` in ``hub.toml``.

Everything that can be checked without calling the shop is checked here, when ``hub config
validate`` loads the file: a misspelt time zone would shift every event by hours and a zero
abandonment delay would flag carts still being filled, so both fail at start-up with the
setting's dotted path instead of producing wrong events at night.
"""

from __future__ import annotations

import re
from datetime import timedelta
from string import Formatter
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    Field,
    SecretStr,
    field_validator,
)

from hub.sdk.http import HttpBrickSettings
from hub.sdk.settings import Duration, parse_duration

__all__ = ["CART_URL_FIELDS", "Duration", "PrestaShopSettings", "parse_duration"]

#: Placeholders a ``cart_url`` template may use.
CART_URL_FIELDS = frozenset({"cart_id", "customer_id"})
_LOCALE = re.compile(r"^[a-z]{2,3}(?:[-_][A-Za-z0-9]{2,8})*$")


class PrestaShopSettings(HttpBrickSettings):
    """One PrestaShop shop reached through its webservice (``{base_url}/api/...``)."""

    base_url: str
    """Root URL of the shop (``https://shop.example.com``); the webservice answers under /api."""
    webservice_key: SecretStr
    """Webservice key (Advanced Parameters > Webservice), sent as the Basic-auth user name."""
    time_zone: str
    """The shop's time zone (International > Localization, ``PS_TIMEZONE``), e.g. Europe/Paris.

    PrestaShop stores dates in that zone's wall-clock time without an offset; the brick converts
    them to UTC with it (DST included), so it must be the shop's own setting."""
    abandonment_delay: Duration = Field(default="1h", validate_default=True)
    """How long a cart must stay untouched, without an order, before it counts as abandoned."""
    first_poll_lookback: Duration = Field(default="7d", validate_default=True)
    """History the first poll or pull (no cursor yet) reads, per stream, counted back from
    the stream's bound (``now - abandonment_delay`` for carts, ``now - settle_delay`` else)."""
    settle_delay: Duration = Field(default="2m", validate_default=True)
    """How far behind the present orders and customers are read, so every row written in one
    second is committed before that second is passed (also absorbs hub/shop clock drift)."""
    page_size: int = Field(default=50, ge=1, le=200)
    """Rows per webservice list call (``limit``), per stream and per page. At most 200: a
    page's lookups put every id in one URL (``filter[id]=[1|2|...]``), which must stay short."""
    namespace: str = Field(default="prestashop", min_length=1, max_length=64)
    """Namespace of the shop's customer ids in the hub (one per shop when you run several)."""
    cart_url: str | None = None
    """Link put in ``cart.abandoned`` events, with ``{cart_id}`` / ``{customer_id}``
    placeholders, e.g. ``https://shop.example.com/cart?action=show``; unset, no link."""
    shop_id: int | None = Field(default=None, ge=1)
    """Multistore only: the ``id_shop`` whose data the webservice returns."""
    locales: dict[int, str] = Field(default_factory=dict)
    """``id_lang`` -> locale (``{1 = "fr-FR", 2 = "en-GB"}``) for contacts; unmapped: no locale."""

    @field_validator("base_url")
    @classmethod
    def _shop_root(cls, value: str) -> str:
        if value.endswith("/api"):
            raise ValueError("give the shop's root URL, without /api (the brick adds it)")
        if "?" in value or "#" in value:
            raise ValueError("must be a plain URL without query or fragment")
        return value

    @field_validator("webservice_key")
    @classmethod
    def _key_shape(cls, value: SecretStr) -> SecretStr:
        key = value.get_secret_value()
        if not key or any(char.isspace() for char in key) or ":" in key:
            raise ValueError(
                "must be the webservice key itself (PrestaShop generates 32 letters and digits)"
            )
        return value

    @field_validator("time_zone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                "unknown time zone: use an IANA name such as Europe/Paris or America/New_York"
            ) from None
        return value

    @field_validator("abandonment_delay")
    @classmethod
    def _abandonment(cls, value: timedelta) -> timedelta:
        if value < timedelta(minutes=5):
            raise ValueError("must be at least 5m: a shorter delay flags carts still being filled")
        if value > timedelta(days=30):
            raise ValueError("must be at most 30d")
        return value

    @field_validator("first_poll_lookback")
    @classmethod
    def _lookback(cls, value: timedelta) -> timedelta:
        if not timedelta(0) < value <= timedelta(days=366):
            raise ValueError("must be longer than zero and at most 366d")
        return value

    @field_validator("settle_delay")
    @classmethod
    def _settle(cls, value: timedelta) -> timedelta:
        if not timedelta(seconds=10) <= value <= timedelta(hours=6):
            raise ValueError("must be between 10s and 6h: rows of one second commit together")
        return value

    @field_validator("cart_url")
    @classmethod
    def _cart_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not value.startswith(("https://", "http://")):
            raise ValueError("must be an absolute http(s) URL")
        try:
            names = {name for _, name, _, _ in Formatter().parse(value) if name is not None}
        except ValueError:
            raise ValueError("broken placeholder: write {cart_id}, and {{ }} for braces") from None
        unknown = sorted(names - CART_URL_FIELDS)
        if unknown:
            raise ValueError(
                f"unknown placeholder {unknown[0]!r}: use {{cart_id}} or {{customer_id}}"
            )
        return value

    @field_validator("locales")
    @classmethod
    def _locales(cls, value: dict[int, str]) -> dict[int, str]:
        for id_lang, locale in value.items():
            if id_lang < 1:
                raise ValueError("language ids (id_lang) are positive integers")
            if not _LOCALE.match(locale):
                raise ValueError(f"id_lang {id_lang}: a locale looks like fr-FR or en")
        return value

    @property
    def zone(self) -> ZoneInfo:
        """The shop's zone as an object (validated above, so this cannot fail)."""
        return ZoneInfo(self.time_zone)

    def cart_link(self, cart_id: str, customer_id: str) -> str | None:
        """The ``cart_url`` template filled for one cart, or ``None`` when none is set."""
        if self.cart_url is None:
            return None
        return self.cart_url.format(cart_id=cart_id, customer_id=customer_id)
