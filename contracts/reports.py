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
    model_config = ConfigDict(extra="forbid")

    sink: str
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped_by_consent: int = 0
    rejected: int = 0


class SyncSummary(BaseModel):
    model_config = ConfigDict(extra="forbid")

    source: str
    started_at: datetime
    finished_at: datetime
    read: int = 0
    sinks: list[SinkSummary] = Field(default_factory=list)
