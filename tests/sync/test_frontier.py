"""The cursor bookkeeping: whatever the mix of pushes and skips, the batch size and the batch
at which the sink fails, resuming from the cursor re-sends every unconfirmed push (no gap)
and no confirmed one (no duplicate)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hub.sync.frontier import Frontier


def _run(
    needs_push: list[bool],
    page: int,
    size: int,
    fail_at: int | None,
    start: int,
    in_flight: int = 1,
):
    """Walk items ``start..`` in pages, sending full batches after each page and the rest at
    the end, like the engine; up to ``in_flight`` batches answered but not yet confirmed (the
    engine confirms one while it sends the next), pages read meanwhile; the ``fail_at``-th
    send crashes. Returns (confirmed, cursor)."""
    frontier: Frontier[int, int] = Frontier(safe=start - 1 if start else None)
    confirmed: list[int] = []
    answered: list = []
    sends = 0

    def confirm_oldest() -> None:
        batch, ticket = answered.pop(0)
        confirmed.extend(batch)
        frontier.confirm(ticket)

    def send() -> bool:
        nonlocal sends
        batch, ticket = frontier.take(size)
        assert 0 < len(batch) <= size
        if sends == fail_at:
            return False  # a crash: answered batches whose confirmation was not committed are lost
        sends += 1
        answered.append((batch, ticket))
        while len(answered) >= in_flight:
            confirm_oldest()
        return True

    for first in range(start, len(needs_push), page):
        for key in range(first, min(first + page, len(needs_push))):
            frontier.read(key, key if needs_push[key] else None)
        while len(frontier) >= size:
            if not send():
                return confirmed, frontier.safe
    while len(frontier):
        if not send():
            return confirmed, frontier.safe
    while answered:
        confirm_oldest()
    return confirmed, frontier.safe


@settings(max_examples=300, deadline=None)
@given(
    needs_push=st.lists(st.booleans(), max_size=60),
    page=st.integers(1, 9),
    size=st.integers(1, 7),
    fail_at=st.integers(0, 12),
    in_flight=st.integers(1, 3),
)
def test_resume_from_the_cursor_has_no_gap_and_no_duplicate(
    needs_push, page, size, fail_at, in_flight
):
    first, cursor = _run(needs_push, page, size, fail_at, start=0, in_flight=in_flight)
    # Everything at or before the cursor is handled; every confirmed push is at or before it.
    assert all(key <= cursor for key in first) if first else True
    start = 0 if cursor is None else cursor + 1
    second, end = _run(needs_push, page, size, None, start=start, in_flight=in_flight)
    wanted = [key for key, push in enumerate(needs_push) if push]
    assert sorted(first + second) == wanted
    assert not set(first) & set(second)
    if needs_push:
        assert end == len(needs_push) - 1


def test_skipped_customers_between_pushes_are_covered_by_the_batch_before_them():
    frontier: Frontier[int, str] = Frontier()
    for key, push in enumerate([None, "a", None, None, "b", None]):
        frontier.read(key, push)
    assert frontier.safe == 0
    batch, ticket = frontier.take(1)
    assert (batch, ticket.cover) == (["a"], 3)
    frontier.confirm(ticket)
    batch, ticket = frontier.take(5)
    assert (batch, ticket.cover) == (["b"], 5)


def test_customers_read_while_a_batch_is_in_flight_extend_its_cover_not_the_cursor():
    frontier: Frontier[int, str] = Frontier()
    frontier.read(0, "a")
    first, first_ticket = frontier.take(1)
    assert first == ["a"]
    frontier.read(1, None)  # skipped while "a" is in flight: handled only once "a" is
    assert frontier.safe is None
    frontier.read(2, "b")
    second, second_ticket = frontier.take(1)
    assert second == ["b"]
    frontier.read(3, None)
    with pytest.raises(ValueError, match="order"):
        frontier.confirm(second_ticket)
    assert frontier.confirm(first_ticket) == 1
    assert frontier.confirm(second_ticket) == 3
