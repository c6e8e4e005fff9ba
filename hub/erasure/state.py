"""Customer statuses and the two look-ups the rest of the core asks on every door.

``customers.status`` (the contract shared with sync and governance):

* ``active``: the normal state;
* ``erased``: a tombstone left by ``hub contacts forget`` (art. 17): no key, no vault entry, no
  identifier, no profile column; only the id stays, so pseudonymous ledger and audit rows
  still point at something;
* ``suppressed``: a record made when an erased person's contact point came back (a re-import,
  a contact pull): it holds the suppressed digests and nothing else, is never pushed and never
  sent to;
* ``objected``: the person objected to direct marketing and profiling (art. 21): nothing is
  deleted, every marketing send and the DMP are refused, transactional sends still go;
* ``merged``: absorbed into another customer (``hub.identity.merges``).

Queries here touch one small table each and import only the storage layer, so the runtime and
the identity service can call them without import cycles.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import Connection, Engine, select
from sqlmodel import Session

from hub.storage.db import chunks
from hub.storage.models import (
    BrickDecommission,
    Customer,
    ErasureRequest,
    ErasureStep,
    Suppression,
    table,
)

__all__ = [
    "ACTIVE",
    "ERASED",
    "ERASE_ACTION",
    "MERGED",
    "NO_CONTACT_STATUSES",
    "OBJECTED",
    "SUPPRESSED",
    "decommissioned_bricks",
    "erased_pseudonyms",
    "status_refusal",
    "statuses",
    "suppressed_digests",
]

ACTIVE = "active"
ERASED = "erased"
SUPPRESSED = "suppressed"
OBJECTED = "objected"
MERGED = "merged"
#: ``erasure_requests.action`` of a ``hub contacts forget`` (art. 17).
ERASE_ACTION = "erase"
#: Statuses nobody may contact on any channel, for any kind of message.
NO_CONTACT_STATUSES = frozenset({ERASED, SUPPRESSED})

_CUSTOMERS = table(Customer)
_SUPPRESSIONS = table(Suppression)
_DECOMMISSIONS = table(BrickDecommission)


def statuses(session: Session, customer_ids: Iterable[str]) -> dict[str, str]:
    """Each known customer's status (unknown ids are absent)."""
    found: dict[str, str] = {}
    for chunk in chunks(sorted(set(customer_ids))):
        for row in session.execute(
            select(_CUSTOMERS.c.id, _CUSTOMERS.c.status).where(_CUSTOMERS.c.id.in_(chunk))
        ):
            found[row.id] = row.status
    return found


def status_refusal(status: str | None, *, marketing: bool) -> str | None:
    """Why a customer in ``status`` may not get a message (``None``: the status allows it).

    ``marketing`` covers every purpose an objection stops (marketing and profiling).
    """
    if status == ERASED:
        return "the customer was erased (GDPR art. 17): no message may be sent"
    if status == SUPPRESSED:
        return (
            "the contact point belongs to an erased person (suppressed): no message may be sent"
        )
    if status == OBJECTED and marketing:
        return (
            "the customer objected to direct marketing and profiling (GDPR art. 21): "
            "refused until the objection is withdrawn"
        )
    return None


def suppressed_digests(session: Session, digests: Iterable[str]) -> set[str]:
    """Which of these identifier digests are suppressed (one chunked query)."""
    found: set[str] = set()
    for chunk in chunks(sorted(set(digests))):
        found.update(
            session.execute(
                select(_SUPPRESSIONS.c.digest).where(_SUPPRESSIONS.c.digest.in_(chunk))
            ).scalars()
        )
    return found


def decommissioned_bricks(bind: Engine | Connection) -> dict[str, datetime]:
    """Bricks out of service now (decommissioned and not reinstated), with the time."""
    query = (
        select(_DECOMMISSIONS.c.brick, _DECOMMISSIONS.c.at)
        .where(_DECOMMISSIONS.c.reinstated_at.is_(None))
        .order_by(_DECOMMISSIONS.c.at)
    )
    if isinstance(bind, Engine):
        with bind.connect() as connection:
            return {row.brick: row.at for row in connection.execute(query)}
    return {row.brick: row.at for row in bind.execute(query)}


def erased_pseudonyms(session: Session, pairs: Iterable[tuple[str, str]]) -> set[tuple[str, str]]:
    """Which (brick, pseudonym) pairs the hub issued to a person it has since erased: their
    reverse look-up rows are gone, the erase steps keep the pseudonym."""
    steps, requests = table(ErasureStep), table(ErasureRequest)
    wanted = set(pairs)
    found: set[tuple[str, str]] = set()
    pseudonyms = sorted({p for _, p in wanted})
    for chunk in chunks(pseudonyms):
        for row in session.execute(
            select(steps.c.brick, steps.c.pseudonym)
            .join(requests, requests.c.id == steps.c.request_id)
            .where(steps.c.pseudonym.in_(chunk), requests.c.action == ERASE_ACTION)
        ):
            if (row.brick, row.pseudonym) in wanted:
                found.add((row.brick, row.pseudonym))
    return found
