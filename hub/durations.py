"""Durations in the central config: ``link_ttl = "180d"``, caps like ``"7d"`` or ``"48h"``.

Config is written by people, so durations are short text with explicit units rather than bare
numbers of seconds, which are easy to get wrong by a factor of 60 or 3600. Months and years are
refused: their length varies, and a retention period must mean the same thing every time.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated

from pydantic import BeforeValidator, PlainSerializer, WithJsonSchema

__all__ = ["DURATION_PATTERN", "Duration", "format_duration", "parse_duration"]

#: Seconds per unit of the compact form, largest first (the order units must be written in).
_UNITS: dict[str, int] = {"w": 604_800, "d": 86_400, "h": 3_600, "m": 60, "s": 1}
#: Unit spellings people reach for that mean months or years.
_CALENDAR_UNITS = frozenset(
    {"y", "yr", "yrs", "year", "years", "mo", "mos", "mon", "month", "months", "M"}
)

_NUM = "[0-9]+"
_COMPACT = "".join(f"(?:(?P<{unit}>{_NUM}){unit})?" for unit in _UNITS)
_ISO = (
    f"P(?:(?P<iso_w>{_NUM})W)?(?:(?P<iso_d>{_NUM})D)?"
    f"(?:T(?=[0-9])(?:(?P<iso_h>{_NUM})H)?(?:(?P<iso_m>{_NUM})M)?(?:(?P<iso_s>{_NUM})S)?)?"
)
_DURATION = re.compile(rf"\s*(?:{_COMPACT}|{_ISO})\s*")
#: The same grammar for JSON Schema (ECMA-262: no named groups). It cannot express "at least one
#: component", so it accepts a few texts ("", "P") that parsing still refuses.
DURATION_PATTERN = "^" + re.sub(r"\?P<\w+>", "", _DURATION.pattern) + "$"

_TOKEN = re.compile(r"([0-9]+)([A-Za-z]+)")
_ISO_CALENDAR = re.compile(r"P[^T]*[0-9][YM]")  # P1Y, P6M, P1W2M; not PT6M (minutes)

_HINT = "use a number and a unit, e.g. 30s, 15m, 48h, 7d, 2w"
_CALENDAR_HINT = "months and years vary in length; use days instead, e.g. 30d or 365d"
_ORDER_HINT = "give each unit once, largest first, e.g. 1d12h"
_POSITIVE_HINT = "must be longer than zero"


def _quote(text: str) -> str:
    """Quote the offending text for a message, cut short so garbage cannot flood the logs."""
    return repr(text) if len(text) <= 40 else repr(text[:40]) + "..."


def _reason(text: str) -> str:
    """Explain why ``text`` (already stripped) is not a duration, as precisely as possible."""
    if text.startswith("-"):
        return _POSITIVE_HINT
    if _ISO_CALENDAR.match(text.upper()):
        return _CALENDAR_HINT
    tokens = _TOKEN.findall(text)
    if tokens and "".join(number + unit for number, unit in tokens) == text:
        units = [unit for _, unit in tokens]
        if any(unit in _CALENDAR_UNITS or unit.lower() in _CALENDAR_UNITS for unit in units):
            return _CALENDAR_HINT
        if all(unit in _UNITS for unit in units):
            return _ORDER_HINT
    return _HINT


def parse_duration(text: str) -> timedelta:
    """Parse ``"1d12h"``, ``"2w"``, ``"90m"`` or ISO 8601 ``"PT1H30M"``, ``"P7D"``.

    Raises ``ValueError`` whose message quotes the text and says how to fix it.
    """
    match = _DURATION.fullmatch(text)
    if match is None or not any(match.groupdict().values()):
        raise ValueError(f"invalid duration {_quote(text)}: {_reason(text.strip())}")
    try:
        seconds = sum(
            int(number) * _UNITS[name.removeprefix("iso_")]
            for name, number in match.groupdict().items()
            if number is not None
        )
        duration = timedelta(seconds=seconds)
    except (OverflowError, ValueError):  # more days than timedelta holds, or absurd digit runs
        raise ValueError(f"invalid duration {_quote(text)}: too long") from None
    if duration <= timedelta(0):
        raise ValueError(f"invalid duration {_quote(text)}: {_POSITIVE_HINT}")
    return duration


def format_duration(value: timedelta) -> str:
    """Write ``value`` in the canonical compact form ``parse_duration`` reads back.

    Weeks are used only when the whole duration is whole weeks, so ``180d`` stays ``"180d"``
    instead of becoming an unreadable ``"25w5d"``; other units are filled largest first
    (``90s`` gives ``"1m30s"``).
    """
    if value <= timedelta(0) or value.microseconds:
        raise ValueError(f"cannot format {value!r}: only positive whole seconds are durations")
    # Not ``total_seconds()``: it is a float, and loses whole seconds on very long durations.
    remaining = value.days * _UNITS["d"] + value.seconds
    if remaining % _UNITS["w"] == 0:
        return f"{remaining // _UNITS['w']}w"
    parts = []
    for unit, size in _UNITS.items():
        if unit != "w" and remaining >= size:
            count, remaining = divmod(remaining, size)
            parts.append(f"{count}{unit}")
    return "".join(parts)


def _validate(value: object) -> timedelta:
    """Accept duration text, or a ``timedelta`` built in code; both must be positive."""
    if isinstance(value, str):
        return parse_duration(value)
    if isinstance(value, timedelta):
        if value <= timedelta(0):
            raise ValueError(f"invalid duration {value!r}: {_POSITIVE_HINT}")
        if value.microseconds:
            raise ValueError(f"invalid duration {value!r}: not whole seconds")
        return value
    # Bare numbers are refused on purpose: seconds? minutes? days? The unit must be written.
    raise ValueError(f"invalid duration {value!r:.40}: {_HINT}")


#: A positive, whole-second duration for config models: ``link_ttl: Duration``.
Duration = Annotated[
    timedelta,
    BeforeValidator(_validate),
    PlainSerializer(format_duration, return_type=str),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": DURATION_PATTERN,
            "description": "A duration with units, largest first (1d12h), or ISO 8601 (P7D).",
            "examples": ["48h", "7d"],
        }
    ),
]
