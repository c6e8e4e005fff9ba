"""The shop's wall clock: PrestaShop dates are local times without an offset.

PrestaShop writes ``date_add`` / ``date_upd`` as ``YYYY-MM-DD HH:MM:SS`` in the shop's time zone
(``PS_TIMEZONE``), so the same text can name two instants (the repeated hour when DST ends) or
none (the skipped hour when it starts). Two different questions follow, answered here:

* **Which instant was it?** ``to_utc``: an ambiguous time is read as its first occurrence, a
  skipped time as the instant the clock jumped (the first real instant after it). Both rules
  keep the conversion monotonic: a later wall-clock text never maps to an earlier instant.
* **How far may a keyset read go?** ``settled_bound``: rows keep being written with wall-clock
  texts of the repeated hour during its *second* pass, below a cursor that already went
  through the first pass. So a read never moves into a repeated hour until both passes are
  over; until then it stops just before the hour starts.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

__all__ = [
    "SHOP_FORMAT",
    "ShopDateError",
    "format_shop",
    "parse_shop",
    "settled_bound",
    "to_local",
    "to_utc",
]

#: How the webservice writes (and filters on) dates.
SHOP_FORMAT = "%Y-%m-%d %H:%M:%S"
_SECOND = timedelta(seconds=1)


class ShopDateError(ValueError):
    """A date the shop sent is not ``YYYY-MM-DD HH:MM:SS``."""


def parse_shop(text: object) -> datetime | None:
    """A naive local datetime from the webservice's text; ``None`` for an unset date.

    PrestaShop writes an unset date as ``0000-00-00 00:00:00`` (MySQL's zero date) or leaves it
    empty. Anything else that is not exactly the documented format raises ``ShopDateError``.
    """
    if text is None:
        return None
    if not isinstance(text, str):
        raise ShopDateError("not a date text")
    value = text.strip()
    if not value or value.startswith("0000-00-00"):
        return None
    try:
        parsed = datetime.strptime(value, SHOP_FORMAT)  # naive on purpose: shop wall clock
    except ValueError:
        raise ShopDateError("not a YYYY-MM-DD HH:MM:SS date") from None
    return parsed


def format_shop(local: datetime) -> str:
    """The text the webservice compares ``date_upd`` with (second precision, no offset)."""
    return local.replace(microsecond=0).strftime(SHOP_FORMAT)


def _wall(instant: datetime, zone: ZoneInfo) -> datetime:
    return instant.astimezone(zone).replace(tzinfo=None, fold=0)


def _transition(zone: ZoneInfo, start: datetime, end: datetime) -> datetime:
    """The first instant (to the second) in ``(start, end]`` with ``end``'s UTC offset.

    A bisection: zones change offset at most once within the few hours around a gap or fold.
    """
    target = end.astimezone(zone).utcoffset()
    low, high = start, end
    while high - low > _SECOND:
        middle = low + (high - low) / 2
        middle = middle.replace(microsecond=0)
        if middle <= low:
            middle = low + _SECOND
        if middle.astimezone(zone).utcoffset() == target:
            high = middle
        else:
            low = middle
    return high


def to_utc(local: datetime, zone: ZoneInfo) -> datetime:
    """The instant a shop wall-clock time names (aware, UTC); see the module docstring."""
    naive = local.replace(tzinfo=None, fold=0)
    first = naive.replace(tzinfo=zone, fold=0).astimezone(UTC)
    if _wall(first, zone) == naive:
        return first  # a real wall-clock time; fold=0 is its first occurrence
    # Skipped by a forward jump: fold=1 reads it with the offset after the jump (earlier
    # instant), fold=0 with the offset before it (later instant); the jump is in between.
    second = naive.replace(tzinfo=zone, fold=1).astimezone(UTC)
    return _transition(zone, min(first, second), max(first, second))


def to_local(instant: datetime, zone: ZoneInfo) -> datetime:
    """The shop's wall-clock time (naive) at ``instant`` (aware)."""
    if instant.tzinfo is None:
        raise ValueError("instant must be timezone-aware")
    return _wall(instant, zone)


def settled_bound(instant: datetime, zone: ZoneInfo) -> datetime:
    """The latest wall-clock time a keyset read may reach at ``instant``.

    Normally the wall-clock time of ``instant``. Inside a repeated hour (either pass), the
    second just before that hour begins, because texts of the hour are still being written.
    """
    wall = to_local(instant, zone)
    earlier = wall.replace(tzinfo=zone, fold=0).utcoffset()
    later = wall.replace(tzinfo=zone, fold=1).utcoffset()
    if earlier == later or earlier is None or later is None or later > earlier:
        return wall  # unambiguous (a gap has later > earlier, and ``wall`` is never in one)
    # ``wall`` is repeated: find where the repeated span starts on the wall clock. The fold=0
    # instant is the first pass; the clock fell back at the transition after it.
    first_pass = wall.replace(tzinfo=zone, fold=0).astimezone(UTC)
    second_pass = wall.replace(tzinfo=zone, fold=1).astimezone(UTC)
    fell_back = _transition(zone, first_pass, second_pass)
    return _wall(fell_back, zone) - _SECOND
