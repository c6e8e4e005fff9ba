"""``customer_events`` rows: insert accepted events with sealed payloads, read them back opened.

A payload (cart lines, a profile update) is personal data, so it is encrypted with the
customer's own data key, bound to the event's (source, id): erasing the customer shreds their
events with the rest of their vault, and a ciphertext copied onto another row does not open.
The plain columns (customer, type, occurred_at) stay readable for the pressure ledger's
exclusion windows and the scheduler.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, tuple_
from sqlmodel import Session, col, select

from hub.events.stored import StoredEvent
from hub.identity.vault import Vault
from hub.storage.db import chunks
from hub.storage.models import CustomerEvent, CustomerKey, table

__all__ = ["NewEvent", "data_keys", "existing_keys", "insert_events", "read_events"]

#: (source, source event id) pairs per ``IN`` query: two parameters each.
_PAIR_CHUNK = 400


@dataclass(frozen=True)
class NewEvent:
    customer_id: str
    type: str
    source: str
    source_event_id: str
    occurred_at: datetime
    payload: dict[str, Any]


def _aad_field(source: str, source_event_id: str) -> str:
    return f"event:{source}:{source_event_id}"


def data_keys(session: Session, vault: Vault, customer_ids: Iterable[str]) -> dict[str, bytes]:
    """The customers' unwrapped data keys; an erased customer (key destroyed) has none."""
    keys: dict[str, bytes] = {}
    for chunk in chunks(sorted(set(customer_ids))):
        for row in session.exec(
            select(CustomerKey)
            .where(col(CustomerKey.customer_id).in_(chunk))
            .execution_options(populate_existing=True)
        ):
            keys[row.customer_id] = vault.unwrap(row.customer_id, row.wrapped_key)
    return keys


def existing_keys(session: Session, keys: Sequence[tuple[str, str]]) -> set[tuple[str, str]]:
    """Which (source, source event id) pairs are already stored."""
    found: set[tuple[str, str]] = set()
    unique = sorted(set(keys))
    pair = tuple_(col(CustomerEvent.source), col(CustomerEvent.source_event_id))
    for start in range(0, len(unique), _PAIR_CHUNK):
        chunk = unique[start : start + _PAIR_CHUNK]
        rows = session.execute(
            select(CustomerEvent.source, CustomerEvent.source_event_id).where(pair.in_(chunk))
        )
        found.update((source, event_id) for source, event_id in rows)
    return found


def insert_events(
    session: Session, vault: Vault, events: Sequence[NewEvent], *, now: datetime
) -> list[StoredEvent]:
    """Insert in one statement; raises ``IntegrityError`` if a concurrent writer stored one
    of them first (the caller retries the batch, which then sees it as a duplicate)."""
    if not events:
        return []
    keys = data_keys(session, vault, [e.customer_id for e in events])
    rows = []
    for event in events:
        plaintext = json.dumps(event.payload, separators=(",", ":"), ensure_ascii=False)
        rows.append(
            {
                "customer_id": event.customer_id,
                "type": event.type,
                "source": event.source,
                "source_event_id": event.source_event_id,
                "occurred_at": event.occurred_at,
                "received_at": now,
                "payload": vault.encrypt_field(
                    keys[event.customer_id],
                    event.customer_id,
                    _aad_field(event.source, event.source_event_id),
                    plaintext,
                ),
            }
        )
    events_table = table(CustomerEvent)
    result = session.execute(
        insert(events_table).returning(events_table.c.id, sort_by_parameter_order=True), rows
    )
    ids = [row[0] for row in result]
    return [
        StoredEvent(
            id=event_id,
            customer_id=event.customer_id,
            type=event.type,
            source=event.source,
            source_event_id=event.source_event_id,
            occurred_at=event.occurred_at,
            payload=event.payload,
        )
        for event_id, event in zip(ids, events, strict=True)
    ]


def read_events(session: Session, vault: Vault, ids: Sequence[int]) -> list[StoredEvent]:
    """Stored events by id (in id order) with their payloads opened.

    An event of an erased customer (data key destroyed) comes back with an empty payload.
    """
    rows: list[CustomerEvent] = []
    for chunk in chunks(sorted(set(ids))):
        rows.extend(session.exec(select(CustomerEvent).where(col(CustomerEvent.id).in_(chunk))))
    keys = data_keys(session, vault, [r.customer_id for r in rows])
    found = []
    for row in sorted(rows, key=lambda r: r.id or 0):
        payload: dict[str, Any] = {}
        key = keys.get(row.customer_id)
        if row.payload is not None and key is not None:
            payload = json.loads(
                vault.decrypt_field(
                    key,
                    row.customer_id,
                    _aad_field(row.source, row.source_event_id),
                    row.payload,
                )
            )
        found.append(
            StoredEvent(
                id=row.id or 0,
                customer_id=row.customer_id,
                type=row.type,
                source=row.source,
                source_event_id=row.source_event_id,
                occurred_at=row.occurred_at,
                payload=payload,
            )
        )
    return found
