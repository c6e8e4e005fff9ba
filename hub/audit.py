"""The audit log: every transfer of customer data out of the core, and every reveal.

Rows hold field *names*, pseudonyms and purposes, never values, so the audit log itself is not
a second copy of the personal data it protects.
"""

from __future__ import annotations

import getpass
import os
from collections.abc import Iterable

from sqlmodel import Session

from hub.storage.models import AuditEntry

__all__ = ["current_actor", "record_audit"]


def current_actor() -> str:
    """Who is acting: ``HUB_ACTOR`` (set by services) or the OS user running the CLI."""
    explicit = os.environ.get("HUB_ACTOR")
    if explicit:
        return explicit[:128]
    try:
        return f"user:{getpass.getuser()}"[:128]
    except (KeyError, OSError):
        return "user:unknown"


def record_audit(
    session: Session,
    *,
    action: str,
    customer_id: str | None = None,
    brick: str | None = None,
    pseudonym: str | None = None,
    fields: Iterable[str] = (),
    purpose: str | None = None,
    request_id: str | None = None,
    actor: str | None = None,
) -> AuditEntry:
    entry = AuditEntry(
        action=action,
        actor=actor or current_actor(),
        customer_id=customer_id,
        brick=brick,
        pseudonym=pseudonym,
        fields=",".join(sorted(fields)),
        purpose=purpose,
        request_id=request_id,
    )
    session.add(entry)
    return entry
