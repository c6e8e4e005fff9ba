"""What ``hub events poll``, ``hub contacts pull`` and ``hub identity pull`` share: running a
cursor-paged read of a source brick, and reporting what it refused.

One place decides the exit codes of a source read: 2 when ``--from`` is not a brick of the
right capability (or anything was refused), 4 when the brick kept failing after the core's
retries (pages stored before stay stored; the next run resumes there).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Sequence
from typing import Any, Protocol, TypeVar

import typer

from contracts import BrickError
from hub.cli.output import EXIT_INVALID, EXIT_VENDOR, fail, stderr
from hub.runtime import Runtime

__all__ = ["exit_if_rejected", "read_source", "rejection_rows"]

R = TypeVar("R")


class _Rejection(Protocol):
    index: int
    field: str | None
    reason: str | None
    dead_letter_id: int | None


def read_source(
    runtime: Runtime,
    brick: str,
    run: Callable[[], Coroutine[Any, Any, R]],
    not_a_source: type[Exception],
) -> R:
    """Run the read; a wrong ``--from`` or a failing brick becomes a CLI error."""
    runtime.ready_engine()
    try:
        return asyncio.run(run())
    except not_a_source as exc:
        fail(f"--from: {exc}")
    except BrickError as exc:
        fail(f"--from: brick {brick!r} failed: {type(exc).__name__}: {exc}", EXIT_VENDOR)
    finally:
        asyncio.run(runtime.aclose())


def rejection_rows(rejected: Sequence[_Rejection]) -> list[dict[str, Any]]:
    return [
        {"index": r.index, "field": r.field, "reason": r.reason, "dead_letter": r.dead_letter_id}
        for r in rejected
    ]


def exit_if_rejected(rows: Sequence[dict[str, Any]], noun: str) -> None:
    """One stderr line per refused item, then exit 2 if there was any."""
    for item in rows:
        stderr.print(
            f"{noun} #{item['index']}: {item['field']}: {item['reason']} "
            f"(dead letter #{item['dead_letter']})",
            markup=False,
        )
    if rows:
        raise typer.Exit(EXIT_INVALID)
