"""Jobs left ``running`` by a worker that died: finish them from what the ``sends`` table knows.

A job whose claim is older than the lease is taken over (re-leased to this worker in one
transaction, so two workers never recover the same job), then settled by its send rows:

* a send was **accepted**: the message went out, the job is ``done``;
* a send is still **pending** (the brick call was cut off): if the brick honours idempotency
  keys, the send is marked failed and the job rescheduled; the retry carries the same key, so
  the vendor delivers at most once. Otherwise the job and the send become ``in_doubt`` for an
  operator (``hub jobs in-doubt``, ``hub jobs resolve``): never re-sent blindly;
* a send **failed** (already dead-lettered by the core): the job is ``failed``;
* no send, or one that was deferred or refused: nothing went out, the job is rescheduled.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Row, select, update

from hub.runtime import Runtime
from hub.scenarios.jobs import JOBS, JobStatus, send_keys
from hub.send_records import SendState, finish_send
from hub.storage.models import SendRecord, table

__all__ = ["Recovered", "recover_stale"]

SENDS = table(SendRecord)


@dataclass(frozen=True)
class Recovered:
    job_id: int
    status: JobStatus
    reason: str


def _lease_stale(
    runtime: Runtime, worker_id: str, now: datetime, lease: timedelta
) -> Sequence[Row[Any]]:
    with runtime.engine.begin() as connection:
        rows = connection.execute(
            select(JOBS.c.id, JOBS.c.idempotency_key)
            .where(JOBS.c.status == JobStatus.RUNNING.value, JOBS.c.claimed_at < now - lease)
            .order_by(JOBS.c.id)
            .limit(1000)
            .with_for_update(skip_locked=True)
        ).all()
        if rows:
            connection.execute(
                update(JOBS)
                .where(JOBS.c.id.in_([row.id for row in rows]))
                .values(claimed_by=worker_id, claimed_at=now, updated_at=now)
            )
    return rows


def _settle(runtime: Runtime, job_key: str) -> tuple[JobStatus, str, str | None, str | None]:
    """(status, reason, channel, request_id) from the job's send rows."""
    with runtime.engine.connect() as connection:
        sends = connection.execute(
            select(SENDS).where(SENDS.c.idempotency_key.in_(send_keys(job_key)))
        ).all()
    by_state = {row.status: row for row in sends}
    if (row := by_state.get(SendState.ACCEPTED.value)) is not None:
        return (
            JobStatus.DONE,
            "recovered: sent before its worker stopped",
            row.channel,
            row.request_id,
        )
    for state in (SendState.PENDING.value, SendState.IN_DOUBT.value):
        if (row := by_state.get(state)) is None:
            continue
        configured = runtime.bricks.get(row.brick)
        if configured is not None and configured.cls.supports_idempotency:
            finish_send(
                runtime.engine,
                row.request_id,
                SendState.FAILED,
                error_code="interrupted",
                error_message="its worker stopped during the call; retried under the same key",
            )
            return (
                JobStatus.SCHEDULED,
                f"recovered: its send was cut off; {row.brick} honours idempotency keys, so it "
                "is retried under the same key",
                None,
                None,
            )
        finish_send(
            runtime.engine,
            row.request_id,
            SendState.IN_DOUBT,
            error_code="interrupted",
            error_message="its worker stopped during the call; an operator decides",
        )
        return (
            JobStatus.IN_DOUBT,
            f"in doubt: its worker stopped while {row.brick} was being called, and {row.brick} "
            "honours no idempotency key; check the vendor, then `hub jobs resolve`",
            row.channel,
            row.request_id,
        )
    for state in (SendState.FAILED.value, SendState.REJECTED.value):
        if (row := by_state.get(state)) is not None:
            return (
                JobStatus.FAILED,
                f"recovered: the send failed ({row.error_code}) and was dead-lettered",
                row.channel,
                row.request_id,
            )
    return JobStatus.SCHEDULED, "recovered: its worker stopped before sending", None, None


def recover_stale(
    runtime: Runtime, worker_id: str, now: datetime, lease: timedelta
) -> list[Recovered]:
    """Settle every job whose claim is older than ``lease``."""
    recovered: list[Recovered] = []
    for row in _lease_stale(runtime, worker_id, now, lease):
        status, reason, channel, request_id = _settle(runtime, row.idempotency_key)
        values: dict[str, object] = {"status": status.value, "reason": reason, "updated_at": now}
        if status is JobStatus.SCHEDULED:
            values |= {"claimed_by": None, "claimed_at": None, "due_at": now}
        else:
            values |= {"channel": channel, "request_id": request_id}
        with runtime.engine.begin() as connection:
            connection.execute(
                update(JOBS)
                .where(
                    JOBS.c.id == row.id,
                    JOBS.c.status == JobStatus.RUNNING.value,
                    JOBS.c.claimed_by == worker_id,
                )
                .values(**values)
            )
        recovered.append(Recovered(row.id, status, reason))
    return recovered
