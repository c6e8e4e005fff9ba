"""``hub contacts sync``: pull from a source brick (or not), then push the hub's changes to sinks.

The pull stores contacts like ``hub contacts pull``; then each sink in turn gets a
``SinkRun`` (``hub.sync.sink_run``): its change feed from its own cursor, its batches, its
confirmations. A crash, a Ctrl-C or a sink failing after its retries resumes at the first
unconfirmed batch: no gap, and no duplicate beyond a batch whose confirmation was lost between
the vendor's answer and the commit (upserts are idempotent at the vendor, by pseudonym).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import timedelta

from sqlmodel import Session

from contracts import BrickError
from hub.contacts.pull import pull_contacts
from hub.logs import get_logger
from hub.runtime import Runtime
from hub.storage.types import utcnow
from hub.sync.feed import DEFAULT_SETTLE
from hub.sync.report import SinkReport, SyncReport
from hub.sync.sink_run import FEED_PAGE, SinkRun, Sleep, SyncProgress
from hub.sync.source import preview_pull
from hub.sync.targets import HUB_SOURCE, check_source, resolve_sinks
from hub.sync.units import Units

__all__ = ["FEED_PAGE", "SyncProgress", "sync_contacts"]

log = get_logger(__name__)


class _Silent:
    def pulled(self, records: int) -> None:
        return None

    def start(self, sink: str, total: int) -> None:
        return None

    def advance(self, sink: str, read: int) -> None:
        return None

    def finish(self, report: SinkReport) -> None:
        return None


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
            run = SinkRun(
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
