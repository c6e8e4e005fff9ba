"""What a simulation decided: one row per job the worker ran, and totals to read them by.

A decision is the worker's result for one job at one virtual instant, in the words an
operator asks in: was it sent, deferred (to when), refused, cancelled or expired, on which
channel, and which rule decided. The channels tried on the way (a fallback after a cap, a
channel without consent) are kept in ``attempts``.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from hub.scenarios.jobs import JobStatus
from hub.worker.execute import ChannelAttempt, JobResult

__all__ = ["InputProblem", "SimulatedDecision", "SimulationReport", "decision_from"]

#: Rules named for outcomes no ledger rule decided.
CANCEL_RULE = "cancel_if"
CUSTOMER_RULE = "customer_status"
EXPIRY_RULE = "max_delay"

_OUTCOMES = {
    JobStatus.DONE: "sent",
    JobStatus.SCHEDULED: "deferred",
    JobStatus.REFUSED: "refused",
    JobStatus.CANCELLED: "cancelled",
    JobStatus.EXPIRED: "expired",
    JobStatus.FAILED: "failed",
    JobStatus.IN_DOUBT: "in_doubt",
}


@dataclass(frozen=True)
class InputProblem:
    """A line of an input file the hub refused (``field``, ``reason`` as intake says)."""

    line: int
    field: str | None
    reason: str


@dataclass(frozen=True)
class SimulatedDecision:
    at: datetime
    customer_id: str
    scenario: str
    step: int
    channel: str | None
    outcome: str
    rule: str | None
    reason: str
    until: datetime | None = None
    #: ``source/id`` of the event that triggered the flow (``None`` for inactivity flows).
    trigger_event: str | None = None
    attempts: tuple[ChannelAttempt, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {
            "at": self.at.isoformat(),
            "customer_id": self.customer_id,
            "scenario": self.scenario,
            "step": self.step,
            "channel": self.channel,
            "outcome": self.outcome,
            "rule": self.rule,
            "reason": self.reason,
            "until": self.until.isoformat() if self.until else None,
            "trigger_event": self.trigger_event,
            "attempts": [
                {
                    "channel": a.channel,
                    "outcome": a.outcome,
                    "rule": a.rule,
                    "reason": a.reason,
                    "until": a.until.isoformat() if a.until else None,
                }
                for a in self.attempts
            ],
        }


def _main_attempt(result: JobResult) -> ChannelAttempt | None:
    """The attempt that explains the outcome: the one sent, the deferral the job now waits
    for, or (refused) the preferred channel's refusal."""
    attempts = result.attempts
    if not attempts:
        return None
    if result.status is JobStatus.DONE and result.channel:
        return next((a for a in attempts if a.channel == result.channel), attempts[-1])
    deferred = [a for a in attempts if a.outcome == "deferred" and a.until is not None]
    if deferred and result.status in (JobStatus.SCHEDULED, JobStatus.EXPIRED):
        return min(deferred, key=lambda a: a.until)  # type: ignore[arg-type,return-value]
    return attempts[0]


def decision_from(result: JobResult, at: datetime, trigger_event: str | None) -> SimulatedDecision:
    main = _main_attempt(result)
    rule = main.rule if main else None
    if result.status is JobStatus.CANCELLED:
        rule = CANCEL_RULE if "occurred after the trigger" in result.reason else CUSTOMER_RULE
    elif result.status is JobStatus.EXPIRED and main is None:
        rule = EXPIRY_RULE
    until = result.due_at if result.status is JobStatus.SCHEDULED else None
    return SimulatedDecision(
        at=at,
        customer_id=result.customer_id or "",
        scenario=result.scenario,
        step=result.step,
        channel=result.channel or (main.channel if main else None),
        outcome=_OUTCOMES[result.status],
        rule=rule,
        reason=result.reason,
        until=until,
        trigger_event=trigger_event,
        attempts=result.attempts,
    )


@dataclass
class SimulationReport:
    start: datetime
    end: datetime
    decisions: list[SimulatedDecision] = field(default_factory=list)
    events_read: int = 0
    events_accepted: int = 0
    events_duplicates: int = 0
    events_skipped: int = 0
    events_rejected: list[InputProblem] = field(default_factory=list)
    contacts: dict[str, int] = field(default_factory=dict)
    contacts_rejected: list[InputProblem] = field(default_factory=list)
    #: Every virtual instant the worker ran at, in order.
    instants: list[datetime] = field(default_factory=list)
    #: Messages the recording sender accepted (nothing was delivered).
    messages: int = 0

    def totals(self) -> dict[str, dict[str, Any]]:
        """Outcomes per scenario and per channel; per rule, how many decisions it made
        (sent ones excepted: a grant is no finding)."""
        by_scenario: dict[str, Counter[str]] = {}
        by_channel: dict[str, Counter[str]] = {}
        by_rule: Counter[str] = Counter()
        for d in self.decisions:
            by_scenario.setdefault(d.scenario, Counter())[d.outcome] += 1
            if d.channel:
                by_channel.setdefault(d.channel, Counter())[d.outcome] += 1
            if d.rule and d.outcome != "sent":
                by_rule[d.rule] += 1
        return {
            "outcomes": dict(sorted(Counter(d.outcome for d in self.decisions).items())),
            "scenarios": {k: dict(sorted(v.items())) for k, v in sorted(by_scenario.items())},
            "channels": {k: dict(sorted(v.items())) for k, v in sorted(by_channel.items())},
            "rules": dict(sorted(by_rule.items())),
        }

    def as_dict(self) -> dict[str, Any]:
        def problems(items: list[InputProblem]) -> list[dict[str, Any]]:
            return [{"line": p.line, "field": p.field, "reason": p.reason} for p in items]

        return {
            "from": self.start.isoformat(),
            "to": self.end.isoformat(),
            "events": {
                "read": self.events_read,
                "accepted": self.events_accepted,
                "duplicates": self.events_duplicates,
                "skipped_outside_window": self.events_skipped,
                "rejected": problems(self.events_rejected),
            },
            "contacts": {**self.contacts, "rejected": problems(self.contacts_rejected)},
            "decisions": [d.as_dict() for d in self.decisions],
            "totals": self.totals(),
            "messages_recorded": self.messages,
            "instants": len(self.instants),
        }
