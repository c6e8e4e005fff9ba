"""Claiming due jobs: one transaction, customers whole, highest priority first.

On PostgreSQL the due rows are locked with ``FOR UPDATE SKIP LOCKED`` and marked ``running``
(``claimed_by``, ``claimed_at``) before the transaction commits, so several workers share the
queue without taking a job twice. On SQLite every write transaction is ``BEGIN IMMEDIATE``, which
serialises claims the same way.

A customer's due jobs are claimed together, and a customer with a job still running elsewhere
is skipped, so one worker at a time speaks to a person and runs their jobs in priority order.
Arbitration: a claimed job that has a *higher-priority* job of the same customer due within the
window is not run now; it is put back, due when that job is, so the more important message
takes the pressure slot first (nothing is ever sent early).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, Engine, exists, select, update

from hub.scenarios.jobs import JOBS, JobStatus
from hub.storage.db import IN_CHUNK

__all__ = ["ClaimedJob", "claim_due", "release"]


@dataclass(frozen=True)
class ClaimedJob:
    id: int
    idempotency_key: str
    customer_id: str
    scenario: str
    step: int
    trigger_event_id: int | None
    priority: int
    due_at: datetime
    created_at: datetime
    attempts: int


_COLUMNS = (
    JOBS.c.id,
    JOBS.c.idempotency_key,
    JOBS.c.customer_id,
    JOBS.c.scenario,
    JOBS.c.step,
    JOBS.c.trigger_event_id,
    JOBS.c.priority,
    JOBS.c.due_at,
    JOBS.c.created_at,
    JOBS.c.attempts,
)


def _due_customers(
    connection: Connection, now: datetime, batch: int, exclude: Collection[int]
) -> list[str]:
    running = JOBS.alias("running")
    query = (
        select(JOBS.c.customer_id)
        .where(
            JOBS.c.status == JobStatus.SCHEDULED.value,
            JOBS.c.due_at <= now,
            ~exists().where(
                running.c.customer_id == JOBS.c.customer_id,
                running.c.status == JobStatus.RUNNING.value,
            ),
        )
        .order_by(JOBS.c.due_at, JOBS.c.id)
        .limit(batch)
        .with_for_update(skip_locked=True, of=JOBS)
    )
    if exclude:
        query = query.where(JOBS.c.id.not_in(sorted(exclude)[:IN_CHUNK]))
    return list(dict.fromkeys(connection.execute(query).scalars()))


def claim_due(
    engine: Engine,
    worker_id: str,
    now: datetime,
    *,
    batch: int,
    window: timedelta,
    exclude: Collection[int] = (),
) -> list[ClaimedJob]:
    """Mark due jobs ``running`` for ``worker_id``; returned per customer, priority first.

    ``exclude``: jobs this run already handled and rescheduled (an ``--until-idle`` run with an
    explicit clock must not pick them up again).
    """
    with engine.begin() as connection:
        customers = _due_customers(connection, now, batch, exclude)
        if not customers:
            return []
        rows = connection.execute(
            select(*_COLUMNS)
            .where(
                JOBS.c.customer_id.in_(customers),
                JOBS.c.status == JobStatus.SCHEDULED.value,
                JOBS.c.due_at <= now + window,
            )
            .with_for_update(skip_locked=True)
        ).all()
        due = [ClaimedJob(*row) for row in rows if row.due_at <= now and row.id not in exclude]
        waiting = [row for row in rows if row.due_at > now]
        claimed: list[ClaimedJob] = []
        for job in due:
            ahead = [
                w for w in waiting if w.customer_id == job.customer_id and w.priority > job.priority
            ]
            if ahead:
                first = min(ahead, key=lambda w: (w.due_at, w.id))
                connection.execute(
                    update(JOBS)
                    .where(JOBS.c.id == job.id)
                    .values(
                        due_at=first.due_at,
                        reason=f"waits for higher-priority {first.scenario} "
                        f"(job {first.id}) due at {first.due_at.isoformat()}",
                        updated_at=now,
                    )
                )
            else:
                claimed.append(job)
        if claimed:
            connection.execute(
                update(JOBS)
                .where(
                    JOBS.c.id.in_([job.id for job in claimed]),
                    JOBS.c.status == JobStatus.SCHEDULED.value,
                )
                .values(
                    status=JobStatus.RUNNING.value,
                    claimed_by=worker_id,
                    claimed_at=now,
                    attempts=JOBS.c.attempts + 1,
                    updated_at=now,
                )
            )
    order = {customer: index for index, customer in enumerate(customers)}
    claimed.sort(key=lambda j: (order[j.customer_id], -j.priority, j.due_at, j.id))
    return claimed


def release(engine: Engine, worker_id: str, job_ids: Collection[int], now: datetime) -> None:
    """Put claimed jobs back, untouched (a worker asked to stop before running them)."""
    if not job_ids:
        return
    with engine.begin() as connection:
        connection.execute(
            update(JOBS)
            .where(
                JOBS.c.id.in_(sorted(job_ids)),
                JOBS.c.status == JobStatus.RUNNING.value,
                JOBS.c.claimed_by == worker_id,
            )
            .values(
                status=JobStatus.SCHEDULED.value,
                claimed_by=None,
                claimed_at=None,
                attempts=JOBS.c.attempts - 1,
                updated_at=now,
            )
        )
