"""What a sync did, per sink and for the source: counts, refusals, failures, the exit code."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from contracts import SinkSummary, SyncSummary
from hub.contacts.pull import PullReport
from hub.sync.plan import Action, Decision

__all__ = ["Batch", "RefusedItem", "SinkReport", "SyncReport"]

EXIT_OK, EXIT_INVALID, EXIT_VENDOR = 0, 2, 4


@dataclass(frozen=True)
class RefusedItem:
    pseudonym: str
    reason: str
    #: ``0`` in a dry run (nothing is written).
    dead_letter_id: int


@dataclass(frozen=True)
class Batch:
    """One ``upsert`` call: its request id (the egress audit rows carry it) and its size."""

    request_id: str
    size: int
    confirmed: bool


@dataclass
class SinkReport:
    sink: str
    batch_size: int
    read: int = 0
    created: int = 0
    updated: int = 0
    unsubscribed: int = 0
    unchanged: int = 0
    skipped_by_consent: int = 0
    skipped_inactive: int = 0
    rejected: list[RefusedItem] = field(default_factory=list)
    batches: list[Batch] = field(default_factory=list)
    #: Why the sink stopped (failed after the core's retries), else ``None``.
    error: str | None = None
    #: The stored cursor after the run (``None``: nothing confirmed yet).
    cursor: str | None = None
    #: Dry run: a few contacts that would change, masked (``hub.sync.diff``).
    sample: list[dict[str, Any]] = field(default_factory=list)

    def count(self, decision: Decision) -> None:
        self.read += 1
        if decision is Decision.UNCHANGED:
            self.unchanged += 1
        elif decision is Decision.SKIPPED_BY_CONSENT:
            self.skipped_by_consent += 1
        elif decision is Decision.SKIPPED_INACTIVE:
            self.skipped_inactive += 1

    def pushed(self, action: Action) -> None:
        if action is Action.CREATE:
            self.created += 1
        elif action is Action.UPDATE:
            self.updated += 1
        else:
            self.unsubscribed += 1

    def summary(self) -> SinkSummary:
        return SinkSummary(
            sink=self.sink,
            read=self.read,
            created=self.created,
            updated=self.updated,
            unsubscribed=self.unsubscribed,
            unchanged=self.unchanged,
            skipped_by_consent=self.skipped_by_consent,
            skipped_inactive=self.skipped_inactive,
            rejected=len(self.rejected),
            error=self.error,
        )

    def as_json(self) -> dict[str, Any]:
        data: dict[str, Any] = self.summary().model_dump(mode="json")
        data["rejected"] = [
            {"pseudonym": r.pseudonym, "reason": r.reason, "dead_letter": r.dead_letter_id}
            for r in self.rejected
        ]
        data["batch_size"] = self.batch_size
        data["calls"] = len(self.batches)
        data["cursor"] = self.cursor
        if self.sample:
            data["sample"] = self.sample
        return data


@dataclass
class SyncReport:
    source: str
    started_at: datetime
    dry_run: bool
    full: bool
    finished_at: datetime | None = None
    #: The source half (``None`` with ``--from hub``).
    pull: PullReport | None = None
    #: Records the source handed over (stored, or previewed in a dry run).
    pulled: int = 0
    source_error: str | None = None
    sinks: list[SinkReport] = field(default_factory=list)

    @property
    def rejected(self) -> int:
        source = len(self.pull.rejected) if self.pull is not None else 0
        return source + sum(len(s.rejected) for s in self.sinks)

    @property
    def failed(self) -> bool:
        return self.source_error is not None or any(s.error for s in self.sinks)

    @property
    def exit_code(self) -> int:
        """4 when the source or a sink failed after retries, else 2 when anything was
        rejected, else 0."""
        if self.failed:
            return EXIT_VENDOR
        return EXIT_INVALID if self.rejected else EXIT_OK

    def summary(self) -> SyncSummary:
        read = self.pulled if self.source != "hub" else max((s.read for s in self.sinks), default=0)
        return SyncSummary(
            source=self.source,
            started_at=self.started_at,
            finished_at=self.finished_at or self.started_at,
            read=read,
            dry_run=self.dry_run,
            source_error=self.source_error,
            sinks=[s.summary() for s in self.sinks],
        )

    def as_json(self) -> dict[str, Any]:
        source: dict[str, Any] = {"name": self.source, "error": self.source_error}
        if self.pull is not None:
            source.update(
                read=self.pulled,
                created=self.pull.created,
                updated=self.pull.updated,
                unchanged=self.pull.unchanged,
                suppressed=self.pull.suppressed,
                rejected=[
                    {"index": r.index, "field": r.field, "reason": r.reason,
                     "dead_letter": r.dead_letter_id}
                    for r in self.pull.rejected
                ],
            )
        return {
            "source": source,
            "dry_run": self.dry_run,
            "full": self.full,
            "started_at": self.started_at.isoformat(),
            "finished_at": (self.finished_at or self.started_at).isoformat(),
            "sinks": [s.as_json() for s in self.sinks],
            "exit_code": self.exit_code,
        }
