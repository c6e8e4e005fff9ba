"""``hub governance report``: per brick, what it may receive, holds and received, and under
which consent; the pressure policy in words. Text, JSON, or one static HTML page.

It reads config, the audit log, ``sink_contacts``, consents and decommissions, and no key:
the report touches no personal data, so it can run where the vault keys are not available.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Annotated

import typer

from hub.cli.output import emit_json, fail, parse_instant, stdout
from hub.governance import WINDOW_DAYS, GovernanceReport, build_report, render_html
from hub.governance.present import (
    coverage_text,
    fields_text,
    holds_text,
    instant,
    known,
    listing,
    transfers_text,
)
from hub.storage.db import require_current_schema

__all__ = ["app"]

app = typer.Typer(help="Governance: what each brick receives and holds.", no_args_is_help=True)


def _write(path: Path, text: str) -> None:
    """Atomically: a scheduled run never leaves a half-written page for a reader."""
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        fail(f"--html: folder {str(folder)!r} does not exist")
    if path.is_dir():
        fail(f"--html: {str(path)!r} is a folder; give a file name")
    handle, temporary = tempfile.mkstemp(prefix=".governance-", suffix=".html", dir=folder)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _print(report: GovernanceReport) -> None:
    counts = report.counts()
    config = report.config_path or "environment variables only"
    say = stdout.print
    say(
        f"governance report for {instant(report.at)} (generated {instant(report.generated_at)})",
        markup=False,
    )
    say(f"config {config}; pressure rule set {report.rule_set_version}", markup=False)
    say(
        f"bricks: {counts['bricks']} (enabled {counts['enabled']}, disabled "
        f"{counts['disabled']}, decommissioned {counts['decommissioned']}, not installed "
        f"{counts['not_installed']}); transfers in the last {WINDOW_DAYS} days: "
        f"{counts['transfers_last_days']}",
        markup=False,
    )
    say(f"enabled but never used: {listing(report.never_used)}", markup=False)
    if report.unconfigured:
        say(f"installed, not configured: {listing(report.unconfigured)}", markup=False)
    for brick in report.bricks:
        say("", markup=False)
        say(f"{brick.name} [{brick.status}] {brick.description}".rstrip(), markup=False)
        rows = [
            ["capabilities", known(brick, brick.capabilities)],
            ["channels", known(brick, brick.channels)],
            ["may receive", fields_text(brick)],
            ["purposes", known(brick, brick.purposes)],
            ["holds", holds_text(brick)],
            ["consent coverage", coverage_text(brick)],
            ["last transfer", instant(brick.last_transfer)],
            ["transfers", transfers_text(brick, WINDOW_DAYS)],
        ]
        if brick.decommissioned_at is not None:
            rows.append(["decommissioned", instant(brick.decommissioned_at)])
        if brick.never_used:
            rows.append(["warning", "enabled but never used"])
        width = max(len(key) for key, _ in rows)
        for key, value in rows:
            say(f"  {key.ljust(width)}  {value}", markup=False)
    say("", markup=False)
    say(f"pressure policy (rule set {report.rule_set_version})", markup=False)
    for line in report.policy:
        say(f"  - {line.text}", markup=False)


@app.command("report")
def report_cmd(
    ctx: typer.Context,
    json_output: Annotated[bool, typer.Option("--json", help="One JSON document.")] = False,
    html: Annotated[
        Path | None,
        typer.Option("--html", help="Write one self-contained HTML page to FILE.", dir_okay=False),
    ] = None,
    at: Annotated[
        str | None, typer.Option("--at", help="As of this instant (ISO 8601 with offset).")
    ] = None,
) -> None:
    """Per brick: status, fields it may receive, purposes, customers held, last transfer,
    transfers per day, consent coverage; bricks never used; the pressure policy in words."""
    if json_output and html is not None:
        fail("--html: give either --json or --html, not both")
    moment = parse_instant(at, "--at") if at is not None else None
    runtime = ctx.obj.runtime()
    require_current_schema(runtime.engine)
    report = build_report(
        runtime.engine,
        runtime.bricks,
        runtime.settings,
        at=moment,
        config_path=runtime.settings.source_path,
    )
    if json_output:
        emit_json(report.as_json())
    elif html is not None:
        _write(html, render_html(report))
        stdout.print(f"wrote {html}", markup=False)
    else:
        _print(report)
