"""Paging ``read_links`` through Unomi's events: every event exactly once, ties included."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contracts import PayloadRejected, Permanent
from plugins.unomi.keyset import MAX_WINDOW, Position, advance, format_time, parse_time
from plugins.unomi.tests.support import BASE, EMAIL, FakeUnomi, login_event, make_brick, stamp


def drain(
    fake: FakeUnomi, tmp_path: Path, cursor: str | None = None, **overrides: Any
) -> tuple[list[str], str | None, int]:
    """Read pages until ``has_more`` is false: event ids linked, final cursor, pages read."""

    async def run() -> tuple[list[str], str | None, int]:
        brick = make_brick(tmp_path, **overrides)
        seen: list[str] = []
        position, pages = cursor, 0
        try:
            with respx.mock(
                base_url=BASE, assert_all_mocked=True, assert_all_called=False
            ) as router:
                fake.install(router)
                while True:
                    page = await brick.read_links(position)
                    pages += 1
                    seen += [str(link.source_event_id) for link in page.links]
                    if page.has_more:
                        assert page.next_cursor != position, "more pages but the cursor is stuck"
                    position = page.next_cursor or position
                    if not page.has_more:
                        return seen, position, pages
                    assert pages < 10_000
        finally:
            await brick.aclose()

    return asyncio.run(run())


def events(spec: list[tuple[int, str]]) -> list[dict[str, Any]]:
    return [login_event(item_id, stamp(second), email=EMAIL) for second, item_id in spec]


def test_cursor_round_trip_and_opacity() -> None:
    position = Position(at="2026-01-15T10:00:00.000Z", seen=("a", "b"))
    cursor = position.encode()
    assert cursor is not None and cursor.startswith("u1.")
    assert Position.decode(cursor) == position
    assert Position.decode(None) == Position()
    assert Position().encode() is None


@pytest.mark.parametrize(
    "cursor",
    ["", "u1.", "u1.!!!", "v2.e30", "u1.e30", "u1." + "eyJ0IjoxLCJpZHMiOltdfQ", "garbage"],
    ids=["empty", "bare-prefix", "not-base64", "other-version", "no-fields", "bad-time", "word"],
)
def test_a_foreign_cursor_is_refused(cursor: str) -> None:
    with pytest.raises(PayloadRejected) as caught:
        Position.decode(cursor)
    assert caught.value.field == "cursor"


def test_advance_keeps_the_ids_of_the_last_millisecond_only() -> None:
    t1, t2 = parse_time(stamp(1)), parse_time(stamp(2))
    position, fresh = advance(Position(), [("a", t1), ("b", t2), ("c", t2)])
    assert fresh == [0, 1, 2]
    assert position == Position(at=format_time(t2), seen=("b", "c"))
    position, fresh = advance(position, [("b", t2), ("c", t2), ("d", t2)])
    assert fresh == [2]
    assert position.seen == ("b", "c", "d")
    same, fresh = advance(position, [])
    assert same == position and fresh == []


def test_read_twice_resume_and_future_cursor(tmp_path: Path) -> None:
    fake = FakeUnomi(events=events([(1, "e1"), (1, "e2"), (2, "e3"), (3, "e4"), (3, "e5")]))
    linked, cursor, _ = drain(fake, tmp_path, page_size=2)
    assert linked == ["e1", "e2", "e3", "e4", "e5"]
    again, same, _ = drain(fake, tmp_path, cursor, page_size=2)
    assert again == [] and same == cursor
    fake.events += events([(3, "e6"), (4, "e7")])
    more, _, _ = drain(fake, tmp_path, cursor, page_size=2)
    assert more == ["e6", "e7"]
    future = Position(at=stamp(3600), seen=()).encode()
    assert drain(fake, tmp_path, future)[0] == []


def test_an_event_indexed_late_in_a_millisecond_already_read_is_not_missed(tmp_path: Path) -> None:
    fake = FakeUnomi(events=events([(1, "b"), (1, "c")]))
    linked, cursor, _ = drain(fake, tmp_path)
    assert linked == ["b", "c"]
    fake.events += events([(1, "a")])  # same millisecond, sorts before the ones already read
    assert drain(fake, tmp_path, cursor)[0] == ["a"]


def test_skipped_events_still_move_the_cursor(tmp_path: Path) -> None:
    cookie_only = [login_event(f"c{i}", stamp(i)) for i in range(5)]
    fake = FakeUnomi(events=[*cookie_only, *events([(9, "linked")])])
    linked, _, pages = drain(fake, tmp_path, page_size=2)
    assert linked == ["linked"] and pages == 4  # the last full page cannot know it is last


def test_events_of_other_scopes_and_types_are_not_read(tmp_path: Path) -> None:
    fake = FakeUnomi(
        events=[
            login_event("other-scope", stamp(1), scope="blog", email=EMAIL),
            login_event("view", stamp(1), event_type="view", email=EMAIL),
            *events([(2, "mine")]),
        ]
    )
    assert drain(fake, tmp_path)[0] == ["mine"]


def test_a_tie_wider_than_the_search_window_is_an_error_not_a_gap(tmp_path: Path) -> None:
    seen = tuple(f"id-{i}" for i in range(MAX_WINDOW))
    cursor = Position(at=stamp(1), seen=seen).encode()
    with pytest.raises(Permanent, match="share the time"):
        drain(FakeUnomi(), tmp_path, cursor)


def test_a_page_without_list_is_permanent(tmp_path: Path) -> None:
    async def run() -> None:
        brick = make_brick(tmp_path)
        with respx.mock(base_url=BASE, assert_all_mocked=True) as router:
            router.post("/cxs/events/search").mock(return_value=httpx.Response(200, json={}))
            try:
                await brick.read_links(None)
            finally:
                await brick.aclose()

    with pytest.raises(Permanent, match="without a 'list'"):
        asyncio.run(run())


def test_the_page_query_is_what_unomi_receives(tmp_path: Path) -> None:
    fake = FakeUnomi(events=events([(1, "e1")]))
    drain(fake, tmp_path, Position(at=stamp(0), seen=("x",)).encode(), page_size=7)
    body = json.loads(fake.requests[0].content)
    assert body["limit"] == 8
    assert body["sortby"] == "timeStamp:asc,itemId:asc"


# Tie-heavy streams: few distinct times, many events each, pages of any size.
streams = st.lists(st.integers(min_value=0, max_value=4), min_size=0, max_size=60)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(seconds=streams, page_size=st.integers(min_value=1, max_value=7), data=st.data())
def test_every_event_exactly_once(
    tmp_path: Path, seconds: list[int], page_size: int, data: st.DataObject
) -> None:
    ids = data.draw(
        st.lists(
            st.text("abcdef0123456789", min_size=1, max_size=6),
            min_size=len(seconds),
            max_size=len(seconds),
            unique=True,
        )
    )
    fake = FakeUnomi(events=events(list(zip(seconds, ids, strict=True))))
    linked, cursor, _ = drain(fake, tmp_path, page_size=page_size)
    assert sorted(linked) == sorted(ids)
    assert len(linked) == len(set(linked))
    # Nothing new: a second read from the final cursor hands out nothing.
    assert drain(fake, tmp_path, cursor, page_size=page_size)[0] == []


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    first=streams,
    later=st.lists(st.integers(min_value=0, max_value=6), max_size=20),
    page_size=st.integers(min_value=1, max_value=5),
)
def test_events_arriving_between_reads_are_read_once(
    tmp_path: Path, first: list[int], later: list[int], page_size: int
) -> None:
    fake = FakeUnomi(events=events([(s, f"a{i:03d}") for i, s in enumerate(first)]))
    linked, cursor, _ = drain(fake, tmp_path, page_size=page_size)
    newest = max(first, default=0)
    # Unomi stamps events when they arrive, so a later one is never older than what was read.
    arrivals = [(max(s, newest), f"b{i:03d}") for i, s in enumerate(later)]
    fake.events += events(arrivals)
    more, _, _ = drain(fake, tmp_path, cursor, page_size=page_size)
    assert sorted(linked + more) == sorted(
        [f"a{i:03d}" for i in range(len(first))] + [i for _, i in arrivals]
    )
    assert len(linked + more) == len(set(linked + more))
