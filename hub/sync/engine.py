"""``hub contacts sync``: pull from a source brick (or not), then push the hub's changes to sinks.

For each sink in turn: walk the change feed from the sink's cursor (``hub.sync.feed``), decide
each customer (``hub.sync.plan``), gather the contacts to push into batches of the sink's
``batch_size`` and hand each batch to ``upsert`` once, through the core's retries. Per batch:
pseudonym lookups and egress audit rows are committed before the call; after the sink
confirmed, ``sink_contacts``, the refused items' dead letters and the cursor commit together.
The cursor only ever covers customers that are handled (pushed and confirmed, unchanged or
skipped), so a crash, a Ctrl-C or a sink failing after its retries resumes at the first
unconfirmed batch: no gap, and no duplicate beyond a batch whose confirmation was lost between
the vendor's answer and the commit (upserts are idempotent at the vendor, by pseudonym).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import Engine
from sqlmodel import Session

from contracts import BrickError, UpsertResult
from hub.audit import current_actor
from hub.contacts.pull import pull_contacts
from hub.logs import get_logger
from hub.retries import RetryPolicy, call_with_retries
from hub.runtime import Runtime
from hub.storage.db import session_scope
from hub.storage.types import utcnow
from hub.sync.diff import SAMPLE_SIZE, sample_item
from hub.sync.feed import DEFAULT_SETTLE, FeedKey, cap, count_feed, encode_cursor, read_feed
from hub.sync.plan import Decision, Planned, plan_page
from hub.sync.records import (
    advance_sink_cursor,
    record_confirmed,
    record_outgoing,
    record_refused,
    sink_cursor,
)
from hub.sync.report import Batch, RefusedItem, SinkReport, SyncReport
from hub.sync.source import preview_pull
from hub.sync.targets import HUB_SOURCE, SinkTarget, check_source, resolve_sinks
from hub.sync.views import ViewMaker

__all__ = ["FEED_PAGE", "SyncProgress", "sync_contacts"]

log = get_logger(__name__)

#: Customers read from the feed per query (at least one batch of the sink).
FEED_PAGE = 1000
Sleep = Callable[[float], Awaitable[None]]


class SyncProgress(Protocol):
    """What the CLI shows while a sync runs (progress bars or plain lines, on stderr)."""

    def pulled(self, records: int) -> None: ...

    def start(self, sink: str, total: int) -> None: ...

    def advance(self, sink: str, read: int) -> None: ...

    def finish(self, report: SinkReport) -> None: ...


class _Silent:
    def pulled(self, records: int) -> None:
        return None

    def start(self, sink: str, total: int) -> None:
        return None

    def advance(self, sink: str, read: int) -> None:
        return None

    def finish(self, report: SinkReport) -> None:
        return None


class _SinkFailed(Exception):
    """The sink failed after the core's retries (or answered nonsense): it stops here."""


class _Units:
    """Units of work: committed transactions, or (dry run) never committed at all."""

    def __init__(self, engine: Engine, *, dry_run: bool, shared: Session | None = None) -> None:
        self.engine, self.dry_run, self.shared = engine, dry_run, shared

    @contextmanager
    def __call__(self) -> Iterator[Session]:
        if self.shared is not None:
            yield self.shared
        elif self.dry_run:
            session = Session(self.engine, expire_on_commit=False)
            try:
                yield session
            finally:
                session.rollback()
                session.close()
        else:
            with session_scope(self.engine) as session:
                yield session


@dataclass
class _Pending:
    planned: Planned
    #: Feed position covered once this contact is confirmed (skipped ones read after it).
    cover: FeedKey


class _SinkRun:
    def __init__(
        self,
        runtime: Runtime,
        units: _Units,
        target: SinkTarget,
        *,
        full: bool,
        upper: datetime,
        settle: timedelta,
        sleep: Sleep,
        progress: SyncProgress,
    ) -> None:
        self.runtime, self.units, self.target = runtime, units, target
        self.full, self.upper, self.settle = full, upper, settle
        self.sleep, self.progress = sleep, progress
        self.dry_run = units.dry_run
        self.policy = RetryPolicy.from_settings(runtime.settings.sending)
        self.maker = ViewMaker(runtime.keys, runtime.vault, target.name, target.fields)
        self.report = SinkReport(sink=target.name, batch_size=target.batch_size)
        self.actor = current_actor()
        self.pending: list[_Pending] = []
        self.safe: FeedKey | None = None
        self.stored: FeedKey | None = None

    async def run(self) -> SinkReport:
        name = self.target.name
        with self.units() as session:
            self.stored = sink_cursor(session, name)
            start = None if self.full else self.stored
            total = count_feed(session, start, upper=self.upper)
        self.progress.start(name, total)
        page = max(self.target.batch_size, FEED_PAGE)
        after = start
        try:
            while True:
                with self.units() as session:
                    items = read_feed(session, after, upper=self.upper, limit=page)
                    if not items:
                        break
                    plan = plan_page(
                        session, self.maker, name, self.target.channels, items, full=self.full
                    )
                self._take(plan.items, plan.planned)
                after = items[-1].key
                while len(self.pending) >= self.target.batch_size:
                    await self._send(self.target.batch_size)
                if not self.pending:
                    self._commit_cursor()
                self.progress.advance(name, len(items))
            while self.pending:
                await self._send(self.target.batch_size)
            self._commit_cursor()
        except _SinkFailed as exc:
            self.report.error = str(exc)
            log.warning("sink failed during sync", sink=name, error=str(exc))
        self.report.cursor = encode_cursor(self.stored)
        self.progress.finish(self.report)
        return self.report

    def _take(self, items: Sequence[tuple[Any, Decision]], planned: dict[str, Planned]) -> None:
        for item, decision in items:
            self.report.count(decision)
            if decision is Decision.PUSH:
                self.pending.append(_Pending(planned[item.customer_id], item.key))
            elif self.pending:
                self.pending[-1].cover = item.key
            else:
                self.safe = item.key

    def _capped(self, key: FeedKey) -> FeedKey:
        return cap(key, self.upper, self.settle)

    def _commit_cursor(self) -> None:
        if self.dry_run or self.safe is None:
            return
        key = self._capped(self.safe)
        if self.stored is not None and key <= self.stored:
            return
        with self.units() as session:
            advance_sink_cursor(session, self.target.name, key)
        self.stored = key

    async def _send(self, size: int) -> None:
        chunk, self.pending = self.pending[:size], self.pending[size:]
        batch = [p.planned for p in chunk]
        request_id = uuid.uuid4().hex
        if self.dry_run:
            for planned in batch:
                self.report.pushed(planned.action)
                if len(self.report.sample) < SAMPLE_SIZE:
                    self.report.sample.append(sample_item(planned))
            self.report.batches.append(Batch(request_id, len(batch), confirmed=False))
            self.safe = chunk[-1].cover
            return
        name = self.target.name
        with self.units() as session:
            record_outgoing(
                session, name, batch, request_id=request_id, actor=self.actor, now=utcnow()
            )
        try:
            results = await self._upsert(batch)
        except _SinkFailed:
            self.report.batches.append(Batch(request_id, len(batch), confirmed=False))
            raise
        confirmed: list[Planned] = []
        refused: list[tuple[Planned, str]] = []
        for planned, result in zip(batch, results, strict=True):
            if result.error:
                refused.append((planned, result.error[:900]))
            else:
                confirmed.append(planned)
        cover = chunk[-1].cover
        with self.units() as session:
            record_confirmed(session, name, confirmed, now=utcnow())
            letters = record_refused(
                session, self.runtime.vault, name, refused, request_id=request_id
            )
            key = self._capped(cover)
            if self.stored is None or key > self.stored:
                advance_sink_cursor(session, name, key)
        self.stored = key if self.stored is None or key > self.stored else self.stored
        self.safe = cover
        for planned in confirmed:
            self.report.pushed(planned.action)
        for (planned, reason), letter in zip(refused, letters, strict=True):
            self.report.rejected.append(RefusedItem(planned.view.pseudonym, reason, letter))
        self.report.batches.append(Batch(request_id, len(batch), confirmed=True))

    async def _upsert(self, batch: Sequence[Planned]) -> list[UpsertResult]:
        name = self.target.name
        views = [p.view for p in batch]
        try:
            results = await call_with_retries(
                lambda: self.target.brick.upsert(views),
                self.policy,
                what=f"{name}.upsert",
                sleep=self.sleep,
            )
        except BrickError as exc:
            raise _SinkFailed(f"{type(exc).__name__}: {exc.message}"[:1000]) from None
        except Exception as exc:  # a broken brick: the sink stops, the others go on
            raise _SinkFailed(f"{type(exc).__name__} in {name}.upsert") from None
        answered = [getattr(r, "pseudonym", None) for r in results]
        if answered != [v.pseudonym for v in views]:
            raise _SinkFailed(
                f"{name}.upsert answered {len(results)} results for {len(views)} contacts "
                "(one per contact, in order, is required)"
            )
        return list(results)


async def _pull(
    runtime: Runtime, report: SyncReport, units: _Units, sleep: Sleep, progress: SyncProgress
) -> None:
    def pulled(records: int) -> None:
        report.pulled += records
        progress.pulled(records)

    if units.shared is not None:
        report.pull, report.source_error = await preview_pull(
            runtime, units.shared, report.source, sleep=sleep, progress=pulled
        )
        return
    try:
        report.pull = await pull_contacts(runtime, report.source, sleep=sleep, progress=pulled)
    except BrickError as exc:
        # Pages stored before the failure stay stored; the push half still sends them.
        report.source_error = f"{type(exc).__name__}: {exc}"[:1000]


async def sync_contacts(
    runtime: Runtime,
    *,
    source: str,
    sinks: Sequence[str],
    dry_run: bool = False,
    full: bool = False,
    settle: timedelta = DEFAULT_SETTLE,
    sleep: Sleep = asyncio.sleep,
    progress: SyncProgress | None = None,
) -> SyncReport:
    """Run one sync. Raises ``SyncOptionError`` (nothing read or written) for a bad source or
    sink; a source or sink failing after retries is reported, not raised."""
    engine = runtime.ready_engine()
    check_source(runtime, source)
    targets = resolve_sinks(runtime, sinks)
    progress = progress or _Silent()
    report = SyncReport(source=source, started_at=utcnow(), dry_run=dry_run, full=full)
    shared = Session(engine, expire_on_commit=False) if dry_run and source != HUB_SOURCE else None
    units = _Units(engine, dry_run=dry_run, shared=shared)
    try:
        if source != HUB_SOURCE:
            await _pull(runtime, report, units, sleep, progress)
        # Changes stamped after this instant wait for the next run.
        upper = utcnow()
        for target in targets:
            run = _SinkRun(
                runtime,
                units,
                target,
                full=full,
                upper=upper,
                settle=settle,
                sleep=sleep,
                progress=progress,
            )
            report.sinks.append(await run.run())
    finally:
        if shared is not None:
            shared.rollback()
            shared.close()
    report.finished_at = utcnow()
    log.info(
        "contact sync finished",
        source=source,
        dry_run=dry_run,
        sinks=[s.sink for s in report.sinks],
        exit_code=report.exit_code,
    )
    if not dry_run:
        runtime.plugins.notify("hub_sync_completed", summary=report.summary())
    return report
