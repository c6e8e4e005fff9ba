"""Summaries the core hands to observer hooks: send decisions and sync results."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["DecisionOutcome", "RuleUsage", "SendDecision", "SinkSummary", "SyncSummary"]


class DecisionOutcome(StrEnum):
    ALLOWED = "allowed"
    DEFERRED = "deferred"
    DENIED = "denied"


class RuleUsage(BaseModel):
    """One rule the policy consulted, with its usage against its limit at decision time."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    rule: str
    used: float
    limit: float
    ok: bool = True
    detail: str = Field(default="", description="Plain words: why, or why the rule is exempt.")


class SendDecision(BaseModel):
    """The core's verdict on one send: consent and pressure together, explained."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    outcome: DecisionOutcome
    rule: str | None = None
    reason: str = ""
    until: datetime | None = None
    consulted: list[RuleUsage] = Field(default_factory=list)


class SinkSummary(BaseModel):
    """One sink's part of a sync. Fields after ``rejected`` were added later, with defaults,
    so summaries built the old way stay valid."""

    model_config = ConfigDict(extra="forbid")

    sink: str
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped_by_consent: int = 0
    rejected: int = 0
    read: int = Field(default=0, description="Customers read from the hub's change feed.")
    unsubscribed: int = Field(
        default=0, description="Held by the sink, consent gone: pushed once as unsubscribed."
    )
    skipped_inactive: int = Field(
        default=0, description="Erased, suppressed, objected or merged: never pushed."
    )
    error: str | None = Field(
        default=None, description="Why the sink stopped after the core's retries, if it did."
    )


class SyncSummary(BaseModel):
    model_config = ConfigDict(extra="forbid")

    source: str
    started_at: datetime
    finished_at: datetime
    read: int = 0
    sinks: list[SinkSummary] = Field(default_factory=list)
    dry_run: bool = False
    source_error: str | None = Field(
        default=None, description="Why the source stopped after the core's retries, if it did."
    )
