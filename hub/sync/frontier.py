"""Where a sink's cursor may go: past everything handled, never past an unconfirmed push.

The feed is read in order; some customers need a push, the others are handled as soon as they
are read (unchanged, skipped). Pushes are gathered into batches of the sink's size, so a batch
may span pages and skipped customers sit between its contacts. Each pending push remembers
the last feed position read before the next push (``cover``): once its batch is confirmed,
every customer up to that position is handled, and the cursor may move there. Resuming from
the cursor therefore re-reads every unconfirmed push (no gap) and no confirmed one (no
duplicate). Several batches may be in flight (the engine sends one while the previous one's
confirmation commits): customers read while nothing is pending extend the cover of the last
batch taken, never ``safe``, and batches are confirmed oldest first. Pure bookkeeping,
property-tested in tests/sync/test_frontier.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Generic, TypeVar

__all__ = ["Frontier", "Taken"]

K = TypeVar("K")
T = TypeVar("T")


@dataclass
class _Pending(Generic[K, T]):
    item: T
    cover: K


class Taken(Generic[K]):
    """A batch taken and not yet confirmed; ``cover`` may still grow until it is confirmed."""

    def __init__(self, last: _Pending[K, object]) -> None:
        self._last = last

    @property
    def cover(self) -> K:
        return self._last.cover


@dataclass
class Frontier(Generic[K, T]):
    #: Every feed position up to this one is handled (``None``: nothing yet).
    safe: K | None = None
    _pending: list[_Pending[K, T]] = field(default_factory=list)
    #: The last entry of each batch taken and not confirmed, oldest first.
    _taken: list[_Pending[K, T]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self._pending)

    def read(self, key: K, push: T | None) -> None:
        """The next customer in feed order, with what to push for them (``None``: handled)."""
        if push is not None:
            self._pending.append(_Pending(push, key))
        elif self._pending:
            self._pending[-1].cover = key
        elif self._taken:
            self._taken[-1].cover = key
        else:
            self.safe = key

    def take(self, size: int) -> tuple[list[T], Taken[K]]:
        """The next batch (at most ``size``) and its ticket; the caller calls
        ``confirm(ticket)`` after the sink answered, or drops the frontier."""
        chunk, self._pending = self._pending[:size], self._pending[size:]
        self._taken.append(chunk[-1])
        return [p.item for p in chunk], Taken(chunk[-1])

    def confirm(self, ticket: Taken[K]) -> K:
        """The oldest batch in flight is confirmed: everything up to its cover is handled."""
        if not self._taken or self._taken[0] is not ticket._last:
            raise ValueError("batches are confirmed in the order they were taken")
        self._taken.pop(0)
        self.safe = ticket.cover
        return self.safe
