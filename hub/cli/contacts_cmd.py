"""``hub contacts import|show``: people into the vault, and a masked look at one of them."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from hub.audit import record_audit
from hub.cli.contacts_pull_cmd import pull
from hub.cli.contacts_sync_cmd import sync
from hub.cli.forget_cmd import export, forget_cmd
from hub.cli.output import EXIT_INVALID, emit_json, fail, mask, progress_bar, stderr, stdout
from hub.contacts.importer import import_contacts
from hub.contacts.lookup import CustomerNotFound, describe_customer, find_customer
from hub.records import RecordFileError
from hub.storage.db import session_scope

app = typer.Typer(help="Import and inspect contacts.", no_args_is_help=True)

JsonOption = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]


def _count_rows(path: Path) -> int | None:
    try:
        with path.open("rb") as handle:
            lines = sum(1 for line in handle if line.strip())
    except OSError:
        return None
    return max(lines - (1 if path.suffix.lower() == ".csv" else 0), 0)


@app.command("import")
def import_cmd(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="A .csv (with header) or .jsonl file.")],
    source: Annotated[
        str | None, typer.Option("--source", help="Where the data comes from (default: file name).")
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Create or update customers; rejected rows are dead-lettered with line and reason.

    Exit 0 when every row was accepted, 2 when any row was rejected (the others are stored).
    """
    runtime = ctx.obj.runtime()
    engine = runtime.ready_engine()
    label = source or f"import:{file.name}"
    with progress_bar(f"importing {file.name}", _count_rows(file)) as advance:
        try:
            report = import_contacts(
                engine, runtime.identity, runtime.vault, file, source=label, progress=advance
            )
        except RecordFileError as exc:
            fail(str(exc))
    summary = {
        "source": report.source,
        "created": report.created,
        "updated": report.updated,
        "unchanged": report.unchanged,
        "suppressed": report.suppressed,
        "rejected": [
            {"line": r.line, "field": r.field, "reason": r.reason, "dead_letter": r.dead_letter_id}
            for r in report.rejected
        ],
    }
    if json_output:
        emit_json(summary)
    else:
        stdout.print(
            f"{report.created} created, {report.updated} updated, {report.unchanged} unchanged, "
            f"{len(report.rejected)} rejected"
            + (f", {report.suppressed} suppressed (erased people)" if report.suppressed else ""),
            markup=False,
        )
    for rejected in report.rejected:
        stderr.print(
            f"line {rejected.line}: {rejected.field}: {rejected.reason} "
            f"(dead letter #{rejected.dead_letter_id})",
            markup=False,
        )
    if report.rejected:
        raise typer.Exit(EXIT_INVALID)


def _masked(details: dict[str, Any]) -> dict[str, Any]:
    return {**details, "fields": {k: mask(k, v) for k, v in details["fields"].items()}}


@app.command("show")
def show(
    ctx: typer.Context,
    customer_id: Annotated[str | None, typer.Argument(help="Hub customer id.")] = None,
    email: Annotated[str | None, typer.Option("--email", help="Find by email.")] = None,
    phone: Annotated[str | None, typer.Option("--phone", help="Find by phone.")] = None,
    reveal: Annotated[
        bool, typer.Option("--reveal", help="Show personal data in clear (audited).")
    ] = False,
    json_output: JsonOption = False,
) -> None:
    """Show one customer: profile (masked unless --reveal), identifiers, consents, pseudonyms."""
    runtime = ctx.obj.runtime()
    with session_scope(runtime.ready_engine()) as session:
        try:
            found = find_customer(
                session, runtime.identity, customer_id=customer_id, email=email, phone=phone
            )
            details = describe_customer(session, runtime.identity, found)
        except CustomerNotFound as exc:
            fail(str(exc))
        except ValueError as exc:
            fail(str(exc))
        if reveal:
            record_audit(session, action="reveal", customer_id=found, fields=details["fields"])
    shown = details if reveal else _masked(details)
    shown["revealed"] = reveal
    if json_output:
        emit_json(shown)
        return
    stdout.print(f"customer {shown['customer_id']} ({shown['status']})", markup=False)
    for name, value in shown["fields"].items():
        stdout.print(f"  {name}: {value}", markup=False)
    for ident in shown["identifiers"]:
        flag = "verified" if ident["verified"] else "unverified"
        stdout.print(f"  identifier {ident['kind']} from {ident['source']} ({flag})", markup=False)
    for consent in shown["consents"]:
        stdout.print(
            f"  consent {consent['channel']}/{consent['purpose']}: {consent['status']} "
            f"({consent['source']}, {consent['recorded_at']})",
            markup=False,
        )
    for brick, pseudonym in shown["pseudonyms"].items():
        stdout.print(f"  pseudonym at {brick}: {pseudonym}", markup=False)


app.command("pull")(pull)
app.command("sync")(sync)
app.command("forget")(forget_cmd)
app.command("export")(export)
