"""Reading a simulation's event file: JSON Lines, each event placed on the virtual timeline.

The events themselves are checked by intake, exactly as ``hub events ingest`` would (a refused
event is reported with its field and reason). This module only needs ``occurred_at`` to know
*when* to feed each event; an event without a usable one is still handed to intake, at the
start, so the report says why the hub refuses it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

__all__ = ["SimulationInputError", "TimedEvent", "read_event_file", "timed_events"]


class SimulationInputError(Exception):
    """An input the simulation cannot use at all; the message names the option or line."""


@dataclass(frozen=True)
class TimedEvent:
    line: int
    event: Any
    #: ``None`` when the event has no ISO 8601 ``occurred_at`` with an offset.
    occurred_at: datetime | None


def _occurred_at(event: Any) -> datetime | None:
    if not isinstance(event, dict) or not isinstance(event.get("occurred_at"), str):
        return None
    try:
        moment = datetime.fromisoformat(event["occurred_at"])
    except ValueError:
        return None
    return moment if moment.utcoffset() is not None else None


def timed_events(events: list[Any], first_line: int = 1) -> list[TimedEvent]:
    return [
        TimedEvent(line, event, _occurred_at(event))
        for line, event in enumerate(events, first_line)
    ]


def read_event_file(path: Path, option: str = "--events") -> list[TimedEvent]:
    """One JSON object per line (blank lines skipped); line numbers kept for the report."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else "not UTF-8 text"
        raise SimulationInputError(f"{option}: cannot read {path}: {reason}") from None
    found: list[TimedEvent] = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            event = json.loads(line)
        except json.JSONDecodeError as exc:
            raise SimulationInputError(
                f"{option}: line {number}: not JSON ({exc.msg}, column {exc.colno})"
            ) from None
        if not isinstance(event, dict):
            raise SimulationInputError(f"{option}: line {number}: not a JSON object")
        found.append(TimedEvent(number, event, _occurred_at(event)))
    return found
