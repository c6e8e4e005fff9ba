"""The identity tables: the append-only merge log and the parked anonymous events.

Re-exported by ``hub.storage.models`` (import them from there).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Index, Text
from sqlmodel import Field, SQLModel

from hub.storage.types import UTCDateTime, utcnow

__all__ = ["IdentityMerge", "ParkedLetter"]


class IdentityMerge(SQLModel, table=True):
    """The append-only merge log: every merge of two customers, and every undoing of one.

    ``moved`` is the JSON of the row ids each table gave the survivor (``{"customer_events":
    [4, 9], "identifiers": [digest...]}``), so an unmerge moves exactly those rows back. An
    ``unmerge`` row names the merge it undoes in ``refers_to`` (unique: a merge is undone once).
    """

    __tablename__ = "identity_merges"
    __table_args__ = (
        Index("ix_identity_merges_survivor", "survivor_id", "id"),
        Index("ix_identity_merges_absorbed", "absorbed_id", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    action: str = Field(max_length=16)
    survivor_id: str = Field(max_length=40)
    absorbed_id: str = Field(max_length=40)
    evidence: str = Field(max_length=64)
    source: str = Field(max_length=128)
    source_reference: str | None = Field(default=None, max_length=256)
    at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )
    actor: str = Field(max_length=128)
    moved: str = Field(sa_column=Column(Text, nullable=False))
    reason: str | None = Field(default=None, max_length=1000)
    refers_to: int | None = Field(default=None, foreign_key="identity_merges.id", unique=True)


class ParkedLetter(SQLModel, table=True):
    """An event dead-lettered because its only identifiers were unknown cookies, by the digest
    of each cookie: when a verified link attaches one, its parked events are replayed."""

    __tablename__ = "parked_letters"

    digest: str = Field(primary_key=True, max_length=64)
    dead_letter_id: int = Field(primary_key=True, foreign_key="dead_letters.id")
