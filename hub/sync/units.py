"""Transactions of a sync: short reads that never block a writer, writes that commit.

The hub's SQLite engine opens every transaction with ``BEGIN IMMEDIATE`` (writers queue
instead of deadlocking), so even a read holds the write lock. A sync reads the next page in
a worker thread while the sink answers, and must not hold up its own writes (the audit rows
and confirmations of the batch in flight) nor other hub processes: on SQLite, reads go
through a second engine whose connections are ``query_only`` and begin deferred transactions
(with WAL, readers and the one writer do not wait for each other). PostgreSQL reads use the
main engine. A dry run never commits: its reads and (with a source) its one shared session
are rolled back.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlmodel import Session

from hub.storage.db import session_scope

__all__ = ["Units"]


def _read_only(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None  # transactions are begun by ``_begin``
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA query_only=ON")
    cursor.close()


def _begin(connection: Any) -> None:
    connection.exec_driver_sql("BEGIN")  # deferred: a snapshot, no lock


def _sqlite_reader(engine: Engine) -> Engine | None:
    url = engine.url
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return None
    reader = create_engine(url, connect_args={"timeout": 30})
    event.listen(reader, "connect", _read_only)
    event.listen(reader, "begin", _begin)
    return reader


class Units:
    """``write()``: a committed transaction (refused in a dry run); ``read()``: a rolled-back
    one; ``shared``: the dry run's single session, when it pulls from a source."""

    def __init__(self, engine: Engine, *, dry_run: bool, shared: Session | None = None) -> None:
        self.engine, self.dry_run, self.shared = engine, dry_run, shared
        self._reader = None if shared is not None else _sqlite_reader(engine)

    @property
    def threads_allowed(self) -> bool:
        """Reads may run in a worker thread (a shared session belongs to one thread)."""
        return self.shared is None

    @contextmanager
    def read(self) -> Iterator[Session]:
        if self.shared is not None:
            yield self.shared
            return
        session = Session(self._reader or self.engine, expire_on_commit=False)
        try:
            yield session
        finally:
            session.rollback()
            session.close()

    @contextmanager
    def write(self) -> Iterator[Session]:
        if self.dry_run:
            raise RuntimeError("a dry run writes nothing")
        with session_scope(self.engine) as session:
            yield session

    def close(self) -> None:
        if self._reader is not None:
            self._reader.dispose()
        if self.shared is not None:
            self.shared.rollback()
            self.shared.close()
