"""``hub contacts pull --from BRICK``: contacts changed at a source brick, into the hub."""

from __future__ import annotations

from typing import Annotated

import typer

from hub.cli.output import emit_json, progress_bar, stdout
from hub.cli.sources import exit_if_rejected, read_source, rejection_rows
from hub.contacts.pull import NotAContactSource, pull_contacts

__all__ = ["pull"]


def pull(
    ctx: typer.Context,
    brick: Annotated[str, typer.Option("--from", help="An enabled brick with contact_source.")],
    max_pages: Annotated[
        int | None, typer.Option("--max-pages", min=1, help="Stop after N pages.")
    ] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Read contacts changed since the stored cursor: identities, profile, consents, attributes.

    Exit 0 when every contact was stored, 2 when any was rejected (dead-lettered, the others are
    stored), 4 when the brick kept failing (pages stored before stay, the next pull resumes).
    """
    runtime = ctx.obj.runtime()
    with progress_bar(f"pulling contacts from {brick}", None) as advance:
        report = read_source(
            runtime,
            brick,
            lambda: pull_contacts(runtime, brick, max_pages=max_pages, progress=advance),
            NotAContactSource,
        )
    rejected = rejection_rows(report.rejected)
    if json_output:
        emit_json(
            {
                "brick": brick,
                "pages": report.pages,
                "read": report.read,
                "created": report.created,
                "updated": report.updated,
                "unchanged": report.unchanged,
                "suppressed": report.suppressed,
                "rejected": rejected,
                "has_more": report.has_more,
            }
        )
    else:
        more = " (more pages waiting)" if report.has_more else ""
        stdout.print(
            f"{report.pages} page(s) from {brick}: {report.created} created, "
            f"{report.updated} updated, {report.unchanged} unchanged, "
            f"{report.suppressed} suppressed, {len(rejected)} rejected{more}",
            markup=False,
        )
    exit_if_rejected(rejected, "contact")
