"""Run one claimed job: re-check it, pick a channel, send through the core, record the result.

Before anything goes out the job is checked again, because time passed since it was scheduled:
the scenario and step must still exist, the job must not be later than the scenario's
``max_delay`` allows, and no ``cancel_if`` event may have arrived since the trigger (one stored
before a late trigger is caught here). Channels are tried in the step's preference order; a
channel without an enabled sender brick or (for marketing) without consent is skipped, and a
channel the ledger defers or denies falls back to the next. Every send goes through
``hub.sending.send_message`` with a key derived from the job, so a retry never sends twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update

from contracts import Channel, MessageKind, Purpose
from hub.consent import may_contact
from hub.events.store import read_events
from hub.logs import get_logger
from hub.runtime import Runtime
from hub.scenarios.jobs import JOBS, JobStatus, send_key
from hub.scenarios.schedule import cancel_reason
from hub.scenarios.variables import Scalar, extract_variables
from hub.sending import NoBrickForChannel, SendOutcome, pick_sender, send_message
from hub.storage.db import session_scope
from hub.storage.models import Customer, CustomerEvent, table
from hub.storage.types import utcnow
from hub.worker.claim import ClaimedJob

__all__ = ["ChannelAttempt", "JobResult", "run_job"]

log = get_logger(__name__)
EVENTS, CUSTOMERS = table(CustomerEvent), table(Customer)


@dataclass(frozen=True)
class ChannelAttempt:
    """One channel tried for a job: ``outcome`` is the send's (``sent``, ``deferred``,
    ``refused``, ``failed``, ``in_doubt``) or ``skipped`` when the channel could not carry the
    job at all; ``rule`` names what decided (a ledger rule, ``consent``, ``no_sender``)."""

    channel: str
    outcome: str
    rule: str | None
    reason: str
    until: datetime | None = None

    def note(self) -> str:
        if self.outcome == "skipped":
            return f"{self.channel}: {self.reason}"
        return f"{self.channel}: {self.outcome} by {self.rule}: {self.reason}"


@dataclass(frozen=True)
class JobResult:
    """What became of a job. ``status`` ``scheduled`` means rescheduled (to ``due_at``).
    ``attempts``: each channel tried, in preference order (empty when the job never got to
    choose a channel: cancelled, expired)."""

    job_id: int
    scenario: str
    step: int
    status: JobStatus
    reason: str
    channel: str | None = None
    request_id: str | None = None
    due_at: datetime | None = None
    customer_id: str | None = None
    trigger_event_id: int | None = None
    attempts: tuple[ChannelAttempt, ...] = ()


def _start(runtime: Runtime, job: ClaimedJob) -> tuple[datetime, str | None]:
    """When the flow started (trigger or scan) and why the customer can no longer get it."""
    with runtime.engine.connect() as connection:
        status = connection.execute(
            select(CUSTOMERS.c.status).where(CUSTOMERS.c.id == job.customer_id)
        ).scalar()
        started = job.created_at
        if job.trigger_event_id is not None:
            occurred = connection.execute(
                select(EVENTS.c.occurred_at).where(EVENTS.c.id == job.trigger_event_id)
            ).scalar()
            started = occurred or started
    # An objection (art. 21) stops marketing only: consent refuses those sends per channel,
    # transactional steps still go.
    if status not in ("active", "objected"):
        return started, f"cancelled: the customer is {status or 'unknown'}"
    return started, None


def _cancelling_event(
    runtime: Runtime, job: ClaimedJob, types: list[str], after: datetime
) -> str | None:
    if not types:
        return None
    with runtime.engine.connect() as connection:
        row = connection.execute(
            select(EVENTS.c.id, EVENTS.c.type)
            .where(
                EVENTS.c.customer_id == job.customer_id,
                EVENTS.c.type.in_(types),
                EVENTS.c.occurred_at > after,
            )
            .order_by(EVENTS.c.occurred_at, EVENTS.c.id)
            .limit(1)
        ).first()
    return None if row is None else cancel_reason(row.type, row.id)


def _variables(runtime: Runtime, job: ClaimedJob, paths: list[str]) -> dict[str, Scalar]:
    """The scenario's allow-listed values from the trigger's payload (opened only for them)."""
    if not paths or job.trigger_event_id is None:
        return {}
    with session_scope(runtime.engine) as session:
        events = read_events(session, runtime.vault, [job.trigger_event_id])
    return extract_variables(events[0].payload, paths) if events else {}


def _record(runtime: Runtime, job: ClaimedJob, worker_id: str, result: JobResult) -> None:
    values: dict[str, object] = {
        "status": result.status.value,
        "reason": result.reason[:1000],
        "channel": result.channel,
        "request_id": result.request_id,
        "updated_at": utcnow(),
    }
    if result.status is JobStatus.SCHEDULED:
        values |= {"due_at": result.due_at, "claimed_by": None, "claimed_at": None}
    with runtime.engine.begin() as connection:
        changed = connection.execute(
            update(JOBS)
            .where(
                JOBS.c.id == job.id,
                JOBS.c.status == JobStatus.RUNNING.value,
                JOBS.c.claimed_by == worker_id,
            )
            .values(**values)
        ).rowcount
    if not changed:
        # Slower than the lease: another worker recovered the job from its send rows meanwhile.
        log.warning("job taken over before its result was recorded", job_id=job.id)


def _skip_reason(
    runtime: Runtime, job: ClaimedJob, channel: Channel, kind: MessageKind
) -> tuple[str, str] | None:
    """(rule, reason) why ``channel`` cannot carry this job at all (``None``: try it)."""
    purpose = Purpose.MARKETING if kind is MessageKind.MARKETING else Purpose.TRANSACTIONAL
    try:
        pick_sender(runtime, channel, purpose)
    except NoBrickForChannel as exc:
        return "no_sender", str(exc)
    with session_scope(runtime.engine) as session:
        verdict = may_contact(session, job.customer_id, channel, kind)
    return None if verdict.allowed else ("consent", verdict.reason)


async def _try_channels(
    runtime: Runtime,
    job: ClaimedJob,
    channels: list[Channel],
    template: str,
    kind: MessageKind,
    now: datetime,
    variables: dict[str, Scalar],
) -> tuple[SendOutcome | None, Channel | None, list[ChannelAttempt], datetime | None]:
    """Send on the first channel that takes it; (outcome, channel, attempts, earliest deferral).

    Every send happens at ``now``, the worker's clock: the ledger decides at the job's time,
    so a replay or a simulation on a virtual clock takes the decisions the live worker would.
    """
    attempts: list[ChannelAttempt] = []
    earliest: datetime | None = None
    for channel in channels:
        skip = _skip_reason(runtime, job, channel, kind)
        if skip:
            attempts.append(ChannelAttempt(channel.value, "skipped", *skip))
            continue
        outcome = await send_message(
            runtime,
            customer_id=job.customer_id,
            channel=channel,
            scenario=job.scenario,
            template=template,
            kind=kind,
            idempotency_key=send_key(job.idempotency_key, channel),
            variables=variables,
            now=now,
        )
        decision = outcome.decision
        attempts.append(
            ChannelAttempt(
                channel.value, outcome.status, decision.rule, decision.reason, decision.until
            )
        )
        if outcome.status in ("sent", "failed", "in_doubt"):
            return outcome, channel, attempts, earliest
        if outcome.status == "deferred" and decision.until is not None:
            earliest = decision.until if earliest is None else min(earliest, decision.until)
    return None, None, attempts, earliest


async def run_job(runtime: Runtime, job: ClaimedJob, worker_id: str, now: datetime) -> JobResult:
    """Run ``job`` (claimed by ``worker_id``) and record its new status."""
    result = await _run(runtime, job, now)
    _record(runtime, job, worker_id, result)
    log.info(
        "job finished",
        job_id=job.id,
        scenario=job.scenario,
        step=job.step,
        status=result.status.value,
        channel=result.channel,
    )
    return result


async def _run(runtime: Runtime, job: ClaimedJob, now: datetime) -> JobResult:
    attempts: list[ChannelAttempt] = []

    def done(status: JobStatus, reason: str, **extra: object) -> JobResult:
        return JobResult(
            job.id,
            job.scenario,
            job.step,
            status,
            reason,
            customer_id=job.customer_id,
            trigger_event_id=job.trigger_event_id,
            attempts=tuple(attempts),
            **extra,  # type: ignore[arg-type]
        )

    scenario = runtime.settings.scenarios.get(job.scenario)
    if scenario is None or job.step >= len(scenario.steps):
        what = "scenario" if scenario is None else f"step {job.step} of scenario"
        return done(JobStatus.FAILED, f"{what} {job.scenario!r} is no longer declared in config")
    step = scenario.steps[job.step]
    started, gone = _start(runtime, job)
    if gone:
        return done(JobStatus.CANCELLED, gone)
    cancelled = _cancelling_event(runtime, job, scenario.cancel_if, started)
    if cancelled:
        return done(JobStatus.CANCELLED, cancelled)
    planned = started + step.delay
    max_delay: timedelta = runtime.ledger.policy.max_delay(job.scenario)
    if now > planned + max_delay:
        return done(
            JobStatus.EXPIRED,
            f"expired: planned for {planned.isoformat()}, more than max_delay ({max_delay}) ago",
        )
    channels = scenario.step_channels(job.step)
    try:
        variables = _variables(runtime, job, scenario.variables)
        outcome, channel, attempts, until = await _try_channels(
            runtime, job, channels, step.template, scenario.kind, now, variables
        )
    except Exception as exc:  # a bug or an unreachable database: keep the worker alive
        log.exception("job failed", job_id=job.id, error_type=type(exc).__name__)
        return done(JobStatus.FAILED, f"internal error ({type(exc).__name__}); see the log")
    if outcome is not None and channel is not None:
        status = {"sent": JobStatus.DONE, "failed": JobStatus.FAILED}.get(
            outcome.status, JobStatus.IN_DOUBT
        )
        reason = {
            JobStatus.DONE: "sent"
            + (" (already sent under this key)" if outcome.duplicate else ""),
            JobStatus.FAILED: "the brick did not accept the message (dead-lettered"
            + (f" as {outcome.dead_letter_id})" if outcome.dead_letter_id else ")"),
            JobStatus.IN_DOUBT: outcome.decision.reason,
        }[status]
        return done(status, reason, channel=channel.value, request_id=outcome.request_id)
    summary = "; ".join(a.note() for a in attempts) or "no channel to try"
    if until is not None:
        if until <= planned + max_delay:
            return done(
                JobStatus.SCHEDULED, f"deferred to {until.isoformat()}: {summary}", due_at=until
            )
        return done(
            JobStatus.EXPIRED,
            f"expired: deferred beyond max_delay ({max_delay}) after {planned.isoformat()}: "
            f"{summary}",
        )
    return done(JobStatus.REFUSED, f"refused: {summary}")
