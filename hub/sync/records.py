"""What a sync writes, set-wise: pseudonyms, egress audit rows, ``sink_contacts``, dead letters.

Before a batch leaves: the reverse-lookup rows of the pseudonyms (so a webhook naming one maps
back) and one egress audit row per contact under the batch's request id, committed *before*
the call, so a crash after the vendor received the batch cannot leave a transfer unaudited (a
batch that then fails stays audited: the vendor may hold any part of it). After the sink
confirmed: ``sink_contacts`` (state, view digest, field names), the refused items' dead
letters and the cursor, in one transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql import Insert
from sqlmodel import Session

from contracts import Purpose
from hub.dead_letters import store_dead_letter
from hub.events.cursors import advance_cursor, read_cursor
from hub.identity.vault import Vault
from hub.storage.db import chunks
from hub.storage.models import AuditEntry, BrickDecommission, BrickPseudonym, SinkContact, table
from hub.sync.feed import SYNC_STREAM, FeedKey, decode_cursor, encode_cursor
from hub.sync.plan import Action, Planned

__all__ = [
    "DEAD_LETTER_KIND",
    "advance_sink_cursor",
    "decommissioned",
    "record_confirmed",
    "record_outgoing",
    "record_refused",
    "sink_cursor",
    "withdraw_outgoing",
]

#: ``dead_letters.kind`` of an item a sink refused during a sync.
DEAD_LETTER_KIND = "sync"
_AUDIT_CHUNK = 1000
_MARKETING = Purpose.MARKETING.value


def _insert(session: Session, model: type) -> Insert:
    """An INSERT that can say ON CONFLICT on both backends (the dialects share the syntax)."""
    dialect = session.get_bind().dialect.name
    factory = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return factory(table(model))  # type: ignore[no-any-return]


def sink_cursor(session: Session, sink: str) -> FeedKey | None:
    return decode_cursor(read_cursor(session, sink, SYNC_STREAM))


def advance_sink_cursor(session: Session, sink: str, key: FeedKey) -> None:
    """Store ``key`` unless the stored cursor is already past it (cursors never go back)."""
    current = sink_cursor(session, sink)
    if current is None or key > current:
        advance_cursor(session, sink, SYNC_STREAM, encode_cursor(key))


def decommissioned(session: Session, sink: str) -> datetime | None:
    """When the sink was taken out of service (and not reinstated), else ``None``."""
    decommissions = table(BrickDecommission)
    return session.execute(
        select(decommissions.c.at)
        .where(decommissions.c.brick == sink, decommissions.c.reinstated_at.is_(None))
        .order_by(decommissions.c.at.desc())
        .limit(1)
    ).scalar_one_or_none()


def record_outgoing(
    session: Session,
    sink: str,
    batch: Sequence[Planned],
    *,
    request_id: str,
    actor: str,
    now: datetime,
) -> None:
    """Pseudonym reverse lookups and one egress audit row per contact, before the call."""
    # Only people the sink never got from the hub can lack the reverse lookup row (a send may
    # have written it already: ON CONFLICT keeps that one).
    pseudonyms = [
        {"brick": sink, "pseudonym": p.view.pseudonym, "customer_id": p.customer_id,
         "created_at": now}
        for p in batch
        if p.action is Action.CREATE
    ]
    if pseudonyms:
        session.execute(_insert(session, BrickPseudonym).on_conflict_do_nothing(), pseudonyms)
    audit = [
        {
            "at": now,
            "action": "egress",
            "actor": actor,
            "customer_id": p.customer_id,
            "brick": sink,
            "pseudonym": p.view.pseudonym,
            "fields": ",".join(sorted(p.fields)),
            "purpose": _MARKETING,
            "request_id": request_id,
        }
        for p in batch
    ]
    for start in range(0, len(audit), _AUDIT_CHUNK):
        session.execute(table(AuditEntry).insert(), audit[start : start + _AUDIT_CHUNK])


def withdraw_outgoing(session: Session, request_id: str) -> None:
    """Remove the egress audit rows of a batch audited ahead and never sent (its sink failed,
    or the run was interrupted, while the batch before it was in flight)."""
    audit = table(AuditEntry)
    session.execute(
        audit.delete().where(audit.c.request_id == request_id, audit.c.action == "egress")
    )


def record_confirmed(
    session: Session, sink: str, confirmed: Sequence[Planned], *, now: datetime
) -> None:
    """Upsert ``sink_contacts`` for the contacts the sink accepted."""
    if not confirmed:
        return
    rows = [
        {
            "sink": sink,
            "customer_id": p.customer_id,
            "pseudonym": p.view.pseudonym,
            "state": p.state,
            "view_digest": p.digest,
            "fields": ",".join(sorted(p.fields))[:512],
            "updated_at": now,
        }
        for p in confirmed
    ]
    for chunk in chunks(rows):
        statement = _insert(session, SinkContact)
        statement = statement.on_conflict_do_update(
            index_elements=["sink", "customer_id"],
            set_={
                name: getattr(statement.excluded, name)
                for name in ("pseudonym", "state", "view_digest", "fields", "updated_at")
            },
        )
        session.execute(statement, list(chunk))


def record_refused(
    session: Session,
    vault: Vault,
    sink: str,
    refused: Sequence[tuple[Planned, str]],
    *,
    request_id: str,
) -> list[int]:
    """Dead-letter each item the sink refused; the payload names the person by ids only (a
    replay re-reads the hub, whose data may have been fixed since)."""
    ids = []
    for planned, reason in refused:
        letter = store_dead_letter(
            session,
            vault,
            kind=DEAD_LETTER_KIND,
            source=sink,
            reference=f"{sink}:{planned.view.pseudonym}",
            reason=f"refused by {sink}: {reason}",
            payload={
                "customer_id": planned.customer_id,
                "sink": sink,
                "pseudonym": planned.view.pseudonym,
                "action": planned.action.value,
                "fields": list(planned.fields),
                "request_id": request_id,
            },
        )
        ids.append(letter.id or 0)
    return ids
