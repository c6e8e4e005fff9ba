"""Merging two customers found to be one person, and undoing it, through an append-only log.

A merge happens only on verified evidence (two verified identifiers naming two customers: a
login proving both, a link source's login or purchase); it is never a side effect of a cookie
or of an unverified event. It moves the absorbed customer's identifiers, events, pressure
ledger rows and decisions, consents, scheduled jobs, sends and outcomes to the survivor, so
pressure follows the person: the survivor's caps count both histories at once. The absorbed
customer stays, with status ``merged`` and a pointer to the survivor; its vault entries and its
brick pseudonyms stay where they are (a vendor reporting the old pseudonym reaches the survivor
through the pointer).

Every merge writes an ``identity_merges`` row with the ids of every row it moved, so an unmerge
moves exactly those rows back (rows created after the merge stay with the survivor) and appends
its own row; both write audit rows. Event payloads are sealed with the owner's data key, so a
moved event is re-sealed for its new owner.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Table, bindparam, text, update
from sqlmodel import Session, col, select

from hub.audit import current_actor, record_audit
from hub.identity.vault import Vault, VaultError
from hub.storage.db import chunks
from hub.storage.models import (
    ConsentEntry,
    Customer,
    CustomerEvent,
    CustomerKey,
    IdentifierEntry,
    IdentityMerge,
    Job,
    LedgerEntry,
    OutcomeRecord,
    PressureDecision,
    SendRecord,
    table,
)
from hub.storage.types import utcnow
from hub.sync.feed import touch_customers

__all__ = [
    "MOVED_TABLES",
    "MergeError",
    "absorbed_into",
    "follow_merges",
    "merge_customers",
    "unmerge",
]

#: Only jobs that have not started move: a running one belongs to the send in flight.
_MOVABLE_JOBS = ("scheduled",)
_MAX_CHAIN = 64
#: Table name -> (table, key column). Order is the order rows move in.
_TABLES: dict[str, tuple[Table, str]] = {
    "identifiers": (table(IdentifierEntry), "digest"),
    "customer_events": (table(CustomerEvent), "id"),
    "pressure_ledger": (table(LedgerEntry), "id"),
    "pressure_decisions": (table(PressureDecision), "id"),
    "consents": (table(ConsentEntry), "id"),
    "jobs": (table(Job), "id"),
    "sends": (table(SendRecord), "request_id"),
    "outcomes": (table(OutcomeRecord), "id"),
}
MOVED_TABLES = tuple(_TABLES)
CUSTOMERS = table(Customer)


class MergeError(Exception):
    """A merge or unmerge that cannot be done; the message says why (never personal data)."""


def follow_merges(session: Session, customer_ids: Iterable[str]) -> dict[str, str]:
    """Each id mapped to the active customer it was merged into (itself when not merged)."""
    final = {c: c for c in customer_ids}
    frontier = sorted(set(final.values()))
    for _ in range(_MAX_CHAIN):
        moved: dict[str, str] = {}
        for chunk in chunks(frontier):
            for row in session.execute(
                select(CUSTOMERS.c.id, CUSTOMERS.c.merged_into).where(
                    CUSTOMERS.c.id.in_(chunk), CUSTOMERS.c.merged_into.is_not(None)
                )
            ):
                moved[row.id] = row.merged_into
        if not moved:
            break
        for start, current in final.items():
            if current in moved:
                final[start] = moved[current]
        frontier = sorted(set(moved.values()))
    return final


def absorbed_into(session: Session, customer_ids: Iterable[str]) -> dict[str, str]:
    """Every customer merged (directly or not) into one of ``customer_ids``, mapped to it;
    each of ``customer_ids`` maps to itself."""
    root = {c: c for c in customer_ids}
    frontier = sorted(root)
    for _ in range(_MAX_CHAIN):
        found: dict[str, str] = {}
        for chunk in chunks(frontier):
            for row in session.execute(
                select(CUSTOMERS.c.id, CUSTOMERS.c.merged_into).where(
                    CUSTOMERS.c.merged_into.in_(chunk), CUSTOMERS.c.status == "merged"
                )
            ):
                if row.id not in root:
                    found[row.id] = root[row.merged_into]
        if not found:
            break
        root.update(found)
        frontier = sorted(found)
    return root


def _lock(session: Session, customer_ids: Sequence[str]) -> dict[str, Any]:
    """Both customers locked for the transaction, in a fixed order (no deadlock): the ledger's
    advisory lock on PostgreSQL, so no reservation decides on half-moved history."""
    ordered = sorted(set(customer_ids))
    if session.get_bind().dialect.name == "postgresql":
        for customer_id in ordered:
            session.execute(
                text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"),
                {"key": customer_id},
            )
    rows = session.execute(
        select(CUSTOMERS).where(CUSTOMERS.c.id.in_(ordered)).order_by(CUSTOMERS.c.id)
        .with_for_update()
    )
    return {row.id: row for row in rows}


def _keys(session: Session, vault: Vault, customer_ids: Sequence[str]) -> dict[str, bytes]:
    keys = {}
    for row in session.execute(
        select(table(CustomerKey)).where(table(CustomerKey).c.customer_id.in_(customer_ids))
    ):
        keys[row.customer_id] = vault.unwrap(row.customer_id, row.wrapped_key)
    return keys


def _reseal_events(
    session: Session, vault: Vault, ids: Sequence[Any], owner: str, target: str
) -> None:
    """Move events and re-seal their payloads under the new owner's data key (the associated
    data is hub.events.store's: ``<customer>:event:<source>:<id>``)."""
    events = _TABLES["customer_events"][0]
    keys = _keys(session, vault, [owner, target])
    for chunk in chunks(list(ids)):
        rows = []
        for row in session.execute(
            select(events.c.id, events.c.source, events.c.source_event_id, events.c.payload)
            .where(events.c.id.in_(chunk))
        ):
            payload = row.payload
            field = f"event:{row.source}:{row.source_event_id}"
            if payload is not None and owner in keys and target in keys:
                try:
                    plain = vault.decrypt_field(keys[owner], owner, field, payload)
                    payload = vault.encrypt_field(keys[target], target, field, plain)
                except VaultError:
                    payload = None  # unreadable already: the move must not fail on noise
            elif target not in keys:
                payload = None  # the new owner was erased: nothing may stay readable
            rows.append({"_id": row.id, "_customer": target, "_payload": payload})
        if rows:
            session.execute(
                update(events)
                .where(events.c.id == bindparam("_id"))
                .values(customer_id=bindparam("_customer"), payload=bindparam("_payload")),
                rows,
            )


def _move(
    session: Session,
    vault: Vault,
    name: str,
    owner: str,
    target: str,
    only: Sequence[Any] | None = None,
) -> list[Any]:
    """Move ``owner``'s rows of one table (all, or those of ``only`` it still holds) to
    ``target``; returns the keys moved, sorted."""
    tbl, key = _TABLES[name]
    keycol = tbl.c[key]
    found: list[Any] = []
    if only is None:
        query = select(keycol).where(tbl.c.customer_id == owner)
        if name == "jobs":
            query = query.where(tbl.c.status.in_(_MOVABLE_JOBS))
        found = [row[0] for row in session.execute(query)]
    else:
        for chunk in chunks(list(only)):
            found.extend(
                row[0]
                for row in session.execute(
                    select(keycol).where(keycol.in_(chunk), tbl.c.customer_id == owner)
                )
            )
    found.sort()
    if name == "customer_events":
        _reseal_events(session, vault, found, owner, target)
        return found
    for chunk in chunks(found):
        session.execute(update(tbl).where(keycol.in_(chunk)).values(customer_id=target))
    return found


def _log(session: Session, **values: Any) -> IdentityMerge:
    entry = IdentityMerge(**values)
    session.add(entry)
    session.flush()
    return entry


def _audit(session: Session, action: str, entry: IdentityMerge, actor: str) -> None:
    moved = json.loads(entry.moved)
    tables = [name for name in MOVED_TABLES if moved.get(name)]
    for customer_id in (entry.survivor_id, entry.absorbed_id):
        record_audit(
            session,
            action=action,
            customer_id=customer_id,
            fields=tables,
            request_id=f"merge:{entry.refers_to or entry.id}",
            actor=actor,
        )


def merge_customers(
    session: Session,
    vault: Vault,
    survivor: str,
    absorbed: str,
    *,
    evidence: str,
    source: str,
    reference: str | None = None,
    reason: str | None = None,
    now: datetime | None = None,
    actor: str | None = None,
) -> IdentityMerge:
    """Merge ``absorbed`` into ``survivor`` in the caller's transaction; raises ``MergeError``
    when either is not an active customer."""
    now = now or utcnow()
    actor = actor or current_actor()
    if survivor == absorbed:
        raise MergeError("a customer cannot be merged into itself")
    rows = _lock(session, [survivor, absorbed])
    for customer_id in (survivor, absorbed):
        row = rows.get(customer_id)
        if row is None or row.status != "active":
            state = "unknown" if row is None else row.status
            raise MergeError(f"customer {customer_id} is {state}, not active")
    moved = {name: _move(session, vault, name, absorbed, survivor) for name in MOVED_TABLES}
    session.execute(
        update(CUSTOMERS)
        .where(CUSTOMERS.c.id == absorbed)
        .values(status="merged", merged_into=survivor, updated_at=now)
    )
    touch_customers(session, [survivor], now)  # it gained consents and identifiers: a change
    entry = _log(
        session,
        action="merge",
        survivor_id=survivor,
        absorbed_id=absorbed,
        evidence=evidence[:64],
        source=source[:128],
        source_reference=reference[:256] if reference else None,
        at=now,
        actor=actor,
        moved=json.dumps(moved, separators=(",", ":")),
        reason=reason[:1000] if reason else None,
    )
    _audit(session, "identity_merge", entry, actor)
    return entry


def _blocking_merge(session: Session, merge: IdentityMerge) -> IdentityMerge | None:
    """The later merge, not undone, that absorbed this merge's survivor."""
    undone = select(table(IdentityMerge).c.refers_to).where(
        table(IdentityMerge).c.refers_to.is_not(None)
    )
    return session.exec(
        select(IdentityMerge)
        .where(
            IdentityMerge.action == "merge",
            IdentityMerge.absorbed_id == merge.survivor_id,
            col(IdentityMerge.id) > merge.id,
            col(IdentityMerge.id).not_in(undone),
        )
        .order_by(col(IdentityMerge.id).desc())
    ).first()


def unmerge(
    session: Session,
    vault: Vault,
    merge_id: int,
    *,
    reason: str | None = None,
    source: str = "operator",
    now: datetime | None = None,
    actor: str | None = None,
) -> IdentityMerge:
    """Undo merge ``merge_id`` in the caller's transaction; returns the ``unmerge`` log row.

    Raises ``MergeError``: unknown id, not a merge, already undone, or a later merge depends on
    it (its survivor was merged away since: undo that one first).
    """
    now = now or utcnow()
    actor = actor or current_actor()
    merge = session.get(IdentityMerge, merge_id)
    if merge is None:
        raise MergeError(f"no merge #{merge_id}")
    if merge.action != "merge":
        raise MergeError(f"#{merge_id} is an unmerge, not a merge")
    done = session.exec(select(IdentityMerge).where(IdentityMerge.refers_to == merge_id)).first()
    if done is not None:
        raise MergeError(f"merge #{merge_id} was already undone by #{done.id}")
    survivor, absorbed = merge.survivor_id, merge.absorbed_id
    rows = _lock(session, [survivor, absorbed])
    if rows.get(survivor) is None or rows[survivor].status != "active":
        later = _blocking_merge(session, merge)
        after = f": undo merge #{later.id} first" if later is not None else ""
        raise MergeError(
            f"merge #{merge_id} cannot be undone: its survivor {survivor} was merged "
            f"into another customer since{after}"
        )
    kept = rows.get(absorbed)
    if kept is None or kept.status != "merged" or kept.merged_into != survivor:
        raise MergeError(
            f"merge #{merge_id} cannot be undone: customer {absorbed} is no longer merged "
            f"into {survivor}"
        )
    recorded: dict[str, list[Any]] = json.loads(merge.moved)
    moved = {
        name: _move(session, vault, name, survivor, absorbed, only=recorded.get(name, []))
        for name in MOVED_TABLES
    }
    session.execute(
        update(CUSTOMERS)
        .where(CUSTOMERS.c.id == absorbed)
        .values(status="active", merged_into=None, updated_at=now)
    )
    touch_customers(session, [survivor], now)  # it gave rows back: a change for the feed
    entry = _log(
        session,
        action="unmerge",
        survivor_id=survivor,
        absorbed_id=absorbed,
        evidence="operator",
        source=source[:128],
        source_reference=None,
        at=now,
        actor=actor,
        moved=json.dumps(moved, separators=(",", ":")),
        reason=reason[:1000] if reason else None,
        refers_to=merge_id,
    )
    _audit(session, "identity_unmerge", entry, actor)
    return entry
