"""``hub contacts pull --from BRICK``: contacts changed at a source brick, into the hub."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

from contracts import BrickError
from hub.cli.output import EXIT_INVALID, EXIT_VENDOR, emit_json, fail, progress_bar, stderr, stdout
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
    runtime.ready_engine()
    try:
        with progress_bar(f"pulling contacts from {brick}", None) as advance:
            report = asyncio.run(
                pull_contacts(runtime, brick, max_pages=max_pages, progress=advance)
            )
    except NotAContactSource as exc:
        fail(f"--from: {exc}")
    except BrickError as exc:
        fail(f"--from: brick {brick!r} failed: {type(exc).__name__}: {exc}", EXIT_VENDOR)
    finally:
        asyncio.run(runtime.aclose())
    rejected = [
        {"index": r.index, "field": r.field, "reason": r.reason, "dead_letter": r.dead_letter_id}
        for r in report.rejected
    ]
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
    for item in rejected:
        stderr.print(
            f"contact #{item['index']}: {item['field']}: {item['reason']} "
            f"(dead letter #{item['dead_letter']})",
            markup=False,
        )
    if rejected:
        raise typer.Exit(EXIT_INVALID)
