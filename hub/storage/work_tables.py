"""The work tables: scenario jobs, delivery outcomes and source cursors (migration 0004).

Re-exported by ``hub.storage.models`` (import them from there).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from hub.storage.types import UTCDateTime
from hub.storage.types import timestamp_field as _ts

__all__ = ["Job", "OutcomeRecord", "SourceCursor"]


class Job(SQLModel, table=True):
    """One due step of a scenario for one customer; ``hub worker`` claims and runs it.

    ``idempotency_key`` (scenario, trigger event, step) makes scheduling repeatable: replaying
    an event never schedules a step twice, and the send it leads to carries the same key.
    """

    __tablename__ = "jobs"
    __table_args__ = (
        Index("ix_jobs_due", "status", "due_at"),
        Index("ix_jobs_customer", "customer_id", "scenario", "status"),
    )

    id: int | None = Field(default=None, primary_key=True)
    idempotency_key: str = Field(max_length=128, unique=True)
    customer_id: str = Field(max_length=40)
    scenario: str = Field(max_length=128)
    step: int = 0
    trigger_event_id: int | None = Field(default=None, foreign_key="customer_events.id")
    priority: int = 50
    status: str = Field(max_length=16)
    due_at: datetime = _ts(nullable=False)
    attempts: int = 0
    claimed_by: str | None = Field(default=None, max_length=64)
    claimed_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    channel: str | None = Field(default=None, max_length=16)
    request_id: str | None = Field(default=None, max_length=64)
    reason: str | None = Field(default=None, max_length=1000)
    created_at: datetime = _ts(nullable=False)
    updated_at: datetime = _ts(nullable=False)


class OutcomeRecord(SQLModel, table=True):
    """A delivery outcome a brick reported, stored against the send it concerns.

    De-duplicated on (brick, vendor event id), so a webhook the vendor retries is stored once.
    """

    __tablename__ = "outcomes"
    __table_args__ = (
        UniqueConstraint("brick", "vendor_event_id", name="uq_outcomes_vendor_event"),
        Index("ix_outcomes_customer", "customer_id", "occurred_at"),
        Index("ix_outcomes_request", "request_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    brick: str = Field(max_length=40)
    type: str = Field(max_length=32)
    channel: str = Field(max_length=16)
    customer_id: str | None = Field(default=None, max_length=40)
    request_id: str | None = Field(default=None, max_length=64)
    vendor_message_id: str | None = Field(default=None, max_length=256)
    vendor_event_id: str | None = Field(default=None, max_length=256)
    vendor_status: str = Field(max_length=64)
    reason: str | None = Field(default=None, max_length=1000)
    occurred_at: datetime = _ts(nullable=False)
    received_at: datetime = _ts(nullable=False)


class SourceCursor(SQLModel, table=True):
    """Where polling a brick's stream (events, contacts, links) got to.

    Written in the same transaction as the data of the page it follows, so a crash never
    skips a page (the cursor advances only after the events are stored).
    """

    __tablename__ = "source_cursors"

    brick: str = Field(primary_key=True, max_length=40)
    stream: str = Field(primary_key=True, max_length=32)
    cursor: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    updated_at: datetime = _ts(nullable=False)
