"""``hub``: the root command, global options, and the one place errors become exit codes."""

from __future__ import annotations

import importlib
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated

import typer

from hub import __version__
from hub.cli import (
    audiences_cmd,
    audit_cmd,
    bricks_cmd,
    campaign_cmd,
    config_cmd,
    contacts_cmd,
    db_cmd,
    demo_cmd,
    events_cmd,
    governance_cmd,
    identity_cmd,
    jobs_cmd,
    keys_cmd,
    plugins_cmd,
    pressure_cmd,
    report_cmd,
    send_cmd,
    serve_cmd,
    simulate_cmd,
    worker_cmd,
)
from hub.cli.output import EXIT_INTERNAL, EXIT_INVALID, CliError, stderr
from hub.config import ConfigError, find_config_path, load_settings
from hub.identity.keys import KeyMaterialError
from hub.logs import configure_logging, get_logger
from hub.plugins import PluginError, PluginHost, build_plugin_host
from hub.runtime import Runtime, open_runtime
from hub.storage.db import DatabaseNotReady

__all__ = ["State", "build_app", "main"]

log = get_logger(__name__)


def _exception_types(name: str) -> tuple[type[BaseException], ...]:
    """Typer >= 0.20 vendors click as ``typer._click``; older ones use click itself."""
    found = [getattr(typer, name)] if hasattr(typer, name) else []
    for module in ("typer._click.exceptions", "click.exceptions"):
        try:
            kind = getattr(importlib.import_module(module), name, None)
        except ImportError:
            continue
        if kind is not None:
            found.append(kind)
    return tuple(found)


_USAGE_ERRORS = _exception_types("ClickException")
_ABORTS = _exception_types("Abort")


@dataclass
class State:
    """What every command can reach through ``ctx.obj``."""

    config: Path | None = None
    host: PluginHost | None = None
    _runtime: Runtime | None = field(default=None, repr=False)

    def runtime(self) -> Runtime:
        if self._runtime is None:
            self._runtime = open_runtime(find_config_path(self.config), host=self.host)
            level = self._runtime.settings.logging
            configure_logging(
                level=level.level,
                json_output=None if level.format == "auto" else level.format == "json",
            )
        return self._runtime


def _version(value: bool) -> None:
    if value:
        typer.echo(f"hub {__version__}")
        raise typer.Exit()


def root(
    ctx: typer.Context,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            "-c",
            envvar="HUB_CONFIG",
            help="Config file (default: config/hub.toml when present).",
            dir_okay=False,
        ),
    ] = None,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show version.")
    ] = False,
) -> None:
    """Integration hub for best-of-breed marketing tools: pseudonymous ids, consent, central
    pressure, pluggable bricks."""
    state = ctx.ensure_object(State)
    state.config = config


def build_app() -> typer.Typer:
    """A fresh command tree per run, so plugin commands never pile up across calls."""
    app = typer.Typer(
        name="hub",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,  # tracebacks with locals would print secrets
        rich_markup_mode=None,
    )
    app.callback()(root)
    app.add_typer(plugins_cmd.app, name="plugins")
    app.add_typer(config_cmd.app, name="config")
    app.add_typer(contacts_cmd.app, name="contacts")
    app.add_typer(db_cmd.app, name="db")
    app.add_typer(campaign_cmd.app, name="campaign")
    app.add_typer(keys_cmd.app, name="keys")
    app.add_typer(pressure_cmd.app, name="pressure")
    app.add_typer(events_cmd.app, name="events")
    app.add_typer(report_cmd.app, name="report")
    app.add_typer(jobs_cmd.app, name="jobs")
    app.add_typer(identity_cmd.app, name="identity")
    app.add_typer(audiences_cmd.app, name="audiences")
    app.add_typer(governance_cmd.app, name="governance")
    app.add_typer(bricks_cmd.app, name="bricks")
    app.command("audit")(audit_cmd.audit)
    app.command("send")(send_cmd.send)
    app.command("worker")(worker_cmd.worker)
    app.command("serve")(serve_cmd.serve)
    app.command("simulate")(simulate_cmd.simulate)
    app.command("demo")(demo_cmd.demo)
    return app


def _plugin_host(argv: list[str]) -> PluginHost | None:
    """Plugins may add commands, so load them before parsing; problems surface later, in the
    command that needs the runtime (with the proper message and exit code)."""
    explicit = None
    for flag in ("--config", "-c"):
        if flag in argv[:-1]:
            explicit = Path(argv[argv.index(flag) + 1])
    try:
        settings = load_settings(find_config_path(explicit))
        return build_plugin_host(blocked=settings.plugins.blocked)
    except (ConfigError, PluginError):
        return None


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit code (0 ok, 2 invalid, 3 refused, 4 vendor failure)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    configure_logging()
    host = _plugin_host(argv)
    app = build_app()
    try:
        if host is not None:
            host.register_commands(app)
        result = app(args=argv, prog_name="hub", standalone_mode=False, obj=State(host=host))
    except _ABORTS:
        stderr.print("aborted")
        return 130
    except _USAGE_ERRORS as exc:
        exc.show()  # type: ignore[attr-defined]
        return EXIT_INVALID
    except ConfigError as exc:
        for problem in exc.problems:
            stderr.print(f"config error: {problem}", markup=False)
        return EXIT_INVALID
    except KeyMaterialError as exc:
        for path, message in exc.problems:
            stderr.print(f"key error: {path}: {message}", markup=False)
        stderr.print("the hub refuses to start without valid keys", markup=False)
        return EXIT_INVALID
    except (PluginError, DatabaseNotReady) as exc:
        stderr.print(f"error: {exc}", markup=False)
        return EXIT_INVALID
    except CliError as exc:
        stderr.print(f"error: {exc}", markup=False)
        return exc.code
    except Exception as exc:
        # Logged through the redacting pipeline; the terminal gets no traceback (which could
        # carry secrets or personal data in its locals or messages).
        log.exception("internal error", error_type=type(exc).__name__)
        stderr.print(f"internal error ({type(exc).__name__}); details are in the log")
        return EXIT_INTERNAL
    return result if isinstance(result, int) else 0


if __name__ == "__main__":
    sys.exit(main())
