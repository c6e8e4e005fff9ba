"""The dead letters ``hub events`` lists and replays, and the bookkeeping every replay shares.

Three kinds come through the hub's doors and can be sent again after a fix: ``event`` (an
event intake refused), ``webhook`` (a verified vendor call its brick could not read) and
``propagation`` (an opt-out a contact sink could not be told). Each replay ends the same way:
the letter becomes ``replayed``, or stays ``pending`` with the new field and reason. A replay
never creates a second letter for the same input.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from sqlalchemy import update
from sqlmodel import Session

from hub.dead_letters import list_dead_letters, open_payload
from hub.runtime import Runtime
from hub.storage.db import session_scope
from hub.storage.models import DeadLetter, table

__all__ = [
    "REPLAYABLE_KINDS",
    "DeadLetterNotFound",
    "Letter",
    "ReplayResult",
    "check_pending",
    "mark",
    "open_letter",
    "replayable_letters",
    "settle",
]

#: The kinds ``hub events replay`` knows how to send again, in listing order.
REPLAYABLE_KINDS = (
    "event", "webhook", "propagation", "contact", "identity_link", "audience_push"
)


class DeadLetterNotFound(Exception):
    """No replayable dead letter with that id, or it was already replayed."""


@dataclass(frozen=True)
class ReplayResult:
    id: int
    status: Literal["replayed", "pending"]
    #: event: ``accepted``, ``duplicate``, ``rejected``; webhook: ``stored``, ``rejected``;
    #: propagation: ``propagated``, ``failed``; contact: ``created``, ``updated``,
    #: ``unchanged``, ``suppressed``, ``rejected``; identity_link: ``linked``, ``skipped``,
    #: ``rejected``; audience_push: ``pushed``, ``failed``.
    outcome: str
    field: str | None
    reason: str | None
    event_id: int | None = None
    kind: str = "event"
    #: Still pending because the vendor failed after the core's retries (the CLI exits 4).
    vendor_failed: bool = False
    #: webhook: the outcome and event counts; propagation: the brick told; contact: the
    #: customer id; identity_link: what the link changed; audience_push: the audience, the
    #: brick and, once pushed, the member counts.
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Letter:
    """A pending letter, opened: its door (``source``) and its unsealed payload."""

    id: int
    kind: str
    source: str
    payload: Any


def replayable_letters(
    session: Session, *, kind: str | None = None, status: str | None = "pending"
) -> list[DeadLetter]:
    """Letters of ``kind`` (default: every replayable kind), oldest first."""
    if kind is not None:
        return list_dead_letters(session, kind=kind, status=status)
    letters = list_dead_letters(session, status=status)
    return [letter for letter in letters if letter.kind in REPLAYABLE_KINDS]


def _not_found(letter_id: int, letter: DeadLetter | None) -> DeadLetterNotFound | None:
    if letter is None:
        return DeadLetterNotFound(f"no dead letter #{letter_id}")
    if letter.kind not in REPLAYABLE_KINDS:
        kinds = ", ".join(REPLAYABLE_KINDS)
        return DeadLetterNotFound(
            f"dead letter #{letter_id} is of kind {letter.kind!r}: "
            f"hub events replay replays {kinds} letters"
        )
    if letter.status != "pending":
        return DeadLetterNotFound(f"dead letter #{letter_id} is already {letter.status}")
    return None


def open_letter(runtime: Runtime, letter_id: int) -> Letter:
    """The pending replayable letter ``letter_id``, unsealed; raises ``DeadLetterNotFound``."""
    with session_scope(runtime.ready_engine()) as session:
        letter = session.get(DeadLetter, letter_id)
        problem = _not_found(letter_id, letter)
        if problem is not None:
            raise problem
        assert letter is not None
        return Letter(letter_id, letter.kind, letter.source, open_payload(runtime.vault, letter))


def check_pending(session: Session, letter_id: int, kind: str | None = None) -> DeadLetter:
    """The letter, locked for the caller's transaction; raises ``DeadLetterNotFound``."""
    letter = session.get(DeadLetter, letter_id, with_for_update=True)
    problem = _not_found(letter_id, letter)
    if problem is not None:
        raise problem
    assert letter is not None
    if kind is not None and letter.kind != kind:
        raise DeadLetterNotFound(f"dead letter #{letter_id} is not of kind {kind!r}")
    return letter


def mark(letter: DeadLetter, *, replayed: bool, field: str | None, reason: str | None) -> None:
    """In the caller's transaction (the letter locked by ``check_pending``): ``replayed``, or
    still pending with the new field and reason."""
    if replayed:
        letter.status = "replayed"
    else:
        letter.field = field[:128] if field else None
        letter.reason = (reason or "")[:1000]


def settle(
    runtime: Runtime, letter_id: int, *, replayed: bool, field: str | None, reason: str | None
) -> None:
    """Mark a letter ``replayed``, or keep it ``pending`` with the new field and reason.

    Only a pending letter changes: when two operators replay one letter at once, both
    deliveries are harmless (outcomes and events are de-duplicated, upserts idempotent) and
    the first to finish settles it.
    """
    letters = table(DeadLetter)
    if replayed:
        values: dict[str, Any] = {"status": "replayed"}
    else:
        values = {"field": field[:128] if field else None, "reason": (reason or "")[:1000]}
    with session_scope(runtime.ready_engine()) as session:
        session.execute(
            update(letters)
            .where(letters.c.id == letter_id, letters.c.status == "pending")
            .values(**values)
        )
