"""``hub bricks decommission|reinstate|list``: take a brick out of service without touching the
core or config, optionally erasing what it holds (docs/privacy-rights.md).

Exit codes: 0 done; 2 unknown brick or an option that cannot apply (``--erase-remote`` on a
brick that cannot erase); 4 some customer's erase failed after the core's retries (run the
command again, or ``hub contacts forget --resume``, to retry).
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

import typer

from hub.cli.output import EXIT_VENDOR, emit_json, fail, progress_bar, stderr, stdout
from hub.erasure.decommission import (
    DecommissionRefused,
    decommission,
    erase_remote,
    pending_erasures,
    reinstate,
)
from hub.erasure.local import NOT_APPLICABLE
from hub.erasure.remote import DONE, FAILED, StepResult
from hub.erasure.state import decommissioned_bricks

__all__ = ["app"]

app = typer.Typer(help="Bricks: list, decommission, reinstate.", no_args_is_help=True)

JsonOption = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]


@app.command("list")
def list_cmd(ctx: typer.Context, json_output: JsonOption = False) -> None:
    """Installed bricks: configured or not, enabled / disabled / decommissioned, capabilities;
    and decommissioned bricks that are no longer installed."""
    runtime = ctx.obj.runtime()
    engine = runtime.ready_engine()
    retired = decommissioned_bricks(engine)
    rows: list[dict[str, Any]] = []
    for name, configured in sorted(runtime.bricks.items()):
        rows.append(
            {
                "name": name,
                "plugin": configured.plugin,
                "installed": True,
                "configured": name in runtime.settings.bricks,
                "status": configured.status,
                "capabilities": sorted(c.value for c in configured.cls.capabilities),
                "channels": sorted(c.value for c in configured.cls.channels),
                "decommissioned_at": retired[name].isoformat() if name in retired else None,
            }
        )
    for name in sorted(set(retired) - set(runtime.bricks)):
        rows.append(
            {
                "name": name, "plugin": None, "installed": False,
                "configured": name in runtime.settings.bricks, "status": "decommissioned",
                "capabilities": [], "channels": [],
                "decommissioned_at": retired[name].isoformat(),
            }
        )
    if json_output:
        emit_json(rows)
        return
    for row in rows:
        detail = ", ".join(row["capabilities"]) or "-"
        if row["channels"]:
            detail += f" [{', '.join(row['channels'])}]"
        state = row["status"] + ("" if row["installed"] else " (not installed)")
        since = f" since {row['decommissioned_at']}" if row["decommissioned_at"] else ""
        configured = "configured" if row["configured"] else "not configured"
        stdout.print(f"{row['name']}: {state}{since}, {configured}; {detail}", markup=False)


def _erase(runtime: Any, name: str, decommission_id: int) -> list[StepResult]:
    steps = pending_erasures(runtime, name, decommission_id)
    with progress_bar(f"erasing at {name}", len(steps)) as advance:
        return asyncio.run(
            erase_remote(
                runtime, name, decommission_id, steps=steps, progress=lambda _step: advance()
            )
        )


@app.command("decommission")
def decommission_cmd(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The brick to take out of service.")],
    erase: Annotated[
        bool,
        typer.Option("--erase-remote", help="Also ask it to erase every customer it holds."),
    ] = False,
    reason: Annotated[str | None, typer.Option("--reason", help="Why (kept).")] = None,
    json_output: JsonOption = False,
) -> int:
    """Stop every transfer to a brick, whatever config says; optionally erase what it holds.

    Exit 0 done, 2 unknown brick or --erase-remote impossible, 4 some erase failed (run it
    again to retry).
    """
    runtime = ctx.obj.runtime()
    try:
        try:
            done = decommission(runtime, name, erase_remote=erase, reason=reason)
        except DecommissionRefused as exc:
            fail(str(exc))
        steps = _erase(runtime, name, done.id) if erase else []
    finally:
        asyncio.run(runtime.aclose())
    failed = [s for s in steps if s.status == FAILED]
    if json_output:
        emit_json(
            {
                "brick": name,
                "decommission": done.id,
                "since": done.at.isoformat(),
                "already": done.already,
                "erase_remote": erase,
                "customers": [s.as_dict() for s in steps],
                "erased": sum(1 for s in steps if s.status == DONE),
                "failed": len(failed),
                "complete": not failed,
            }
        )
    else:
        verb = "was already decommissioned" if done.already else "decommissioned"
        stdout.print(
            f"brick {name} {verb} (#{done.id}, since {done.at.isoformat()}): no data flows "
            "to it any more",
            markup=False,
        )
        if erase:
            skipped = sum(1 for s in steps if s.status == NOT_APPLICABLE)
            stdout.print(
                f"erase at {name}: {len(steps)} customer(s), "
                f"{sum(1 for s in steps if s.status == DONE)} erased, {len(failed)} failed"
                + (f", {skipped} not applicable" if skipped else ""),
                markup=False,
            )
        for step in failed:
            stderr.print(
                f"customer {step.customer_id} ({step.pseudonym}): {step.error} "
                "(run the command again to retry)",
                markup=False,
            )
    return EXIT_VENDOR if failed else 0


@app.command("reinstate")
def reinstate_cmd(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="A decommissioned brick.")],
    json_output: JsonOption = False,
) -> None:
    """Bring a decommissioned brick back; config decides again whether it is enabled.

    Exit 0 done, 2 the brick is not decommissioned.
    """
    runtime = ctx.obj.runtime()
    try:
        done = reinstate(runtime, name)
    except DecommissionRefused as exc:
        fail(str(exc))
    status = runtime.bricks[name].status if name in runtime.bricks else "not installed"
    if json_output:
        emit_json({"brick": name, "decommission": done.id, "status": status})
    else:
        stdout.print(f"brick {name} reinstated (decommission #{done.id} ended); it is "
                     f"{status}", markup=False)
