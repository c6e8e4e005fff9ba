"""``hub config validate|schema|show``: the central configuration, checked and explained."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from hub.cli.output import EXIT_INVALID, emit_json, stderr, stdout
from hub.config import (
    BrickSection,
    ConfigError,
    ConfigProblem,
    configure_bricks,
    find_config_path,
    load_settings,
)
from hub.config.schema import config_json_schema
from hub.identity.keys import KeyMaterialError, KeyRing
from hub.plugins import PluginError, build_plugin_host
from hub.scenarios.validation import enabled_senders, flow_problems

app = typer.Typer(
    help="Validate, document and show the central configuration.", no_args_is_help=True
)

JsonOption = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]


def validate_config(path: Path | None) -> list[ConfigProblem]:
    """Every problem that would stop the hub: file, environment, bricks, keys."""
    try:
        settings = load_settings(path)
    except ConfigError as exc:
        return exc.problems
    try:
        host = build_plugin_host(blocked=settings.plugins.blocked)
        registered = host.bricks()
    except PluginError as exc:
        return [ConfigProblem("plugins", str(exc))]
    configured, problems = configure_bricks(settings, registered, host.blocked)
    problems.extend(
        ConfigProblem(path, message)
        for path, message in flow_problems(
            settings.scenarios, host.event_types(), enabled_senders(configured)
        )
    )
    try:
        KeyRing.from_settings(settings)
    except KeyMaterialError as exc:
        problems.extend(ConfigProblem(p, m) for p, m in exc.problems)
    reported = {p.path for p in problems}
    problems.extend(
        ConfigProblem(path, message)
        for path, message in settings.unavailable_secrets.items()
        if path not in reported
    )
    return sorted(problems)


@app.command("validate")
def validate(
    ctx: typer.Context,
    path: Annotated[Path | None, typer.Argument(help="Config file (default: --config).")] = None,
    json_output: JsonOption = False,
) -> None:
    """Exit 0 when the configuration is valid, else 2 with one line per error (dotted path)."""
    config_path = find_config_path(path or ctx.obj.config)
    problems = validate_config(config_path)
    if json_output:
        emit_json(
            {
                "config": str(config_path) if config_path else None,
                "valid": not problems,
                "problems": [{"path": p.path, "message": p.message} for p in problems],
            }
        )
    for problem in problems:
        stderr.print(str(problem), markup=False)
    if problems:
        raise typer.Exit(EXIT_INVALID)
    if not json_output:
        stdout.print(
            f"configuration valid: {config_path or '(defaults and environment)'}", markup=False
        )


@app.command("schema")
def schema(
    ctx: typer.Context,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write to this file.")
    ] = None,
) -> None:
    """Print the JSON Schema of the whole config, installed bricks' settings included."""
    blocked: list[str] = []
    config_path = find_config_path(ctx.obj.config)
    if config_path is not None:
        try:
            blocked = load_settings(config_path).plugins.blocked
        except ConfigError:
            blocked = []
    document = config_json_schema(build_plugin_host(blocked=blocked).bricks())
    text = json.dumps(document, indent=2, sort_keys=True) + "\n"
    if output is None:
        typer.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")
        stderr.print(f"schema written to {output}", markup=False)


@app.command("show")
def show(ctx: typer.Context, json_output: JsonOption = False) -> None:
    """Show the effective configuration (file + environment), secrets masked."""
    runtime = ctx.obj.runtime()
    # Brick sections are rebuilt from validated models only: raw extra keys could hold a
    # plaintext secret given through the environment.
    data = runtime.settings.model_dump(mode="json", exclude={"bricks"})
    data["bricks"] = {}
    for name, configured in runtime.bricks.items():
        section = runtime.settings.bricks.get(name)
        entry = (
            section.model_dump(mode="json", include=set(BrickSection.model_fields))
            if (section)
            else {}
        )
        if configured.settings is not None:
            entry.update(configured.settings.model_dump(mode="json"))
        entry["status"] = configured.status
        data["bricks"][name] = entry
    if json_output:
        emit_json(data)
    else:
        stdout.print(json.dumps(data, indent=2), markup=False)
