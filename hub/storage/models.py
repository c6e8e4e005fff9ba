"""The core's tables. No column ever holds a plaintext email, phone or name.

Personal data lives only in ``vault_entries`` (encrypted with the customer's data key, itself
wrapped by the master key in ``customer_keys``); lookups go through keyed digests in
``identifiers``. Every hot query is keyed by customer id, so the tables partition on it later.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Index, LargeBinary, Table, Text, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from hub.storage.types import UTCDateTime
from hub.storage.types import timestamp_field as _ts

__all__ = [
    "AuditEntry",
    "BrickDecommission",
    "BrickPseudonym",
    "ConsentEntry",
    "Customer",
    "CustomerEvent",
    "CustomerKey",
    "DeadLetter",
    "ErasureRequest",
    "ErasureStep",
    "IdentifierEntry",
    "IdentityMerge",
    "Job",
    "LedgerEntry",
    "OutcomeRecord",
    "ParkedLetter",
    "PressureDecision",
    "RuleSet",
    "SendRecord",
    "SinkContact",
    "SourceCursor",
    "Suppression",
    "VaultEntry",
    "metadata",
    "table",
]

metadata = SQLModel.metadata


def table(model: type[SQLModel]) -> Table:
    """The Core table behind a model: bulk inserts through it skip the ORM's per-row work."""
    return model.__table__  # type: ignore[attr-defined,no-any-return]


class Customer(SQLModel, table=True):
    """``status`` is ``active`` or ``merged``; a merged customer points at the survivor it was
    merged into (``merged_into``), so its pseudonyms still resolve (hub.identity.merges)."""

    __tablename__ = "customers"
    __table_args__ = (
        Index("ix_customers_merged_into", "merged_into"),
        # The change feed of contact sync walks (updated_at, id) from each sink's cursor.
        Index("ix_customers_updated", "updated_at", "id"),
        # The campaign plan reads the zone of each candidate customer from the index alone.
        Index("ix_customers_zone", "id", "time_zone"),
    )

    id: str = Field(primary_key=True, max_length=40)
    status: str = Field(default="active", max_length=16)
    #: No foreign key on purpose: SQLite can only add one by rebuilding the table every other
    #: table references. The merge code is the only writer.
    merged_into: str | None = Field(default=None, max_length=40)
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


class CustomerEvent(SQLModel, table=True):
    """A customer's event (order, sign-up...), de-duplicated on (source, source event id).

    The pressure ledger reads it for exclusion windows ("an order in the last 90 days");
    event intake stores every accepted event here, with its payload sealed.
    """

    __tablename__ = "customer_events"
    __table_args__ = (
        UniqueConstraint("source", "source_event_id", name="uq_event_source_id"),
        Index("ix_events_customer_type", "customer_id", "type", "occurred_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    customer_id: str = Field(foreign_key="customers.id", max_length=40)
    type: str = Field(max_length=128)
    source: str = Field(max_length=64)
    source_event_id: str = Field(max_length=256)
    occurred_at: datetime = _ts(nullable=False)
    received_at: datetime = _ts(nullable=False)
    payload: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))


class LedgerEntry(SQLModel, table=True):
    """One contact of a customer on a channel: reserved, sent, released, expired or recorded.

    Rows stay pseudonymous (customer id, never contact points), so erasure can keep them and
    pressure still follows the person's history.

    A row granted by ``Ledger.reserve`` also holds that decision (``decision_*``; its time is
    ``created_at``), instead of a ``pressure_decisions`` row: one row and three index entries
    fewer per granted send, the bulk of the send-time write cost. Refusals, which write no
    ledger row, stay in ``pressure_decisions``. The status index only holds reservations: the
    expiry sweep and the report are its only readers, and sent rows never need it.
    """

    __tablename__ = "pressure_ledger"
    __table_args__ = (
        # Covering: every pressure read (a decision's history, the plan's ledger pass) is
        # answered from the index, without a table lookup per row (migration 0009).
        Index(
            "ix_ledger_customer_cover",
            "customer_id",
            "at",
            "status",
            "expires_at",
            "kind",
            "channel",
            "scenario",
            "weight",
        ),
        Index(
            "ix_ledger_status_expiry",
            "status",
            "expires_at",
            sqlite_where=text("status = 'reserved'"),
            postgresql_where=text("status = 'reserved'"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    customer_id: str = Field(max_length=40)
    channel: str = Field(max_length=16)
    scenario: str = Field(max_length=128)
    kind: str = Field(max_length=16)
    weight: float
    priority: int = 50
    status: str = Field(max_length=16)
    at: datetime = _ts(nullable=False)
    expires_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    idempotency_key: str | None = Field(default=None, max_length=128, unique=True)
    rule_set_version: str = Field(max_length=16)
    source: str = Field(default="hub", max_length=64)
    created_at: datetime = _ts(nullable=False)
    updated_at: datetime = _ts(nullable=False)
    #: The granting decision's explanation (NULL: no decision, e.g. recorded or planned rows).
    decision_reason: str | None = Field(default=None, max_length=1000)
    decision_consulted: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    #: The send time the decision was asked for, kept only once a commit moved ``at``.
    decision_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))


class PressureDecision(SQLModel, table=True):
    """Reserve decisions that granted nothing (deferred, denied), with the rules consulted.

    Granted decisions live in their ledger row (``LedgerEntry.decision_*``); explanations,
    reports and idempotent replays read both (``hub.pressure.decisions``).
    """

    __tablename__ = "pressure_decisions"
    __table_args__ = (Index("ix_decisions_customer", "customer_id", "decided_at"),)

    id: int | None = Field(default=None, primary_key=True)
    customer_id: str = Field(max_length=40)
    channel: str = Field(max_length=16)
    scenario: str = Field(max_length=128)
    kind: str = Field(max_length=16)
    at: datetime = _ts(nullable=False)
    outcome: str = Field(max_length=16)
    rule: str | None = Field(default=None, max_length=128)
    reason: str = Field(max_length=1000)
    until: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    consulted: str = Field(sa_column=Column(Text, nullable=False))
    rule_set_version: str = Field(max_length=16)
    idempotency_key: str | None = Field(default=None, max_length=128, unique=True)
    reservation_id: int | None = None
    decided_at: datetime = _ts(nullable=False)


class RuleSet(SQLModel, table=True):
    """Each version of the pressure rules ever used, so old decisions stay explainable."""

    __tablename__ = "pressure_rule_sets"

    version: str = Field(primary_key=True, max_length=16)
    rules: str = Field(sa_column=Column(Text, nullable=False))
    first_used_at: datetime = _ts(nullable=False)


class SendRecord(SQLModel, table=True):
    """One message the core handed (or is handing) to a brick, keyed by its idempotency key.

    Written *before* the brick is called, so a send that was in flight when a process died is
    found again: retried under the same key by vendors that honour one, otherwise marked
    ``in_doubt`` for an operator and never blindly re-sent (Twilio has no idempotency key).
    ``(brick, vendor_message_id)`` maps delivery outcomes back to the send.
    """

    __tablename__ = "sends"
    __table_args__ = (
        UniqueConstraint("brick", "idempotency_key", name="uq_sends_brick_key"),
        Index("ix_sends_vendor_message", "brick", "vendor_message_id"),
        Index("ix_sends_customer", "customer_id", "created_at"),
        Index("ix_sends_status", "status", "updated_at"),
    )

    request_id: str = Field(primary_key=True, max_length=64)
    idempotency_key: str = Field(max_length=128)
    brick: str = Field(max_length=40)
    customer_id: str = Field(max_length=40)
    channel: str = Field(max_length=16)
    scenario: str = Field(max_length=128)
    kind: str = Field(max_length=16)
    template: str = Field(max_length=256)
    status: str = Field(max_length=16)
    attempts: int = 0
    reservation_id: int | None = None
    vendor_message_id: str | None = Field(default=None, max_length=256)
    error_code: str | None = Field(default=None, max_length=64)
    error_message: str | None = Field(default=None, max_length=1000)
    created_at: datetime = _ts(nullable=False)
    updated_at: datetime = _ts(nullable=False)


# The identity, governance and work (jobs, outcomes, cursors) tables live in their own
# modules (this one would pass 400 lines); importing them here registers them in
# ``metadata`` for migrations and keeps one import path for callers.
from hub.storage.governance_tables import (  # noqa: E402
    BrickDecommission,
    ErasureRequest,
    ErasureStep,
    SinkContact,
    Suppression,
)
from hub.storage.identity_tables import IdentityMerge, ParkedLetter  # noqa: E402
from hub.storage.work_tables import Job, OutcomeRecord, SourceCursor  # noqa: E402
