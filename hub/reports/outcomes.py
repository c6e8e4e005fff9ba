"""What happened to the messages sent, per scenario and channel.

Counts are per message, not per webhook call: a message opened three times counts one open,
so rates stay between 0 and 1 whatever the vendor reports.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from contracts import OutcomeType
from hub.storage.models import OutcomeRecord, SendRecord, table

__all__ = ["OutcomeRow", "outcome_report"]

_SENDS = table(SendRecord)
_OUTCOMES = table(OutcomeRecord)


@dataclass
class OutcomeRow:
    scenario: str
    channel: str
    sent: int = 0
    failed: int = 0
    messages_with: dict[str, int] = field(default_factory=dict)
    """Outcome type -> number of sent messages that reported it at least once."""

    def rate(self, outcome: OutcomeType) -> float | None:
        return self.messages_with.get(outcome.value, 0) / self.sent if self.sent else None


def outcome_report(
    engine: Engine, *, since: datetime | None = None, until: datetime | None = None
) -> list[OutcomeRow]:
    """Sent and failed messages and, per outcome type, how many messages reported it."""
    window = []
    if since is not None:
        window.append(_SENDS.c.created_at >= since)
    if until is not None:
        window.append(_SENDS.c.created_at < until)
    key = (_SENDS.c.scenario, _SENDS.c.channel)
    sends = (
        select(*key, _SENDS.c.status, func.count().label("n"))
        .where(*window)
        .group_by(*key, _SENDS.c.status)
    )
    outcomes = (
        select(
            *key,
            _OUTCOMES.c.type,
            func.count(func.distinct(_OUTCOMES.c.request_id)).label("n"),
        )
        .select_from(_SENDS.join(_OUTCOMES, _OUTCOMES.c.request_id == _SENDS.c.request_id))
        .where(_SENDS.c.status == "accepted", *window)
        .group_by(*key, _OUTCOMES.c.type)
    )
    rows: dict[tuple[str, str], OutcomeRow] = {}
    with engine.connect() as connection:
        for scenario, channel, status, n in connection.execute(sends):
            row = rows.setdefault((scenario, channel), OutcomeRow(scenario, channel))
            if status == "accepted":
                row.sent += n
            elif status in ("failed", "rejected"):
                row.failed += n
        for scenario, channel, kind, n in connection.execute(outcomes):
            row = rows.setdefault((scenario, channel), OutcomeRow(scenario, channel))
            row.messages_with[kind] = n
    return [rows[k] for k in sorted(rows)]
