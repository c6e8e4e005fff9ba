"""Replay ``contact`` and ``identity_link`` dead letters: what a source brick sent that the
core refused, applied again after a fix.

A contact a pull could not store (``hub contacts pull``, ``hub contacts sync --from``) and a
link an identity pull could not use (``hub identity pull``) are kept sealed with the field and
reason. Once the cause is fixed (a placeholder removed from ``[identity] junk_values``, a
``default_region`` set for local phone numbers), the replay applies the kept record exactly as
the pull would have, in one transaction with the letter's new status: ``replayed``, or still
``pending`` with the new field and reason. No second letter is written, and the source's
cursor does not move (the pull went past the record long ago).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from sqlmodel import Session

from contracts import Contact, IdentityLink
from hub.contacts.apply import ContactRejected, apply_contacts
from hub.contacts.pull import DEAD_LETTER_KIND as CONTACT_KIND
from hub.dead_letters import open_payload
from hub.events.intake import IntakeReport, notify_stored
from hub.events.letters import ReplayResult, check_pending, mark
from hub.identity.links import DEAD_LETTER_KIND as LINK_KIND
from hub.identity.links import apply_link
from hub.runtime import Runtime
from hub.storage.db import session_scope
from hub.storage.models import DeadLetter
from hub.storage.types import utcnow

__all__ = ["CONTACT_KIND", "LINK_KIND", "replay_contact", "replay_link"]

#: (outcome, field, reason, detail) of one replay.
_Outcome = tuple[str, str | None, str | None, dict[str, Any]]
M = TypeVar("M", bound=BaseModel)


def _invalid(exc: ValidationError) -> tuple[str, str]:
    """(field, reason) of the first problem of a kept record that no longer parses."""
    first = exc.errors()[0]
    return ".".join(str(part) for part in first["loc"]) or "record", first["msg"]


def _replay(
    runtime: Runtime,
    letter_id: int,
    kind: str,
    model: type[M],
    apply: Callable[[Session, DeadLetter, M], _Outcome],
) -> ReplayResult:
    """Open the pending letter, parse its record and ``apply`` it, then settle the letter, all
    in one transaction: ``replayed``, or still ``pending`` with the new field and reason."""
    with session_scope(runtime.ready_engine()) as session:
        letter = check_pending(session, letter_id, kind)
        try:
            record = model.model_validate(open_payload(runtime.vault, letter))
        except ValidationError as exc:
            outcome: _Outcome = ("rejected", *_invalid(exc), {})
        else:
            outcome = apply(session, letter, record)
        status, field, reason, detail = outcome
        mark(letter, replayed=status != "rejected", field=field, reason=reason)
        session.add(letter)
    return ReplayResult(
        letter_id,
        "pending" if status == "rejected" else "replayed",
        status,
        field,
        reason,
        kind=kind,
        detail=detail,
    )


def replay_contact(runtime: Runtime, letter_id: int) -> ReplayResult:
    """Apply a refused contact again; outcome ``created``, ``updated``, ``unchanged``,
    ``suppressed`` (an erased person's contact point) or ``rejected``."""

    def apply(session: Session, letter: DeadLetter, contact: Contact) -> _Outcome:
        [applied] = apply_contacts(
            session, runtime.identity, [contact], source=letter.source, now=utcnow()
        )
        if isinstance(applied, ContactRejected):
            return ("rejected", applied.field, applied.reason, {})
        status = "suppressed" if applied.suppressed else applied.status
        return (status, None, None, {"customer_id": applied.customer_id})

    return _replay(runtime, letter_id, CONTACT_KIND, Contact, apply)


def replay_link(runtime: Runtime, letter_id: int) -> ReplayResult:
    """Apply a refused identity link again; outcome ``linked`` (identifiers attached, links
    renewed or customers merged), ``skipped`` (with why, as a pull counts it) or
    ``rejected``. Anonymous events parked under a cookie it links are replayed too."""
    stored = IntakeReport()

    def apply(session: Session, letter: DeadLetter, link: IdentityLink) -> _Outcome:
        report = apply_link(session, runtime, letter.source, link, stored)
        if report.rejected:
            [refused] = report.rejected
            return ("rejected", refused.field.removeprefix("links.0."), refused.reason, {})
        detail = {
            "linked": report.linked,
            "refreshed": report.refreshed,
            "merged": report.merged,
            "skipped": dict(report.skipped),
            "events_replayed": report.replayed,
        }
        changed = report.linked or report.refreshed or report.merged
        return ("linked" if changed else "skipped", None, None, detail)

    result = _replay(runtime, letter_id, LINK_KIND, IdentityLink, apply)
    notify_stored(runtime, stored)
    return result
