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
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta
from typing import Protocol

from sqlmodel import Session

from contracts import BrickError, UpsertResult
from hub.audit import current_actor
from hub.contacts.pull import pull_contacts
from hub.logs import get_logger
from hub.retries import RetryPolicy, call_with_retries
from hub.runtime import Runtime
from hub.storage.types import utcnow
from hub.sync.diff import SAMPLE_SIZE, sample_item
from hub.sync.feed import (
    DEFAULT_SETTLE,
    FeedItem,
    FeedKey,
    cap,
    count_feed,
    encode_cursor,
    read_feed,
)
from hub.sync.frontier import Frontier
from hub.sync.plan import PagePlan, Planned, plan_page, read_page
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
from hub.sync.units import Units
from hub.sync.views import ViewMaker

__all__ = ["FEED_PAGE", "SyncProgress", "sync_contacts"]

log = get_logger(__name__)

#: Customers read from the feed per query (at least one batch of the sink).
FEED_PAGE = 1000
Sleep = Callable[[float], Awaitable[None]]
_Page = tuple[list[FeedItem], PagePlan]
_Ready = tuple[list[Planned], FeedKey, str]


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


class _SinkRun:
    def __init__(
        self,
        runtime: Runtime,
        units: Units,
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
        self.page_size = max(target.batch_size, FEED_PAGE)
        self.actor = current_actor()
        self.frontier: Frontier[FeedKey, Planned] = Frontier()
        self.stored: FeedKey | None = None
        self.after: FeedKey | None = None
        #: The next page, read and planned in a worker thread while a batch is in flight.
        self.next_page: asyncio.Future[_Page | None] | None = None
        #: A batch taken and audited (committed), whose call is next: (batch, cover, id).
        self.ready: _Ready | None = None
        #: The feed is exhausted: the last, partial batch may go.
        self.draining = False
        #: CPU seconds the last page cost, and seconds the last call spent waiting (unknown
        #: before the first call: assume a vendor slow enough to read ahead).
        self.page_cpu, self.vendor_wait = 0.0, float("inf")

    async def run(self) -> SinkReport:
        name = self.target.name
        with self.units.read() as session:
            self.stored = sink_cursor(session, name)
            start = None if self.full else self.stored
            total = count_feed(session, start, upper=self.upper)
        self.progress.start(name, total)
        self.after = start
        try:
            while (page := await self._page()) is not None:
                items, plan = page
                for item, decision in plan.items:
                    self.report.count(decision)
                    self.frontier.read(item.key, plan.planned.get(item.customer_id))
                self.after = items[-1].key
                # Batches are sent before the next page is read: a batch taken is confirmed
                # before any customer after it can move the frontier.
                while self._pending():
                    await self._send()
                if not self.frontier:
                    self._commit_cursor()
                self.progress.advance(name, len(items))
            self.draining = True
            while self.ready is not None or self.frontier:
                await self._send()
            self._commit_cursor()
        except _SinkFailed as exc:
            self.report.error = str(exc)
            log.warning("sink failed during sync", sink=name, error=str(exc))
        finally:
            if self.next_page is not None:  # let a read in flight finish before moving on
                await asyncio.wait([self.next_page])
        self.report.cursor = encode_cursor(self.stored)
        self.progress.finish(self.report)
        return self.report

    def _read(self, after: FeedKey | None) -> _Page | None:
        """The next feed page and what to do with it (a few queries, no write)."""
        cpu = time.thread_time()
        try:
            with self.units.read() as session:  # queries only, then the CPU work outside
                items = read_feed(session, after, upper=self.upper, limit=self.page_size)
                if not items:
                    return None
                read = read_page(
                    session, self.maker, self.target.name, self.target.channels, items
                )
            return items, plan_page(read, self.maker, full=self.full)
        finally:
            self.page_cpu = time.thread_time() - cpu

    async def _page(self) -> _Page | None:
        if self.next_page is not None:
            future, self.next_page = self.next_page, None
            return await future
        return self._read(self.after)

    def _prefetch(self) -> None:
        """Read and plan the next page in a thread while the sink answers, when the vendor
        kept the last call waiting longer than a page costs (a fast vendor gains nothing, and
        two threads would only fight over the interpreter lock). Never with a dry run's
        single shared session."""
        if self.vendor_wait <= self.page_cpu:
            return
        if self.next_page is None and self.units.threads_allowed:
            self.next_page = asyncio.ensure_future(asyncio.to_thread(self._read, self.after))

    def _capped(self, key: FeedKey) -> FeedKey:
        return cap(key, self.upper, self.settle)

    def _commit_cursor(self) -> None:
        """Store the frontier (capped) when it moved: once per page when nothing is pending."""
        safe = self.frontier.safe
        if self.dry_run or safe is None:
            return
        key = self._capped(safe)
        if self.stored is not None and key <= self.stored:
            return
        with self.units.write() as session:
            advance_sink_cursor(session, self.target.name, key)
        self.stored = key

    def _preview(self) -> None:
        """Dry run: count and sample the batch as if the sink had confirmed it."""
        batch, cover = self.frontier.take(self.target.batch_size)
        for planned in batch:
            self.report.pushed(planned.action)
            if len(self.report.sample) < SAMPLE_SIZE:
                self.report.sample.append(sample_item(planned))
        self.report.batches.append(Batch(uuid.uuid4().hex, len(batch), confirmed=False))
        self.frontier.confirm(cover)

    def _outgoing(self, session: Session) -> _Ready:
        """Take the next batch and write its egress audit rows (committed before the call)."""
        batch, cover = self.frontier.take(self.target.batch_size)
        request_id = uuid.uuid4().hex
        record_outgoing(
            session, self.target.name, batch, request_id=request_id, actor=self.actor,
            now=utcnow(),
        )
        return batch, cover, request_id

    def _pending(self) -> bool:
        return self.ready is not None or len(self.frontier) >= self.target.batch_size

    async def _send(self) -> None:
        if self.dry_run:
            return self._preview()
        name = self.target.name
        if self.ready is None:
            with self.units.write() as session:
                self.ready = self._outgoing(session)
        (batch, cover, request_id), self.ready = self.ready, None
        self._prefetch()
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
        with self.units.write() as session:
            record_confirmed(session, name, confirmed, now=utcnow())
            letters = record_refused(
                session, self.runtime.vault, name, refused, request_id=request_id
            )
            key = self._capped(cover)
            if self.stored is None or key > self.stored:
                advance_sink_cursor(session, name, key)
            # The next batch's audit rows ride in this commit when it is already complete
            # (one commit per batch instead of two); its call follows this commit.
            if len(self.frontier) >= self.target.batch_size or (self.draining and self.frontier):
                self.ready = self._outgoing(session)
        self.stored = key if self.stored is None or key > self.stored else self.stored
        self.frontier.confirm(cover)
        for planned in confirmed:
            self.report.pushed(planned.action)
        for (planned, reason), letter in zip(refused, letters, strict=True):
            self.report.rejected.append(RefusedItem(planned.view.pseudonym, reason, letter))
        self.report.batches.append(Batch(request_id, len(batch), confirmed=True))
        return None

    async def _upsert(self, batch: Sequence[Planned]) -> list[UpsertResult]:
        name = self.target.name
        views = [p.view for p in batch]
        started, cpu = time.perf_counter(), time.thread_time()
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
        # Time the vendor kept us waiting, not the brick's own work.
        self.vendor_wait = (time.perf_counter() - started) - (time.thread_time() - cpu)
        answered = [getattr(r, "pseudonym", None) for r in results]
        if answered != [v.pseudonym for v in views]:
            raise _SinkFailed(
                f"{name}.upsert answered {len(results)} results for {len(views)} contacts "
                "(one per contact, in order, is required)"
            )
        return list(results)


async def _pull(
    runtime: Runtime, report: SyncReport, units: Units, sleep: Sleep, progress: SyncProgress
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
    units = Units(engine, dry_run=dry_run, shared=shared)
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
        units.close()
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
