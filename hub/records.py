"""Read CSV (with a header) or JSON Lines files one record at a time, with line numbers.

Every file-driven command (contact import, campaign plans) reads through here, so a file is
parsed the same way everywhere: UTF-8 with or without BOM, header names stripped, a record that
cannot be parsed reported with its line and reason instead of stopping the run.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["FORMATS", "Record", "RecordFileError", "read_records"]

FORMATS = (".csv", ".jsonl", ".ndjson")


class RecordFileError(Exception):
    """The file as a whole cannot be read: format, encoding, header."""


@dataclass(frozen=True)
class Record:
    line: int
    #: The record's fields, or None when it could not be parsed (see ``problem``).
    fields: dict[str, Any] | None
    #: The raw text of an unparsable JSON line (kept for dead letters).
    raw: str = ""
    problem: str | None = None


def read_records(
    path: Path, *, check_header: Callable[[list[str]], None] | None = None
) -> Iterator[Record]:
    """Yield one ``Record`` per non-empty record; ``check_header`` may raise on a CSV header."""
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise RecordFileError(f"{path.name}: unsupported format {suffix!r} (use .csv or .jsonl)")
    try:
        handle = path.open(encoding="utf-8-sig", newline="")
    except OSError as exc:
        raise RecordFileError(f"{path.name}: cannot read ({exc.strerror})") from None
    with handle:
        if suffix == ".csv":
            reader = csv.DictReader(handle)
            header = [name.strip() for name in reader.fieldnames or []]
            if check_header is not None:
                check_header(header)
            reader.fieldnames = header
            line = reader.line_num
            for row in reader:
                start, line = line + 1, reader.line_num
                if None in row:
                    yield Record(start, None, problem="more values than header columns")
                else:
                    yield Record(start, dict(row))
            return
        for number, text in enumerate(handle, start=1):
            if not text.strip():
                continue
            try:
                record = json.loads(text)
            except json.JSONDecodeError as exc:
                yield Record(number, None, text, f"invalid JSON: {exc.msg}")
                continue
            if not isinstance(record, dict):
                yield Record(number, None, text, "not a JSON object")
                continue
            yield Record(number, record, text)
