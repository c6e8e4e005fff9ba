"""``simulate``: replay events through the live engine on a virtual clock, sending nothing.

The clock only moves forward, and only to instants where something happens:

1. contacts (``--contacts``) are imported first, through ``hub contacts import``'s code;
2. events are taken in ``occurred_at`` order (file order among equals); events outside
   ``[start, end)`` are skipped and counted;
3. before the events of instant *t* are ingested, the worker runs (``run_worker(now=...,
   until_idle=True)``) at every instant before *t* where a job falls due (a step's delay, a
   deferral's ``until``, an arbitration hold), then at *t* itself; the events then go through
   intake, which schedules and cancels jobs as it does live, and the worker runs at *t* once
   more when they made something due at once (a step with delay ``0s``);
4. after the last event the clock keeps visiting due instants up to ``end`` (excluded).

When some scenario has an ``inactivity`` flow, the clock also stops at every ``tick`` (default
one hour, aligned on the epoch) so the inactivity scan runs as a live worker's would.

The worker decides each job at the instant the clock stands at: consent, the pressure ledger
(``reserve(at=now)``), channel fallback, max delay. ``SimulationReport.instants`` lists the
instants visited, so a live installation stepped through the same ones takes the same decisions.
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from itertools import groupby
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, update

from hub.config import HubSettings
from hub.contacts.importer import import_contacts
from hub.events.intake import ingest_events
from hub.plugins import PluginHost
from hub.records import RecordFileError
from hub.runtime import Runtime
from hub.scenarios.jobs import JOBS, JobStatus
from hub.simulate.inputs import SimulationInputError, TimedEvent, timed_events
from hub.simulate.report import (
    CANCEL_RULE,
    InputProblem,
    SimulatedDecision,
    SimulationReport,
    decision_from,
)
from hub.simulate.scratch import SimulationRuntime, open_scratch_runtime
from hub.storage.models import ConsentEntry, CustomerEvent, table
from hub.storage.types import utcnow
from hub.worker import run_worker
from hub.worker.execute import JobResult

__all__ = ["DEFAULT_TICK", "WORKER_ID", "replay", "simulate"]

EVENTS, CONSENTS = table(CustomerEvent), table(ConsentEntry)
DEFAULT_TICK = timedelta(hours=1)
WORKER_ID = "simulation"
#: A job left due at an instant already visited is taken one second later (never twice).
_STEP = timedelta(seconds=1)


def _aware(value: datetime, option: str) -> datetime:
    if value.utcoffset() is None:
        raise SimulationInputError(f"{option}: needs a UTC offset (e.g. 2026-03-02T00:00:00Z)")
    return value.astimezone(UTC)


class _Replay:
    def __init__(self, runtime: Runtime, report: SimulationReport, tick: timedelta):
        self.runtime = runtime
        self.report = report
        scans = any(s.inactivity is not None for s in runtime.settings.scenarios.values())
        self.tick = tick if scans else None
        self.clock: datetime | None = None
        self._labels: dict[int, str] = {}
        # Jobs already cancelled before this replay (an earlier one on the same installation)
        # are not this replay's decisions.
        with runtime.engine.connect() as connection:
            self._cancelled: set[int] = set(
                connection.execute(
                    select(JOBS.c.id).where(JOBS.c.status == JobStatus.CANCELLED.value)
                ).scalars()
            )

    def _label(self, event_id: int | None) -> str | None:
        if event_id is None:
            return None
        if event_id not in self._labels:
            with self.runtime.engine.connect() as connection:
                row = connection.execute(
                    select(EVENTS.c.source, EVENTS.c.source_event_id).where(EVENTS.c.id == event_id)
                ).first()
            self._labels[event_id] = f"{row.source}/{row.source_event_id}" if row else "?"
        return self._labels[event_id]

    def _next_due(self) -> datetime | None:
        with self.runtime.engine.connect() as connection:
            return connection.execute(
                select(func.min(JOBS.c.due_at)).where(JOBS.c.status == JobStatus.SCHEDULED.value)
            ).scalar()

    def _next_instant(self) -> datetime | None:
        floor = self.report.start if self.clock is None else self.clock + _STEP
        candidates: list[datetime] = []
        due = self._next_due()
        if due is not None:
            candidates.append(max(due, floor))
        if self.tick is not None:
            if self.clock is None:
                candidates.append(self.report.start)
            else:
                size = self.tick.total_seconds()
                following = (self.clock.timestamp() // size + 1) * size
                candidates.append(datetime.fromtimestamp(following, UTC))
        return min(candidates, default=None)

    def visit(self, moment: datetime) -> None:
        self.clock = moment
        self.report.instants.append(moment)

        def record(result: JobResult) -> None:
            label = self._label(result.trigger_event_id)
            self.report.decisions.append(decision_from(result, moment, label))
            if result.status is JobStatus.CANCELLED:
                self._cancelled.add(result.job_id)

        run_worker(self.runtime, worker_id=WORKER_ID, until_idle=True, now=moment, on_job=record)

    def advance(self, limit: datetime) -> None:
        """Visit every instant before ``limit`` where something is due."""
        while (moment := self._next_instant()) is not None and moment < limit:
            self.visit(moment)

    def _intake_cancellations(self, moment: datetime) -> None:
        """Jobs the events just cancelled (intake does it, not the worker): decisions too."""
        with self.runtime.engine.connect() as connection:
            rows = connection.execute(
                select(JOBS).where(JOBS.c.status == JobStatus.CANCELLED.value).order_by(JOBS.c.id)
            ).all()
        for row in rows:
            if row.id in self._cancelled:
                continue
            self._cancelled.add(row.id)
            self.report.decisions.append(
                SimulatedDecision(
                    at=moment,
                    customer_id=row.customer_id,
                    scenario=row.scenario,
                    step=row.step,
                    channel=None,
                    outcome="cancelled",
                    rule=CANCEL_RULE,
                    reason=row.reason or "cancelled",
                    trigger_event=self._label(row.trigger_event_id),
                )
            )

    def ingest(self, events: Sequence[TimedEvent], moment: datetime | None = None) -> None:
        if not events:
            return
        intake = ingest_events(self.runtime, [e.event for e in events], source="simulate")
        if moment is not None:
            self._intake_cancellations(moment)
        self.report.events_accepted += intake.accepted
        self.report.events_duplicates += intake.duplicates
        self.report.events_rejected.extend(
            InputProblem(events[r.index].line, r.field, r.reason) for r in intake.rejected
        )

    def run(self, events: Sequence[TimedEvent]) -> None:
        start, end = self.report.start, self.report.end
        # Without a usable occurred_at intake refuses the event: it is fed first, to say why.
        self.ingest([e for e in events if e.occurred_at is None])
        placed = [e for e in events if e.occurred_at is not None and start <= e.occurred_at < end]
        self.report.events_skipped = sum(1 for e in events if e.occurred_at is not None) - len(
            placed
        )
        placed.sort(key=lambda e: e.occurred_at)  # type: ignore[arg-type,return-value]
        for moment, group in groupby(placed, key=lambda e: e.occurred_at):
            assert moment is not None
            moment = moment.astimezone(UTC)
            self.advance(moment)
            self.visit(moment)
            self.ingest(list(group), moment)
            due = self._next_due()
            if due is not None and due <= moment:
                self.visit(moment)  # steps without delay go out at their event's instant
        self.advance(end)


def _import_contacts(runtime: SimulationRuntime, path: Path, report: SimulationReport) -> None:
    """Import as ``hub contacts import`` does; the file is the people's state at ``start``.

    A consent without ``consent_recorded_at`` is stamped by the import with the real time,
    later than a window in the past: the latest statement winning, it would override every
    consent change the events make. In the scratch database such consents are moved back to
    ``start`` (stamps the file gives are kept).
    """
    source = f"import:{path.name}"
    began = utcnow()
    try:
        imported = import_contacts(
            runtime.engine, runtime.identity, runtime.vault, path, source=source
        )
    except RecordFileError as exc:
        raise SimulationInputError(f"--contacts: {exc}") from None
    with runtime.engine.begin() as connection:
        connection.execute(
            update(CONSENTS)
            .where(CONSENTS.c.source == source, CONSENTS.c.recorded_at >= began)
            .values(recorded_at=min(report.start, began))
        )
    report.contacts = {
        "created": imported.created,
        "updated": imported.updated,
        "unchanged": imported.unchanged,
    }
    report.contacts_rejected = [InputProblem(r.line, r.field, r.reason) for r in imported.rejected]


def replay(
    runtime: Runtime,
    events: Sequence[dict[str, Any]],
    *,
    start: datetime,
    end: datetime,
    tick: timedelta = DEFAULT_TICK,
) -> SimulationReport:
    """Drive ``runtime`` (a live installation too: ``hub demo`` does) through ``events`` on a
    virtual clock from ``start`` to ``end``, exactly as ``simulate`` drives its scratch copy:
    intake at each event's instant, the worker at every instant something falls due."""
    start, end = _aware(start, "start"), _aware(end, "end")
    lines = timed_events(list(events))
    report = SimulationReport(start=start, end=end, events_read=len(lines))
    _Replay(runtime, report, tick).run(lines)
    return report


@contextmanager
def _directory(workdir: Path | None) -> Iterator[Path]:
    if workdir is not None:
        workdir.mkdir(parents=True, exist_ok=True)
        yield workdir
        return
    with tempfile.TemporaryDirectory(prefix="hub-simulate-") as scratch:
        yield Path(scratch)


def simulate(
    settings: HubSettings,
    events: Sequence[TimedEvent] | Sequence[dict[str, Any]],
    *,
    start: datetime,
    end: datetime,
    contacts: Path | None = None,
    host: PluginHost | None = None,
    tick: timedelta = DEFAULT_TICK,
    workdir: Path | None = None,
) -> SimulationReport:
    """Replay ``events`` (dicts, or ``read_event_file``'s lines) from ``start`` to ``end``.

    ``settings`` is the real configuration (scenarios, pressure, bricks); the run happens in a
    scratch installation (``hub.simulate.scratch``) in a temporary directory, deleted
    afterwards, or in ``workdir`` when given (kept, for inspection). Raises
    ``SimulationInputError`` for unusable input and ``ConfigError`` like the hub does.
    """
    start, end = _aware(start, "--from"), _aware(end, "--to")
    if end <= start:
        raise SimulationInputError("--to: must be after --from")
    if tick <= timedelta(0):
        raise SimulationInputError("--tick: must be positive")
    timed = [e if isinstance(e, TimedEvent) else None for e in events]
    lines = (
        [e for e in timed if e is not None]
        if all(e is not None for e in timed)
        else timed_events(list(events))
    )
    report = SimulationReport(start=start, end=end, events_read=len(lines))
    with _directory(workdir) as directory:
        runtime = open_scratch_runtime(settings, directory, host)
        try:
            if contacts is not None:
                _import_contacts(runtime, contacts, report)
            _Replay(runtime, report, tick).run(lines)
        finally:
            asyncio.run(runtime.aclose())
        report.messages = len(runtime.recorder.sent)
    return report
