"""Local-time arithmetic for calendar windows and quiet hours, safe across DST changes.

A local wall-clock time can occur twice (autumn) or never (spring). Rules are about what the
person experiences, so boundaries are computed in local time and converted to the exact UTC
instant at which the wall clock first shows (or jumps past) that time.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

__all__ = ["first_instant_at", "in_quiet_hours", "next_quiet_end", "period_bounds"]

_EPSILON = timedelta(microseconds=1)


def _local(instant: datetime, zone: ZoneInfo) -> datetime:
    return instant.astimezone(zone)


def first_instant_at(day: date, wall: time, zone: ZoneInfo) -> datetime:
    """The first UTC instant at which the local clock of ``zone`` on ``day`` reads >= ``wall``.

    Normally that is ``day wall`` itself (the earlier of two occurrences in autumn). When the
    wall time falls in a spring-forward gap it does not exist: the answer is the transition
    instant, found by bisection between the two possible readings.
    """
    naive = datetime.combine(day, wall)
    early = naive.replace(tzinfo=zone, fold=0).astimezone(UTC)
    late = naive.replace(tzinfo=zone, fold=1).astimezone(UTC)
    first = min(early, late)
    if _local(first, zone).replace(tzinfo=None) == naive:
        return first
    # In a gap: local time jumps from before ``wall`` to after it between the two readings.
    low, high = min(early, late), max(early, late)
    while high - low > _EPSILON:
        middle = low + (high - low) / 2
        if _local(middle, zone).replace(tzinfo=None) >= naive:
            high = middle
        else:
            low = middle
    return high


def period_bounds(instant: datetime, period: str, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """[start, end) in UTC of the local day / week (Monday) / month containing ``instant``."""
    local = _local(instant, zone).date()
    if period == "day":
        start, end = local, local + timedelta(days=1)
    elif period == "week":
        start = local - timedelta(days=local.weekday())
        end = start + timedelta(days=7)
    elif period == "month":
        start = local.replace(day=1)
        end = (start + timedelta(days=32)).replace(day=1)
    else:
        raise ValueError(f"unknown calendar period {period!r}")
    return first_instant_at(start, time(0), zone), first_instant_at(end, time(0), zone)


def in_quiet_hours(instant: datetime, start: time, end: time, zone: ZoneInfo) -> bool:
    wall = _local(instant, zone).time().replace(tzinfo=None)
    if start < end:
        return start <= wall < end
    return wall >= start or wall < end


def next_quiet_end(instant: datetime, start: time, end: time, zone: ZoneInfo) -> datetime:
    """The first instant after ``instant`` at which quiet hours (containing it) are over."""
    local_day = _local(instant, zone).date()
    for offset in range(0, 3):
        candidate = first_instant_at(local_day + timedelta(days=offset), end, zone)
        if candidate > instant:
            return candidate
    raise AssertionError("quiet hours always end within two days")  # pragma: no cover
