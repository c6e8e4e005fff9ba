"""Settings of the Magento brick, validated by the core from ``[bricks.magento]`` in ``hub.toml``.

Everything that can be checked without calling the shop is checked here, so a base URL that
points at ``/V1`` or the storefront, a delay of ``"1 hour"`` or a cart link with an unknown
placeholder fails ``hub config validate`` with its dotted path instead of the first poll.
"""

from __future__ import annotations

import re
from datetime import timedelta
from string import Formatter
from urllib.parse import urlsplit

from pydantic import (
    Field,
    SecretStr,
    field_validator,
)

from hub.sdk.http import HttpBrickSettings
from hub.sdk.settings import Duration, format_duration, parse_duration

__all__ = ["CART_URL_FIELDS", "MagentoSettings", "format_duration", "parse_duration"]

#: Placeholders a ``cart_url`` template may use.
CART_URL_FIELDS = frozenset({"cart_id"})

_NAMESPACE = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")
_TOKEN = re.compile(r"^\S{16,256}$")


def _within(
    value: timedelta, low: timedelta, high: timedelta, low_text: str, high_text: str
) -> None:
    if not low <= value <= high:
        raise ValueError(f"must be between {low_text} and {high_text}")


class MagentoSettings(HttpBrickSettings):
    """One Magento 2 / Adobe Commerce store view, read through its admin REST API."""

    base_url: str
    """The store's REST root, e.g. ``https://shop.example.com/rest/default`` (``/V1/...`` is
    appended to it); ``/rest/all`` or ``/rest`` alone also work."""
    access_token: SecretStr
    """Access token of the Magento Integration (System > Integrations), sent as a bearer token."""
    abandonment_delay: Duration = Field(default="1h", validate_default=True)
    """A cart untouched this long (and still active, with an email) is ``cart.abandoned``."""
    first_poll_lookback: Duration = Field(default="7d", validate_default=True)
    """How far back the very first poll (no stored cursor yet) starts."""
    settle_delay: Duration = Field(default="1m", validate_default=True)
    """Orders and customers younger than this are left for the next poll, so a record written
    by a transaction still committing when the shop is read (or later in the same second) is
    not skipped. At least one second: Magento's timestamps have no finer grain."""
    page_size: int = Field(default=100, ge=1, le=500)
    """Records per search call (``searchCriteria[pageSize]``), per stream."""
    namespace: str = "magento"
    """Namespace of the ``shop_customer_id`` identifiers (one per shop if several feed the hub)."""
    cart_url: str | None = None
    """Link put in ``cart.abandoned``: a URL, or a template with ``{cart_id}``
    (``https://shop.example.com/recover?cart={cart_id}``). Unset: no link."""

    @field_validator("base_url")
    @classmethod
    def _rest_root(cls, value: str) -> str:
        segments = [s for s in urlsplit(value).path.split("/") if s]
        if segments and segments[-1].upper() == "V1":
            raise ValueError("must stop before /V1: the brick appends /V1/... itself")
        if "rest" not in segments[-2:]:
            raise ValueError(
                "must be the store's REST root ending in /rest or /rest/<store code>, "
                "e.g. https://shop.example.com/rest/default"
            )
        return value

    @field_validator("access_token")
    @classmethod
    def _token(cls, value: SecretStr) -> SecretStr:
        if not _TOKEN.match(value.get_secret_value()):
            raise ValueError("must be the integration's access token: 16-256 characters, no spaces")
        return value

    @field_validator("abandonment_delay")
    @classmethod
    def _abandonment(cls, value: timedelta) -> timedelta:
        _within(value, timedelta(minutes=5), timedelta(days=30), "5m", "30d")
        return value

    @field_validator("first_poll_lookback")
    @classmethod
    def _lookback(cls, value: timedelta) -> timedelta:
        _within(value, timedelta(minutes=1), timedelta(days=365), "1m", "365d")
        return value

    @field_validator("settle_delay")
    @classmethod
    def _settle(cls, value: timedelta) -> timedelta:
        _within(value, timedelta(seconds=1), timedelta(hours=1), "1s", "1h")
        return value

    @field_validator("namespace")
    @classmethod
    def _namespace(cls, value: str) -> str:
        if not _NAMESPACE.match(value):
            raise ValueError("1-64 lower-case letters, digits, '_', '.' or '-'")
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
        unknown = names - CART_URL_FIELDS
        if unknown:
            raise ValueError(f"unknown placeholder(s) {sorted(unknown)}: only {{cart_id}}")
        return value

    def cart_link(self, cart_id: str) -> str | None:
        """The ``cart_url`` for one cart (``None`` when no link is configured)."""
        if self.cart_url is None:
            return None
        return self.cart_url.format(cart_id=cart_id)
