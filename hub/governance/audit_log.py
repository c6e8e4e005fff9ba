"""Reading the audit log back: filtered, ordered, streamed, and never more than it holds.

The log (``hub.audit``) records field *names*, pseudonyms, purposes and request ids, so
nothing read here is a personal value; this module only adds the questions IT asks of it
("what went to Brevo last week?", "who saw this customer's data?") as one indexed query.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Engine

from hub.storage.models import AuditEntry, table

__all__ = ["AUDIT_COLUMNS", "KNOWN_ACTIONS", "AuditFilter", "AuditRow", "read_audit"]

_AUDIT = table(AuditEntry)

#: Actions the core writes today. Others may appear (a plugin's or a later version's): the
#: filter accepts any well-formed action name and simply finds no row for an unknown one.
KNOWN_ACTIONS = (
    "egress",
    "reveal",
    "erase",
    "export",
    "consent_revoked",
    "merge",
    "unmerge",
)
_ACTION = re.compile(r"^[a-z][a-z0-9_.:-]{0,31}$")

#: Column order of the table and of each JSON object.
AUDIT_COLUMNS = (
    "id",
    "at",
    "action",
    "brick",
    "customer_id",
    "pseudonym",
    "purpose",
    "fields",
    "request_id",
    "actor",
)


@dataclass(frozen=True)
class AuditFilter:
    """Every given criterion must hold (AND); ``customer_ids`` matches any of its ids (a
    customer and the customers merged into it). ``since`` is inclusive, ``until`` exclusive."""

    brick: str | None = None
    customer_ids: Sequence[str] = field(default_factory=tuple)
    action: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    def problems(self) -> list[tuple[str, str]]:
        """(option, reason) pairs for values that cannot be right, before any query runs."""
        found = []
        if self.action is not None and not _ACTION.match(self.action):
            known = ", ".join(KNOWN_ACTIONS)
            found.append(("--action", f"not an action name (the hub writes: {known})"))
        if self.brick is not None and not 0 < len(self.brick) <= 40:
            found.append(("--brick", "a brick name has 1 to 40 characters"))
        if self.since and self.until and self.since >= self.until:
            found.append(("--until", "must be later than --since"))
        return found


@dataclass(frozen=True)
class AuditRow:
    id: int
    at: datetime
    action: str
    brick: str | None
    customer_id: str | None
    pseudonym: str | None
    purpose: str | None
    fields: tuple[str, ...]
    request_id: str | None
    actor: str

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "at": self.at.isoformat(),
            "action": self.action,
            "brick": self.brick,
            "customer_id": self.customer_id,
            "pseudonym": self.pseudonym,
            "purpose": self.purpose,
            "fields": list(self.fields),
            "request_id": self.request_id,
            "actor": self.actor,
        }


def read_audit(
    engine: Engine,
    criteria: AuditFilter,
    *,
    limit: int | None = None,
    newest_first: bool = True,
) -> Iterator[AuditRow]:
    """Matching rows, newest first by default (ties broken by id, so the order is stable).

    Streams from the database: a million-row answer is never held in memory at once.
    """
    query = select(_AUDIT)
    if criteria.brick is not None:
        query = query.where(_AUDIT.c.brick == criteria.brick)
    if criteria.customer_ids:
        query = query.where(_AUDIT.c.customer_id.in_(sorted(set(criteria.customer_ids))))
    if criteria.action is not None:
        query = query.where(_AUDIT.c.action == criteria.action)
    if criteria.since is not None:
        query = query.where(_AUDIT.c.at >= criteria.since)
    if criteria.until is not None:
        query = query.where(_AUDIT.c.at < criteria.until)
    if newest_first:
        query = query.order_by(_AUDIT.c.at.desc(), _AUDIT.c.id.desc())
    else:
        query = query.order_by(_AUDIT.c.at, _AUDIT.c.id)
    if limit is not None:
        query = query.limit(limit)
    with engine.connect() as connection:
        result = connection.execution_options(yield_per=1000).execute(query)
        for row in result:
            yield AuditRow(
                id=row.id,
                at=row.at,
                action=row.action,
                brick=row.brick,
                customer_id=row.customer_id,
                pseudonym=row.pseudonym,
                purpose=row.purpose,
                fields=tuple(f for f in (row.fields or "").split(",") if f),
                request_id=row.request_id,
                actor=row.actor,
            )
