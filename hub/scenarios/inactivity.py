"""Reactivation: schedule a flow for customers with no activity for a configured period.

One ``INSERT ... SELECT`` per scenario and step, so the scan costs the same whether ten or a
million customers are inactive. "Activity" is what the scenario names: event types
(``order.placed``) and delivery outcomes (``opened``). A customer gets the flow once per
inactive stretch: not again while no activity followed the job the last scan created. The
key (scenario, customer, period) makes two workers scanning at the same time insert it once.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import Engine, and_, exists, literal, select
from sqlalchemy.sql.elements import ColumnElement

from hub.scenarios.jobs import JOBS, JobStatus, insert_jobs_from
from hub.scenarios.model import Inactivity
from hub.storage.models import Customer, CustomerEvent, OutcomeRecord, table
from hub.storage.types import UTCDateTime

if TYPE_CHECKING:
    from hub.pressure.rules import ScenarioSettings

__all__ = ["inactivity_period", "scan_inactivity"]

CUSTOMERS, EVENTS, OUTCOMES = table(Customer), table(CustomerEvent), table(OutcomeRecord)


def inactivity_period(now: datetime, after: timedelta) -> int:
    """The number of the ``after``-long period ``now`` falls in (part of the job key)."""
    return int(now.timestamp() // after.total_seconds())


def _activity_after(
    rule: Inactivity, customer: ColumnElement[str], moment: ColumnElement[datetime]
) -> list[ColumnElement[bool]]:
    """SQL tests: some activity of ``customer`` after ``moment`` (one per kind of activity)."""
    checks: list[ColumnElement[bool]] = []
    if rule.events:
        checks.append(
            exists().where(
                EVENTS.c.customer_id == customer,
                EVENTS.c.type.in_(rule.events),
                EVENTS.c.occurred_at > moment,
            )
        )
    if rule.outcomes:
        checks.append(
            exists().where(
                OUTCOMES.c.customer_id == customer,
                OUTCOMES.c.type.in_([o.value for o in rule.outcomes]),
                OUTCOMES.c.occurred_at > moment,
            )
        )
    return checks


def _at(moment: datetime) -> ColumnElement[datetime]:
    return literal(moment, UTCDateTime())


def scan_inactivity(
    engine: Engine, scenarios: Mapping[str, ScenarioSettings], *, now: datetime
) -> int:
    """Create the jobs of every inactivity scenario for customers inactive at ``now``."""
    created = 0
    with engine.begin() as connection:
        for name, scenario in sorted(scenarios.items()):
            rule = scenario.inactivity
            if rule is None:
                continue
            cutoff = now - rule.after
            period = inactivity_period(now, rule.after)
            earlier = JOBS.alias("earlier")
            inactive = [
                CUSTOMERS.c.status == "active",
                CUSTOMERS.c.created_at <= cutoff,
                *[~check for check in _activity_after(rule, CUSTOMERS.c.id, _at(cutoff))],
                # Once per stretch: no earlier job of this flow without activity since.
                ~exists().where(
                    and_(
                        earlier.c.customer_id == CUSTOMERS.c.id,
                        earlier.c.scenario == name,
                        earlier.c.trigger_event_id.is_(None),
                        earlier.c.created_at < _at(now),  # not this scan's other steps
                        *[
                            ~c
                            for c in _activity_after(
                                rule, earlier.c.customer_id, earlier.c.created_at
                            )
                        ],
                    )
                ),
            ]
            for index, step in enumerate(scenario.steps):
                query = select(
                    (literal(f"{name}:inactive:") + CUSTOMERS.c.id + literal(f":{period}:{index}")),
                    CUSTOMERS.c.id,
                    literal(name),
                    literal(index),
                    literal(None),
                    literal(scenario.priority),
                    literal(JobStatus.SCHEDULED.value),
                    _at(now + step.delay),
                    literal(0),
                    _at(now),
                    _at(now),
                ).where(*inactive)
                created += insert_jobs_from(connection, query)
    return created
