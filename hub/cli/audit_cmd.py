"""``hub audit``: what left the hub, to which brick, about whom, why, and who looked.

Reads the audit log (egress transfers, reveals, erasures, exports, consent revocations,
merges), newest first. The log holds field names, pseudonyms and purposes, never values, and
so does every line printed here: an ``--email`` or ``--phone`` given to find a customer is
turned into the customer id and never printed back.
"""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from typing import Annotated

import typer

from hub.cli.output import fail, parse_instant, stderr, stdout
from hub.cli.tables import table
from hub.contacts.lookup import CustomerNotFound, find_customer
from hub.governance import AuditFilter, read_audit
from hub.identity.merges import absorbed_into
from hub.storage.db import require_current_schema, session_scope

__all__ = ["audit"]

DEFAULT_LIMIT = 100
_HEADERS = [
    "at", "action", "brick", "customer", "pseudonym", "purpose", "fields", "request", "actor"
]


def _customer_ids(
    ctx: typer.Context, customer: str | None, email: str | None, phone: str | None
) -> list[str]:
    """The customer named by id, email or phone, plus every customer merged into it (their
    audit rows stay under their own id: the log is history, merges never rewrite it)."""
    options = (("--customer", customer), ("--email", email), ("--phone", phone))
    given = [name for name, value in options if value]
    if not given:
        return []
    if len(given) > 1:
        fail(f"{given[1]}: give only one of --customer, --email, --phone")
    runtime = ctx.obj.runtime()
    engine = runtime.ready_engine() if not customer else runtime.engine
    require_current_schema(engine)
    with session_scope(engine) as session:
        if customer:
            if len(customer) > 40:
                fail("--customer: a customer id has at most 40 characters")
            found = customer  # an erased customer has no row any more, but may have audit rows
        else:
            try:
                found = find_customer(session, runtime.identity, email=email, phone=phone)
            except CustomerNotFound as exc:
                fail(f"{given[0]}: {exc}")
            except ValueError as exc:  # names the option already
                fail(str(exc))
        return sorted(absorbed_into(session, [found]))


def audit(
    ctx: typer.Context,
    brick: Annotated[
        str | None, typer.Option("--brick", help="Only rows about this brick.")
    ] = None,
    customer: Annotated[
        str | None, typer.Option("--customer", help="Only rows about this customer id.")
    ] = None,
    email: Annotated[
        str | None, typer.Option("--email", help="Find the customer by email (never printed).")
    ] = None,
    phone: Annotated[
        str | None, typer.Option("--phone", help="Find the customer by phone (never printed).")
    ] = None,
    action: Annotated[
        str | None,
        typer.Option("--action", help="egress, reveal, erase, export, consent_revoked, merge..."),
    ] = None,
    since: Annotated[
        str | None, typer.Option("--since", help="From this instant, included (ISO 8601, offset).")
    ] = None,
    until: Annotated[
        str | None, typer.Option("--until", help="Before this instant (ISO 8601 with offset).")
    ] = None,
    limit: Annotated[
        int, typer.Option("--limit", help="At most this many rows, newest first; 0: all.")
    ] = DEFAULT_LIMIT,
    json_output: Annotated[
        bool, typer.Option("--json", help="A JSON array of rows, newest first.")
    ] = False,
) -> None:
    """The audit log, newest first: transfers to bricks, reveals, erasures, exports.

    Filters combine with AND. Rows hold field names, never values.
    """
    criteria = AuditFilter(
        brick=brick,
        action=action,
        since=parse_instant(since, "--since") if since is not None else None,
        until=parse_instant(until, "--until") if until is not None else None,
    )
    if limit < 0:
        fail("--limit: must be 0 (all rows) or more")
    for option, reason in criteria.problems():
        fail(f"{option}: {reason}")
    ids = _customer_ids(ctx, customer, email, phone)
    if ids:
        criteria = replace(criteria, customer_ids=ids)
    # No key is needed to read the log (it holds no value); only --email/--phone lookups
    # above need them, to digest the identifier.
    engine = ctx.obj.runtime().engine
    require_current_schema(engine)
    rows = read_audit(engine, criteria, limit=limit + 1 if limit else None)
    shown = 0
    truncated = False
    if json_output:
        sys.stdout.write("[")
        for row in rows:
            if limit and shown == limit:
                truncated = True
                break
            sys.stdout.write(("," if shown else "") + "\n  " + json.dumps(row.as_json()))
            shown += 1
        sys.stdout.write("\n]\n" if shown else "]\n")
        sys.stdout.flush()
    else:
        lines = []
        for row in rows:
            if limit and shown == limit:
                truncated = True
                break
            lines.append(
                [
                    row.at.isoformat(timespec="seconds"),
                    row.action,
                    row.brick,
                    row.customer_id,
                    row.pseudonym,
                    row.purpose,
                    ",".join(row.fields) or None,
                    row.request_id,
                    row.actor,
                ]
            )
            shown += 1
        if lines:
            table(_HEADERS, lines, indent="")
        else:
            stdout.print("no audit rows match", markup=False)
    if truncated:
        stderr.print(
            f"showing the {limit} newest rows; more match (raise --limit, 0 for all, or narrow "
            "the filters)",
            markup=False,
        )
