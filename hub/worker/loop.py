"""``run_worker``: recover, scan, claim, run — until stopped, or until nothing is due.

Each round first settles jobs whose worker died (``recovery``), then lets the inactivity scan
schedule reactivations, then claims a batch of due jobs and runs them one by one. A stop request
(Ctrl-C in ``hub worker``, or the ``stop`` event) is honoured between jobs: the job in hand is
finished and recorded, the rest of the batch is put back untouched.
"""

from __future__ import annotations

import asyncio
import signal
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from hub.config import ConfigError, ConfigProblem
from hub.logs import get_logger
from hub.runtime import Runtime
from hub.scenarios.inactivity import scan_inactivity
from hub.scenarios.jobs import JobStatus
from hub.scenarios.validation import enabled_senders, flow_problems
from hub.storage.types import utcnow
from hub.worker.claim import claim_due, release
from hub.worker.execute import JobResult, run_job
from hub.worker.recovery import Recovered, recover_stale

__all__ = ["WorkerReport", "check_flows", "run_worker", "run_worker_async"]

log = get_logger(__name__)


@dataclass
class WorkerReport:
    """What one run did: job outcomes by status (``scheduled``: rescheduled), recoveries,
    jobs the inactivity scan created, and whether it stopped on request."""

    worker_id: str
    statuses: Counter[str] = field(default_factory=Counter)
    recovered: Counter[str] = field(default_factory=Counter)
    scanned: int = 0
    rounds: int = 0
    stopped: bool = False

    @property
    def processed(self) -> int:
        return sum(self.statuses.values())

    def as_dict(self) -> dict[str, Any]:
        return {
            "worker_id": self.worker_id,
            "processed": self.processed,
            "statuses": dict(sorted(self.statuses.items())),
            "recovered": dict(sorted(self.recovered.items())),
            "scheduled_by_inactivity_scan": self.scanned,
            "rounds": self.rounds,
            "stopped": self.stopped,
        }


def check_flows(runtime: Runtime) -> None:
    """Refuse to run flows that name unknown event types or that no brick can send."""
    problems = flow_problems(
        runtime.settings.scenarios, runtime.plugins.event_types(), enabled_senders(runtime.bricks)
    )
    if problems:
        raise ConfigError([ConfigProblem(path, message) for path, message in problems])


@contextmanager
def _interrupts(stop: threading.Event) -> Iterator[None]:
    """Ctrl-C sets ``stop`` (the current job finishes); a second Ctrl-C interrupts at once."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


async def run_worker_async(
    runtime: Runtime,
    *,
    worker_id: str,
    until_idle: bool = False,
    batch: int | None = None,
    now: datetime | None = None,
    stop: threading.Event | None = None,
    on_job: Callable[[JobResult], None] | None = None,
) -> WorkerReport:
    """See ``run_worker``."""
    settings = runtime.settings.worker
    runtime.ready_engine()
    check_flows(runtime)
    stop = stop or threading.Event()
    size = batch or settings.batch
    report = WorkerReport(worker_id)
    rescheduled: set[int] = set()
    scanned = False
    while not stop.is_set():
        moment = now or utcnow()
        report.rounds += 1
        recovered: list[Recovered] = recover_stale(runtime, worker_id, moment, settings.lease)
        report.recovered.update(r.status.value for r in recovered)
        if not (until_idle and scanned):
            report.scanned += scan_inactivity(
                runtime.engine, runtime.settings.scenarios, now=moment
            )
            scanned = True
        exclude = rescheduled if now is not None else ()
        jobs = claim_due(
            runtime.engine,
            worker_id,
            moment,
            batch=size,
            window=settings.arbitration_window,
            exclude=exclude,
        )
        for index, job in enumerate(jobs):
            if stop.is_set():
                release(runtime.engine, worker_id, [j.id for j in jobs[index:]], moment)
                break
            result = await run_job(runtime, job, worker_id, now or utcnow())
            report.statuses[result.status.value] += 1
            if result.status is JobStatus.SCHEDULED:
                rescheduled.add(job.id)
            if on_job is not None:
                on_job(result)
        if not jobs:
            if until_idle:
                break
            await asyncio.to_thread(stop.wait, settings.poll_interval.total_seconds())
    report.stopped = stop.is_set()
    log.info("worker finished", worker_id=worker_id, **report.as_dict()["statuses"])
    return report


def run_worker(
    runtime: Runtime,
    *,
    worker_id: str,
    until_idle: bool = False,
    batch: int | None = None,
    now: datetime | None = None,
    stop: threading.Event | None = None,
    on_job: Callable[[JobResult], None] | None = None,
) -> WorkerReport:
    """Process due scenario jobs; with ``until_idle``, return once nothing is due.

    ``now`` fixes the clock (tests, replays, ``hub simulate``): it decides what is due, and
    every send is decided by the pressure ledger at that instant. ``stop`` ends the run after
    the current job (Ctrl-C does the same in the main thread). Raises ``ConfigError`` for
    flows that cannot run.
    """
    stop = stop or threading.Event()
    with _interrupts(stop):
        return asyncio.run(
            run_worker_async(
                runtime,
                worker_id=worker_id,
                until_idle=until_idle,
                batch=batch,
                now=now,
                stop=stop,
                on_job=on_job,
            )
        )
