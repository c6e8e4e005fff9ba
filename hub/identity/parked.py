"""Anonymous events parked until their cookie is linked, then replayed by the hub itself.

A page view carrying only a site cookie the hub does not know yet cannot be stored against
anyone: intake refuses it and keeps it as an ``event`` dead letter (nothing is lost), and this
module files that letter under the digest of each of its cookies (``parked_letters``). When a
verified link attaches one of those cookies (a login event, a link source's match), the hub
replays the parked letters of that digest in the same transaction, through the door they came
by: the page views end up in ``customer_events`` under the customer who just logged in.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlalchemy import delete
from sqlmodel import Session, col, select

from hub.dead_letters import open_payload
from hub.logs import get_logger
from hub.storage.db import chunks
from hub.storage.models import DeadLetter, ParkedLetter, table

if TYPE_CHECKING:
    from hub.events.intake import IntakeReport
    from hub.runtime import Runtime

__all__ = ["ParkedReplay", "park_letter", "replay_parked"]

log = get_logger(__name__)

@dataclass
class ParkedReplay:
    #: Letters now ``replayed`` (their event stored, or found stored already).
    replayed: list[int] = field(default_factory=list)
    #: Letters replayed but refused again (they stay ``pending`` with the new reason).
    still_pending: list[int] = field(default_factory=list)


def park_letter(session: Session, letter_id: int | None, rejection: Exception) -> None:
    """File an event letter under its unknown cookies' digests (when the refusal has them)."""
    digests = sorted(set(getattr(rejection, "digests", ())))
    if letter_id is None or not digests:
        return
    session.execute(
        table(ParkedLetter).insert(),
        [{"digest": digest, "dead_letter_id": letter_id} for digest in digests],
    )


def _parked(session: Session, digests: Iterable[str]) -> list[DeadLetter]:
    ids: set[int] = set()
    for chunk in chunks(sorted(set(digests))):
        ids.update(
            session.exec(
                select(ParkedLetter.dead_letter_id).where(col(ParkedLetter.digest).in_(chunk))
            )
        )
    letters: list[DeadLetter] = []
    for chunk in chunks(sorted(ids)):
        letters.extend(
            session.exec(
                select(DeadLetter)
                .where(
                    col(DeadLetter.id).in_(chunk),
                    DeadLetter.status == "pending",
                    DeadLetter.kind == "event",
                )
                .execution_options(populate_existing=True)
            )
        )
    return sorted(letters, key=lambda letter: letter.id or 0)


def replay_parked(
    session: Session,
    runtime: Runtime,
    digests: Iterable[str],
    into: IntakeReport | None = None,
) -> ParkedReplay:
    """Replay, in ``session``, the pending letters parked under ``digests`` (oldest first).

    Events stored are added to ``into.stored`` / ``into.envelopes`` (the caller tells the
    observers after commit); ``accepted`` and ``rejected`` stay about the caller's own events.
    A replayed event that is refused again stays ``pending`` with its new field and reason.
    """
    done = ParkedReplay()
    letters = _parked(session, digests)
    start = 0
    while start < len(letters):
        end = start + 1
        while end < len(letters) and letters[end].source == letters[start].source:
            end += 1
        _replay_run(session, runtime, letters[start:end], into, done)
        start = end
    if letters:
        log.info(
            "parked events replayed",
            replayed=len(done.replayed),
            still_pending=len(done.still_pending),
        )
    return done


def _replay_run(
    session: Session,
    runtime: Runtime,
    letters: list[DeadLetter],
    into: IntakeReport | None,
    done: ParkedReplay,
) -> None:
    """One intake call for letters that came through the same door (a brick's letters go
    back as that brick's events)."""
    # Imported here: intake calls this module, and this module calls intake back. Parked
    # events are anonymous, so replaying them links nothing and the recursion stops there.
    from hub.events.intake import ingest_in_session

    items = [(index, open_payload(runtime.vault, letter)) for index, letter in enumerate(letters)]
    report = ingest_in_session(
        session, runtime, items, source=letters[0].source, dead_letters=False
    )
    refused = {r.index: r for r in report.rejected}
    for index, letter in enumerate(letters):
        assert letter.id is not None
        rejection = refused.get(index)
        if rejection is None:
            letter.status = "replayed"
            done.replayed.append(letter.id)
        else:
            letter.field = rejection.field[:128] if rejection.field else None
            letter.reason = rejection.reason[:1000]
            done.still_pending.append(letter.id)
        session.add(letter)
    session.flush()
    finished = [letter.id for letter in letters if letter.status == "replayed"]
    for chunk in chunks(finished):
        session.execute(delete(ParkedLetter).where(col(ParkedLetter.dead_letter_id).in_(chunk)))
    if into is not None:
        into.stored.extend(report.stored)
        into.envelopes.extend(report.envelopes)
