"""The values ``hub campaign plan`` takes and gives: candidates, rows it could not read,
planned rows and the report. Kept apart from the planner so its SQL stays in view there."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from contracts import Channel

__all__ = ["Candidate", "InvalidRow", "PlanError", "PlanReport", "PlanRow", "plan_row"]


class PlanError(Exception):
    """The plan cannot be carried out as asked (e.g. it was already committed)."""


@dataclass(frozen=True)
class Candidate:
    line: int  # unique: where it came from, to report it; the tie-break after priority
    customer_id: str
    scenario: str
    channel: Channel
    campaign: str | None = None


@dataclass(frozen=True)
class InvalidRow:
    line: int
    reason: str
    customer_id: str | None = None


@dataclass(frozen=True)
class PlanRow:
    line: int
    customer_id: str
    scenario: str
    channel: str
    campaign: str | None
    outcome: str  # admitted | deferred | excluded
    rule: str | None = None  # the rule the engine would name for a refusal
    not_before: datetime | None = None  # deferred: no rule allows it earlier
    key: str | None = None  # committed: the ledger row's idempotency key


def plan_row(values: tuple[Any, ...]) -> PlanRow:
    """A ``PlanRow`` from its field values in order, without the frozen dataclass's
    ``__init__`` (one ``object.__setattr__`` per field): a plan hands out a million of them."""
    row = object.__new__(PlanRow)
    fields = row.__dict__
    (
        fields["line"],
        fields["customer_id"],
        fields["scenario"],
        fields["channel"],
        fields["campaign"],
        fields["outcome"],
        fields["rule"],
        fields["not_before"],
        fields["key"],
    ) = values
    return row


@dataclass
class PlanReport:
    at: datetime
    version: str
    totals: Counter[str] = field(default_factory=Counter)
    rules: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    campaigns: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    invalid: list[InvalidRow] = field(default_factory=list)
    committed: int = 0
    status: str | None = None
    not_committed: str | None = None

    def as_dict(self) -> dict[str, Any]:
        totals = {k: self.totals[k] for k in ("admitted", "deferred", "excluded")}
        return {
            "at": self.at.isoformat(),
            "rule_set_version": self.version,
            "totals": {**totals, "invalid": len(self.invalid)},
            "rules": {name: dict(counts) for name, counts in self.rules.items()},
            "campaigns": {name: dict(counts) for name, counts in sorted(self.campaigns.items())},
            "invalid": [asdict(row) for row in self.invalid],
            **{k: getattr(self, k) for k in ("committed", "status", "not_committed")},
        }
