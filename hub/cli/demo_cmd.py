"""``hub demo``: run the offline demo and explain what happened."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Annotated

import typer

from hub.cli.output import emit_json, stdout

DEFAULT_DIR = Path(".hub-demo")


def demo(
    directory: Annotated[
        Path, typer.Option("--dir", help="Folder for the demo installation.")
    ] = DEFAULT_DIR,
    keep: Annotated[
        bool, typer.Option("--keep", help="Reuse an existing demo folder instead of resetting.")
    ] = False,
    json_output: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Set up an embedded hub (SQLite + outbox brick), import sample contacts, send governed
    messages, and show what was sent, refused and why. Needs no network."""
    from hub.demo import run_demo  # the demo pulls in every core module: load it on demand

    report = run_demo(directory, fresh=not keep)
    first, second = report.first_import, report.second_import
    data = {
        "directory": str(report.directory),
        "import": {
            "created": first.created,
            "updated": first.updated,
            "unchanged": first.unchanged,
            "rejected": [
                {"line": r.line, "field": r.field, "reason": r.reason} for r in first.rejected
            ],
        },
        "reimport": {"created": second.created, "unchanged": second.unchanged},
        "sends": report.sends,
        "totals": dict(Counter(row["status"] for row in report.sends)),
        "outbox": str(report.outbox),
        "plaintext_contact_points_in_database": report.plaintext_hits,
    }
    if json_output:
        emit_json(data)
        return
    say = stdout.print
    say(
        f"Demo installation in {report.directory} (SQLite, outbox brick, fresh keys)\n",
        markup=False,
    )
    say(
        f"1. Imported sample contacts: {first.created} customers created, "
        f"{first.updated} updated (same email, other spelling), {len(first.rejected)} rejected:",
        markup=False,
    )
    for row in first.rejected:
        say(f"   line {row.line}: {row.field}: {row.reason}  -> dead letter", markup=False)
    say(
        f"2. Imported again: {second.created} created, {second.unchanged} unchanged "
        "(identifiers are matched by keyed digest)\n",
        markup=False,
    )
    say(
        "3. Sends through the core (consent, pressure ledger, minimised view, egress audit):",
        markup=False,
    )
    for row in report.sends:
        until = f" -> retry at {row['until']}" if row["until"] else ""
        say(
            f"   {row['customer_id'][:12]}… {row['scenario']:<19} {row['channel']:<5} "
            f"{row['status']:<8} {row['reason']}{until}",
            markup=False,
        )
    say(f"\n   totals: {data['totals']}", markup=False)
    say(f"   messages written to {report.outbox} (pseudonym + allowed fields only)", markup=False)
    say(
        f"4. Plaintext emails/phones/names found in the database file: {report.plaintext_hits}",
        markup=False,
    )
