"""``hub campaign plan``: arbitrate candidate sends of several campaigns against the policy.

The file is read here (CSV with a header, or JSON Lines) and handed to the planner row by row;
the planner decides, in SQL, which candidates each customer gets. Lists can be large (a
million candidates), so ``--output`` streams them to a JSON Lines file instead of stdout.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import fields as dataclass_fields
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from contracts import Channel
from hub.cli.output import EXIT_INVALID, emit_json, fail, stderr, stdout
from hub.pressure.plan import Candidate, InvalidRow, PlanError, PlanRow, plan_campaign
from hub.pressure.policy import Policy
from hub.records import RecordFileError, read_records
from hub.storage.types import utcnow

app = typer.Typer(help="Plan batch campaigns under the pressure policy.", no_args_is_help=True)

REQUIRED = ("customer_id", "scenario", "channel")
COLUMNS = (*REQUIRED, "campaign", "at")
OUTCOMES = ("admitted", "deferred", "excluded")


class CandidateFileError(RecordFileError):
    """The file as a whole cannot be read (format, header)."""


def _check_header(header: list[str]) -> None:
    missing = [name for name in REQUIRED if name not in header]
    unknown = [name for name in header if name not in COLUMNS]
    if missing or unknown:
        raise CandidateFileError(
            f"header must name {', '.join(REQUIRED)} (optional: campaign, at); "
            f"missing: {', '.join(missing) or 'none'}, unknown: {', '.join(unknown) or 'none'}"
        )


def read_candidates(path: Path, policy: Policy, at: datetime) -> Iterator[Candidate | InvalidRow]:
    """One candidate per record; a record that cannot be planned comes as ``InvalidRow`` with
    its line and reason, so it is reported with the rest instead of stopping the plan."""
    for record in read_records(path, check_header=_check_header):
        if record.fields is None:
            yield InvalidRow(record.line, record.problem or "unreadable record")
        else:
            yield _candidate(record.line, record.fields, policy, at)


def _candidate(
    line: int, fields: dict[str, Any], policy: Policy, at: datetime
) -> Candidate | InvalidRow:
    customer = fields.get("customer_id")

    def invalid(reason: str) -> InvalidRow:
        return InvalidRow(line, reason, customer if isinstance(customer, str) else None)

    unknown = sorted(set(fields) - set(COLUMNS))
    if unknown:
        return invalid(f"unknown column(s) {', '.join(unknown)}")
    wrong = [
        key for key, value in fields.items() if value is not None and not isinstance(value, str)
    ]
    if wrong:
        return invalid(f"{wrong[0]} must be text")
    values = {key: (fields.get(key) or "").strip() for key in COLUMNS}
    missing = [key for key in REQUIRED if not values[key]]
    if missing:
        return invalid(f"{missing[0]} is missing")
    if values["scenario"] not in policy.scenarios:
        declared = ", ".join(sorted(policy.scenarios)) or "none"
        return invalid(f"unknown scenario {values['scenario']!r} (declared: {declared})")
    if values["channel"].lower() not in {c.value for c in Channel}:
        known = ", ".join(c.value for c in Channel)
        return invalid(f"unknown channel {values['channel']!r} (one of {known})")
    if values["at"]:
        try:
            given = datetime.fromisoformat(values["at"].replace("Z", "+00:00"))
        except ValueError:
            return invalid(f"at {values['at']!r} is not an ISO 8601 instant")
        if given.tzinfo is None or given != at:
            return invalid(
                f"at {values['at']} is not the plan time {at.isoformat()} "
                "(plan each send time separately, with --at)"
            )
    channel = Channel(values["channel"].lower())
    campaign = values["campaign"] or None
    return Candidate(line, values["customer_id"], values["scenario"], channel, campaign)


def _instant(value: str | None) -> datetime:
    if value is None:
        return utcnow()
    try:
        instant = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        fail(f"--at {value!r} is not an ISO 8601 instant")
    if instant.tzinfo is None:
        fail("--at needs a UTC offset, e.g. 2026-03-01T09:00:00+01:00 or ...Z")
    return instant


_FIELDS = tuple(field.name for field in dataclass_fields(PlanRow))


def _row(row: PlanRow) -> dict[str, Any]:
    """``asdict`` without its deep copy (a million rows): every field is a plain value."""
    data = {name: getattr(row, name) for name in _FIELDS}
    data["not_before"] = row.not_before.isoformat() if row.not_before else None
    return data


@contextmanager
def _sink(
    output: Path | None, lists: dict[str, list[dict[str, Any]]]
) -> Iterator[Callable[[PlanRow], None]]:
    """Rows to a JSON Lines file, or into ``lists`` for stdout."""
    if output is None:
        yield lambda row: lists[row.outcome].append(_row(row))
        return
    try:
        handle = output.open("w", encoding="utf-8")
    except OSError as exc:
        fail(f"cannot write {output}: {exc.strerror}")
    with handle:
        yield lambda row: handle.write(json.dumps(_row(row), ensure_ascii=False) + "\n")


@app.command("plan")
def plan_cmd(
    ctx: typer.Context,
    candidates: Annotated[
        Path,
        typer.Option(
            "--candidates",
            help="CSV (header: customer_id, scenario, channel[, campaign, at]) or JSON Lines.",
            dir_okay=False,
        ),
    ],
    at: Annotated[
        str | None,
        typer.Option("--at", help="Plan time, ISO 8601 with offset (default: now)."),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output", help="Write every planned row to this JSON Lines file.", dir_okay=False
        ),
    ] = None,
    commit: Annotated[
        bool, typer.Option("--commit", help="Write admitted sends to the ledger (as sent).")
    ] = False,
    reserve: Annotated[
        bool,
        typer.Option("--reserve", help="With --commit: hold them as reservations instead."),
    ] = False,
    json_output: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Give each customer the candidate messages that fit, highest priority first.

    Exit 0 when every row was planned, 2 when any row was invalid (the others are planned and
    reported, but nothing is committed).
    """
    if reserve and not commit:
        fail("--reserve only makes sense with --commit")
    plan_at = _instant(at)
    runtime = ctx.obj.runtime()
    engine, policy = runtime.ready_engine(), runtime.ledger.policy
    lists: dict[str, list[dict[str, Any]]] = {outcome: [] for outcome in OUTCOMES}
    try:
        with _sink(output, lists) as sink:
            report = plan_campaign(
                engine,
                policy,
                read_candidates(candidates, policy, plan_at),
                at=plan_at,
                commit=commit,
                reserve=reserve,
                sink=sink,
            )
    except (RecordFileError, PlanError) as exc:
        fail(str(exc))
    summary = report.as_dict()
    if output is not None:
        summary["output"] = str(output)
    else:
        summary.update(lists)
    if json_output:
        emit_json(summary)
    else:
        totals = summary["totals"]
        stdout.print(
            f"plan at {summary['at']} (rules {report.version}): "
            + ", ".join(f"{totals[k]} {k}" for k in (*OUTCOMES, "invalid")),
            markup=False,
        )
        for name, counts in summary["rules"].items():
            shown = ", ".join(f"{n} {k}" for k, n in sorted(counts.items()))
            stdout.print(f"  rule {name}: {shown}", markup=False)
        for name, counts in summary["campaigns"].items():
            shown = ", ".join(f"{counts.get(k, 0)} {k}" for k in OUTCOMES)
            stdout.print(f"  campaign {name}: {shown}", markup=False)
        if report.committed:
            stdout.print(f"{report.committed} written to the ledger as {report.status}")
    for row in report.invalid:
        stderr.print(f"line {row.line}: {row.reason}", markup=False)
    if report.not_committed:
        stderr.print(f"nothing committed: {report.not_committed}", markup=False)
    if report.invalid:
        raise typer.Exit(EXIT_INVALID)
