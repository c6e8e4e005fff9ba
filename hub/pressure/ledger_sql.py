"""The ledger's SQL: fixed statements on a pooled DBAPI connection, for both backends.

The send-time path (``check``, ``reserve``, ``commit``, ``release``, ``record``) runs these
instead of building SQLAlchemy Core statements per call: building, cache-keying and compiling
them cost ~60 us a statement on SQLite, more than the query itself (``docs/benchmarks.md``).
The statements are written once, with ``:name`` parameters turned into the driver's style, and
timestamps go through ``UTCDateTime``'s own processors, so the rows are the ones Core would
write. Every read is keyed by customer id, each one an index search (the ledger's rows from
``ix_ledger_customer_cover`` alone: it covers every column a decision reads).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from json.encoder import encode_basestring_ascii as _quote
from types import TracebackType
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError

from contracts import RuleUsage
from hub.storage.types import UTCDateTime

__all__ = [
    "EVENTS",
    "HISTORY",
    "Statements",
    "Transaction",
    "consulted_json",
    "sqlite_from_db",
    "sqlite_to_db",
]

# One statement per decision, keyed by customer id: the customer's time zone and the contacts
# that can count (covering index ix_ledger_customer_cover: customer_id, at range), then, in the
# same round trip, the customer's events that exclusion rules read (ix_events_customer_type).
# A customer without any such contact still gives one row, with NULLs (LEFT JOIN); event rows
# come after, marked by ``e`` in the first column. The status list is COUNTING, spelt out.
HISTORY = """
SELECT NULL AS e, c.time_zone, l.at, l.channel, l.scenario, l.kind, l.weight, l.status
FROM customers AS c
LEFT JOIN pressure_ledger AS l
  ON l.customer_id = c.id AND l.at > :low AND l.at < :horizon
 AND (l.status IN ('sent', 'recorded') OR (l.status = 'reserved' AND l.expires_at > :now))
WHERE c.id = :customer
"""
EVENTS = """
UNION ALL
SELECT 1, type, occurred_at, NULL, NULL, NULL, NULL, NULL FROM customer_events
WHERE customer_id = :customer AND type IN ({types})
  AND occurred_at > :low AND occurred_at <= :horizon
"""
# A replay finds a granted decision in its ledger row (``decision_consulted`` set; a planned row
# has a key but no decision), any other one in pressure_decisions (and granted ones stored
# before migration 0005): one statement, two searches on the unique keys.
REPLAY = """
SELECT 'allowed', NULL, decision_reason, NULL, decision_consulted, rule_set_version, id
FROM pressure_ledger WHERE idempotency_key = :key AND decision_consulted IS NOT NULL
UNION ALL
SELECT outcome, rule, reason, until, consulted, rule_set_version, reservation_id
FROM pressure_decisions WHERE idempotency_key = :key
"""
INSERT_ENTRY = """
INSERT INTO pressure_ledger (customer_id, channel, scenario, kind, weight, priority, status, at,
                             expires_at, idempotency_key, rule_set_version, source, created_at,
                             updated_at, decision_reason, decision_consulted)
VALUES (:customer_id, :channel, :scenario, :kind, :weight, :priority, :status, :at,
        :expires_at, :idempotency_key, :rule_set_version, :source, :created_at, :updated_at,
        :decision_reason, :decision_consulted)
"""
INSERT_DECISION = """
INSERT INTO pressure_decisions (customer_id, channel, scenario, kind, at, outcome, rule, reason,
                                until, consulted, rule_set_version, idempotency_key,
                                reservation_id, decided_at)
VALUES (:customer_id, :channel, :scenario, :kind, :at, :outcome, :rule, :reason, :until,
        :consulted, :rule_set_version, :idempotency_key, :reservation_id, :decided_at)
"""
# A transition is one conditional update; only when it changes nothing is the row read, to
# tell an idempotent repeat from a reservation that is gone or already settled otherwise. A
# commit that moves ``at`` keeps the time the granting decision was asked for.
TRANSITION = """
UPDATE pressure_ledger SET status = :target, updated_at = :now, expires_at = NULL{at}
WHERE id = :id AND status IN ('reserved', 'expired')
"""
STATUS = "SELECT status FROM pressure_ledger WHERE id = :id"
CUSTOMER = "SELECT id FROM customers WHERE id = :customer"
INSERT_VERSION = (
    "INSERT INTO pressure_rule_sets (version, rules, first_used_at) "
    "VALUES (:version, :rules, :first_used_at) ON CONFLICT (version) DO NOTHING"
)
LOCK = "SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"
# Granted and refused decisions live in two tables, so a key's uniqueness across them is kept
# by a second advisory lock (PostgreSQL; SQLite has one writer at a time anyway).
KEY_LOCK = "SELECT pg_advisory_xact_lock(hashtextextended('idempotency:' || :key, 0))"
MOVED_AT = (
    ", decision_at = COALESCE(decision_at, CASE WHEN decision_consulted IS NOT NULL THEN at END)"
    ", at = :at"
)
_SQLITE_FORMAT = "%04d-%02d-%02d %02d:%02d:%02d.%06d"
NAMED = re.compile(r"(?<![:\w]):(\w+)")


def _same(value: Any) -> Any:
    return value


def sqlite_to_db(value: datetime | None) -> str | None:
    """``UTCDateTime`` on SQLite, in one step: aware only, stored as UTC text with microseconds
    (SQLAlchemy's storage format, so rows compare and sort as the ones Core writes)."""
    if value is None:
        return None
    if value.tzinfo is None:
        raise ValueError("timestamps stored by the hub must be timezone-aware")
    u = value.astimezone(UTC)
    return _SQLITE_FORMAT % (u.year, u.month, u.day, u.hour, u.minute, u.second, u.microsecond)


def sqlite_from_db(value: str | None) -> datetime | None:
    """Stored UTC text back to an aware datetime (what ``UTCDateTime`` returns)."""
    if value is None:
        return None
    return datetime.fromisoformat(value).replace(tzinfo=UTC)


def consulted_json(consulted: list[RuleUsage]) -> str:
    """Exactly ``json.dumps([u.model_dump() for u in consulted])`` (same keys, order, spacing,
    float reprs and string escapes), written out: the generic encoder took ~20 us a decision.
    ``used`` and ``limit`` are floats (as validation makes them), ``ok`` a bool."""
    return (
        "["
        + ", ".join(
            f'{{"rule": {_quote(u.rule)}, "used": {_number(u.used)}, '
            f'"limit": {_number(u.limit)}, "ok": {"true" if u.ok else "false"}, '
            f'"detail": {_quote(u.detail)}}}'
            for u in consulted
        )
        + "]"
    )


def _number(value: float) -> str:
    return float.__repr__(value) if math.isfinite(value) else json.dumps(value)


class Statements:
    """The statements above in the driver's parameter style, and the backend's timestamp codecs
    (``UTCDateTime``'s own: aware UTC in, aware UTC out, SQLite's text format on SQLite)."""

    def __init__(self, engine: Engine, event_types: Sequence[str]) -> None:
        dialect = engine.dialect
        self.sqlite = dialect.name == "sqlite"
        # sqlite3 takes :name as written; psycopg (the PostgreSQL driver we ship) takes %(name)s.
        style: Callable[[str], str] = _same if self.sqlite else self._pyformat
        returning = "" if self.sqlite else " RETURNING id"
        self.event_params = {f"type{i}": name for i, name in enumerate(event_types)}
        events = EVENTS.format(types=", ".join(f":{k}" for k in self.event_params))
        self.history = style(HISTORY + events if event_types else HISTORY)
        self.replay = style(REPLAY)
        self.insert_entry = style(INSERT_ENTRY + returning)
        self.insert_decision = style(INSERT_DECISION)
        self.transition = style(TRANSITION.format(at=""))
        self.transition_at = style(TRANSITION.format(at=MOVED_AT))
        self.status = style(STATUS)
        self.customer = style(CUSTOMER)
        self.insert_version = style(INSERT_VERSION)
        self.lock = style(LOCK)
        self.key_lock = style(KEY_LOCK)
        timestamp = UTCDateTime().dialect_impl(dialect)
        self.to_db: Callable[[datetime | None], Any] = timestamp.bind_processor(dialect) or _same
        self.from_db: Callable[[Any], datetime] = (
            timestamp.result_processor(dialect, None) or _same  # type: ignore[arg-type]
        )
        if self.sqlite:  # the same text both ways, without the TypeDecorator's layers (~1 us)
            self.to_db, self.from_db = sqlite_to_db, sqlite_from_db

    @staticmethod
    def _pyformat(sql: str) -> str:
        return NAMED.sub(r"%(\1)s", sql)


class Transaction:
    """One transaction on a pooled DBAPI connection; commits on success, rolls back on error.

    On SQLite writers begin with ``BEGIN IMMEDIATE``, exactly as ``hub.storage.db`` begins every
    SQLAlchemy transaction, and readers with a plain ``BEGIN`` (one consistent WAL snapshot).
    Driver errors come out as SQLAlchemy's (``IntegrityError``, ``OperationalError``...), as they
    did through ``Connection.execute``, and a lost connection is dropped from the pool.
    """

    __slots__ = ("_begin", "_connection", "_cursor", "_engine", "_sqlite")

    def __init__(self, engine: Engine, *, sqlite: bool, write: bool) -> None:
        self._engine = engine
        self._sqlite = sqlite
        self._begin = "BEGIN IMMEDIATE" if write else "BEGIN"

    def __enter__(self) -> Transaction:
        self._connection = self._engine.raw_connection()
        try:
            self._cursor = self._connection.cursor()
            if self._sqlite:
                self._execute(self._begin, None)
        except BaseException:
            self._connection.close()
            raise
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        connection = self._connection
        try:
            if kind is None:
                try:
                    connection.commit()
                except self._engine.dialect.loaded_dbapi.Error as failure:
                    raise self._translate(failure, None, None) from failure
            elif connection.is_valid:
                connection.rollback()
        finally:
            if connection.is_valid:
                self._cursor.close()
            connection.close()  # back to the pool, which rolls back anything left

    def _translate(self, error: Exception, sql: str | None, params: Any) -> BaseException:
        dialect = self._engine.dialect
        lost = dialect.is_disconnect(error, self._connection, self._cursor)
        if lost:
            self._connection.invalidate(error)
        return DBAPIError.instance(
            sql,
            params,
            error,
            dialect.loaded_dbapi.Error,
            hide_parameters=self._engine.hide_parameters,
            connection_invalidated=lost,
            dialect=dialect,
        )

    def _execute(self, sql: str, params: dict[str, Any] | None) -> Any:
        try:
            if params is None:
                return self._cursor.execute(sql)
            return self._cursor.execute(sql, params)
        except self._engine.dialect.loaded_dbapi.Error as error:
            raise self._translate(error, sql, params) from error

    def rows(self, sql: str, params: dict[str, Any]) -> list[Any]:
        self._execute(sql, params)
        return self._cursor.fetchall()

    def first(self, sql: str, params: dict[str, Any]) -> Any:
        self._execute(sql, params)
        return self._cursor.fetchone()

    def run(self, sql: str, params: dict[str, Any]) -> int:
        self._execute(sql, params)
        return int(self._cursor.rowcount)

    def insert(self, sql: str, params: dict[str, Any]) -> int:
        """The new row's id (``RETURNING id`` is part of ``sql`` except on SQLite)."""
        self._execute(sql, params)
        if self._sqlite:
            return int(self._cursor.lastrowid)
        return int(self._cursor.fetchone()[0])
