"""``hub events poll``: pull a brick's ``EventSource`` page by page, cursor kept by the core.

Each page is stored in one transaction together with the cursor that follows it, so a crash
(or a storage failure) leaves the cursor on the last page really stored: the next poll asks for
the same page again and de-duplication on (source, event id) absorbs what was already there.
The brick's call goes through the core's retries (``[sending]`` policy); bricks never retry.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from contracts import Capability, EventPage, EventSource
from hub.events.cursors import EVENTS_STREAM, advance_cursor, read_cursor
from hub.events.intake import IntakeReport, Rejection, ingest_in_session, notify_stored
from hub.paging import drain_pages, store_page_once_more_on_collision
from hub.retries import RetryPolicy
from hub.runtime import Runtime
from hub.storage.db import session_scope

__all__ = ["NotAnEventSource", "PollReport", "poll_events"]


class NotAnEventSource(Exception):
    """The brick is unknown, disabled, or does not declare the ``event_source`` capability."""


@dataclass
class PollReport:
    brick: str
    pages: int = 0
    accepted: int = 0
    duplicates: int = 0
    #: ``index`` counts events received in this run, across pages.
    rejected: list[Rejection] = field(default_factory=list)
    cursor: str | None = None
    #: The brick said more pages were waiting when ``max_pages`` stopped the run.
    has_more: bool = False


def _event_source(runtime: Runtime, name: str) -> EventSource:
    try:
        brick = runtime.brick(name)
    except KeyError as exc:
        raise NotAnEventSource(str(exc.args[0])) from None
    if Capability.EVENT_SOURCE not in brick.capabilities or not isinstance(brick, EventSource):
        raise NotAnEventSource(f"brick {name!r} is not an event source")
    return brick


def _store_page(runtime: Runtime, name: str, page: EventPage, offset: int) -> IntakeReport:
    items = list(enumerate(page.events, offset))

    def write() -> IntakeReport:
        with session_scope(runtime.ready_engine()) as session:
            report = ingest_in_session(session, runtime, items, source=name)
            if page.next_cursor is not None:
                advance_cursor(session, name, EVENTS_STREAM, page.next_cursor)
        return report

    return store_page_once_more_on_collision(write, what="event page", brick=name)


async def poll_events(
    runtime: Runtime,
    brick: str,
    *,
    max_pages: int | None = None,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> PollReport:
    """Poll until the brick has nothing more (or ``max_pages``); raises ``NotAnEventSource``,
    or the brick's error once the core's retries are spent (pages stored so far stay)."""
    source = _event_source(runtime, brick)
    with session_scope(runtime.ready_engine()) as session:
        cursor = read_cursor(session, brick, EVENTS_STREAM)
    report = PollReport(brick=brick, cursor=cursor)
    received = 0

    def store(page: EventPage) -> None:
        nonlocal received
        part = _store_page(runtime, brick, page, received)
        notify_stored(runtime, part)
        received += len(page.events)
        report.accepted += part.accepted
        report.duplicates += part.duplicates
        report.rejected.extend(part.rejected)

    drained = await drain_pages(
        source.poll,
        store,
        cursor=cursor,
        policy=RetryPolicy.from_settings(runtime.settings.sending),
        what=f"{brick}.poll",
        sleep=sleep,
        max_pages=max_pages,
    )
    report.pages, report.cursor, report.has_more = drained.pages, drained.cursor, drained.has_more
    return report
