"""``hub contacts sync --from SOURCE --to SINK[,SINK...]``: the hub's changes pushed to sinks."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from hub.cli.output import EXIT_OK, emit_json, fail, stderr, stdout
from hub.runtime import Runtime
from hub.sync.engine import SyncProgress, sync_contacts
from hub.sync.report import SinkReport, SyncReport
from hub.sync.targets import SyncOptionError

__all__ = ["sync"]

#: Seconds between two "source: N record(s) read" lines when stderr is not a terminal.
_EVERY = 5.0


class _Lines:
    """Not a terminal: a plain line on stderr per sink start, each tenth done, and the end."""

    def __init__(self) -> None:
        self.totals: dict[str, int] = {}
        self.done: dict[str, int] = {}
        self.pulled_total = 0
        self.last_line = float("-inf")

    def pulled(self, records: int) -> None:
        self.pulled_total += records
        if time.monotonic() - self.last_line >= _EVERY:  # the first page, then every 5 s
            self.last_line = time.monotonic()
            stderr.print(f"source: {self.pulled_total} record(s) read", markup=False)

    def start(self, sink: str, total: int) -> None:
        self.totals[sink], self.done[sink] = total, 0
        stderr.print(f"{sink}: {total} changed customer(s) to examine", markup=False)

    def advance(self, sink: str, read: int) -> None:
        before = self.done[sink]
        self.done[sink] = before + read
        total = max(self.totals[sink], 1)
        if (before * 10) // total != (self.done[sink] * 10) // total:
            stderr.print(f"{sink}: {self.done[sink]}/{self.totals[sink]} examined", markup=False)

    def finish(self, report: SinkReport) -> None:
        state = f"stopped: {report.error}" if report.error else "done"
        stderr.print(f"{report.sink}: {state}", markup=False)


class _Bars:
    """A terminal: a Rich progress bar for the source and one per sink."""

    def __init__(self, bar: Progress) -> None:
        self.bar = bar
        self.tasks: dict[str, Any] = {}

    def pulled(self, records: int) -> None:
        if "source" not in self.tasks:
            self.tasks["source"] = self.bar.add_task("pulling from the source", total=None)
        self.bar.advance(self.tasks["source"], records)

    def start(self, sink: str, total: int) -> None:
        self.tasks[sink] = self.bar.add_task(f"syncing to {sink}", total=total)

    def advance(self, sink: str, read: int) -> None:
        self.bar.advance(self.tasks[sink], read)

    def finish(self, report: SinkReport) -> None:
        return None


@contextmanager
def _progress() -> Iterator[SyncProgress]:
    if not stderr.is_terminal:
        yield _Lines()
        return
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn())
    with Progress(*columns, console=stderr, transient=True) as bar:
        yield _Bars(bar)


async def _run(runtime: Runtime, **options: Any) -> SyncReport:
    try:
        return await sync_contacts(runtime, **options)
    finally:
        await runtime.aclose()


def _print(report: SyncReport) -> None:
    if report.pull is not None or report.source_error:
        pull = report.pull
        counts = (
            f"{pull.created} created, {pull.updated} updated, {pull.unchanged} unchanged, "
            + (f"{pull.suppressed} suppressed, " if pull.suppressed else "")
            + f"{len(pull.rejected)} rejected"
            if pull is not None
            else "counts lost in the failure"
        )
        stdout.print(f"source {report.source}: {report.pulled} read ({counts})", markup=False)
    for sink in report.sinks:
        stdout.print(
            f"{sink.sink}: {sink.read} read, {sink.created} created, {sink.updated} updated, "
            f"{sink.unsubscribed} unsubscribed, {sink.unchanged} unchanged, "
            f"{sink.skipped_by_consent} skipped by consent, {sink.skipped_inactive} inactive, "
            f"{len(sink.rejected)} rejected ({len(sink.batches)} batch(es) of up to "
            f"{sink.batch_size})",
            markup=False,
        )
    if report.dry_run:
        stdout.print("dry run: nothing was written and no sink was called", markup=False)
        for sink in report.sinks:
            for item in sink.sample:
                values = " ".join(f"{k}={v}" for k, v in item["fields"].items()) or "-"
                extra = "".join(
                    f" {key}: {','.join(item[key])}"
                    for key in ("added", "removed", "opted_out")
                    if item.get(key)
                )
                stdout.print(
                    f"  {sink.sink} {item['pseudonym']} {item['action']}: {values}{extra}",
                    markup=False,
                )


def _problems(report: SyncReport) -> None:
    """Rejections and failures, on stderr, whatever the output format."""
    if report.pull is not None:
        for item in report.pull.rejected:
            stderr.print(
                f"source contact #{item.index}: {item.field}: {item.reason} "
                f"(dead letter #{item.dead_letter_id})",
                markup=False,
            )
    if report.source_error:
        stderr.print(
            f"error: source {report.source!r} failed after retries: {report.source_error} "
            "(pages stored before stay; the next run resumes)",
            markup=False,
        )
    for sink in report.sinks:
        for refused in sink.rejected:
            stderr.print(
                f"{sink.sink} rejected {refused.pseudonym}: {refused.reason} "
                f"(dead letter #{refused.dead_letter_id})",
                markup=False,
            )
        if sink.error:
            stderr.print(
                f"error: sink {sink.sink!r} failed after retries: {sink.error} "
                "(confirmed batches are kept; the next run resumes)",
                markup=False,
            )


def sync(
    ctx: typer.Context,
    source: Annotated[
        str, typer.Option("--from", help="A contact_source brick, or 'hub' (push only).")
    ],
    to: Annotated[str, typer.Option("--to", help="Contact sinks, comma-separated.")],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Summary and a masked sample diff; writes nothing.")
    ] = False,
    full: Annotated[
        bool, typer.Option("--full", help="Every customer, pushed even if unchanged.")
    ] = False,
    json_output: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Pull the source's changes (unless --from hub), then push each sink what changed in the
    hub since its cursor: allowed fields, its own pseudonym, consent-filtered, in its batches.

    Exit 0 when all went through, 2 when anything was rejected (dead-lettered) or an option is
    wrong, 4 when the source or a sink failed after retries (the next run resumes).
    """
    runtime = ctx.obj.runtime()
    runtime.ready_engine()
    options = {"source": source, "sinks": to.split(","), "dry_run": dry_run, "full": full}
    try:
        with _progress() as progress:
            report = asyncio.run(_run(runtime, progress=progress, **options))
    except SyncOptionError as exc:
        fail(str(exc))
    except KeyboardInterrupt:
        stderr.print(
            "interrupted: batches the sinks confirmed are kept; run the same command to resume",
            markup=False,
        )
        raise
    if json_output:
        emit_json(report.as_json())
    else:
        _print(report)
    _problems(report)
    if report.exit_code != EXIT_OK:
        raise typer.Exit(report.exit_code)
