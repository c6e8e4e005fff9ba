"""Cookie values the hub matched, for audiences: kept sealed in the customer's vault.

Identifiers are stored only as keyed digests, which is enough to find a customer by a cookie but
not to name the cookie to a DMP: an audience push keys its members by the cookie ids the hub
matched (``AudienceMember.cookie_ids``). So when a cookie is linked on verified evidence (an
event proving identity, a link source's login), its value is also written to the customer's
vault, in one entry (``cookies``): a sealed JSON list of ``{kind, namespace, value,
expires_at}``, encrypted with the customer's data key, so it dies with that key on erasure.

The ``identifiers`` table stays the truth: a cookie is handed out only while its digest is
still linked to that customer and unexpired. A cookie that moved to someone else is dropped from
the old owner's list at the next write; a merged customer's list stays in its own vault (merges
leave vault entries where they are) and is read for the survivor.

For the audiences code::

    from hub.identity.cookies import LinkedCookie, linked_cookies
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, update
from sqlmodel import Session, col, select

from contracts import IdentifierKind
from hub.identity.merges import absorbed_into
from hub.identity.resolution import CookieLink
from hub.storage.db import chunks
from hub.storage.models import Customer, IdentifierEntry, VaultEntry, table
from hub.storage.types import utcnow

if TYPE_CHECKING:
    from hub.identity.service import IdentityService

__all__ = ["COOKIES_FIELD", "LinkedCookie", "linked_cookies", "remember_cookies"]

#: The vault entry holding the list (never a ``CustomerField``: no brick view carries it).
COOKIES_FIELD = "cookies"


@dataclass(frozen=True)
class LinkedCookie:
    """A cookie the hub matched to a customer, live until ``expires_at``."""

    kind: IdentifierKind
    namespace: str
    value: str = field(repr=False)
    expires_at: datetime | None


def _read_lists(
    session: Session, identity: IdentityService, customer_ids: Sequence[str]
) -> dict[str, list[dict[str, Any]]]:
    """Each customer's sealed list, opened (an erased customer's reads as empty)."""
    entries: list[VaultEntry] = []
    for chunk in chunks(sorted(set(customer_ids))):
        entries.extend(
            session.exec(
                select(VaultEntry)
                .where(col(VaultEntry.customer_id).in_(chunk), VaultEntry.field == COOKIES_FIELD)
                .execution_options(populate_existing=True)
            )
        )
    keys = identity.data_keys(session, sorted({e.customer_id for e in entries}))
    lists: dict[str, list[dict[str, Any]]] = {}
    for entry in entries:
        key = keys.get(entry.customer_id)
        if key is None:
            continue
        plain = identity.vault.decrypt_field(
            key, entry.customer_id, COOKIES_FIELD, entry.ciphertext
        )
        lists[entry.customer_id] = json.loads(plain)
    return lists


def _digest(identity: IdentityService, item: dict[str, Any]) -> str:
    return identity.keys.digest(item["kind"], item["namespace"], item["value"])


def _links(
    session: Session, digests: Iterable[str]
) -> dict[str, tuple[str, datetime | None]]:
    """digest -> (owner, expiry) from the ``identifiers`` table, the source of truth."""
    found: dict[str, tuple[str, datetime | None]] = {}
    for chunk in chunks(sorted(set(digests))):
        for row in session.execute(
            select(
                IdentifierEntry.digest, IdentifierEntry.customer_id, IdentifierEntry.expires_at
            ).where(col(IdentifierEntry.digest).in_(chunk))
        ):
            found[row[0]] = (row[1], row[2])
    return found


def _live(link: tuple[str, datetime | None] | None, owner: str, now: datetime) -> bool:
    return link is not None and link[0] == owner and (link[1] is None or link[1] > now)


def remember_cookies(
    session: Session,
    identity: IdentityService,
    links: Sequence[CookieLink],
    *,
    left: Iterable[str] = (),
    now: datetime | None = None,
) -> None:
    """Add ``links`` to their customers' lists, and prune the lists of ``left`` (customers a
    cookie moved away from): only cookies still linked to the customer and live are kept.

    Run after the ``identifiers`` rows are written; set-based (a few queries per batch).
    """
    now = now or utcnow()
    wanted = {link.customer_id for link in links} | set(left)
    if not wanted:
        return
    active: set[str] = set()
    for chunk in chunks(sorted(wanted)):
        active.update(
            session.exec(
                select(Customer.id).where(col(Customer.id).in_(chunk), Customer.status == "active")
            )
        )
    stored = _read_lists(session, identity, sorted(active))
    lists = {c: {_digest(identity, i): i for i in stored.get(c, [])} for c in active}
    for link in links:
        if link.customer_id in lists:
            lists[link.customer_id][link.digest] = {
                "kind": link.kind.value,
                "namespace": link.namespace,
                "value": link.value,
            }
    truth = _links(session, [d for items in lists.values() for d in items])
    keys = identity.data_keys(session, sorted(lists))
    inserts, rewrites, emptied = [], [], []
    for customer_id, items in sorted(lists.items()):
        kept = [
            {**item, "expires_at": _iso(truth[digest][1])}
            for digest, item in sorted(items.items())
            if _live(truth.get(digest), customer_id, now)
        ]
        if kept == stored.get(customer_id, []) or customer_id not in keys:
            continue
        if not kept:
            emptied.append(customer_id)
            continue
        blob = identity.vault.encrypt_field(
            keys[customer_id], customer_id, COOKIES_FIELD, json.dumps(kept, separators=(",", ":"))
        )
        row = {"customer_id": customer_id, "field": COOKIES_FIELD, "ciphertext": blob}
        (rewrites if customer_id in stored else inserts).append({**row, "updated_at": now})
    if inserts:
        session.execute(table(VaultEntry).insert(), inserts)
    if rewrites:
        session.execute(update(VaultEntry), rewrites)
    for chunk in chunks(emptied):
        session.execute(
            delete(VaultEntry).where(
                col(VaultEntry.customer_id).in_(chunk), VaultEntry.field == COOKIES_FIELD
            )
        )


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def linked_cookies(
    session: Session,
    identity: IdentityService,
    customer_ids: Sequence[str],
    *,
    now: datetime,
) -> dict[str, list[LinkedCookie]]:
    """The live cookies matched to each customer (customers merged into them included).

    Set-based: whatever the number of customers, a few chunked queries (merged customers,
    vault entries, data keys, identifier rows), never one query per customer. Every customer
    asked for has a key in the answer (an empty list when no cookie is live).
    """
    ids = sorted(set(customer_ids))
    holders = absorbed_into(session, ids)
    lists = _read_lists(session, identity, sorted(holders))
    candidates: dict[tuple[str, str], dict[str, Any]] = {}
    for holder, items in lists.items():
        for item in items:
            candidates.setdefault((holders[holder], _digest(identity, item)), item)
    truth = _links(session, [digest for _, digest in candidates])
    found: dict[str, list[LinkedCookie]] = {c: [] for c in ids}
    for (customer_id, digest), item in candidates.items():
        link = truth.get(digest)
        if _live(link, customer_id, now):
            assert link is not None
            kind = IdentifierKind(item["kind"])
            found[customer_id].append(
                LinkedCookie(kind, item["namespace"], item["value"], link[1])
            )
    for cookies in found.values():
        cookies.sort(key=lambda c: (c.kind.value, c.namespace, c.value))
    return found
