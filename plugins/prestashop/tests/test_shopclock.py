"""The shop's wall clock: DST-safe conversion to UTC and settled keyset bounds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from plugins.prestashop.shopclock import (
    ShopDateError,
    format_shop,
    parse_shop,
    settled_bound,
    to_local,
    to_utc,
)

PARIS = ZoneInfo("Europe/Paris")
#: DST one way and the other, half-hour shifts, southern hemisphere, no DST at all.
ZONES = [
    "Europe/Paris",
    "America/New_York",
    "America/Santiago",
    "Australia/Lord_Howe",
    "Pacific/Chatham",
    "Asia/Kolkata",
    "UTC",
]
zones = st.sampled_from(ZONES).map(ZoneInfo)
walls = st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2030, 12, 31))
instants = st.datetimes(
    min_value=datetime(2020, 1, 1), max_value=datetime(2030, 12, 31), timezones=st.just(UTC)
)


def exists(wall: datetime, zone: ZoneInfo) -> bool:
    back = wall.replace(tzinfo=zone).astimezone(UTC).astimezone(zone).replace(tzinfo=None)
    return back == wall


@settings(max_examples=400)
@given(wall=walls, zone=zones)
def test_real_wall_times_round_trip(wall: datetime, zone: ZoneInfo) -> None:
    assume(exists(wall, zone))
    instant = to_utc(wall, zone)
    assert instant.tzinfo is UTC
    assert to_local(instant, zone) == wall


@settings(max_examples=400)
@given(first=walls, second=walls, zone=zones)
def test_conversion_is_monotonic(first: datetime, second: datetime, zone: ZoneInfo) -> None:
    early, late = sorted([first, second])
    assert to_utc(early, zone) <= to_utc(late, zone)


def jumps(name: str, *, forward: bool) -> list[tuple[datetime, timedelta]]:
    """Each instant (UTC) the zone's clock jumped forward (or back) in 2020-2030, and by how
    much: random instants almost never land near one, so the properties sample around them."""
    zone = ZoneInfo(name)
    found = []
    day = datetime(2020, 1, 1, tzinfo=UTC)
    while day.year < 2031:
        nxt = day + timedelta(days=1)
        before, after = day.astimezone(zone).utcoffset(), nxt.astimezone(zone).utcoffset()
        moved = before is not None and after is not None and before != after
        if moved and (after > before) is forward:
            low, high = day, nxt
            while high - low > timedelta(seconds=1):
                middle = low + (high - low) / 2
                if middle.astimezone(zone).utcoffset() == after:
                    high = middle
                else:
                    low = middle
            found.append((high.replace(microsecond=0), abs(after - before)))
        day = nxt
    return found


JUMPS = {name: jumps(name, forward=True) for name in ZONES}
FOLDS = {name: jumps(name, forward=False) for name in ZONES}
near_folds = st.sampled_from([name for name in ZONES if FOLDS[name]]).flatmap(
    lambda name: st.tuples(
        st.just(ZoneInfo(name)),
        st.sampled_from(FOLDS[name]),
        st.integers(min_value=-3 * 3600, max_value=2 * 3600),
    ).map(lambda t: (t[1][0] + timedelta(seconds=t[2]), t[0]))
)
anywhere = st.tuples(instants, zones)
gaps = st.sampled_from([name for name in ZONES if JUMPS[name]]).flatmap(
    lambda name: st.tuples(
        st.just(ZoneInfo(name)),
        st.sampled_from(JUMPS[name]),
        st.floats(min_value=0.0, max_value=0.999),
    )
)


@settings(max_examples=300)
@given(gap=gaps)
def test_skipped_times_map_to_the_jump(gap) -> None:
    zone, (jump, size), fraction = gap
    before_jump = to_local(jump - timedelta(seconds=1), zone) + timedelta(seconds=1)
    wall = before_jump + timedelta(seconds=int(size.total_seconds() * fraction))
    assert not exists(wall, zone)
    instant = to_utc(wall, zone)
    assert instant == jump
    assert to_local(instant, zone) > wall  # the clock read past the text at that instant
    assert to_local(instant - timedelta(seconds=1), zone) < wall  # and before it, a second ago


@settings(max_examples=500)
@given(
    moment=st.one_of(near_folds, anywhere), later=st.integers(min_value=0, max_value=4 * 3600)
)
def test_no_later_wall_time_falls_at_or_before_the_settled_bound(moment, later: int) -> None:
    """The keyset's safety: once the bound is passed, the shop never writes a text below it."""
    instant, zone = moment
    bound = settled_bound(instant, zone)
    assert bound <= to_local(instant, zone)
    assert to_local(instant + timedelta(seconds=later), zone) > bound or later == 0


def test_paris_spring_gap_and_autumn_fold() -> None:
    # 2024-03-31: 02:00 CET jumped to 03:00 CEST at 01:00 UTC; 02:30 never happened.
    assert to_utc(datetime(2024, 3, 31, 2, 30), PARIS) == datetime(2024, 3, 31, 1, 0, tzinfo=UTC)
    assert to_utc(datetime(2024, 3, 31, 3, 0), PARIS) == datetime(2024, 3, 31, 1, 0, tzinfo=UTC)
    # 2024-10-27: 03:00 CEST fell back to 02:00 CET at 01:00 UTC; 02:30 happened twice.
    assert to_utc(datetime(2024, 10, 27, 2, 30), PARIS) == datetime(2024, 10, 27, 0, 30, tzinfo=UTC)
    assert to_utc(datetime(2024, 10, 27, 3, 0), PARIS) == datetime(2024, 10, 27, 2, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("utc", "bound"),
    [
        ("2024-10-27 00:10:00", "2024-10-27 01:59:59"),  # first pass of 02:xx (CEST)
        ("2024-10-27 01:45:00", "2024-10-27 01:59:59"),  # second pass (CET)
        ("2024-10-27 02:00:00", "2024-10-27 03:00:00"),  # both passes over
        ("2024-10-26 23:59:00", "2024-10-27 01:59:00"),  # before the fold
    ],
    ids=["first-pass", "second-pass", "after", "before"],
)
def test_bound_waits_for_the_repeated_hour_to_end(utc: str, bound: str) -> None:
    instant = datetime.strptime(utc, "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
    assert format_shop(settled_bound(instant, PARIS)) == bound


def test_parse_shop_dates() -> None:
    assert parse_shop("2026-01-15 10:00:00") == datetime(2026, 1, 15, 10, 0)
    assert parse_shop("0000-00-00 00:00:00") is None
    assert parse_shop("") is None
    assert parse_shop(None) is None


@pytest.mark.parametrize(
    "text", ["2026-01-15", "2026-01-15T10:00:00", "15/01/2026 10:00:00", "2026-02-30 10:00:00", 7]
)
def test_parse_shop_refuses_other_shapes(text: object) -> None:
    with pytest.raises(ShopDateError):
        parse_shop(text)


def test_to_local_needs_an_aware_instant() -> None:
    with pytest.raises(ValueError, match="aware"):
        to_local(datetime(2026, 1, 1), PARIS)
