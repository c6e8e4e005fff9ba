"""The ``jobs`` table as scenarios and the worker use it: statuses, keys, insert-or-ignore.

A job is one due step of a scenario for one customer. Its idempotency key names the scenario,
the trigger (an event id, or a customer and period for inactivity) and the step, so replaying an
event or re-running a scan never schedules a step twice: the insert is ignored on conflict, on
both backends, in one statement.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, Insert, Select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from contracts import Channel
from hub.storage.models import Job, table

__all__ = [
    "JOBS",
    "JOB_COLUMNS",
    "OPEN_STATUSES",
    "JobStatus",
    "insert_jobs",
    "insert_jobs_from",
    "send_key",
    "send_keys",
    "trigger_key",
]

JOBS = table(Job)


class JobStatus(StrEnum):
    SCHEDULED = "scheduled"
    RUNNING = "running"
    DONE = "done"
    CANCELLED = "cancelled"
    EXPIRED = "expired"
    REFUSED = "refused"
    FAILED = "failed"
    IN_DOUBT = "in_doubt"
    """Its send was in flight when the worker stopped: an operator decides (hub jobs resolve)."""


#: Jobs that may still lead to a message.
OPEN_STATUSES = frozenset({JobStatus.SCHEDULED, JobStatus.RUNNING, JobStatus.IN_DOUBT})


def trigger_key(scenario: str, event_id: int, step: int) -> str:
    return f"{scenario}:{event_id}:{step}"


def send_key(job_key: str, channel: Channel | str) -> str:
    """The idempotency key of the job's send on one channel (the same on every retry)."""
    return f"job:{job_key}:{Channel(channel).value}"


def send_keys(job_key: str) -> list[str]:
    return [send_key(job_key, channel) for channel in Channel]


def _insert_ignore(dialect: str) -> Insert:
    if dialect == "postgresql":
        return postgresql.insert(JOBS).on_conflict_do_nothing(index_elements=["idempotency_key"])
    if dialect == "sqlite":
        return sqlite.insert(JOBS).on_conflict_do_nothing(index_elements=["idempotency_key"])
    raise RuntimeError(f"jobs are stored on SQLite or PostgreSQL, not {dialect}")


def insert_jobs(bind: Session | Connection, rows: Sequence[Mapping[str, Any]]) -> int:
    """Insert the rows whose key is new; returns how many were inserted."""
    if not rows:
        return 0
    connection = bind.connection() if isinstance(bind, Session) else bind
    # RETURNING counts what was inserted: drivers disagree on rowcount for ignored rows.
    statement = _insert_ignore(connection.dialect.name).returning(JOBS.c.id)
    return len(connection.execute(statement, list(rows)).all())


#: The column order of ``insert_jobs_from`` queries.
JOB_COLUMNS = (
    "idempotency_key",
    "customer_id",
    "scenario",
    "step",
    "trigger_event_id",
    "priority",
    "status",
    "due_at",
    "attempts",
    "created_at",
    "updated_at",
)


def insert_jobs_from(connection: Connection, query: Select[Any]) -> int:
    """``INSERT INTO jobs (JOB_COLUMNS) SELECT ...``, ignoring keys already present."""
    statement = _insert_ignore(connection.dialect.name)
    # from_select on the dialect insert keeps its ON CONFLICT clause.
    inserted = statement.from_select(list(JOB_COLUMNS), query).returning(JOBS.c.id)
    return len(connection.execute(inserted).all())
