"""Engines, sessions and migrations for SQLite (embedded default) and PostgreSQL (production)."""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlmodel import Session

__all__ = [
    "IN_CHUNK",
    "DatabaseNotReady",
    "chunks",
    "create_db_engine",
    "current_revision",
    "head_revision",
    "normalise_url",
    "require_current_schema",
    "session_scope",
    "upgrade",
]

T = TypeVar("T")
MIGRATIONS = Path(__file__).parent / "migrations"
# Alembic announces its dialect on every revision check; only warnings matter to operators.
logging.getLogger("alembic").setLevel(logging.WARNING)


#: Rows per ``IN (...)`` list: under every backend's bound-parameter limit.
IN_CHUNK = 900


def chunks(items: Sequence[T]) -> Iterator[Sequence[T]]:
    """Split ``items`` for ``IN (...)`` queries that must stay under the parameter limit."""
    for start in range(0, len(items), IN_CHUNK):
        yield items[start : start + IN_CHUNK]


class DatabaseNotReady(Exception):
    """The database schema is missing or behind the code; the message says what to run."""


def normalise_url(url: str, data_dir: Path) -> str:
    """Map user-friendly URLs onto the drivers we ship (psycopg 3) and make SQLite absolute."""
    if not url:
        return f"sqlite:///{(data_dir / 'hub.db').resolve()}"
    if url.startswith(("postgres://", "postgresql://")):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # Take transaction control away from the sqlite3 module (it mishandles SAVEPOINT) and
    # let ``_sqlite_begin`` open every transaction.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    # WAL lets readers proceed while one writer commits; busy_timeout makes concurrent
    # writers wait for the lock instead of failing at once.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _sqlite_begin(connection: Any) -> None:
    # IMMEDIATE takes the write lock up front: two writers queue on busy_timeout instead of
    # deadlocking when both try to upgrade a read lock, so concurrent workers serialise.
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def create_db_engine(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5)


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on any error."""
    session = Session(engine, expire_on_commit=False)
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def _alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    return config


def upgrade(engine: Engine, revision: str = "head") -> tuple[str | None, str | None]:
    """Apply migrations; returns (revision before, revision after)."""
    before = current_revision(engine)
    command.upgrade(_alembic_config(engine), revision)
    return before, current_revision(engine)


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


@functools.cache
def head_revision() -> str | None:
    """The newest migration shipped with this code. Cached: reading the scripts costs ~10 ms
    and ``ready_engine`` asks before every unit of work (each API request, each worker job)."""
    return ScriptDirectory(str(MIGRATIONS)).get_current_head()


def require_current_schema(engine: Engine) -> None:
    current, head = current_revision(engine), head_revision()
    if current != head:
        state = "is empty" if current is None else f"is at {current}, code expects {head}"
        raise DatabaseNotReady(f"the database schema {state}: run `hub db upgrade`")
