"""Drain a brick's cursor-paged stream: the loop shared by event, contact and link sources.

The brick is called through the core's retries; each page is handed to ``store``, which must
commit the page together with its ``next_cursor`` (so a crash re-reads at most one page, and
the caller's idempotent storage absorbs it). The loop stops when the brick has nothing more,
at ``max_pages``, or when a brick claims more pages without moving its cursor (asking again
would loop on the same page forever).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol, TypeVar

from sqlalchemy.exc import IntegrityError

from hub.logs import get_logger
from hub.retries import RetryPolicy, call_with_retries

__all__ = ["Drained", "Page", "drain_pages", "store_page_once_more_on_collision"]

log = get_logger(__name__)


class Page(Protocol):
    @property
    def next_cursor(self) -> str | None: ...

    @property
    def has_more(self) -> bool: ...


P = TypeVar("P", bound=Page)
T = TypeVar("T")


@dataclass
class Drained:
    pages: int
    cursor: str | None
    #: The brick said more pages were waiting when ``max_pages`` (or a stuck cursor) stopped.
    has_more: bool


async def drain_pages(
    fetch: Callable[[str | None], Awaitable[P]],
    store: Callable[[P], None],
    *,
    cursor: str | None,
    policy: RetryPolicy,
    what: str,
    sleep: Callable[[float], Awaitable[None]],
    max_pages: int | None = None,
) -> Drained:
    """Fetch from ``cursor`` and store page after page; the brick's error propagates once the
    retries are spent (pages stored before stay stored)."""
    done = Drained(pages=0, cursor=cursor, has_more=False)
    while max_pages is None or done.pages < max_pages:
        page = await call_with_retries(
            lambda at=done.cursor: fetch(at), policy, what=what, sleep=sleep
        )
        store(page)
        done.pages += 1
        moved = page.next_cursor is not None and page.next_cursor != done.cursor
        if page.next_cursor is not None:
            done.cursor = page.next_cursor
        done.has_more = page.has_more
        if not page.has_more:
            break
        if not moved:
            log.warning("source reports more pages without a new cursor", what=what)
            break
    return done


def store_page_once_more_on_collision(write: Callable[[], T], *, what: str, brick: str) -> T:
    """Run one page's transaction; run it a second time if it collided with a concurrent writer.

    Two pulls (or a pull and the webhook server) may create the same person or event at once:
    the loser's transaction fails on a unique constraint and rolls back whole. Running it again
    is then enough, because the second attempt sees the winner's rows and updates them instead;
    a second collision is a real fault and propagates. ``write`` must count nothing until its
    transaction committed.
    """
    try:
        return write()
    except IntegrityError:
        log.info("page collided with a concurrent writer, retrying", what=what, brick=brick)
        return write()
