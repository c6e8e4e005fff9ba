"""``hub jobs list|in-doubt|resolve``: scenario jobs, and the operator's word on in-doubt ones."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from hub.cli.output import emit_json, fail, stdout
from hub.cli.tables import table
from hub.scenarios.jobs import JobStatus
from hub.worker.resolve import JobNotInDoubt, list_jobs, resolve_in_doubt

__all__ = ["app"]

app = typer.Typer(help="Scenario jobs: list them, review and resolve in-doubt sends.")

JsonOption = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]
_HEADERS = ["id", "status", "scenario", "step", "customer", "due", "channel", "reason"]


def _rows(jobs: list[dict[str, Any]]) -> list[list[Any]]:
    return [
        [
            job["id"],
            job["status"],
            job["scenario"],
            job["step"],
            job["customer_id"],
            job["due_at"].isoformat(),
            job["channel"],
            job["reason"],
        ]
        for job in jobs
    ]


def _show(jobs: list[dict[str, Any]], json_output: bool, empty: str) -> None:
    if json_output:
        emit_json({"jobs": jobs})
    elif not jobs:
        stdout.print(empty, markup=False)
    else:
        table(_HEADERS, _rows(jobs))


@app.command("list")
def list_command(
    ctx: typer.Context,
    status: Annotated[
        str | None, typer.Option("--status", help="scheduled, running, done, in_doubt...")
    ] = None,
    customer: Annotated[str | None, typer.Option("--customer", help="Hub customer id.")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=100_000)] = 100,
    json_output: JsonOption = False,
) -> None:
    """Jobs, latest due first."""
    if status is not None and status not in {s.value for s in JobStatus}:
        fail(f"--status: {status!r} is not one of {', '.join(s.value for s in JobStatus)}")
    runtime = ctx.obj.runtime()
    jobs = list_jobs(runtime, status=status, customer_id=customer, limit=limit)
    _show(jobs, json_output, "no jobs")


@app.command("in-doubt")
def in_doubt(ctx: typer.Context, json_output: JsonOption = False) -> None:
    """Jobs whose send was cut off at a brick without idempotency keys: check the vendor,
    then `hub jobs resolve ID --sent` or `--not-sent`."""
    runtime = ctx.obj.runtime()
    jobs = list_jobs(runtime, status=JobStatus.IN_DOUBT.value, limit=100_000)
    _show(jobs, json_output, "no job is in doubt")


@app.command("resolve")
def resolve(
    ctx: typer.Context,
    job_id: Annotated[int, typer.Argument(help="The in-doubt job's id.")],
    sent: Annotated[
        bool, typer.Option("--sent", help="The vendor did send it: mark done, count it.")
    ] = False,
    not_sent: Annotated[
        bool, typer.Option("--not-sent", help="It never went out: send it again now.")
    ] = False,
    json_output: JsonOption = False,
) -> None:
    """Record the operator's decision on an in-doubt job."""
    if sent == not_sent:
        fail("give exactly one of --sent or --not-sent")
    runtime = ctx.obj.runtime()
    try:
        resolution = resolve_in_doubt(runtime, job_id, sent=sent)
    except JobNotInDoubt as exc:
        fail(f"job: {exc}")
    if json_output:
        emit_json(
            {"job_id": job_id, "status": resolution.status.value, "reason": resolution.reason}
        )
    else:
        stdout.print(f"job {job_id}: {resolution.status.value} ({resolution.reason})", markup=False)
