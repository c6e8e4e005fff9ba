"""The governance tables: what each sink holds, suppressions, erasure and decommissioning.

Re-exported by ``hub.storage.models`` (import them from there). None of them holds a contact
point or a profile value: pseudonyms, keyed digests, field names, statuses and times only.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Index, Text
from sqlmodel import Field, SQLModel

from hub.storage.types import UTCDateTime, utcnow

__all__ = ["BrickDecommission", "ErasureRequest", "ErasureStep", "SinkContact", "Suppression"]


def _at(nullable: bool = False) -> object:
    return Field(
        default_factory=utcnow if not nullable else None,
        sa_column=Column(UTCDateTime(), nullable=nullable),
    )


class SinkContact(SQLModel, table=True):
    """What a contact sink holds on a customer, as far as the hub knows: written when the sink
    confirms an upsert, an unsubscribe or an erasure. ``view_digest`` is a keyed digest of the
    last view pushed (so an unchanged contact is not pushed again), never the view itself.

    ``state``: ``present`` (holds the contact), ``unsubscribed`` (holds it, opted out),
    ``erased`` (erase confirmed).
    """

    __tablename__ = "sink_contacts"
    __table_args__ = (Index("ix_sink_contacts_customer", "customer_id"),)

    sink: str = Field(primary_key=True, max_length=40)
    customer_id: str = Field(primary_key=True, max_length=40)
    pseudonym: str = Field(max_length=64)
    state: str = Field(max_length=16)
    view_digest: str | None = Field(default=None, max_length=64)
    fields: str = Field(default="", max_length=512)
    updated_at: datetime = _at()  # type: ignore[assignment]


class Suppression(SQLModel, table=True):
    """A contact point that must never come back (an erased person's email or phone): only
    the keyed digest the identifiers table would hold, so a re-import is recognised without
    keeping the value."""

    __tablename__ = "suppressions"

    digest: str = Field(primary_key=True, max_length=64)
    kind: str = Field(max_length=32)
    reason: str = Field(max_length=64)
    created_at: datetime = _at()  # type: ignore[assignment]


class ErasureRequest(SQLModel, table=True):
    """One GDPR request about a customer: ``erase`` (art. 17) or ``object`` (art. 21)."""

    __tablename__ = "erasure_requests"
    __table_args__ = (Index("ix_erasure_requests_customer", "customer_id"),)

    id: int | None = Field(default=None, primary_key=True)
    customer_id: str = Field(max_length=40)
    action: str = Field(max_length=16)
    reason: str | None = Field(default=None, max_length=1000)
    actor: str = Field(max_length=128)
    status: str = Field(max_length=16)
    requested_at: datetime = _at()  # type: ignore[assignment]
    completed_at: datetime | None = _at(nullable=True)  # type: ignore[assignment]


class ErasureStep(SQLModel, table=True):
    """The erase call owed to one brick for one request: ``pending``, ``done`` or ``failed``
    (retried by ``hub contacts forget --resume``)."""

    __tablename__ = "erasure_steps"

    request_id: int = Field(primary_key=True, foreign_key="erasure_requests.id")
    brick: str = Field(primary_key=True, max_length=40)
    pseudonym: str = Field(max_length=64)
    status: str = Field(max_length=16)
    attempts: int = 0
    last_error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    updated_at: datetime = _at()  # type: ignore[assignment]


class BrickDecommission(SQLModel, table=True):
    """A brick taken out of service: no data flows to it any more, whatever the config says,
    until ``reinstated_at`` is set."""

    __tablename__ = "brick_decommissions"

    id: int | None = Field(default=None, primary_key=True)
    brick: str = Field(max_length=40, index=True)
    actor: str = Field(max_length=128)
    reason: str | None = Field(default=None, max_length=1000)
    erase_remote: bool = False
    status: str = Field(max_length=16)
    at: datetime = _at()  # type: ignore[assignment]
    reinstated_at: datetime | None = _at(nullable=True)  # type: ignore[assignment]
