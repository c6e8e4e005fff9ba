"""The local half of ``hub contacts forget``: one transaction that leaves only a tombstone.

The person is every customer merged into the one named (merges join records of one person on
verified evidence; each keeps its own key, vault entries and pseudonyms). For each of them, in
the caller's transaction:

1. what must outlive the deletion is read first: the keyed digests of their contact points
   (email, phone, shop customer id, CRM id) for the suppressions, and the bricks holding them
   with the pseudonym each knows (``hub.erasure.holdings``), written as one ``erasure_steps``
   row per brick under a new ``erasure_requests`` row (``pending``, or ``not_applicable`` with
   the reason when the brick cannot be asked);
2. then deleted: the data key (crypto-shredding every ciphertext, backups included), vault
   entries, identifiers of all kinds, consents, events, jobs, sends, outcomes, merge-log rows,
   the brick pseudonym rows (the steps keep the pseudonyms the erase calls need), and the dead
   letters that name them (``hub.erasure.letters``);
3. kept, pseudonymous: the pressure ledger and its decisions (customer id, channel, scenario,
   time, no contact point), the audit log (field names and pseudonyms only), the erasure
   request and steps, ``sink_contacts`` rows until their erase is confirmed (view digest
   cleared);
4. the customer row becomes the tombstone: status ``erased``, no locale, no time zone, no
   merge pointer; and a ``suppressions`` row is written per contact-point digest.

Consent history is deleted rather than kept: it proves that processing was lawful while it
went on, and after erasure no processing goes on; the erasure request (who, when, why) is the
record that remains. See docs/privacy-rights.md.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Table, delete, insert, select, text, update
from sqlmodel import Session

from contracts import Capability, CustomerField
from hub.audit import record_audit
from hub.config import ConfiguredBrick
from hub.erasure.holdings import held_by_customers
from hub.erasure.letters import delete_letters, letters_about
from hub.erasure.state import ERASE_ACTION, ERASED, suppressed_digests
from hub.identity.merges import absorbed_into, follow_merges
from hub.identity.resolution import CREATING_KINDS
from hub.identity.service import IdentityService
from hub.storage.db import chunks
from hub.storage.models import (
    BrickPseudonym,
    ConsentEntry,
    Customer,
    CustomerEvent,
    CustomerKey,
    ErasureRequest,
    ErasureStep,
    IdentifierEntry,
    IdentityMerge,
    Job,
    OutcomeRecord,
    SendRecord,
    SinkContact,
    Suppression,
    VaultEntry,
    table,
)

__all__ = ["NOT_APPLICABLE", "LocalErasure", "erase_locally", "family_of", "step_status"]

NOT_APPLICABLE = "not_applicable"
_CREATING = frozenset(kind.value for kind in CREATING_KINDS)
_CUSTOMERS = table(Customer)


@dataclass
class LocalErasure:
    """What the transaction did: the customers erased (the named one first) and their
    requests, rows removed per table, suppressions and dead letters."""

    customers: list[str]
    requests: dict[str, int] = field(default_factory=dict)
    removed: dict[str, int] = field(default_factory=dict)
    suppressions: int = 0
    dead_letters: int = 0


def step_status(bricks: Mapping[str, ConfiguredBrick], name: str) -> tuple[str, str | None]:
    """``pending`` for a brick that can be asked to erase, else ``not_applicable`` + why."""
    configured = bricks.get(name)
    if configured is None:
        return NOT_APPLICABLE, (
            f"brick {name!r} is not installed: the hub cannot ask it to erase; check with the "
            "vendor that it holds nothing"
        )
    if Capability.CONTACT_SINK not in configured.cls.capabilities:
        capabilities = ", ".join(sorted(c.value for c in configured.cls.capabilities))
        return NOT_APPLICABLE, (
            f"brick {name!r} has no erase call (capabilities: {capabilities}); what it keeps "
            "is governed by the vendor's own retention"
        )
    return "pending", None


def family_of(session: Session, customer_id: str) -> list[str]:
    """The person behind ``customer_id``: the customer it ends in after merges, then every
    customer merged into that one (sorted)."""
    root = follow_merges(session, [customer_id])[customer_id]
    return [root, *sorted(set(absorbed_into(session, [root])) - {root})]


def _lock(session: Session, customers: Sequence[str]) -> None:
    """The ledger's per-customer lock on PostgreSQL, then the rows, in a fixed order."""
    ordered = sorted(customers)
    if session.get_bind().dialect.name == "postgresql":
        for customer_id in ordered:
            session.execute(
                text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"),
                {"key": customer_id},
            )
    session.execute(
        select(_CUSTOMERS.c.id).where(_CUSTOMERS.c.id.in_(ordered)).with_for_update()
    ).all()


def _ids(session: Session, tbl: Table, key: str, column: str, values: Sequence[Any]) -> list[Any]:
    found: list[Any] = []
    for chunk in chunks(sorted(set(values))):
        found.extend(
            session.execute(select(tbl.c[key]).where(tbl.c[column].in_(chunk))).scalars()
        )
    return found


def _delete(session: Session, tbl: Table, column: str, values: Sequence[Any]) -> int:
    count = 0
    for chunk in chunks(sorted(set(values))):
        count += session.execute(delete(tbl).where(tbl.c[column].in_(chunk))).rowcount or 0
    return count


def _record_steps(
    session: Session,
    bricks: Mapping[str, ConfiguredBrick],
    family: Sequence[str],
    *,
    reason: str | None,
    actor: str,
    now: datetime,
) -> dict[str, int]:
    held = held_by_customers(session, family)
    requests: dict[str, int] = {}
    for customer_id in family:
        request = ErasureRequest(
            customer_id=customer_id,
            action=ERASE_ACTION,
            reason=reason[:1000] if reason else None,
            actor=actor,
            status="pending",
            requested_at=now,
        )
        session.add(request)
        session.flush()
        assert request.id is not None
        requests[customer_id] = request.id
        steps = []
        for name, pseudonym in sorted(held.get(customer_id, {}).items()):
            status, note = step_status(bricks, name)
            steps.append(
                {
                    "request_id": request.id,
                    "brick": name,
                    "pseudonym": pseudonym,
                    "status": status,
                    "attempts": 0,
                    "last_error": note,
                    "updated_at": now,
                }
            )
        if steps:
            session.execute(insert(table(ErasureStep)), steps)
    return requests


def _forget_rows(session: Session, family: Sequence[str]) -> dict[str, int]:
    """Delete the person's rows, children before parents (foreign keys on both backends)."""
    events = _ids(session, table(CustomerEvent), "id", "customer_id", family)
    sends = _ids(session, table(SendRecord), "request_id", "customer_id", family)
    merges = table(IdentityMerge)
    merge_rows = set(_ids(session, merges, "id", "survivor_id", family))
    merge_rows |= set(_ids(session, merges, "id", "absorbed_id", family))
    undoings = [
        row.id
        for chunk in chunks(sorted(merge_rows))
        for row in session.execute(
            select(merges.c.id).where(merges.c.id.in_(chunk), merges.c.refers_to.is_not(None))
        )
    ]
    removed = {
        "jobs": _delete(session, table(Job), "customer_id", family)
        + _delete(session, table(Job), "trigger_event_id", events),
        "outcomes": _delete(session, table(OutcomeRecord), "customer_id", family)
        + _delete(session, table(OutcomeRecord), "request_id", sends),
        "sends": _delete(session, table(SendRecord), "request_id", sends),
        "customer_events": _delete(session, table(CustomerEvent), "id", events),
        "consents": _delete(session, table(ConsentEntry), "customer_id", family),
        "identifiers": _delete(session, table(IdentifierEntry), "customer_id", family),
        "vault_entries": _delete(session, table(VaultEntry), "customer_id", family),
        "customer_keys": _delete(session, table(CustomerKey), "customer_id", family),
        "brick_pseudonyms": _delete(session, table(BrickPseudonym), "customer_id", family),
    }
    removed["identity_merges"] = _delete(session, merges, "id", undoings) + _delete(
        session, merges, "id", sorted(merge_rows - set(undoings))
    )
    sinks = table(SinkContact)
    for chunk in chunks(sorted(family)):
        session.execute(
            update(sinks).where(sinks.c.customer_id.in_(chunk)).values(view_digest=None)
        )
    return removed


def erase_locally(
    session: Session,
    identity: IdentityService,
    bricks: Mapping[str, ConfiguredBrick],
    customer_id: str,
    *,
    reason: str | None,
    actor: str,
    now: datetime,
) -> LocalErasure:
    """Erase the person behind ``customer_id`` in the caller's transaction (see the module
    docstring); raises ``LookupError`` for an unknown id. The erase calls are not made here:
    the steps are recorded ``pending`` for ``hub.erasure.remote``."""
    if session.get(Customer, customer_id) is None:
        raise LookupError("no customer with this id")
    family = family_of(session, customer_id)
    _lock(session, family)
    family = family_of(session, customer_id)  # as of the lock
    identifiers = [
        (row.digest, row.kind)
        for chunk in chunks(family)
        for row in session.execute(
            select(table(IdentifierEntry).c.digest, table(IdentifierEntry).c.kind).where(
                table(IdentifierEntry).c.customer_id.in_(chunk)
            )
        )
    ]
    points = {digest: kind for digest, kind in identifiers if kind in _CREATING}
    profiles = identity.read_profiles(
        session, family, [CustomerField.EMAIL, CustomerField.PHONE]
    )
    words = {v for profile in profiles.values() for v in profile.values()} | set(family)
    result = LocalErasure(family)
    result.requests = _record_steps(session, bricks, family, reason=reason, actor=actor, now=now)
    words |= {
        row.pseudonym
        for chunk in chunks(family)
        for row in session.execute(
            select(table(BrickPseudonym).c.pseudonym).where(
                table(BrickPseudonym).c.customer_id.in_(chunk)
            )
        )
    }
    letters = letters_about(
        session,
        identity,
        digests={digest for digest, _ in identifiers},
        words=words,
        cookie_digests={digest for digest, kind in identifiers if kind not in _CREATING},
    )
    result.removed = _forget_rows(session, family)
    result.dead_letters = delete_letters(session, letters)
    for chunk in chunks(family):
        session.execute(
            update(_CUSTOMERS)
            .where(_CUSTOMERS.c.id.in_(chunk))
            .values(status=ERASED, locale=None, time_zone=None, merged_into=None, updated_at=now)
        )
    fresh = sorted(set(points) - suppressed_digests(session, points))
    if fresh:
        session.execute(
            insert(table(Suppression)),
            [
                {"digest": d, "kind": points[d], "reason": "erased (art. 17)", "created_at": now}
                for d in fresh
            ],
        )
    result.suppressions = len(fresh)
    for erased in family:
        record_audit(
            session,
            action="forget",
            customer_id=erased,
            fields=sorted(name for name, count in result.removed.items() if count),
            request_id=f"erasure:{result.requests[erased]}",
            actor=actor,
        )
        identity.vault.forget(erased)
    return result
