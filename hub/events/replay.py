"""Event dead letters: list them (never their payload) and replay one after a fix.

A replay opens the sealed payload and sends it back through intake, through the same door
(``source``) it first came in by, in one transaction with the letter's new status: ``replayed``
when the event is now accepted (or was stored meanwhile, a duplicate), otherwise still
``pending`` with the new field and reason. A replay never creates a second dead letter.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

from sqlmodel import Session

from hub.dead_letters import list_dead_letters, open_payload
from hub.events.intake import DEAD_LETTER_KIND, IntakeReport, ingest_in_session, notify_stored
from hub.runtime import Runtime
from hub.storage.db import session_scope
from hub.storage.models import DeadLetter

__all__ = ["DeadLetterNotFound", "ReplayResult", "event_dead_letters", "replay_dead_letter"]


class DeadLetterNotFound(Exception):
    """No event dead letter with that id, or it was already replayed."""


@dataclass(frozen=True)
class ReplayResult:
    id: int
    status: Literal["replayed", "pending"]
    #: ``accepted``, ``duplicate`` or ``rejected``.
    outcome: str
    field: str | None
    reason: str | None
    event_id: int | None


def event_dead_letters(session: Session, *, status: str | None = "pending") -> list[DeadLetter]:
    return list_dead_letters(session, kind=DEAD_LETTER_KIND, status=status)


def _as_event(payload: Any) -> Any:
    """A line that was not JSON was kept as text: it may parse now (it never changes, but the
    answer stays honest and the letter keeps its reason)."""
    if isinstance(payload, str):
        try:
            return json.loads(payload)
        except json.JSONDecodeError as exc:
            return _Unreadable(f"invalid JSON: {exc.msg}")
    return payload


@dataclass(frozen=True)
class _Unreadable:
    reason: str


def replay_dead_letter(runtime: Runtime, letter_id: int) -> ReplayResult:
    """Re-submit one pending event dead letter; raises ``DeadLetterNotFound``."""
    report = IntakeReport()
    with session_scope(runtime.ready_engine()) as session:
        letter = session.get(DeadLetter, letter_id, with_for_update=True)
        if letter is None or letter.kind != DEAD_LETTER_KIND:
            raise DeadLetterNotFound(f"no event dead letter #{letter_id}")
        if letter.status != "pending":
            raise DeadLetterNotFound(f"event dead letter #{letter_id} is already {letter.status}")
        event = _as_event(open_payload(runtime.vault, letter))
        if isinstance(event, _Unreadable):
            field, reason, outcome = None, event.reason, "rejected"
        else:
            report = ingest_in_session(
                session, runtime, [(0, event)], source=letter.source, dead_letters=False
            )
            if report.rejected:
                field, reason = report.rejected[0].field, report.rejected[0].reason
                outcome = "rejected"
            else:
                field, reason = None, None
                outcome = "accepted" if report.accepted else "duplicate"
        if outcome == "rejected":
            letter.field = field[:128] if field else None
            letter.reason = (reason or "")[:1000]
        else:
            letter.status = "replayed"
        session.add(letter)
    notify_stored(runtime, report)
    return ReplayResult(
        id=letter_id,
        status="replayed" if outcome != "rejected" else "pending",
        outcome=outcome,
        field=field,
        reason=reason,
        event_id=report.stored[0].id if report.stored else None,
    )
