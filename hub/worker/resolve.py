"""Operator decisions on ``in_doubt`` jobs, and the job listings ``hub jobs`` shows.

An in-doubt job's send was cut off while a brick without idempotency keys was being called:
only the vendor knows whether the message went out. The operator checks there and says so:

* ``sent``: the job is ``done``, its send ``accepted``, and the contact is recorded in the
  pressure ledger (it weighs on the person like any other);
* ``not sent``: the send is marked failed (a new attempt may claim its key) and the job is
  rescheduled now; the worker sends it, still within the scenario's ``max_delay``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update

from contracts import Channel
from hub.runtime import Runtime
from hub.scenarios.jobs import JOBS, JobStatus
from hub.send_records import SendState, finish_send
from hub.storage.types import utcnow

__all__ = ["JobNotInDoubt", "list_jobs", "resolve_in_doubt"]


class JobNotInDoubt(Exception):
    """No such job, or it is not waiting for an operator."""


@dataclass(frozen=True)
class Resolution:
    job_id: int
    status: JobStatus
    reason: str


def list_jobs(
    runtime: Runtime,
    *,
    status: str | None = None,
    customer_id: str | None = None,
    limit: int = 1000,
) -> list[dict[str, Any]]:
    """Jobs, most recently due first (pseudonymous: customer ids, scenario, status, reason)."""
    query = select(JOBS).order_by(JOBS.c.due_at.desc(), JOBS.c.id.desc()).limit(limit)
    if status is not None:
        query = query.where(JOBS.c.status == status)
    if customer_id is not None:
        query = query.where(JOBS.c.customer_id == customer_id)
    with runtime.ready_engine().connect() as connection:
        return [dict(row._mapping) for row in connection.execute(query)]


def resolve_in_doubt(
    runtime: Runtime, job_id: int, *, sent: bool, now: datetime | None = None
) -> Resolution:
    now = now or utcnow()
    engine = runtime.ready_engine()
    with engine.connect() as connection:
        job = connection.execute(select(JOBS).where(JOBS.c.id == job_id)).first()
    if job is None:
        raise JobNotInDoubt(f"no job {job_id}")
    if job.status != JobStatus.IN_DOUBT.value:
        raise JobNotInDoubt(f"job {job_id} is {job.status}, not in_doubt")
    if sent:
        if job.request_id:
            finish_send(engine, job.request_id, SendState.ACCEPTED)
        if job.channel:
            runtime.ledger.record(
                job.customer_id,
                Channel(job.channel),
                job.scenario,
                at=job.claimed_at or now,
                source="operator",
            )
        status, reason = JobStatus.DONE, "operator: confirmed sent at the vendor"
        values: dict[str, Any] = {}
    else:
        if job.request_id:
            finish_send(
                engine,
                job.request_id,
                SendState.FAILED,
                error_code="not_sent",
                error_message="an operator confirmed the vendor never sent it",
            )
        status, reason = JobStatus.SCHEDULED, "operator: not sent; rescheduled"
        values = {"due_at": now, "claimed_by": None, "claimed_at": None}
    with engine.begin() as connection:
        changed = connection.execute(
            update(JOBS)
            .where(JOBS.c.id == job_id, JOBS.c.status == JobStatus.IN_DOUBT.value)
            .values(status=status.value, reason=reason, updated_at=now, **values)
        ).rowcount
    if not changed:
        raise JobNotInDoubt(f"job {job_id} was resolved by someone else meanwhile")
    return Resolution(job_id, status, reason)
