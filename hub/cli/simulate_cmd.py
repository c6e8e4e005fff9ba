"""``hub simulate``: what the scenarios would do with these events, without sending anything.

The configuration is the real one (scenarios, pressure policy, bricks' governance), but the run
happens in a scratch installation in a temporary directory: the configured database is never
opened and no brick is called (docs/simulate.md). Exit 0 with the report, 2 for unusable input
(a file, a date), naming the option.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated, Any

import typer

from hub.cli.output import emit_json, fail, parse_instant, stderr, stdout
from hub.config import HubSettings, find_config_path, load_settings
from hub.logs import configure_logging
from hub.simulate import (
    SimulatedDecision,
    SimulationInputError,
    SimulationReport,
    read_event_file,
)
from hub.simulate import (
    simulate as run_simulation,
)

__all__ = ["simulate"]


def _when(decision: SimulatedDecision) -> str:
    return decision.at.isoformat(timespec="seconds").replace("+00:00", "Z")


def _line(decision: SimulatedDecision) -> str:
    channel = decision.channel or "-"
    rule = f" [{decision.rule}]" if decision.rule else ""
    until = f" until {decision.until.isoformat()}" if decision.until else ""
    return (
        f"{_when(decision)}  {decision.customer_id}  {decision.scenario}#{decision.step}  "
        f"{channel}  {decision.outcome}{rule}{until} — {decision.reason}"
    )


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{n} {what}" for what, n in counts.items()) or "none"


def _print(report: SimulationReport) -> None:
    data: dict[str, Any] = report.as_dict()
    events = data["events"]
    stdout.print(
        f"simulated {report.start.isoformat()} -> {report.end.isoformat()}: "
        f"{events['accepted']} event(s) replayed, {events['duplicates']} duplicate(s), "
        f"{len(report.events_rejected)} rejected, {report.events_skipped} outside the window; "
        f"nothing was sent",
        markup=False,
    )
    if report.contacts:
        contacts = {k: v for k, v in data["contacts"].items() if k != "rejected"}
        stdout.print(
            f"contacts: {_counts(contacts)}, {len(report.contacts_rejected)} rejected",
            markup=False,
        )
    for decision in report.decisions:
        stdout.print(_line(decision), markup=False)
    totals = data["totals"]
    stdout.print(f"decisions: {_counts(totals['outcomes'])}", markup=False)
    for name, counts in totals["scenarios"].items():
        stdout.print(f"  scenario {name}: {_counts(counts)}", markup=False)
    for name, counts in totals["channels"].items():
        stdout.print(f"  channel {name}: {_counts(counts)}", markup=False)
    for name, count in totals["rules"].items():
        stdout.print(f"  rule {name}: {count}", markup=False)


def _quiet_logging(settings: HubSettings) -> None:
    """Warnings and errors only: the worker runs at every instant, and its per-job info lines
    would repeat the report on stderr hundreds of times."""
    configured = settings.logging.level
    severe = logging.getLevelName(configured.upper()) > logging.INFO
    style = settings.logging.format
    configure_logging(
        level=configured if severe else "warning",
        json_output=None if style == "auto" else style == "json",
    )


def simulate(
    ctx: typer.Context,
    events: Annotated[
        Path, typer.Option("--events", help="Events to replay, one JSON object per line.")
    ],
    start: Annotated[
        str, typer.Option("--from", help="Start of the virtual clock (ISO 8601 with offset).")
    ],
    end: Annotated[str, typer.Option("--to", help="End of the window, excluded.")],
    contacts: Annotated[
        Path | None,
        typer.Option("--contacts", help="Contacts to import first (.csv or .jsonl)."),
    ] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Machine-readable report.")] = False,
) -> None:
    """Replay events through the scenarios on a virtual clock; print every decision."""
    begin, finish = parse_instant(start, "--from"), parse_instant(end, "--to")
    if contacts is not None and not contacts.is_file():
        fail(f"--contacts: no such file: {contacts}")
    settings = load_settings(find_config_path(ctx.obj.config))
    _quiet_logging(settings)
    try:
        timed = read_event_file(events)
        report = run_simulation(
            settings, timed, start=begin, end=finish, contacts=contacts, host=ctx.obj.host
        )
    except SimulationInputError as exc:
        fail(str(exc))
    if json_output:
        emit_json(report.as_dict())
    else:
        _print(report)
    for problem in report.events_rejected:
        stderr.print(
            f"--events line {problem.line}: {problem.field}: {problem.reason}", markup=False
        )
    for problem in report.contacts_rejected:
        stderr.print(
            f"--contacts line {problem.line}: {problem.field}: {problem.reason}", markup=False
        )
