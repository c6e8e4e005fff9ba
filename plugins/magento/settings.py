"""Settings of the Magento brick, validated by the core from ``[bricks.magento]`` in ``hub.toml``.

Everything that can be checked without calling the shop is checked here, so a base URL that
points at ``/V1`` or the storefront, a delay of ``"1 hour"`` or a cart link with an unknown
placeholder fails ``hub config validate`` with its dotted path instead of the first poll.
"""

from __future__ import annotations

import re
from datetime import timedelta
from string import Formatter
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import (
    BeforeValidator,
    Field,
    PlainSerializer,
    SecretStr,
    WithJsonSchema,
    field_validator,
)

from hub.sdk.http import HttpBrickSettings

__all__ = ["CART_URL_FIELDS", "MagentoSettings", "format_duration", "parse_duration"]

#: Placeholders a ``cart_url`` template may use.
CART_URL_FIELDS = frozenset({"cart_id"})

_UNITS = {"w": 604_800, "d": 86_400, "h": 3_600, "m": 60, "s": 1}
_DURATION = re.compile("".join(rf"(?:(?P<{unit}>\d{{1,6}}){unit})?" for unit in _UNITS))
_DURATION_HINT = "use a number and a unit, largest first, e.g. 30m, 1h, 7d, 1d12h"
_NAMESPACE = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")
_TOKEN = re.compile(r"^\S{16,256}$")


def parse_duration(text: str) -> timedelta:
    """``"90s"``, ``"15m"``, ``"1h"``, ``"7d"``, ``"2w"``, ``"1d12h"`` -> ``timedelta``.

    People write config, so the unit is always spelled out: a bare ``3600`` could mean seconds
    or minutes. ``"0s"`` is a valid (zero) duration; bounds are each setting's business.
    """
    match = _DURATION.fullmatch(text.strip())
    if not text.strip() or match is None or not any(match.groupdict().values()):
        raise ValueError(f"not a duration: {_DURATION_HINT}")
    return timedelta(
        seconds=sum(int(n) * _UNITS[unit] for unit, n in match.groupdict().items() if n)
    )


def format_duration(value: timedelta) -> str:
    """The compact form ``parse_duration`` reads back (``timedelta(hours=36)`` -> ``"1d12h"``)."""
    remaining = int(value.total_seconds())
    if remaining == 0:
        return "0s"
    parts = []
    for unit, size in _UNITS.items():
        if unit != "w" and remaining >= size:
            count, remaining = divmod(remaining, size)
            parts.append(f"{count}{unit}")
    return "".join(parts)


def _duration(value: object) -> timedelta:
    if isinstance(value, timedelta):
        return value
    if isinstance(value, str):
        return parse_duration(value)
    raise ValueError(f"must be text with a unit: {_DURATION_HINT}")


#: A duration written with units in TOML, a ``timedelta`` in code.
DurationText = Annotated[
    timedelta,
    BeforeValidator(_duration),
    PlainSerializer(format_duration, return_type=str),
    WithJsonSchema({"type": "string", "examples": ["1h", "7d"]}),
]


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
    abandonment_delay: DurationText = Field(default="1h", validate_default=True)
    """A cart untouched this long (and still active, with an email) is ``cart.abandoned``."""
    first_poll_lookback: DurationText = Field(default="7d", validate_default=True)
    """How far back the very first poll (no stored cursor yet) starts."""
    settle_delay: DurationText = Field(default="1m", validate_default=True)
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
