"""``hub audiences list|show|push``: segments from config, their members, the push to a DMP."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

import typer

from contracts import BrickError
from hub.audiences.members import compute_members
from hub.audiences.push import AudienceError, push_audience
from hub.cli.output import EXIT_VENDOR, emit_json, fail, parse_instant, stdout
from hub.storage.db import session_scope

app = typer.Typer(help="Audiences: segments pushed to a DMP.", no_args_is_help=True)

JsonOption = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]
AtOption = Annotated[
    str | None, typer.Option("--at", help="Evaluate at this ISO 8601 instant (default: now).")
]


def _criteria(definition: Any) -> str:
    """The definition in plain words, for people reading the list."""
    parts = []
    if definition.orders is not None:
        orders = definition.orders
        words = f">= {orders.min_count} order(s) in {orders.within.days} days"
        if orders.min_total is not None:
            words += f" worth >= {orders.min_total} {orders.currency}"
        if orders.last_within is not None:
            words += f", the latest within {orders.last_within.days} days"
        parts.append(words)
    for name, condition in definition.attributes.items():
        tests = condition.model_dump(exclude_none=True)
        parts.append(f"{name} " + ", ".join(f"{k} {v}" for k, v in tests.items()))
    parts.append(f"consent: {definition.purpose.value}")
    return "; ".join(parts)


@app.command("list")
def list_cmd(ctx: typer.Context, json_output: JsonOption = False) -> None:
    """The audiences defined in config and what selects their members."""
    audiences = ctx.obj.runtime().settings.audiences
    rows = [
        {"name": name, "description": d.description, "criteria": _criteria(d)}
        for name, d in sorted(audiences.items())
    ]
    if json_output:
        emit_json(rows)
        return
    if not rows:
        stdout.print("no audience defined (add [audiences.<name>] to the config)", markup=False)
    for row in rows:
        stdout.print(f"{row['name']}: {row['criteria']}", markup=False)


@app.command("show")
def show(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="An audience from [audiences].")],
    at: AtOption = None,
    json_output: JsonOption = False,
) -> None:
    """How many customers are members now (ids stay in the hub), and how many lack consent."""
    instant = parse_instant(at)
    runtime = ctx.obj.runtime()
    definition = runtime.settings.audiences.get(name)
    if definition is None:
        fail(
            f"audiences.{name}: no such audience (defined: "
            f"{', '.join(sorted(runtime.settings.audiences)) or 'none'})"
        )
    with session_scope(runtime.ready_engine()) as session:
        found = compute_members(session, runtime.vault, name, definition, at=instant)
    summary = {
        "audience": name,
        "at": instant.isoformat(),
        "members": len(found.members),
        "without_consent": found.without_consent,
        "criteria": _criteria(definition),
    }
    if json_output:
        emit_json(summary)
        return
    stdout.print(
        f"{name}: {summary['members']} member(s), {found.without_consent} more without "
        f"{definition.purpose.value} consent ({summary['criteria']})",
        markup=False,
    )


@app.command("push")
def push(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="An audience from [audiences].")],
    brick: Annotated[str, typer.Option("--to", help="An enabled brick with audience_sink.")],
    at: AtOption = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Compute and count; send nothing.")
    ] = False,
    json_output: JsonOption = False,
) -> None:
    """Send the audience's current members (pseudonyms and matched cookies, never emails).

    Exit 0 when pushed (or computed with --dry-run), 2 for an unknown audience or a brick that
    may not receive it, 4 when the brick kept failing (dead-lettered; push again to resend).
    """
    instant = parse_instant(at)
    runtime = ctx.obj.runtime()
    runtime.ready_engine()
    try:
        report = asyncio.run(push_audience(runtime, name, brick, at=instant, dry_run=dry_run))
    except AudienceError as exc:
        fail(str(exc))
    except BrickError as exc:
        fail(f"--to: brick {brick!r} failed: {type(exc).__name__}: {exc}", EXIT_VENDOR)
    finally:
        asyncio.run(runtime.aclose())
    summary = {
        "audience": report.audience,
        "brick": report.brick,
        "at": report.at.isoformat(),
        "members": report.members,
        "with_cookies": report.with_cookies,
        "without_consent": report.without_consent,
        "dry_run": report.dry_run,
        "request_id": None if report.dry_run else report.request_id,
    }
    if json_output:
        emit_json(summary)
        return
    verb = "would push" if dry_run else "pushed"
    stdout.print(
        f"{verb} {report.members} member(s) of {name} to {brick} "
        f"({report.with_cookies} with matched cookies; {report.without_consent} left out "
        "for lack of consent)",
        markup=False,
    )
