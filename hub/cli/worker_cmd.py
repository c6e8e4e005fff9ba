"""``hub worker``: run due scenario jobs (for ever, or ``--until-idle`` for cron and tests).

Ctrl-C finishes the job in hand, records it, puts the rest of the batch back and prints the
summary; a second Ctrl-C stops at once (a job cut off that way is recovered by the next worker
after the lease). Exit 0 unless the configuration is wrong (2).
"""

from __future__ import annotations

import asyncio
import os
import socket
from typing import Annotated

import typer

from hub.cli.output import emit_json, fail, stderr, stdout
from hub.worker import run_worker
from hub.worker.execute import JobResult

__all__ = ["worker"]


def _default_id() -> str:
    return f"{socket.gethostname()[:40]}:{os.getpid()}"


def _line(result: JobResult) -> None:
    where = f" on {result.channel}" if result.channel else ""
    stderr.print(
        f"job {result.job_id} {result.scenario}#{result.step}: {result.status.value}{where}"
        f" — {result.reason}",
        markup=False,
    )


def worker(
    ctx: typer.Context,
    until_idle: Annotated[
        bool, typer.Option("--until-idle", help="Process what is due, then exit.")
    ] = False,
    batch: Annotated[
        int | None,
        typer.Option("--batch", min=1, max=1000, help="Jobs per claim (default: [worker])."),
    ] = None,
    worker_id: Annotated[
        str | None,
        typer.Option("--worker-id", help="Name in claimed_by (default: host:pid)."),
    ] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Machine-readable summary.")] = False,
) -> None:
    """Claim due scenario jobs and send them through consent, pressure and the bricks."""
    name = worker_id or _default_id()
    if len(name) > 64:
        fail("--worker-id: at most 64 characters")
    runtime = ctx.obj.runtime()
    verbose = not json_output and stderr.is_terminal
    try:
        report = run_worker(
            runtime,
            worker_id=name,
            until_idle=until_idle,
            batch=batch,
            on_job=_line if verbose else None,
        )
    finally:
        asyncio.run(runtime.aclose())
    if json_output:
        emit_json(report.as_dict())
        return
    counts = ", ".join(f"{n} {s}" for s, n in sorted(report.statuses.items())) or "nothing due"
    stdout.print(f"worker {name}: {report.processed} job(s): {counts}", markup=False)
    if report.recovered:
        recovered = ", ".join(f"{n} {s}" for s, n in sorted(report.recovered.items()))
        stdout.print(f"recovered from stopped workers: {recovered}", markup=False)
    if report.scanned:
        stdout.print(f"inactivity scan scheduled {report.scanned} job(s)", markup=False)
    if report.stopped:
        stdout.print("stopped on request", markup=False)
