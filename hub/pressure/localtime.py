"""Local-time arithmetic for calendar windows and quiet hours, safe across DST changes.

A local wall-clock time can occur twice (autumn) or never (spring). Rules are about what the
person experiences, so boundaries are computed in local time and converted to the exact UTC
instant at which the wall clock first shows (or jumps past) that time.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

__all__ = ["first_instant_at", "in_quiet_hours", "next_quiet_end", "period_bounds"]

_EPSILON = timedelta(microseconds=1)
#: Quiet hours last less than a day, plus at most a few hours of offset change.
_QUIET_HORIZON = timedelta(days=3)


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
    return _local_period_bounds(_local(instant, zone).date(), period, zone)


@lru_cache(maxsize=8192)
def _local_period_bounds(local: date, period: str, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """Cached on (local date, period, zone): a ``ZoneInfo`` hashes by identity, so two zones
    built from different data never share an entry."""
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


def _offset(instant: datetime, zone: ZoneInfo) -> timedelta | None:
    return _local(instant, zone).utcoffset()


def _transition(low: datetime, high: datetime, zone: ZoneInfo) -> list[datetime]:
    """The instant in (low, high] at which ``zone`` changes its UTC offset (the first instant of
    the new offset), if any. ``high - low`` is a few days: no zone changes twice so quickly."""
    before = _offset(low, zone)
    if _offset(high, zone) == before:
        return []
    while high - low > _EPSILON:
        middle = low + (high - low) / 2
        if _offset(middle, zone) == before:
            low = middle
        else:
            high = middle
    return [high]


def _readings(day: date, wall: time, zone: ZoneInfo) -> list[datetime]:
    """The instants at which the clock reads ``wall`` on ``day``: none (skipped in spring),
    one, or two (repeated in autumn)."""
    naive = datetime.combine(day, wall)
    found: list[datetime] = []
    for fold in (0, 1):
        moment = naive.replace(tzinfo=zone, fold=fold).astimezone(UTC)
        if moment not in found and _local(moment, zone).replace(tzinfo=None) == naive:
            found.append(moment)
    return found


def next_quiet_end(instant: datetime, start: time, end: time, zone: ZoneInfo) -> datetime:
    """The first instant after ``instant`` at which quiet hours (containing it) are over.

    Inside quiet hours the wall clock leaves them either by reading ``end`` or by jumping at an
    offset change. Reading ``end`` on the next calendar day is not enough: in autumn the
    repeated hour shows ``end`` twice (quiet 01:00-02:30 at 02:10 after the clocks went back
    ends at the *second* 02:30 that same night, not the next day), and going back can even jump
    out of the window (quiet 02:30-05:00 at 02:45 summer time ends when the clock goes back to
    02:00). So the candidates are every instant at which the clock reads ``end`` (either fold)
    and every offset change; the answer is the first of them outside quiet hours.
    """
    local_day = _local(instant, zone).date()
    change = _transition(instant, instant + _QUIET_HORIZON, zone)
    if not change:  # the clock runs straight on from here: the next reading of ``end`` it is
        for offset in range(0, 3):
            later = [
                m for m in _readings(local_day + timedelta(days=offset), end, zone) if m > instant
            ]
            if later:
                return min(later)
    candidates = set(change)
    for offset in range(-1, 4):
        candidates.update(_readings(local_day + timedelta(days=offset), end, zone))
    for candidate in sorted(c for c in candidates if c > instant):
        if not in_quiet_hours(candidate, start, end, zone):
            return candidate
    raise AssertionError("quiet hours always end within two days")  # pragma: no cover
