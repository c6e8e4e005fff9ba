"""Polling an EventSource brick: page by page, the cursor committed with its page, or not at all."""

from __future__ import annotations

import asyncio
from typing import ClassVar

import pytest
from sqlalchemy import func, select

import hub.cli.main
import hub.events.poll
from contracts import Brick, Capability, EventEnvelope, EventPage, Retryable
from hub.events.cursors import EVENTS_STREAM, read_cursor
from hub.events.poll import NotAnEventSource, poll_events
from hub.plugins import build_plugin_host
from hub.runtime import open_runtime
from hub.sdk import hookimpl
from hub.storage.db import session_scope, upgrade
from hub.storage.models import CustomerEvent
from hub.testing import make_installation
from tests.conftest import OUTBOX, SCENARIOS
from tests.events.conftest import cart, event


def _envelope(event_id: str, **payload_overrides: object) -> EventEnvelope:
    return EventEnvelope.model_validate(
        event(event_id, source="feed", payload=cart(**payload_overrides))
    )


class Feed(Brick):
    """An event source serving scripted pages by cursor."""

    name: ClassVar[str] = "feed"
    version: ClassVar[str] = "1.0.0"
    description: ClassVar[str] = "Scripted event source"
    capabilities: ClassVar[frozenset[Capability]] = frozenset({Capability.EVENT_SOURCE})
    pages: ClassVar[dict[str | None, EventPage]] = {}
    failures: ClassVar[list[Exception]] = []
    asked: ClassVar[list[str | None]] = []

    async def poll(self, cursor: str | None) -> EventPage:
        Feed.asked.append(cursor)
        if Feed.failures:
            raise Feed.failures.pop(0)
        return Feed.pages[cursor]


class Plugin:
    @hookimpl
    def hub_register_bricks(self, register) -> None:
        register(Feed)


def _host(**kwargs):
    return build_plugin_host(extra_plugins=[("feed-plugin", Plugin())], **kwargs)


@pytest.fixture
def feed(tmp_path, database_url):
    Feed.pages = {
        None: EventPage(events=[_envelope("e1"), _envelope("e2")], next_cursor="c1", has_more=True),
        "c1": EventPage(
            events=[_envelope("e3"), _envelope("e2"), _envelope("bad", currency="euro")],
            next_cursor="c2",
        ),
        "c2": EventPage(events=[], next_cursor="c2"),
    }
    Feed.failures, Feed.asked = [], []
    inst = make_installation(
        tmp_path / "h",
        database_url=database_url,
        extra=SCENARIOS + '[sending]\nbackoff_initial = "1s"\n',
        bricks=OUTBOX + "[bricks.feed]\n",
        migrate=False,
    )
    runtime = open_runtime(inst.config, host=_host())
    upgrade(runtime.engine)
    yield inst, runtime
    asyncio.run(runtime.aclose())


def _poll(runtime, **kwargs):
    async def no_sleep(_seconds: float) -> None:
        return None

    return asyncio.run(poll_events(runtime, "feed", sleep=no_sleep, **kwargs))


def _cursor(runtime):
    with session_scope(runtime.engine) as session:
        return read_cursor(session, "feed", EVENTS_STREAM)


def _stored(runtime) -> int:
    with runtime.engine.connect() as connection:
        return connection.execute(select(func.count()).select_from(CustomerEvent)).scalar_one()


def test_poll_stores_every_page_and_keeps_the_cursor(feed):
    _, runtime = feed
    report = _poll(runtime)
    assert (report.pages, report.accepted, report.duplicates) == (2, 3, 1)
    assert [(r.index, r.field) for r in report.rejected] == [(4, "payload.currency")]
    assert report.rejected[0].dead_letter_id
    assert (report.cursor, report.has_more, _cursor(runtime)) == ("c2", False, "c2")
    again = _poll(runtime)
    assert (again.pages, again.accepted, Feed.asked) == (1, 0, [None, "c1", "c2"])
    assert _stored(runtime) == 3


def test_max_pages_stops_early_and_the_next_poll_resumes(feed):
    _, runtime = feed
    first = _poll(runtime, max_pages=1)
    assert (first.pages, first.accepted, first.has_more, _cursor(runtime)) == (1, 2, True, "c1")
    second = _poll(runtime)
    assert (second.accepted, Feed.asked) == (1, [None, "c1"])


def test_a_storage_failure_leaves_the_cursor_on_the_last_stored_page(feed, monkeypatch):
    _, runtime = feed
    real = hub.events.poll.advance_cursor

    def crash_on_second_page(session, brick, stream, cursor):
        if cursor == "c2":
            raise RuntimeError("disk full")
        real(session, brick, stream, cursor)

    monkeypatch.setattr(hub.events.poll, "advance_cursor", crash_on_second_page)
    with pytest.raises(RuntimeError):
        _poll(runtime)
    assert _cursor(runtime) == "c1"
    assert _stored(runtime) == 2  # page two's events rolled back with its cursor
    monkeypatch.setattr(hub.events.poll, "advance_cursor", real)
    report = _poll(runtime)
    assert (report.accepted, report.duplicates, _cursor(runtime)) == (1, 1, "c2")
    assert _stored(runtime) == 3


def test_transient_brick_failures_are_retried_by_the_core(feed):
    _, runtime = feed
    Feed.failures = [Retryable("HTTP 503")]
    assert _poll(runtime).accepted == 3
    assert Feed.asked[:2] == [None, None]


def test_a_brick_without_event_source_is_refused(feed):
    _, runtime = feed
    with pytest.raises(NotAnEventSource, match="not an event source"):
        _poll_other(runtime, "outbox")
    with pytest.raises(NotAnEventSource, match="no brick named"):
        _poll_other(runtime, "nope")


def _poll_other(runtime, name):
    return asyncio.run(poll_events(runtime, name))


def test_cli_poll(feed, run_cli, monkeypatch):
    inst, _ = feed
    monkeypatch.setattr(hub.cli.main, "build_plugin_host", _host)
    result = run_cli("-c", str(inst.config), "events", "poll", "--from", "outbox")
    assert result.code == 2 and "--from" in result.err and "not an event source" in result.err
    result = run_cli("-c", str(inst.config), "events", "poll", "--from", "feed", "--max-pages", "1")
    assert result.code == 0, result.err
    assert "1 page(s) from feed: 2 accepted, 0 duplicates, 0 rejected" in result.out
    result = run_cli("-c", str(inst.config), "events", "poll", "--from", "feed", "--json")
    assert result.code == 2
    assert '"accepted": 1' in result.out and "payload.currency" in result.err
