"""Customer-centricity: the share of sends triggered by a customer moment, per period.

The seeds' yardstick: below 25 % of messages triggered by what the customer did (an abandoned
cart, a sign-up, an order, a lapse into inactivity), a programme is still campaign-driven. A
send counts as *triggered* when the worker made it for a scenario job; campaign and one-off
sends (``hub send``, ``hub campaign plan``) are not. Only accepted sends count.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Integer, case, func, select
from sqlalchemy.engine import Engine

from hub.reports.periods import Period, period_start
from hub.storage.models import Job, SendRecord, table

__all__ = ["DEFAULT_THRESHOLD", "CentricityRow", "centricity"]

#: Below this share of triggered sends, the programme is not customer-centric (the seeds).
DEFAULT_THRESHOLD = 0.25

_SENDS = table(SendRecord)
_JOBS = table(Job)


@dataclass(frozen=True)
class CentricityRow:
    period: str
    """First day of the period, ``YYYY-MM-DD`` (UTC)."""
    triggered: int
    total: int

    @property
    def ratio(self) -> float | None:
        return self.triggered / self.total if self.total else None

    def below(self, threshold: float) -> bool:
        ratio = self.ratio
        return ratio is not None and ratio < threshold


def centricity(
    engine: Engine,
    period: Period,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[CentricityRow]:
    """Triggered and total accepted sends per period, oldest first, one query."""
    bucket = period_start(_SENDS.c.created_at, period, engine.dialect).label("period")
    triggered = func.sum(case((_JOBS.c.id.is_not(None), 1), else_=0), type_=Integer)
    query = (
        select(bucket, triggered.label("triggered"), func.count().label("total"))
        .select_from(_SENDS.outerjoin(_JOBS, _JOBS.c.request_id == _SENDS.c.request_id))
        .where(_SENDS.c.status == "accepted")
        .group_by(bucket)
        .order_by(bucket)
    )
    if since is not None:
        query = query.where(_SENDS.c.created_at >= since)
    if until is not None:
        query = query.where(_SENDS.c.created_at < until)
    with engine.connect() as connection:
        return [
            CentricityRow(str(row.period), int(row.triggered or 0), int(row.total))
            for row in connection.execute(query)
        ]
