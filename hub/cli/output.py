"""CLI conventions in one place: exit codes, JSON output, errors on stderr, masking, progress."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, NoReturn

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

__all__ = [
    "EXIT_INVALID",
    "EXIT_OK",
    "EXIT_REFUSED",
    "EXIT_VENDOR",
    "CliError",
    "emit_json",
    "fail",
    "mask",
    "parse_instant",
    "progress_bar",
    "stderr",
    "stdout",
]

EXIT_OK = 0
EXIT_INTERNAL = 1
EXIT_INVALID = 2  # invalid input or config
EXIT_REFUSED = 3  # refused by policy (consent, pressure)
EXIT_VENDOR = 4  # failed at a vendor after retries (dead-lettered)

stdout = Console(highlight=False, soft_wrap=True)
stderr = Console(stderr=True, highlight=False, soft_wrap=True)


class CliError(Exception):
    """An expected failure: printed on stderr as ``error: <message>`` with its exit code."""

    def __init__(self, message: str, code: int = EXIT_INVALID) -> None:
        super().__init__(message)
        self.code = code


def fail(message: str, code: int = EXIT_INVALID) -> NoReturn:
    raise CliError(message, code)


def parse_instant(text: str | None, option: str = "--at") -> datetime:
    """An exact instant (``None``: now). A time without offset would mean a different moment
    on each machine, so it is refused with an example of what to write."""
    if text is None:
        return datetime.now(UTC)
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        fail(f"{option}: {text!r} is not an ISO 8601 date-time (e.g. 2025-03-30T09:00:00+02:00)")
    if value.tzinfo is None or value.utcoffset() is None:
        fail(
            f"{option}: {text!r} has no UTC offset; add one, e.g. "
            f"{value.isoformat(timespec='seconds')}+02:00 or {value.isoformat(timespec='seconds')}Z"
        )
    return value


def emit_json(data: Any) -> None:
    """Machine output: one JSON document on stdout, nothing else."""
    sys.stdout.write(json.dumps(data, indent=2, default=str, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def mask(field: str, value: str) -> str:
    """Enough to recognise a record, not enough to contact the person."""
    if field == "email" and "@" in value:
        local, _, domain = value.partition("@")
        host, dot, tld = domain.rpartition(".")
        return f"{local[:1]}***@{(host or tld)[:1]}***{dot}{tld if host else ''}"
    if field == "phone":
        return value[:3] + "*" * max(len(value) - 5, 3) + value[-2:]
    if field in ("locale", "time_zone"):
        return value
    return value[:1] + "***"


@contextmanager
def progress_bar(label: str, total: int | None) -> Iterator[Any]:
    """A Rich progress bar on a terminal; silent otherwise (logs and JSON stay clean)."""
    if not stderr.is_terminal:
        yield lambda advance=1: None
        return
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=stderr, transient=True) as bar:
        task = bar.add_task(label, total=total)
        yield lambda advance=1: bar.advance(task, advance)
