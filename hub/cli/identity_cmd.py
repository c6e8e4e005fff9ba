"""``hub identity pull|show|merges|unmerge``: cookie matching from a DMP, who is who, merges.

Exit codes: 0 done; 2 invalid input (unknown customer or merge, a brick that is not an enabled
identity link source, a link refused, an unmerge that cannot be done); 4 the brick kept failing
after the core's retries (pages stored before stay stored).
"""

from __future__ import annotations

from typing import Annotated, Any

import typer
from sqlalchemy.exc import IntegrityError

from hub.cli.output import emit_json, fail, mask, stdout
from hub.cli.sources import exit_if_rejected, read_source, rejection_rows
from hub.identity.links import NotALinkSource, pull_links
from hub.identity.merges import MergeError, unmerge
from hub.identity.show import (
    IdentifierView,
    IdentityNotFound,
    MergeView,
    describe_identity,
    list_merges,
)
from hub.storage.db import session_scope
from hub.storage.types import utcnow

__all__ = ["app"]

app = typer.Typer(
    help="Identity: links from a DMP, a customer's identifiers, merges and unmerges.",
    no_args_is_help=True,
)

JsonOption = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]


@app.command("pull")
def pull(
    ctx: typer.Context,
    brick: Annotated[
        str, typer.Option("--from", help="An enabled brick with identity_link_source.")
    ],
    max_pages: Annotated[
        int | None, typer.Option("--max-pages", min=1, help="Stop after N pages.")
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Read identity links (cookie matching) from a brick, from its stored cursor.

    Exit 0 when every link was applied or skipped, 2 when any was refused (dead-lettered) or
    --from is not an enabled identity link source, 4 when the brick kept failing.
    """
    runtime = ctx.obj.runtime()
    report = read_source(
        runtime, brick, lambda: pull_links(runtime, brick, max_pages=max_pages), NotALinkSource
    )
    rejected = rejection_rows(report.rejected)
    if json_output:
        emit_json(
            {
                "brick": brick,
                "pages": report.pages,
                "links": report.links,
                "linked": report.linked,
                "refreshed": report.refreshed,
                "merged": report.merged,
                "skipped": dict(sorted(report.skipped.items())),
                "rejected": rejected,
                "replayed": report.replayed,
                "has_more": report.has_more,
            }
        )
    else:
        skipped = ", ".join(f"{n} {why}" for why, n in sorted(report.skipped.items()))
        more = " (more pages waiting)" if report.has_more else ""
        stdout.print(
            f"{report.pages} page(s), {report.links} link(s) from {brick}: {report.linked} "
            f"linked, {report.refreshed} refreshed, {report.merged} merged, "
            f"{sum(report.skipped.values())} skipped{f' ({skipped})' if skipped else ''}, "
            f"{len(rejected)} rejected; {report.replayed} parked event(s) replayed{more}",
            markup=False,
        )
    exit_if_rejected(rejected, "link")


def _shown_value(item: IdentifierView) -> str:
    if item.contact_point is not None:
        return mask(item.kind, item.contact_point)
    return item.digest_prefix


def _identifier_row(item: IdentifierView) -> dict[str, Any]:
    return {
        "kind": item.kind,
        "namespace": item.namespace,
        "value": _shown_value(item),
        "source": item.source,
        "verified": item.verified,
        "first_seen_at": item.first_seen_at.isoformat(),
        "last_seen_at": item.last_seen_at.isoformat(),
        "expires_at": item.expires_at.isoformat() if item.expires_at else None,
        "live": item.live,
    }


def _merge_line(merge: MergeView) -> str:
    if merge.action == "unmerge":
        what = f"unmerge of #{merge.refers_to}: {merge.absorbed_id} split from {merge.survivor_id}"
    else:
        undone = f" [undone by #{merge.undone_by}]" if merge.undone_by else ""
        what = f"merge: {merge.absorbed_id} into {merge.survivor_id}{undone}"
    moved = ", ".join(f"{n} {name}" for name, n in merge.moved.items() if n) or "nothing moved"
    why = f"; reason: {merge.reason}" if merge.reason else ""
    return (
        f"#{merge.id} {merge.at.isoformat()} {what} (evidence {merge.evidence}, source "
        f"{merge.source}{f' {merge.source_reference}' if merge.source_reference else ''}, "
        f"by {merge.actor}; {moved}{why})"
    )


@app.command("show")
def show(
    ctx: typer.Context,
    customer_id: Annotated[str, typer.Argument(metavar="ID", help="A customer id (cus_...).")],
    json_output: JsonOption = False,
) -> None:
    """A customer's identifiers (masked: emails and phones from the vault, other kinds by
    digest prefix), whether each link is live, and the merges the customer took part in."""
    runtime = ctx.obj.runtime()
    with session_scope(runtime.ready_engine()) as session:
        try:
            view = describe_identity(session, runtime.identity, customer_id, now=utcnow())
        except IdentityNotFound as exc:
            fail(f"ID: {exc}")
    rows = [_identifier_row(item) for item in view.identifiers]
    if json_output:
        emit_json(
            {
                "customer_id": view.customer_id,
                "status": view.status,
                "merged_into": view.merged_into,
                "resolves_to": view.resolves_to,
                "identifiers": rows,
                "merges": [m.as_dict() for m in view.merges],
            }
        )
        return
    state = view.status
    if view.merged_into:
        state += f" into {view.merged_into}"
        if view.resolves_to != view.merged_into:
            state += f" (now {view.resolves_to})"
    stdout.print(f"{view.customer_id}: {state}", markup=False)
    stdout.print("identifiers:" if rows else "identifiers: none", markup=False)
    for row in rows:
        namespace = f" [{row['namespace']}]" if row["namespace"] else ""
        verified = "verified" if row["verified"] else "unverified"
        expiry = f", expires {row['expires_at']}" if row["expires_at"] else ""
        stdout.print(
            f"  {row['kind']}{namespace} {row['value']}: {verified}, source {row['source']}, "
            f"first seen {row['first_seen_at']}, last seen {row['last_seen_at']}{expiry}, "
            f"{'live' if row['live'] else 'expired'}",
            markup=False,
        )
    stdout.print("merges:" if view.merges else "merges: none", markup=False)
    for merge in view.merges:
        stdout.print(f"  {_merge_line(merge)}", markup=False)


@app.command("merges")
def merges(
    ctx: typer.Context,
    customer: Annotated[
        str | None, typer.Option("--customer", help="Only entries naming this customer.")
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """The append-only merge log, oldest first: merges and unmerges, with what moved."""
    runtime = ctx.obj.runtime()
    with session_scope(runtime.ready_engine()) as session:
        views = list_merges(session, customer_id=customer)
    if json_output:
        emit_json([m.as_dict() for m in views])
        return
    if not views:
        stdout.print("no merges", markup=False)
    for merge in views:
        stdout.print(_merge_line(merge), markup=False)


@app.command("unmerge")
def unmerge_command(
    ctx: typer.Context,
    merge_id: Annotated[int, typer.Argument(metavar="MERGE_ID", help="The merge's id.")],
    reason: Annotated[
        str | None, typer.Option("--reason", help="Why (kept in the merge log).")
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Undo a merge: exactly the rows it moved go back (rows added since stay with the
    survivor), the absorbed customer is active again, and an unmerge row is appended.

    Exit 2 for an unknown merge, one already undone, or one a later merge depends on.
    """
    if reason is not None and not 1 <= len(reason.strip()) <= 1000:
        fail("--reason: must be 1 to 1000 characters")
    runtime = ctx.obj.runtime()
    try:
        with session_scope(runtime.ready_engine()) as session:
            entry = unmerge(session, runtime.vault, merge_id, reason=reason and reason.strip())
            logged = list_merges(session, customer_id=entry.absorbed_id)
            view = next(v for v in logged if v.id == entry.id)
    except MergeError as exc:
        fail(f"MERGE_ID: {exc}")
    except IntegrityError:
        fail(f"MERGE_ID: merge #{merge_id} was undone at the same moment by someone else")
    if json_output:
        emit_json(view.as_dict())
        return
    moved = ", ".join(f"{n} {name}" for name, n in view.moved.items() if n) or "nothing"
    stdout.print(
        f"merge #{merge_id} undone (#{view.id}): {view.absorbed_id} is active again; moved "
        f"back from {view.survivor_id}: {moved}",
        markup=False,
    )
