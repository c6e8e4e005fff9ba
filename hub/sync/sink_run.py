"""One sink's half of a sync: walk the change feed, push batches, confirm, move the cursor.

Walk the change feed from the sink's cursor (``hub.sync.feed``), decide each customer
(``hub.sync.plan``), gather the contacts to push into batches of the sink's ``batch_size`` and
hand each batch to ``upsert`` once, through the core's retries. Per batch: pseudonym lookups
and egress audit rows are committed before the call; after the sink confirmed,
``sink_contacts``, the refused items' dead letters and the cursor commit together. The cursor
only ever covers customers that are handled (``hub.sync.frontier``).

The database work hides behind the vendor's latency: while batch *k* is in flight, a worker
thread commits batch *k-1*'s confirmation together with the audit rows of batch *k+1*, and
another reads and plans the next page. A Ctrl-C or a failing sink waits for that commit, then
withdraws the audit rows of the batch that will not be sent; only a hard crash can leave them
(an audit row then says the hub was about to send, as before the call), and only a hard crash
can lose a committing confirmation (that batch is sent again: upserts are idempotent).
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
from hub.logs import get_logger
from hub.retries import RetryPolicy, call_with_retries
from hub.runtime import Runtime
from hub.storage.types import utcnow
from hub.sync.diff import SAMPLE_SIZE, sample_item
from hub.sync.feed import (
    FeedItem,
    FeedKey,
    cap,
    count_feed,
    encode_cursor,
    read_feed,
)
from hub.sync.frontier import Frontier, Taken
from hub.sync.plan import PagePlan, Planned, plan_page, read_page
from hub.sync.records import (
    advance_sink_cursor,
    record_confirmed,
    record_outgoing,
    record_refused,
    sink_cursor,
    withdraw_outgoing,
)
from hub.sync.report import Batch, RefusedItem, SinkReport
from hub.sync.targets import SinkTarget
from hub.sync.units import Units
from hub.sync.views import ViewMaker

__all__ = ["FEED_PAGE", "SinkRun", "Sleep", "SyncProgress"]

log = get_logger(__name__)

#: Customers read from the feed per query (at least one batch of the sink).
FEED_PAGE = 1000
Sleep = Callable[[float], Awaitable[None]]
#: Event-loop turns given to a vendor call before the worker threads start.
_SEND_STEPS = 3
_Page = tuple[list[FeedItem], PagePlan]
#: A batch taken and audited (committed or committing): (batch, ticket, request id).
_Ready = tuple[list[Planned], Taken[FeedKey], str]
#: A batch the sink answered, not yet confirmed in the store: (ready, confirmed, refused).
_Answered = tuple[_Ready, list[Planned], list[tuple[Planned, str]]]
#: What a confirmation commit wrote: the refused items' dead letter ids, the cursor it stored.
_Committed = tuple[list[int | None], FeedKey | None]


class SyncProgress(Protocol):
    """What the CLI shows while a sync runs (progress bars or plain lines, on stderr)."""

    def pulled(self, records: int) -> None: ...

    def start(self, sink: str, total: int) -> None: ...

    def advance(self, sink: str, read: int) -> None: ...

    def finish(self, report: SinkReport) -> None: ...


class _SinkFailed(Exception):
    """The sink failed after the core's retries (or answered nonsense): it stops here."""


class SinkRun:
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
        #: A batch taken and audited (committed), whose call is next.
        self.ready: _Ready | None = None
        #: The last batch the sink answered, whose confirmation is not committed yet.
        self.answered: _Answered | None = None
        #: The worker thread committing an answer (and the next batch's audit rows), with
        #: that answer.
        self.committing: tuple[asyncio.Future[_Committed], _Answered | None] | None = None
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
                # Full batches go before the next page is read. The last answer may still be
                # committing: customers read meanwhile extend its cover, never the cursor.
                while self._pending():
                    await self._send()
                if not self.frontier:
                    if not plan.planned:  # nothing to send: no call to hide the commit behind
                        await self._settle(commit_answered=True)
                    self._commit_cursor()
                self.progress.advance(name, len(items))
            self.draining = True
            while self.ready is not None or self.frontier:
                await self._send()
            await self._settle(commit_answered=True)
            self._commit_cursor()
        except _SinkFailed as exc:
            self.report.error = str(exc)
            log.warning("sink failed during sync", sink=name, error=str(exc))
        finally:
            if self.next_page is not None:  # let a read in flight finish before moving on
                await asyncio.wait([self.next_page])
            if self.answered is not None or self.ready is not None:
                await self._interrupted()
        self.report.cursor = encode_cursor(self.stored)
        self.progress.finish(self.report)
        return self.report

    async def _interrupted(self) -> None:
        """Stopped between two calls (a Ctrl-C while a page is read): the last answer is
        still confirmed, and the batch audited for the next call, which will not happen now,
        has its audit rows withdrawn (the next run sends those people under a new id)."""
        try:
            await self._settle(commit_answered=True)
            if self.ready is not None:
                with self.units.write() as session:
                    withdraw_outgoing(session, self.ready[2])
                self.ready = None
        except Exception as exc:  # the interruption matters more: at worst a batch is re-sent
            log.warning(
                "sync state not stored on interruption", sink=self.target.name,
                error=type(exc).__name__,
            )

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
        batch, ticket = self.frontier.take(self.target.batch_size)
        for planned in batch:
            self.report.pushed(planned.action)
            if len(self.report.sample) < SAMPLE_SIZE:
                self.report.sample.append(sample_item(planned))
        self.report.batches.append(Batch(uuid.uuid4().hex, len(batch), confirmed=False))
        self.frontier.confirm(ticket)

    def _take(self) -> tuple[list[Planned], Taken[FeedKey], str]:
        batch, ticket = self.frontier.take(self.target.batch_size)
        return batch, ticket, uuid.uuid4().hex

    def _audit(self, session: Session, ready: _Ready) -> None:
        """The batch's egress audit rows, committed before its call."""
        batch, _, request_id = ready
        record_outgoing(
            session, self.target.name, batch, request_id=request_id, actor=self.actor,
            now=utcnow(),
        )

    def _pending(self) -> bool:
        """A batch can go now. A batch already audited waits until the one after it is full
        too (the next page was read ahead during the last call), so that one's audit rows
        commit during its call instead of before the next."""
        return len(self.frontier) >= self.target.batch_size

    def _next_is_due(self) -> bool:
        """A next batch can be taken now: a full one, or the rest once the feed is drained."""
        return len(self.frontier) >= self.target.batch_size or (
            self.draining and bool(self.frontier)
        )

    def _commit(self, answered: _Answered | None, ahead: _Ready | None) -> _Committed:
        """One transaction: the answered batch's confirmation (``sink_contacts``, refused
        items' dead letters, the cursor) and the audit rows of the batch after the next."""
        letters: list[int | None] = []
        key: FeedKey | None = None
        with self.units.write() as session:
            if answered is not None:
                (_, ticket, request_id), confirmed, refused = answered
                name = self.target.name
                record_confirmed(session, name, confirmed, now=utcnow())
                letters = record_refused(
                    session, self.runtime.vault, name, refused, request_id=request_id
                )
                # The cover as it is now: the event loop may extend it meanwhile (customers
                # read behind this batch); the rest is stored by a later commit.
                key = self._capped(ticket.cover)
                advance_sink_cursor(session, name, key)
            if ahead is not None:
                self._audit(session, ahead)
        return letters, key

    def _start_commit(self, ahead: _Ready | None) -> None:
        """Commit the last answer and audit ``ahead`` in a worker thread while the next call
        is in flight."""
        answered, self.answered = self.answered, None
        if answered is None and ahead is None:
            return

        def commit() -> _Committed:
            return self._commit(answered, ahead)

        self.committing = (asyncio.ensure_future(asyncio.to_thread(commit)), answered)

    async def _settle(self, *, commit_answered: bool = False) -> None:
        """Wait for the commit in flight and account for the batch it confirmed; with
        ``commit_answered``, also commit the last answer (the run's end)."""
        if commit_answered and self.committing is None and self.answered is not None:
            self._start_commit(None)
        if self.committing is None:
            return
        (future, answered), self.committing = self.committing, None
        letters, key = await future
        if answered is None:
            return
        (batch, ticket, request_id), confirmed, refused = answered
        self.frontier.confirm(ticket)
        if key is not None and (self.stored is None or key > self.stored):
            self.stored = key
        for planned in confirmed:
            self.report.pushed(planned.action)
        for (planned, reason), letter in zip(refused, letters, strict=True):
            self.report.rejected.append(RefusedItem(planned.view.pseudonym, reason, letter))
        self.report.batches.append(Batch(request_id, len(batch), confirmed=True))

    async def _send(self) -> None:
        if self.dry_run:
            return self._preview()
        if self.ready is None:
            await self._settle()  # one writer at a time: the last answer lands first
            ready = self._take()
            with self.units.write() as session:
                self._audit(session, ready)
            self.ready = ready
        ready, self.ready = self.ready, None
        batch, _, request_id = ready
        ahead = self._take() if self._next_is_due() else None
        call = asyncio.ensure_future(self._upsert(batch))
        try:
            # Let the call build and write its request before the worker threads compete with
            # it for the interpreter lock (each switch costs the event loop up to 5 ms).
            for _ in range(_SEND_STEPS):
                await asyncio.sleep(0)
            self._start_commit(ahead)
            self._prefetch()
            results = await call
        except BaseException as exc:
            call.cancel()
            # What the sink answered before still counts, whether or not its commit started.
            await self._settle(commit_answered=True)
            if ahead is not None:  # audited, and never to be sent
                with self.units.write() as session:
                    withdraw_outgoing(session, ahead[2])
            if isinstance(exc, _SinkFailed):
                self.report.batches.append(Batch(request_id, len(batch), confirmed=False))
            raise
        await self._settle()
        confirmed: list[Planned] = []
        refused: list[tuple[Planned, str]] = []
        for planned, result in zip(batch, results, strict=True):
            if result.error:
                refused.append((planned, result.error[:900]))
            else:
                confirmed.append(planned)
        self.answered = (ready, confirmed, refused)
        self.ready = ahead
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


