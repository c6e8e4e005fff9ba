"""The core's tables. No column ever holds a plaintext email, phone or name.

Personal data lives only in ``vault_entries`` (encrypted with the customer's data key, itself
wrapped by the master key in ``customer_keys``); lookups go through keyed digests in
``identifiers``. Every hot query is keyed by customer id, so the tables partition on it later.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Index, LargeBinary, Table, UniqueConstraint
from sqlmodel import Field, SQLModel

from hub.storage.types import UTCDateTime, utcnow

__all__ = [
    "AuditEntry",
    "BrickPseudonym",
    "ConsentEntry",
    "Customer",
    "CustomerKey",
    "DeadLetter",
    "IdentifierEntry",
    "VaultEntry",
    "metadata",
    "table",
]

metadata = SQLModel.metadata


def table(model: type[SQLModel]) -> Table:
    """The Core table behind a model: bulk inserts through it skip the ORM's per-row work."""
    return model.__table__  # type: ignore[attr-defined,no-any-return]


def _ts(**kwargs: object) -> object:
    return Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), **kwargs))


class Customer(SQLModel, table=True):
    __tablename__ = "customers"

    id: str = Field(primary_key=True, max_length=40)
    status: str = Field(default="active", max_length=16)
    locale: str | None = Field(default=None, max_length=35)
    time_zone: str | None = Field(default=None, max_length=64)
    created_at: datetime = _ts(nullable=False)
    updated_at: datetime = _ts(nullable=False)


class CustomerKey(SQLModel, table=True):
    """The customer's data key, wrapped. Deleting this row crypto-shreds the vault entries."""

    __tablename__ = "customer_keys"

    customer_id: str = Field(primary_key=True, foreign_key="customers.id", max_length=40)
    wrapped_key: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    master_key_id: str = Field(max_length=32)
    created_at: datetime = _ts(nullable=False)


class VaultEntry(SQLModel, table=True):
    __tablename__ = "vault_entries"

    customer_id: str = Field(primary_key=True, foreign_key="customers.id", max_length=40)
    field: str = Field(primary_key=True, max_length=32)
    ciphertext: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    updated_at: datetime = _ts(nullable=False)


class IdentifierEntry(SQLModel, table=True):
    """A natural identifier, kept only as HMAC(pepper, kind|namespace|normalised value)."""

    __tablename__ = "identifiers"
    __table_args__ = (Index("ix_identifiers_customer", "customer_id"),)

    digest: str = Field(primary_key=True, max_length=64)
    customer_id: str = Field(foreign_key="customers.id", max_length=40)
    kind: str = Field(max_length=32)
    namespace: str = Field(default="", max_length=64)
    source: str = Field(max_length=64)
    verified: bool = False
    first_seen_at: datetime = _ts(nullable=False)
    last_seen_at: datetime = _ts(nullable=False)
    expires_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))


class BrickPseudonym(SQLModel, table=True):
    """Reverse lookup of a brick's pseudonym (an HMAC cannot be inverted)."""

    __tablename__ = "brick_pseudonyms"
    __table_args__ = (UniqueConstraint("brick", "customer_id", name="uq_pseudonym_customer"),)

    brick: str = Field(primary_key=True, max_length=40)
    pseudonym: str = Field(primary_key=True, max_length=64)
    customer_id: str = Field(foreign_key="customers.id", max_length=40)
    created_at: datetime = _ts(nullable=False)


class ConsentEntry(SQLModel, table=True):
    """Append-only: the latest row per (customer, channel, purpose) is the current status."""

    __tablename__ = "consents"
    __table_args__ = (
        Index("ix_consents_current", "customer_id", "channel", "purpose", "recorded_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    customer_id: str = Field(foreign_key="customers.id", max_length=40)
    channel: str = Field(max_length=16)
    purpose: str = Field(max_length=32)
    status: str = Field(max_length=16)
    source: str = Field(max_length=128)
    wording_version: str | None = Field(default=None, max_length=64)
    recorded_at: datetime = _ts(nullable=False)
    stored_at: datetime = _ts(nullable=False)


class DeadLetter(SQLModel, table=True):
    """Input the hub could not accept, with the reason. The payload is encrypted (it may hold
    personal data) so it can be replayed after a fix without ever sitting in clear text."""

    __tablename__ = "dead_letters"
    __table_args__ = (Index("ix_dead_letters_kind_status", "kind", "status"),)

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=32)
    source: str = Field(max_length=128)
    reference: str = Field(default="", max_length=256)
    field: str | None = Field(default=None, max_length=128)
    reason: str = Field(max_length=1000)
    payload: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    status: str = Field(default="pending", max_length=16)
    created_at: datetime = _ts(nullable=False)


class AuditEntry(SQLModel, table=True):
    """Who got which fields of whom, when and why: field *names* only, never values."""

    __tablename__ = "audit_log"
    __table_args__ = (
        Index("ix_audit_customer", "customer_id", "at"),
        Index("ix_audit_brick", "brick", "at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = _ts(nullable=False)
    action: str = Field(max_length=32)
    actor: str = Field(max_length=128)
    customer_id: str | None = Field(default=None, max_length=40)
    brick: str | None = Field(default=None, max_length=40)
    pseudonym: str | None = Field(default=None, max_length=64)
    fields: str = Field(default="", max_length=512)
    purpose: str | None = Field(default=None, max_length=32)
    request_id: str | None = Field(default=None, max_length=64)
