"""``hub plugins list``: what is installed, where it comes from, and whether it is on."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from hub.cli.output import emit_json, stdout

app = typer.Typer(help="Inspect installed plugins and bricks.", no_args_is_help=True)

JsonOption = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]


def plugin_rows(ctx: typer.Context) -> list[dict[str, Any]]:
    runtime = ctx.obj.runtime()
    host = runtime.plugins
    infos = {info.name: info for info in host.plugins()}
    rows: list[dict[str, Any]] = []
    for configured in runtime.bricks.values():
        info = infos[configured.plugin]
        rows.append(
            {
                **configured.cls.describe(),
                "plugin": configured.plugin,
                "distribution": info.distribution,
                "distribution_version": info.version,
                "status": configured.status,
                "allowed_fields": sorted(f.value for f in configured.allowed_fields),
                "hooks": list(info.hooks),
            }
        )
    for info in infos.values():
        if info.blocked:
            rows.append(
                {
                    "name": info.name,
                    "version": None,  # the brick's own version is unknown: it is never loaded
                    "plugin": info.name,
                    "distribution": info.distribution,
                    "distribution_version": info.version,
                    "status": "blocked",
                    "capabilities": [],
                    "channels": [],
                    "hooks": [],
                }
            )
    return sorted(rows, key=lambda r: r["name"])


@app.command("list")
def list_plugins(ctx: typer.Context, json_output: JsonOption = False) -> None:
    """List bricks with capabilities, channels, status (enabled/disabled/blocked) and hooks."""
    rows = plugin_rows(ctx)
    if json_output:
        emit_json(rows)
        return
    for row in rows:
        source = row["distribution"] or "not installed as a distribution"
        stdout.print(f"{row['name']} {row['version'] or ''} [{row['status']}]", markup=False)
        stdout.print(f"  from: {source} (plugin {row['plugin']})", markup=False)
        if row["status"] != "blocked":
            stdout.print(f"  capabilities: {', '.join(row['capabilities'])}", markup=False)
            stdout.print(f"  channels: {', '.join(row['channels']) or '-'}", markup=False)
            fields = ", ".join(row["allowed_fields"]) or "pseudonym only"
            stdout.print(f"  allowed fields: {fields}", markup=False)
            stdout.print(f"  hooks: {', '.join(row['hooks'])}", markup=False)
