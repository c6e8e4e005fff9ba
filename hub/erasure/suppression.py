"""What a claim naming an erased person's contact point resolves to: a suppressed record.

``hub contacts forget`` leaves a ``suppressions`` row per contact point of the person (email,
phone, shop customer id, CRM id: the keyed digest the ``identifiers`` table used). When one of
those digests comes back, through any door (an import row, a contact pull, a synced contact,
a DMP link, an event), the claim is not resolved like a live one:

* it never reaches the person's old customer (a tombstone, linked to nothing) and never
  creates an active customer;
* it resolves to a **suppressed record**: a customer with status ``suppressed``, no data key,
  no vault entry, no profile column, whose only identifiers are the suppressed digests
  themselves (so the same address imported again finds the same record, and a report can
  count it). The claim's other identifiers and every value it carries are dropped;
* callers see ``Resolution.suppressed`` and write nothing else: no profile, consent or
  attribute (``hub.contacts.apply``); events are refused (``hub.events.resolve``).

Set-based like the rest of resolution: one query for the owners of the batch's suppressed
digests, bulk inserts for new records and rows. Claims without a suppressed digest go through
``IdentityService.resolve_claims`` unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence, Set
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlmodel import Session

from hub.erasure.state import SUPPRESSED
from hub.identity.resolution import Claim, IdentityConflict, new_customer_id
from hub.storage.db import chunks
from hub.storage.models import Customer, IdentifierEntry, table

if TYPE_CHECKING:
    from hub.identity.service import IdentityService, Resolution

__all__ = ["resolve_around_suppressions"]

_IDENTIFIERS = table(IdentifierEntry)


def resolve_around_suppressions(
    identity: IdentityService,
    session: Session,
    claims: Sequence[Claim],
    suppressed: Set[str],
    *,
    source: str,
    now: datetime,
) -> list[Resolution | IdentityConflict | None]:
    """Resolve ``claims`` in order: those naming a digest of ``suppressed`` to suppressed
    records, the others through the identity service as usual."""
    from hub.identity.service import Resolution

    results: list[Resolution | IdentityConflict | None] = [None] * len(claims)
    held = {
        index: [n for n in claim.identifiers if n.digest in suppressed]
        for index, claim in enumerate(claims)
    }
    normal = [index for index, names in held.items() if not names]
    if normal:
        resolved = identity.resolve_claims(
            session, [claims[i] for i in normal], source=source, now=now
        )
        for index, result in zip(normal, resolved, strict=True):
            results[index] = result
    digests = sorted({n.digest for names in held.values() for n in names})
    owners: dict[str, str] = {}
    for chunk in chunks(digests):
        for row in session.execute(
            select(_IDENTIFIERS.c.digest, _IDENTIFIERS.c.customer_id).where(
                _IDENTIFIERS.c.digest.in_(chunk)
            )
        ):
            owners[row.digest] = row.customer_id
    new_customers: list[str] = []
    new_rows: list[dict[str, object]] = []
    for index, names in held.items():
        if not names:
            continue
        found = sorted({owners[n.digest] for n in names if n.digest in owners})
        created = not found
        customer = found[0] if found else new_customer_id()
        if created:
            new_customers.append(customer)
        for name in names:
            if name.digest in owners:
                continue
            owners[name.digest] = customer
            new_rows.append(
                {
                    "digest": name.digest,
                    "customer_id": customer,
                    "kind": name.kind.value,
                    "namespace": name.namespace,
                    "source": source[:64],
                    "verified": False,
                    "first_seen_at": now,
                    "last_seen_at": now,
                    "expires_at": None,
                }
            )
        results[index] = Resolution(customer, created, 0, {}, suppressed=True)
    if new_customers:
        session.execute(
            table(Customer).insert(),
            [
                {"id": c, "status": SUPPRESSED, "created_at": now, "updated_at": now}
                for c in new_customers
            ],
        )
    if new_rows:
        session.execute(_IDENTIFIERS.insert(), new_rows)
    return results
