"""The database session of ``hub campaign plan``: what the connection can do and how it is set
up for a large plan, and the interpreter setting a plan runs under. Kept apart so the planner
(``plan``) reads as the plan's steps."""

from __future__ import annotations

import gc
import math
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection

__all__ = ["has_json", "no_cycle_collection", "sqlite_setup"]

_CACHE = {"temp.cache_size": -1_048_576, "main.cache_size": -262_144}  # KiB, taken as needed


def has_json(connection: Connection) -> bool:
    """PostgreSQL always has JSON functions; SQLite has them unless built without (before
    3.38 they were an option), and then the customers go in row by row."""
    if connection.dialect.name != "sqlite":
        return True
    raw: Any = connection.connection.driver_connection
    try:
        raw.execute("SELECT value FROM json_each('[]')").fetchall()
    except sqlite3.OperationalError:
        return False
    return True


@contextmanager
def no_cycle_collection() -> Iterator[None]:
    """A large plan allocates millions of small, acyclic objects (candidate lists, usage rows,
    planned rows): each burst would start a cyclic collection that re-scans every live object,
    the caller's candidates included, which made up a fifth of the plan's time. Reference
    counting still frees everything; the collector is back on, if it was, when the plan ends."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def sqlite_setup(connection: Connection) -> dict[str, int]:
    """Decay needs power() and ln() (SQLite builds without math functions get Python's). The
    temporary tables of a large plan outgrow the default 2 MB page cache and would spill to a
    file (a fifth of the plan's time). Returns the sizes to restore on the pooled connection."""
    raw: Any = connection.connection.driver_connection
    try:
        raw.execute("SELECT power(2, 1), ln(2)").fetchall()
    except sqlite3.OperationalError:
        raw.create_function("power", 2, math.pow, deterministic=True)
        raw.create_function("ln", 1, math.log, deterministic=True)
    before = {pragma: raw.execute(f"PRAGMA {pragma}").fetchone()[0] for pragma in _CACHE}
    for pragma, value in _CACHE.items():
        raw.execute(f"PRAGMA {pragma} = {value}")
    return before
