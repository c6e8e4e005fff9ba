"""``[audiences.<name>]``: a segment in config, e.g. "big spenders interested in cycling".

A definition combines RFM criteria on the orders the hub stored (``order.placed`` events:
recency, frequency, monetary value over a look-back window) with conditions on the customer's
attributes. Every condition must hold (AND). Membership is also gated by consent: only
customers whose latest statement for the audience's ``purpose`` is a grant are members, since a
DMP profiles people (GDPR art. 6 and 21).
"""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from contracts import Purpose
from hub.durations import Duration

__all__ = [
    "AUDIENCE_NAME",
    "AttributeCondition",
    "AudienceSettings",
    "OrderCriteria",
    "check_audience_names",
]

#: The ``contracts.Audience`` name pattern: what a DMP sees as the segment's name.
AUDIENCE_NAME = re.compile(r"^[a-z][a-z0-9_\-]{0,127}$")
_CURRENCY = re.compile(r"^[A-Z]{3}$")

Scalar = str | int | float | bool

_SECTION = ConfigDict(extra="forbid", frozen=True)


class OrderCriteria(BaseModel):
    """RFM on stored ``order.placed`` events within ``within`` of the evaluation time."""

    model_config = _SECTION

    within: Duration = Field(
        default=timedelta(days=365), description="Look-back window for frequency and value."
    )
    min_count: int = Field(default=1, ge=1, description="Frequency: at least this many orders.")
    min_total: Decimal | None = Field(
        default=None, ge=0, description="Monetary: orders in `currency` summing to at least this."
    )
    currency: str | None = Field(
        default=None, description="ISO 4217 code of `min_total`; other currencies do not count."
    )
    last_within: Duration | None = Field(
        default=None, description="Recency: the latest order is at most this old."
    )

    @field_validator("currency")
    @classmethod
    def _iso(cls, value: str | None) -> str | None:
        if value is not None and not _CURRENCY.fullmatch(value):
            raise ValueError("must be a three-letter ISO 4217 code such as EUR")
        return value

    @model_validator(mode="after")
    def _coherent(self) -> OrderCriteria:
        if self.min_total is not None and self.currency is None:
            raise ValueError("min_total needs currency (totals in different currencies don't add)")
        if self.last_within is not None and self.last_within > self.within:
            raise ValueError("last_within cannot be longer than within")
        return self


class AttributeCondition(BaseModel):
    """A test on one attribute; every operator given must hold.

    ``contains`` checks membership in a list attribute (``interests``) or, for text, a
    case-insensitive substring; ``any_of`` matches a value (or any item of a list) among
    several; ``min``/``max`` compare numbers; ``exists`` tests presence.
    """

    model_config = _SECTION

    equals: Scalar | None = None
    any_of: list[Scalar] | None = Field(default=None, min_length=1)
    contains: Scalar | None = None
    min: float | None = None
    max: float | None = None
    exists: bool | None = None

    @model_validator(mode="after")
    def _something(self) -> AttributeCondition:
        if all(
            getattr(self, name) is None
            for name in ("equals", "any_of", "contains", "min", "max", "exists")
        ):
            raise ValueError("give at least one of equals, any_of, contains, min, max, exists")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError("min is greater than max")
        return self

    def matches(self, value: Any) -> bool:
        if self.exists is not None and (value is not None) != self.exists:
            return False
        if value is None:
            return self.exists is False
        items = value if isinstance(value, list) else [value]
        if self.equals is not None and value != self.equals:
            return False
        if self.any_of is not None and not any(item in self.any_of for item in items):
            return False
        if self.contains is not None and not _contains(value, self.contains):
            return False
        return _within(value, self.min, self.max)


def _contains(value: Any, wanted: Scalar) -> bool:
    if isinstance(value, list):
        return wanted in value
    if isinstance(value, str) and isinstance(wanted, str):
        return wanted.casefold() in value.casefold()
    return False


def _within(value: Any, low: float | None, high: float | None) -> bool:
    if low is None and high is None:
        return True
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False  # a range only matches numbers
    return (low is None or value >= low) and (high is None or value <= high)


class AudienceSettings(BaseModel):
    """One segment. An audience with no criteria holds every consented, active customer."""

    model_config = _SECTION

    description: str = Field(default="", max_length=1000)
    purpose: Purpose = Field(
        default=Purpose.PROFILING,
        description="The consent purpose a member must have granted (a DMP profiles people).",
    )
    orders: OrderCriteria | None = None
    attributes: dict[str, AttributeCondition] = Field(default_factory=dict)


def check_audience_names(audiences: dict[str, AudienceSettings]) -> dict[str, AudienceSettings]:
    """Names travel to the DMP as the segment's name, so they follow ``contracts.Audience``."""
    for name in audiences:
        if not AUDIENCE_NAME.fullmatch(name):
            raise ValueError(
                f"{name!r} is not a valid audience name (lower case letters, digits, '-', '_')"
            )
    return audiences
