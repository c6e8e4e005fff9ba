"""Which bricks hold data about which customers, under which pseudonym.

Three records say a brick received someone, and erasure reads all of them, because each can
know of a transfer the others missed:

* ``sink_contacts``: what a contact sink confirmed it holds (a sync, an unsubscribe);
* ``brick_pseudonyms``: every pseudonym the hub ever issued to a brick for a customer (a view
  was built for it: a send, a sync, an opt-out propagation);
* the egress audit (``audit_log`` rows with action ``egress``): every transfer, by pseudonym.

A ``sink_contacts`` row in state ``erased`` means the brick confirmed an erase: it no longer
holds the person, unless a transfer was audited after that.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, select
from sqlmodel import Session

from hub.storage.db import chunks
from hub.storage.models import AuditEntry, BrickPseudonym, SinkContact, table

__all__ = ["ERASED_AT_SINK", "Holdings", "held_at_brick", "held_by_customers"]

#: ``sink_contacts.state`` once the sink confirmed an erase.
ERASED_AT_SINK = "erased"

_SINKS = table(SinkContact)
_PSEUDONYMS = table(BrickPseudonym)
_AUDIT = table(AuditEntry)

#: customer id -> brick -> pseudonym the brick knows them by.
Holdings = dict[str, dict[str, str]]


def _queries(
    customers: Sequence[str] | None, brick: str | None
) -> tuple[Select[Any], Select[Any], Select[Any]]:
    sinks = select(
        _SINKS.c.sink, _SINKS.c.customer_id, _SINKS.c.pseudonym, _SINKS.c.state,
        _SINKS.c.updated_at,
    )
    pseudonyms = select(_PSEUDONYMS.c.brick, _PSEUDONYMS.c.customer_id, _PSEUDONYMS.c.pseudonym)
    audit = (
        select(
            _AUDIT.c.brick, _AUDIT.c.customer_id, _AUDIT.c.pseudonym, func.max(_AUDIT.c.at)
        )
        .where(
            _AUDIT.c.action == "egress",
            _AUDIT.c.brick.is_not(None),
            _AUDIT.c.customer_id.is_not(None),
        )
        .group_by(_AUDIT.c.brick, _AUDIT.c.customer_id, _AUDIT.c.pseudonym)
    )
    if customers is not None:
        sinks = sinks.where(_SINKS.c.customer_id.in_(customers))
        pseudonyms = pseudonyms.where(_PSEUDONYMS.c.customer_id.in_(customers))
        audit = audit.where(_AUDIT.c.customer_id.in_(customers))
    if brick is not None:
        sinks = sinks.where(_SINKS.c.sink == brick)
        pseudonyms = pseudonyms.where(_PSEUDONYMS.c.brick == brick)
        audit = audit.where(_AUDIT.c.brick == brick)
    return sinks, pseudonyms, audit


def _collect(session: Session, customers: Sequence[str] | None, brick: str | None) -> Holdings:
    sinks, pseudonyms, audit = _queries(customers, brick)
    held: Holdings = {}
    erased_at: dict[tuple[str, str], datetime] = {}
    last_sent: dict[tuple[str, str], datetime] = {}
    for row in session.execute(pseudonyms):
        held.setdefault(row.customer_id, {})[row.brick] = row.pseudonym
    for row in session.execute(audit):
        name, customer, pseudonym, at = row
        if pseudonym:
            held.setdefault(customer, {}).setdefault(name, pseudonym)
        key = (customer, name)
        if key not in last_sent or at > last_sent[key]:
            last_sent[key] = at
    for row in session.execute(sinks):
        held.setdefault(row.customer_id, {})[row.sink] = row.pseudonym
        if row.state == ERASED_AT_SINK:
            erased_at[(row.customer_id, row.sink)] = row.updated_at
    for (customer, name), when in erased_at.items():
        sent = last_sent.get((customer, name))
        if sent is None or sent <= when:
            held[customer].pop(name, None)
    return {c: bricks for c, bricks in held.items() if bricks}


def held_by_customers(session: Session, customer_ids: Sequence[str]) -> Holdings:
    """The bricks holding each of these customers (customers held nowhere are absent)."""
    held: Holdings = {}
    for chunk in chunks(sorted(set(customer_ids))):
        held.update(_collect(session, list(chunk), None))
    return held


def held_at_brick(session: Session, brick: str) -> dict[str, str]:
    """Every customer ``brick`` holds, with the pseudonym it knows them by."""
    return {c: bricks[brick] for c, bricks in _collect(session, None, brick).items()}
