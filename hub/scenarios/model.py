"""The flow part of ``[scenarios.<name>]``: trigger, conditions, steps, channels, cancel-if.

A scenario is declared once in config and read by two parts of the core: the pressure ledger
(kind, priority, weight, cap, max delay: ``hub.pressure.rules.ScenarioSettings``) and the
scheduler and worker (this module). ``ScenarioSettings`` extends ``ScenarioFlow``, so one TOML
table holds both and ``hub config validate`` reports either with the same dotted path.

Only this package and ``contracts`` are imported here: the pressure rules import this module.
"""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Annotated, Any, Self

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from contracts import Channel
from contracts.events import EVENT_TYPE_PATTERN
from contracts.outcomes import OutcomeType
from hub.durations import DURATION_PATTERN, Duration, format_duration, parse_duration

__all__ = [
    "Condition",
    "Delay",
    "Inactivity",
    "Operator",
    "ScenarioFlow",
    "Step",
    "format_delay",
    "parse_delay",
]

_FLOW = ConfigDict(extra="forbid", frozen=True)
_EVENT_TYPE = EVENT_TYPE_PATTERN.pattern
#: ``total``, ``shipping.country``: dotted keys into the event payload (no list indexes).
FIELD_PATH = r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$"
_ZERO = re.compile(r"\s*(?:0+|(?:0+[wdhms])+|P(?:0+D)?(?:T0+[HMS])?)\s*")


def parse_delay(text: str) -> timedelta:
    """A duration that may be zero (``"0s"``: the first step of a flow goes out at once)."""
    if _ZERO.fullmatch(text) and text.strip() != "P":
        return timedelta(0)
    if text.strip().startswith("-"):
        raise ValueError(f"invalid delay {text.strip()[:40]!r}: must be zero or more")
    return parse_duration(text)


def format_delay(value: timedelta) -> str:
    return "0s" if value == timedelta(0) else format_duration(value)


def _validate_delay(value: object) -> timedelta:
    if isinstance(value, str):
        return parse_delay(value)
    if isinstance(value, timedelta):
        if value < timedelta(0) or value.microseconds:
            raise ValueError(f"invalid delay {value!r}: give whole seconds, zero or more")
        return value
    raise ValueError(f"invalid delay {value!r:.40}: use a number and a unit, e.g. 0s, 1h, 3d")


#: Like ``Duration`` but zero is allowed: the delay of a step after its trigger.
Delay = Annotated[
    timedelta,
    BeforeValidator(_validate_delay),
    PlainSerializer(format_delay, return_type=str),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": DURATION_PATTERN.replace("^", "^(?:0+[wdhms]?|", 1).replace("$", ")$"),
            "description": "A delay with units (0s, 1h, 3d) or ISO 8601 (PT1H); zero allowed.",
            "examples": ["0s", "1h", "24h"],
        }
    ),
]

Scalar = str | int | float | bool


class Operator(StrEnum):
    EQ = "eq"
    NE = "ne"
    GT = "gt"
    GTE = "gte"
    LT = "lt"
    LTE = "lte"
    IN = "in"
    EXISTS = "exists"


_ORDERING = {Operator.GT, Operator.GTE, Operator.LT, Operator.LTE}


def _number(value: Any) -> Decimal | None:
    """Payload amounts arrive as JSON numbers or as decimal strings ("59.90")."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = Decimal(str(value)) if isinstance(value, int | float | str) else None
    except InvalidOperation:
        return None
    return number if number is not None and number.is_finite() else None


def _equal(actual: Any, expected: Scalar) -> bool:
    if isinstance(expected, bool) or isinstance(actual, bool):
        return actual is expected
    if isinstance(expected, int | float):
        number = _number(actual)
        return number is not None and number == _number(expected)
    return isinstance(actual, str) and actual == expected


class Condition(BaseModel):
    """``{field = "total", op = "gte", value = 50}``: one test on the trigger's payload.

    A missing field fails every test except ``ne``/``exists`` (``exists`` with ``value = false``
    asks for its absence). Numbers compare as decimals, so ``"59.90"`` in a payload is >= 50.
    """

    model_config = _FLOW

    field: str = Field(pattern=FIELD_PATH, max_length=256)
    op: Operator
    value: Scalar | list[Scalar] = True

    @model_validator(mode="after")
    def _value_fits(self) -> Self:
        if self.op is Operator.IN:
            if not isinstance(self.value, list) or not self.value:
                raise ValueError("'in' needs a non-empty list of values")
        elif isinstance(self.value, list):
            raise ValueError(f"{self.op.value!r} takes one value, not a list")
        elif self.op is Operator.EXISTS and not isinstance(self.value, bool):
            raise ValueError("'exists' takes true or false")
        elif self.op in _ORDERING and _number(self.value) is None:
            raise ValueError(f"{self.op.value!r} compares numbers: give a number")
        return self

    def matches(self, payload: dict[str, Any]) -> bool:
        found, actual = _lookup(payload, self.field)
        if self.op is Operator.EXISTS:
            return found is self.value
        if not found:
            return self.op is Operator.NE
        if self.op is Operator.EQ:
            return _equal(actual, self.value)  # type: ignore[arg-type]
        if self.op is Operator.NE:
            return not _equal(actual, self.value)  # type: ignore[arg-type]
        if self.op is Operator.IN:
            return any(_equal(actual, option) for option in self.value)  # type: ignore[union-attr]
        left, right = _number(actual), _number(self.value)
        if left is None or right is None:
            return False
        return {
            Operator.GT: left > right,
            Operator.GTE: left >= right,
            Operator.LT: left < right,
            Operator.LTE: left <= right,
        }[self.op]


def _lookup(payload: Any, path: str) -> tuple[bool, Any]:
    current = payload
    for key in path.split("."):
        if not isinstance(current, dict) or key not in current:
            return False, None
        current = current[key]
    return True, current


class Step(BaseModel):
    """One message of a flow: ``delay`` after the trigger, a template, optional channels."""

    model_config = _FLOW

    delay: Delay = Field(default=timedelta(0), description="After the trigger event; 0s allowed.")
    template: str = Field(max_length=256, description="The brick's template name.")
    channels: list[Channel] | None = Field(
        default=None, description="Overrides the scenario's channel preference for this step."
    )

    @field_validator("template")
    @classmethod
    def _named(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must name a template")
        return value

    @field_validator("channels")
    @classmethod
    def _channels(cls, value: list[Channel] | None) -> list[Channel] | None:
        if value is not None:
            _unique_channels(value)
        return value


class Inactivity(BaseModel):
    """``{after = "90d", events = ["order.placed"], outcomes = ["opened"]}``: customers with
    none of these events or outcomes for ``after`` get the flow (once per period)."""

    model_config = _FLOW

    after: Duration
    events: list[Annotated[str, Field(pattern=_EVENT_TYPE, max_length=128)]] = Field(
        default_factory=list, description="Event types that count as activity."
    )
    outcomes: list[OutcomeType] = Field(
        default_factory=list, description="Delivery outcomes that count as activity."
    )

    @model_validator(mode="after")
    def _some_activity(self) -> Self:
        if not self.events and not self.outcomes:
            raise ValueError("name the events and/or outcomes that count as activity")
        return self


def _unique_channels(channels: list[Channel]) -> None:
    if len(set(channels)) != len(channels):
        raise ValueError("each channel once, in order of preference")


class ScenarioFlow(BaseModel):
    """What starts a scenario, what it sends and when, and what stops it."""

    model_config = ConfigDict(extra="forbid")

    trigger: str | None = Field(
        default=None,
        pattern=_EVENT_TYPE,
        max_length=128,
        description='Event type that starts the flow, e.g. "cart.abandoned".',
    )
    conditions: list[Condition] = Field(
        default_factory=list, description="All must hold on the trigger's payload."
    )
    inactivity: Inactivity | None = Field(
        default=None, description="Starts the flow for inactive customers instead of a trigger."
    )
    steps: list[Step] = Field(default_factory=list, max_length=20)
    channels: list[Channel] = Field(
        default_factory=list, description="Preference order; the next is tried on refusal."
    )
    cancel_if: list[Annotated[str, Field(pattern=_EVENT_TYPE, max_length=128)]] = Field(
        default_factory=list,
        description="Event types that cancel the customer's pending steps when they occur "
        "after the trigger.",
    )
    variables: list[Annotated[str, Field(pattern=FIELD_PATH, max_length=256)]] = Field(
        default_factory=list,
        max_length=50,
        description="Payload paths of the trigger event handed to the template "
        '(e.g. ["cart_url", "total"]); nothing else from the payload leaves the core.',
    )

    @field_validator("channels")
    @classmethod
    def _channels(cls, value: list[Channel]) -> list[Channel]:
        _unique_channels(value)
        return value

    @field_validator("variables")
    @classmethod
    def _variables(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("each variable once")
        return value

    @model_validator(mode="after")
    def _coherent(self) -> Self:
        if self.variables and not self.trigger:
            raise ValueError("variables come from the trigger's payload: give a trigger")
        if self.trigger and self.inactivity:
            raise ValueError("give a trigger or inactivity, not both")
        if self.conditions and not self.trigger:
            raise ValueError("conditions test the trigger's payload: give a trigger")
        if (self.trigger or self.inactivity) and not self.steps:
            raise ValueError("a triggered scenario needs at least one step")
        if self.steps and not (self.trigger or self.inactivity):
            raise ValueError("steps need a trigger or inactivity to start them")
        if self.steps and not self.channels and any(s.channels is None for s in self.steps):
            raise ValueError("give channels, for the scenario or for every step")
        return self

    def step_channels(self, step: int) -> list[Channel]:
        own = self.steps[step].channels
        return list(own) if own is not None else list(self.channels)

    def matches(self, payload: dict[str, Any]) -> bool:
        return all(condition.matches(payload) for condition in self.conditions)
