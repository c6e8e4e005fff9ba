"""``hub demo``: run the offline demo and explain what happened."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Annotated

import typer

from hub.cli.output import emit_json, stdout
from hub.logs import configure_logging

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
    """Set up an embedded hub (SQLite + outbox brick), import sample contacts, replay a week of
    shop events and a campaign on a virtual clock, and show what was sent, deferred, refused
    or cancelled and why, with the customer-centricity ratio. Needs no network."""
    from hub.demo import run_demo  # the demo pulls in every core module: load it on demand

    # The demo tells its own story; the worker's and intake's info lines would drown it.
    configure_logging(level="warning")
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
        "week_start": report.week_start.isoformat() if report.week_start else None,
        "events": report.events,
        "timeline": report.timeline,
        "totals": dict(Counter(row["outcome"] for row in report.timeline)),
        "centricity": report.centricity,
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
    monday = report.week_start.strftime("%Y-%m-%d") if report.week_start else "?"
    say(
        f"3. A simulated week from Monday {monday} (UTC), on a virtual clock: "
        f"{report.events.get('accepted', 0)} shop events (sign-up, carts, orders) go through "
        "intake; the worker runs the scenario steps as they fall due; a spring-sale campaign "
        "goes out by hand on Wednesday. Every send: consent, pressure ledger (one marketing "
        "message a day, none 21:00-08:00 local), minimised view, egress audit.",
        markup=False,
    )
    for row in report.timeline:
        when = row["at"][5:16].replace("T", " ")
        channel = row["channel"] or "-"
        step = f"{row['scenario']}#{row['step'] + 1}" if row["triggered"] else row["scenario"]
        until = f" -> may go from {row['until'][5:16].replace('T', ' ')}" if row["until"] else ""
        say(
            f"   {when}  {row['who']:<22} {step:<22} {channel:<5} {row['outcome']:<9} "
            f"{row['reason']}{until}",
            markup=False,
        )
    say(f"\n   totals: {data['totals']}", markup=False)
    share = report.centricity
    if share.get("total"):
        say(
            f"   customer-centricity: {share['triggered']}/{share['total']} messages sent were "
            f"triggered by a customer moment = {share['ratio']:.0%} "
            f"({'customer-centric' if share['ratio'] >= 0.25 else 'campaign-driven'}: the "
            "yardstick is 25 %; `hub report centricity`)",
            markup=False,
        )
    say(f"   messages written to {report.outbox} (pseudonym + allowed fields only)", markup=False)
    say(
        f"4. Plaintext emails/phones/names found in the database file: {report.plaintext_hits}",
        markup=False,
    )
