"""Dead letters: input the hub refused, kept with the reason so nothing is lost silently.

Payloads may hold personal data (a malformed import row still has an email in it), so they are
sealed with a core key and only opened for replay; the reason names the field, never a value.
"""

from __future__ import annotations

import json
from typing import Any

from sqlmodel import Session, col, select

from hub.identity.vault import Vault
from hub.storage.models import DeadLetter

__all__ = ["list_dead_letters", "open_payload", "store_dead_letter"]

_PURPOSE = "dead-letters"


def store_dead_letter(
    session: Session,
    vault: Vault,
    *,
    kind: str,
    source: str,
    reference: str,
    reason: str,
    payload: Any,
    field: str | None = None,
) -> DeadLetter:
    blob = vault.seal_system(_PURPOSE, json.dumps(payload, default=str).encode("utf-8"))
    entry = DeadLetter(
        kind=kind,
        source=source[:128],
        reference=reference[:256],
        field=field,
        reason=reason[:1000],
        payload=blob,
    )
    session.add(entry)
    session.flush()
    return entry


def open_payload(vault: Vault, entry: DeadLetter) -> Any:
    return json.loads(vault.open_system(_PURPOSE, entry.payload))


def list_dead_letters(
    session: Session, *, kind: str | None = None, status: str | None = "pending"
) -> list[DeadLetter]:
    query = select(DeadLetter).order_by(col(DeadLetter.id))
    if kind:
        query = query.where(DeadLetter.kind == kind)
    if status:
        query = query.where(DeadLetter.status == status)
    return list(session.exec(query))
