"""The issue's "must show": ``hub simulate`` and the live worker take identical decisions.

Same config, same contacts, same events. The live side is a real installation (SQLite and
PostgreSQL, the outbox brick really writing messages): contacts imported through ``hub
contacts import``'s code, events ingested at their instants, and ``run_worker(now=...)``
stepped through the instants the simulation visited. Customer ids are random per installation,
so decisions are compared through the email of the person their trigger event names; event and
job ids in reasons are numbers of each database, so they are blanked.
"""

from __future__ import annotations

import asyncio
import json
import re
from datetime import datetime
from itertools import groupby
from pathlib import Path

from sqlalchemy import select

from hub.config import load_settings
from hub.contacts.importer import import_contacts
from hub.events.intake import ingest_events
from hub.runtime import Runtime
from hub.scenarios.jobs import JOBS
from hub.simulate import SimulatedDecision, read_event_file, simulate
from hub.simulate.report import decision_from
from hub.storage.models import CustomerEvent, table
from hub.testing import make_installation
from hub.worker import run_worker
from hub.worker.execute import JobResult
from tests.simulate import story

EVENTS = table(CustomerEvent)


def _comparable(decisions: list[SimulatedDecision]) -> list[tuple]:
    emails = story.label_emails()
    rows = []
    for d in decisions:
        assert d.trigger_event in emails, d  # every flow of the story has a trigger
        attempts = tuple((a.channel, a.outcome, a.rule, a.until) for a in d.attempts)
        reason = re.sub(r"\b(event|job) \d+", r"\1 #", d.reason)
        rows.append(
            (
                d.at,
                emails[d.trigger_event],
                d.scenario,
                d.step,
                d.channel,
                d.outcome,
                d.rule,
                d.until,
                reason,
                attempts,
            )
        )
    return rows


class _Live:
    """The live hub driven by hand: what ``hub events ingest`` and ``hub worker`` would do."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.decisions: list[SimulatedDecision] = []
        self.cancelled: set[int] = set()

    def label(self, event_id: int | None) -> str | None:
        with self.runtime.engine.connect() as connection:
            row = connection.execute(
                select(EVENTS.c.source, EVENTS.c.source_event_id).where(EVENTS.c.id == event_id)
            ).one()
        return f"{row.source}/{row.source_event_id}"

    def work(self, moment: datetime) -> None:
        def record(result: JobResult) -> None:
            self.decisions.append(
                decision_from(result, moment, self.label(result.trigger_event_id))
            )
            if result.status.value == "cancelled":
                self.cancelled.add(result.job_id)

        run_worker(self.runtime, worker_id="live", until_idle=True, now=moment, on_job=record)

    def ingest(self, events: list[dict], moment: datetime | None) -> None:
        ingest_events(self.runtime, events, source="api")
        if moment is None:
            return
        with self.runtime.engine.connect() as connection:
            rows = connection.execute(
                select(JOBS).where(JOBS.c.status == "cancelled").order_by(JOBS.c.id)
            ).all()
        for row in rows:
            if row.id not in self.cancelled:
                self.cancelled.add(row.id)
                self.decisions.append(
                    SimulatedDecision(
                        at=moment,
                        customer_id=row.customer_id,
                        scenario=row.scenario,
                        step=row.step,
                        channel=None,
                        outcome="cancelled",
                        rule="cancel_if",
                        reason=row.reason,
                        trigger_event=self.label(row.trigger_event_id),
                    )
                )


def test_simulate_and_the_live_worker_take_identical_decisions(
    tmp_path: Path, database_url: str
) -> None:
    events_file, contacts_file = story.write_inputs(tmp_path / "inputs")
    # The simulation: the same config, on its own scratch database (always SQLite).
    sim_home = make_installation(tmp_path / "sim", bricks=story.BRICKS, extra=story.CONFIG)
    report = simulate(
        load_settings(sim_home.config),
        read_event_file(events_file),
        start=story.START,
        end=story.END,
        contacts=contacts_file,
    )

    # The live installation, on the backend under test.
    home = make_installation(
        tmp_path / "live", bricks=story.BRICKS, database_url=database_url, extra=story.CONFIG
    )
    runtime = home.runtime()
    live = _Live(runtime)
    try:
        import_contacts(
            runtime.ready_engine(),
            runtime.identity,
            runtime.vault,
            contacts_file,
            source=f"import:{contacts_file.name}",
        )
        lines = read_event_file(events_file)
        live.ingest([e.event for e in lines if e.occurred_at is None], None)
        window = [e for e in lines if e.occurred_at and story.START <= e.occurred_at < story.END]
        window.sort(key=lambda e: e.occurred_at)
        pending = {t: [e.event for e in g] for t, g in groupby(window, lambda e: e.occurred_at)}
        for moment in report.instants:
            live.work(moment)
            if moment in pending:
                live.ingest(pending.pop(moment), moment)
        assert not pending  # every event's instant was visited
    finally:
        asyncio.run(runtime.aclose())

    simulated, lived = _comparable(report.decisions), _comparable(live.decisions)
    assert simulated == lived
    # The story is worth comparing: every kind of decision, several rules.
    outcomes = report.totals()["outcomes"]
    assert set(outcomes) == {"sent", "deferred", "refused", "cancelled"}
    assert {"consent", "breathing-space", "quiet-hours", "cancel_if"} <= set(
        report.totals()["rules"]
    )
    # Live messages really went out through the outbox; the simulation only recorded them.
    outbox = Path(runtime.settings.data_dir) / "outbox.jsonl"
    sent = [json.loads(line) for line in outbox.read_text(encoding="utf-8").splitlines()]
    assert len(sent) == report.messages == outcomes["sent"]
    assert not (Path(sim_home.root) / "data" / "outbox.jsonl").exists()
