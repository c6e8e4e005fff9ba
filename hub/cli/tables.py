"""Plain aligned tables for human CLI output."""

from __future__ import annotations

from typing import Any

from hub.cli.output import stdout

__all__ = ["cell", "table"]


def cell(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "NO"
    if isinstance(value, float):
        return f"{value:g}"
    text = str(value)
    if len(text) == 32 and text[10] == "T" and text.endswith("+00:00"):
        text = text[:19] + "+00:00"  # microseconds are noise in a table
    return text.replace("+00:00", "Z")


def table(headers: list[str], rows: list[list[Any]], indent: str = "  ") -> None:
    """A plain aligned table: stable in logs and pipes, unlike a width-dependent rich table."""
    cells = [headers] + [[cell(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers) - 1)]
    for row in cells:
        line = "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=False))
        stdout.print(f"{indent}{line}  {row[-1]}".rstrip(), markup=False)
