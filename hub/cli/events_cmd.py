"""``hub events ingest|poll|dead-letters|replay``: customer events in, refusals out and back
(refused events, unreadable webhook bodies and undelivered opt-outs alike).

Exit codes: 0 when every event was accepted (or already stored), 2 when any was refused (it is
dead-lettered with its field and reason; the others are stored) or the input is unusable, 4 when
a brick kept failing after the core's retries.
"""

from __future__ import annotations

import asyncio
import itertools
from pathlib import Path
from typing import Annotated, Any

import typer

from hub.cli.output import EXIT_INVALID, EXIT_VENDOR, emit_json, fail, stderr, stdout
from hub.cli.sources import exit_if_rejected, read_source, rejection_rows
from hub.dead_letters import store_dead_letter
from hub.events.intake import BATCH_SIZE, DEAD_LETTER_KIND, ingest_events
from hub.events.letters import REPLAYABLE_KINDS, replayable_letters
from hub.events.poll import NotAnEventSource, poll_events
from hub.events.replay import DeadLetterNotFound, ReplayResult, replay_dead_letter
from hub.records import Record, RecordFileError, read_records
from hub.runtime import Runtime
from hub.storage.db import session_scope

__all__ = ["app"]

app = typer.Typer(help="Customer events: ingest, poll, dead letters.", no_args_is_help=True)

JsonOption = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]


def _bad_lines(
    runtime: Runtime, path: Path, source: str, records: list[Record]
) -> list[dict[str, Any]]:
    """Lines that are not a JSON object: dead-lettered as text, in one transaction."""
    refused = []
    with session_scope(runtime.ready_engine()) as session:
        for record in records:
            reason = record.problem or "not a JSON object"
            letter = store_dead_letter(
                session,
                runtime.vault,
                kind=DEAD_LETTER_KIND,
                source=source,
                reference=f"{path.name}:{record.line}",
                reason=reason,
                payload=record.raw,
            )
            refused.append(
                {"line": record.line, "field": None, "reason": reason, "dead_letter": letter.id}
            )
    return refused


def _summary_line(accepted: int, duplicates: int, rejected: int) -> str:
    return f"{accepted} accepted, {duplicates} duplicates, {rejected} rejected"


def _print_rejections(rejected: list[dict[str, Any]]) -> None:
    for item in rejected:
        where = f"line {item['line']}: " if item.get("line") is not None else ""
        field = f"{item['field']}: " if item["field"] else ""
        letter = f" (dead letter #{item['dead_letter']})" if item.get("dead_letter") else ""
        stderr.print(f"{where}{field}{item['reason']}{letter}", markup=False)


@app.command("ingest")
def ingest(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="A .jsonl file: one JSON event per line.")],
    source: Annotated[
        str | None,
        typer.Option("--source", help="Where the events come from (default: file:<name>)."),
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Validate, de-duplicate, resolve and store events; refusals are dead-lettered.

    Exit 0 when every event was accepted or already stored, 2 when any was rejected.
    """
    if file.suffix.lower() == ".csv":
        fail(f"FILE: {file.name}: events are JSON Lines (.jsonl), one event per line")
    label = source or f"file:{file.name}"
    if not 1 <= len(label) <= 128:
        fail("--source: must be 1 to 128 characters")
    runtime = ctx.obj.runtime()
    runtime.ready_engine()
    accepted = duplicates = 0
    rejected: list[dict[str, Any]] = []
    try:
        records = read_records(file)
        while batch := list(itertools.islice(records, BATCH_SIZE)):
            good = [(r, r.fields) for r in batch if r.fields is not None]
            bad = [r for r in batch if r.fields is None]
            if bad:
                rejected.extend(_bad_lines(runtime, file, label, bad))
            report = ingest_events(runtime, [fields for _, fields in good], source=label)
            accepted += report.accepted
            duplicates += report.duplicates
            rejected.extend(
                {
                    "line": good[r.index][0].line,
                    "field": r.field,
                    "reason": r.reason,
                    "dead_letter": r.dead_letter_id,
                }
                for r in report.rejected
            )
    except RecordFileError as exc:
        fail(f"FILE: {exc}")
    rejected.sort(key=lambda item: item["line"])
    if json_output:
        emit_json(
            {
                "source": label,
                "accepted": accepted,
                "duplicates": duplicates,
                "rejected": rejected,
            }
        )
    else:
        stdout.print(_summary_line(accepted, duplicates, len(rejected)), markup=False)
    _print_rejections(rejected)
    if rejected:
        raise typer.Exit(EXIT_INVALID)


@app.command("poll")
def poll(
    ctx: typer.Context,
    brick: Annotated[str, typer.Option("--from", help="An enabled brick with event_source.")],
    max_pages: Annotated[
        int | None, typer.Option("--max-pages", min=1, help="Stop after N pages.")
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Pull new events from a brick, page by page; the cursor advances with each stored page.

    Exit 0 when every event was accepted or already stored, 2 when any was rejected, 4 when the
    brick kept failing (pages stored before stay stored, and the next poll resumes there).
    """
    runtime = ctx.obj.runtime()
    report = read_source(
        runtime, brick, lambda: poll_events(runtime, brick, max_pages=max_pages), NotAnEventSource
    )
    rejected = rejection_rows(report.rejected)
    if json_output:
        emit_json(
            {
                "brick": brick,
                "pages": report.pages,
                "accepted": report.accepted,
                "duplicates": report.duplicates,
                "rejected": rejected,
                "has_more": report.has_more,
            }
        )
    else:
        more = " (more pages waiting)" if report.has_more else ""
        stdout.print(
            f"{report.pages} page(s) from {brick}: "
            f"{_summary_line(report.accepted, report.duplicates, len(rejected))}{more}",
            markup=False,
        )
    exit_if_rejected(rejected, "event")


def _letter_row(letter: Any) -> dict[str, Any]:
    return {
        "id": letter.id,
        "kind": letter.kind,
        "source": letter.source,
        "reference": letter.reference,
        "field": letter.field,
        "reason": letter.reason,
        "status": letter.status,
        "created_at": letter.created_at.isoformat(),
    }


@app.command("dead-letters")
def dead_letters(
    ctx: typer.Context,
    kind: Annotated[
        str | None,
        typer.Option(
            "--kind",
            help="Only one kind: event (refused events), webhook (vendor bodies a brick could "
            "not read), propagation (opt-outs a contact sink could not be told), contact "
            "(pulled contacts the core refused), identity_link (pulled links it refused), "
            "audience_push (audiences a sink could not take).",
        ),
    ] = None,
    all_: Annotated[
        bool, typer.Option("--all", help="Include replayed letters (default: pending only).")
    ] = False,
    json_output: JsonOption = False,
) -> None:
    """List what the hub refused or could not deliver: id, kind, source, reference, field,
    reason — never the payload. Each one can be sent again with ``hub events replay ID``."""
    if kind is not None and kind not in REPLAYABLE_KINDS:
        fail(f"--kind: must be one of {', '.join(REPLAYABLE_KINDS)}, not {kind!r}")
    runtime = ctx.obj.runtime()
    with session_scope(runtime.ready_engine()) as session:
        letters = replayable_letters(session, kind=kind, status=None if all_ else "pending")
    rows = [_letter_row(letter) for letter in letters]
    if json_output:
        emit_json(rows)
        return
    if not rows:
        stdout.print(f"no {'pending ' if not all_ else ''}dead letters", markup=False)
    for row in rows:
        stdout.print(
            f"#{row['id']} {row['kind']} [{row['status']}] {row['created_at']} {row['source']} "
            f"{row['reference'] or '-'}: {row['field'] or '-'}: {row['reason']}",
            markup=False,
        )


def _replayed_line(result: ReplayResult) -> str:
    if result.kind == "webhook":
        outcomes, events = result.detail["outcomes"], result.detail["events"]
        return (
            f"dead letter #{result.id} replayed: {result.detail['brick']} webhook read, "
            f"{outcomes['stored']} outcome(s) stored ({outcomes['duplicates']} duplicates), "
            f"{events['accepted']} event(s) accepted ({events['rejected']} rejected)"
        )
    if result.kind == "propagation":
        return f"dead letter #{result.id} replayed: {result.detail['brick']} told the opt-out"
    if result.kind == "audience_push":
        detail = result.detail
        return (
            f"dead letter #{result.id} replayed: audience {detail['audience']} pushed to "
            f"{detail['brick']}, {detail['members']} member(s), {detail['with_cookies']} with "
            "cookies"
        )
    if result.kind == "contact":
        return (
            f"dead letter #{result.id} replayed: contact {result.outcome} "
            f"(customer {result.detail['customer_id']})"
        )
    if result.kind == "identity_link":
        detail = result.detail
        if result.outcome == "skipped":
            why = ", ".join(sorted(detail["skipped"])) or "nothing new"
            return f"dead letter #{result.id} replayed: link skipped ({why})"
        return (
            f"dead letter #{result.id} replayed: link applied, {detail['linked']} identifier(s) "
            f"linked, {detail['refreshed']} renewed, {detail['merged']} merge(s), "
            f"{detail['events_replayed']} parked event(s) replayed"
        )
    return f"dead letter #{result.id} replayed: event {result.outcome}"


@app.command("replay")
def replay(
    ctx: typer.Context,
    letter_id: Annotated[int, typer.Argument(metavar="ID", help="The dead letter's id.")],
    json_output: JsonOption = False,
) -> None:
    """Send a pending dead letter again after a fix: an event back through intake, a webhook
    body through its brick's parser, an opt-out to its contact sink, a pulled contact or
    identity link back through identity resolution, an audience to its sink.

    Exit 0 when replayed, 2 when still refused (the letter keeps the new reason), unknown or
    already replayed, 4 when the vendor still fails after the core's retries.
    """
    runtime = ctx.obj.runtime()
    runtime.ready_engine()
    try:
        result = replay_dead_letter(runtime, letter_id)
    except DeadLetterNotFound as exc:
        fail(f"ID: {exc}")
    finally:
        asyncio.run(runtime.aclose())
    if json_output:
        emit_json(
            {
                "id": result.id,
                "kind": result.kind,
                "status": result.status,
                "outcome": result.outcome,
                "field": result.field,
                "reason": result.reason,
                "event_id": result.event_id,
                **result.detail,
            }
        )
    elif result.status == "replayed":
        stdout.print(_replayed_line(result), markup=False)
    else:
        stdout.print(f"dead letter #{result.id} still pending", markup=False)
    if result.status != "replayed":
        field = f"{result.field}: " if result.field else ""
        stderr.print(f"{field}{result.reason}", markup=False)
        raise typer.Exit(EXIT_VENDOR if result.vendor_failed else EXIT_INVALID)
