"""Reserve decisions as one list, wherever they are stored.

A granted decision lives in the ledger row it created (``decision_reason``,
``decision_consulted``; decided at ``created_at``, asked for ``decision_at`` or else ``at``),
a refusal in ``pressure_decisions`` (so do granted decisions stored before migration 0005).
Writing a granted decision with its row saves a row and three index entries per send, the
largest share of the send-time write cost; the readers here put the two halves back together
so explanations, reports and tests see every decision exactly as before.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, Select, func, literal, null, select, union_all

from hub.storage.models import LedgerEntry, PressureDecision
from hub.storage.models import table as t
from hub.storage.types import UTCDateTime

__all__ = ["COLUMNS", "all_decisions"]

LEDGER, DECISIONS = t(LedgerEntry), t(PressureDecision)
#: The columns of ``pressure_decisions``, in its order, plus ``part`` (0: granted, in the
#: ledger; 1: in ``pressure_decisions``) to break ties on ``decided_at`` deterministically.
COLUMNS = (
    "id", "customer_id", "channel", "scenario", "kind", "at", "outcome", "rule", "reason",
    "until", "consulted", "rule_set_version", "idempotency_key", "reservation_id",
    "decided_at", "part",
)  # fmt: skip


def _granted(conditions: list[ColumnElement[bool]]) -> Select[tuple[object, ...]]:
    ledger = LEDGER.c
    return select(
        ledger.id,
        ledger.customer_id,
        ledger.channel,
        ledger.scenario,
        ledger.kind,
        func.coalesce(ledger.decision_at, ledger.at).label("at"),
        literal("allowed").label("outcome"),
        null().label("rule"),
        ledger.decision_reason.label("reason"),
        literal(None, UTCDateTime()).label("until"),
        ledger.decision_consulted.label("consulted"),
        ledger.rule_set_version,
        ledger.idempotency_key,
        ledger.id.label("reservation_id"),
        ledger.created_at.label("decided_at"),
        literal(0).label("part"),
    ).where(ledger.decision_consulted.is_not(None), *conditions)


def _stored(conditions: list[ColumnElement[bool]]) -> Select[tuple[object, ...]]:
    return select(*DECISIONS.c, literal(1).label("part")).where(*conditions)


def all_decisions(
    *, customer_id: str | None = None, since: datetime | None = None
) -> Select[tuple[object, ...]]:
    """Every decision (``COLUMNS``), optionally one customer's (an index search on each side)
    or those decided after ``since``. Newest first: ``decided_at``, then ``part``, then ``id``.
    """
    granted: list[ColumnElement[bool]] = []
    stored: list[ColumnElement[bool]] = []
    if customer_id is not None:
        granted.append(LEDGER.c.customer_id == customer_id)
        stored.append(DECISIONS.c.customer_id == customer_id)
    if since is not None:
        granted.append(LEDGER.c.created_at > since)
        stored.append(DECISIONS.c.decided_at > since)
    both = union_all(_granted(granted), _stored(stored)).subquery("decisions")
    return select(*(both.c[name] for name in COLUMNS)).order_by(
        both.c.decided_at.desc(), both.c.part.desc(), both.c.id.desc()
    )
