"""``hub db``: schema migrations for SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Annotated

import typer

from hub.cli.output import emit_json, stdout
from hub.storage.db import current_revision, head_revision, upgrade

app = typer.Typer(help="Database schema.", no_args_is_help=True)

JsonOption = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]


@app.command("upgrade")
def upgrade_cmd(ctx: typer.Context, json_output: JsonOption = False) -> None:
    """Apply pending migrations (creates the embedded SQLite file on first run)."""
    runtime = ctx.obj.runtime()
    before, after = upgrade(runtime.engine)
    backend = runtime.engine.dialect.name
    if json_output:
        emit_json({"backend": backend, "from": before, "to": after})
    elif before == after:
        stdout.print(f"{backend} database already at {after}", markup=False)
    else:
        stdout.print(f"{backend} database upgraded {before or 'empty'} -> {after}", markup=False)


@app.command("status")
def status_cmd(ctx: typer.Context, json_output: JsonOption = False) -> None:
    """Show the schema revision against the code's head revision."""
    runtime = ctx.obj.runtime()
    current, head = current_revision(runtime.engine), head_revision()
    data = {
        "backend": runtime.engine.dialect.name,
        "current": current,
        "head": head,
        "up_to_date": current == head,
    }
    if json_output:
        emit_json(data)
    else:
        state = "up to date" if current == head else "behind: run `hub db upgrade`"
        stdout.print(f"{data['backend']}: {current or 'empty'} (head {head}) {state}", markup=False)
