"""Turn stored events into jobs: schedule the steps they trigger, cancel the steps they stop.

Event intake calls ``on_events`` inside the transaction that stores the events, so an event and
the jobs it schedules or cancels commit together (a crash leaves neither). All of a batch's new
jobs are inserted before any cancellation runs, so the order of events inside one batch does
not matter: an ``order.placed`` that arrives in the same batch as the ``cart.abandoned`` before
it still cancels the reminder. A cancelling event stored *before* a late trigger is caught by
the worker, which re-checks ``cancel_if`` before every send.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session

from hub.events.stored import StoredEvent
from hub.logs import get_logger
from hub.scenarios.jobs import JOBS, JobStatus, insert_jobs, trigger_key
from hub.storage.models import CustomerEvent, table
from hub.storage.types import utcnow

if TYPE_CHECKING:
    from hub.pressure.rules import ScenarioSettings
    from hub.runtime import Runtime

__all__ = ["cancel_reason", "jobs_for_event", "on_events"]

log = get_logger(__name__)
EVENTS = table(CustomerEvent)


def jobs_for_event(
    event: StoredEvent, scenarios: dict[str, ScenarioSettings], now: datetime
) -> list[dict[str, Any]]:
    """The job rows ``event`` schedules: every step of every scenario it triggers."""
    rows: list[dict[str, Any]] = []
    for name, scenario in sorted(scenarios.items()):
        if scenario.trigger != event.type or not scenario.matches(event.payload):
            continue
        for index, step in enumerate(scenario.steps):
            rows.append(
                {
                    "idempotency_key": trigger_key(name, event.id, index),
                    "customer_id": event.customer_id,
                    "scenario": name,
                    "step": index,
                    "trigger_event_id": event.id,
                    "priority": scenario.priority,
                    "status": JobStatus.SCHEDULED.value,
                    "due_at": event.occurred_at + step.delay,
                    "attempts": 0,
                    "created_at": now,
                    "updated_at": now,
                }
            )
    return rows


def cancel_reason(event_type: str, event_id: int) -> str:
    return f"cancelled: {event_type} (event {event_id}) occurred after the trigger"


def _cancel(session: Session, event: StoredEvent, scenarios: list[str], now: datetime) -> int:
    """Cancel the customer's scheduled steps of ``scenarios`` started before ``event``."""
    triggered_before = JOBS.c.trigger_event_id.in_(
        select(EVENTS.c.id).where(
            EVENTS.c.customer_id == event.customer_id,
            EVENTS.c.occurred_at < event.occurred_at,
        )
    )
    # Inactivity jobs have no trigger event: the scan that created them is their start.
    scanned_before = and_(JOBS.c.trigger_event_id.is_(None), JOBS.c.created_at < event.occurred_at)
    result = session.connection().execute(
        update(JOBS)
        .where(
            JOBS.c.customer_id == event.customer_id,
            JOBS.c.status == JobStatus.SCHEDULED.value,
            JOBS.c.scenario.in_(scenarios),
            or_(triggered_before, scanned_before),
        )
        .values(
            status=JobStatus.CANCELLED.value,
            reason=cancel_reason(event.type, event.id),
            updated_at=now,
        )
    )
    return max(result.rowcount or 0, 0)


def on_events(session: Session, runtime: Runtime, events: Sequence[StoredEvent]) -> None:
    """Schedule the steps ``events`` trigger and cancel the ones they stop, in ``session``."""
    if not events:
        return
    scenarios = runtime.settings.scenarios
    now = utcnow()
    rows = [row for event in events for row in jobs_for_event(event, scenarios, now)]
    scheduled = insert_jobs(session, rows)
    cancelled = 0
    for event in events:
        stopping = sorted(name for name, s in scenarios.items() if event.type in s.cancel_if)
        if stopping:
            cancelled += _cancel(session, event, stopping, now)
    if scheduled or cancelled:
        log.info("scenario jobs", events=len(events), scheduled=scheduled, cancelled=cancelled)
