"""``hub events replay``: send a dead letter back through the door it came by, after a fix.

An ``event`` letter goes back through intake, in one transaction with the letter's new
status: ``replayed`` when the event is now accepted (or was stored meanwhile, a duplicate),
otherwise still ``pending`` with the new field and reason. ``webhook``, ``propagation``,
``contact``, ``identity_link`` and ``audience_push`` letters have their own replays
(``replay_webhook``, ``replay_propagation``, ``hub.events.replay_sources``,
``replay_audience``); all end the same way, and a replay never creates a second dead letter
for the same input.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from hub.dead_letters import open_payload
from hub.events.intake import DEAD_LETTER_KIND, IntakeReport, ingest_in_session, notify_stored
from hub.events.letters import (
    DeadLetterNotFound,
    ReplayResult,
    check_pending,
    mark,
    open_letter,
)
from hub.events.replay_audience import replay_audience
from hub.events.replay_propagation import replay_propagation
from hub.events.replay_sources import CONTACT_KIND, LINK_KIND, replay_contact, replay_link
from hub.events.replay_webhook import replay_webhook
from hub.runtime import Runtime
from hub.storage.db import session_scope

__all__ = [
    "DeadLetterNotFound",
    "ReplayResult",
    "replay_dead_letter",
    "replay_event",
]


def replay_dead_letter(runtime: Runtime, letter_id: int) -> ReplayResult:
    """Replay one pending letter of any replayable kind; raises ``DeadLetterNotFound``."""
    letter = open_letter(runtime, letter_id)
    if letter.kind == "webhook":
        return replay_webhook(runtime, letter)
    if letter.kind == "propagation":
        return replay_propagation(runtime, letter)
    if letter.kind == CONTACT_KIND:
        return replay_contact(runtime, letter_id)
    if letter.kind == LINK_KIND:
        return replay_link(runtime, letter_id)
    if letter.kind == "audience_push":
        return replay_audience(runtime, letter)
    return replay_event(runtime, letter_id)


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


def replay_event(runtime: Runtime, letter_id: int) -> ReplayResult:
    """Re-submit one pending event dead letter; raises ``DeadLetterNotFound``."""
    report = IntakeReport()
    with session_scope(runtime.ready_engine()) as session:
        letter = check_pending(session, letter_id, DEAD_LETTER_KIND)
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
        mark(letter, replayed=outcome != "rejected", field=field, reason=reason)
        session.add(letter)
    notify_stored(runtime, report)
    return ReplayResult(
        id=letter_id,
        status="replayed" if outcome != "rejected" else "pending",
        outcome=outcome,
        field=field,
        reason=reason,
        # ``stored`` may go on with parked events this one's cookies brought back: its own
        # event, when accepted, comes first.
        event_id=report.stored[0].id if report.accepted else None,
    )
