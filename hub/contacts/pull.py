"""``hub contacts pull``: read a ``ContactSource`` brick page by page, cursor kept by the core.

The first half of a contact sync (``hub contacts sync`` pushes what was pulled to sinks). Each
page is applied (identities resolved, profile, attributes and consents stored) in one
transaction together with the cursor that follows it, so a crash leaves the cursor on the last
page really stored and the next pull asks for the same page again: applying a contact twice
changes nothing the second time. A contact the core cannot store is dead-lettered with the
field and reason, in that same transaction; nothing is dropped.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from contracts import Capability, ContactPage, ContactSource
from hub.contacts.apply import ContactRejected, apply_contacts
from hub.dead_letters import store_dead_letter
from hub.events.cursors import advance_cursor, read_cursor
from hub.paging import drain_pages, store_page_once_more_on_collision
from hub.retries import RetryPolicy
from hub.runtime import Runtime
from hub.storage.db import session_scope
from hub.storage.types import utcnow

__all__ = [
    "CONTACTS_STREAM",
    "DEAD_LETTER_KIND",
    "NotAContactSource",
    "PullReport",
    "RejectedContact",
    "contact_source",
    "pull_contacts",
]

#: The stream name of ``ContactSource.read_changes`` cursors in ``source_cursors``.
CONTACTS_STREAM = "contacts"
DEAD_LETTER_KIND = "contact"


class NotAContactSource(Exception):
    """The brick is unknown, disabled, or does not declare the ``contact_source`` capability."""


@dataclass(frozen=True)
class RejectedContact:
    #: Position among the contacts received in this run, across pages.
    index: int
    field: str
    reason: str
    dead_letter_id: int


@dataclass
class PullReport:
    brick: str
    pages: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    #: Contacts naming an erased person's contact point: kept as a suppressed record only.
    suppressed: int = 0
    rejected: list[RejectedContact] = field(default_factory=list)
    #: Customers created or updated, in the order they were applied (for the sync's push).
    changed_customers: list[str] = field(default_factory=list)
    cursor: str | None = None
    has_more: bool = False

    @property
    def read(self) -> int:
        return (
            self.created + self.updated + self.unchanged + self.suppressed + len(self.rejected)
        )


def contact_source(runtime: Runtime, name: str) -> ContactSource:
    try:
        brick = runtime.brick(name)
    except KeyError as exc:
        raise NotAContactSource(str(exc.args[0])) from None
    if Capability.CONTACT_SOURCE not in brick.capabilities or not isinstance(brick, ContactSource):
        raise NotAContactSource(f"brick {name!r} is not a contact source")
    return brick


def _store_page(
    runtime: Runtime, name: str, page: ContactPage, offset: int, report: PullReport
) -> None:
    now = utcnow()
    with session_scope(runtime.ready_engine()) as session:
        results = apply_contacts(session, runtime.identity, page.records, source=name, now=now)
        part = PullReport(brick=name)
        for index, (contact, result) in enumerate(zip(page.records, results, strict=True)):
            if isinstance(result, ContactRejected):
                letter = store_dead_letter(
                    session,
                    runtime.vault,
                    kind=DEAD_LETTER_KIND,
                    source=name,
                    reference=f"{name}:{offset + index}",
                    field=f"records.{index}.{result.field}",
                    reason=result.reason,
                    payload=contact.model_dump(mode="json"),
                )
                part.rejected.append(
                    RejectedContact(offset + index, result.field, result.reason, letter.id or 0)
                )
                continue
            if result.suppressed:
                part.suppressed += 1
                continue
            setattr(part, result.status, getattr(part, result.status) + 1)
            if result.status != "unchanged":
                part.changed_customers.append(result.customer_id)
        if page.next_cursor is not None:
            advance_cursor(session, name, CONTACTS_STREAM, page.next_cursor)
    # Only a committed page counts.
    report.created += part.created
    report.updated += part.updated
    report.unchanged += part.unchanged
    report.suppressed += part.suppressed
    report.rejected.extend(part.rejected)
    report.changed_customers.extend(part.changed_customers)


async def pull_contacts(
    runtime: Runtime,
    brick: str,
    *,
    max_pages: int | None = None,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    progress: Callable[[int], None] | None = None,
) -> PullReport:
    """Pull until the brick has nothing more (or ``max_pages``); raises ``NotAContactSource``,
    or the brick's error once the core's retries are spent (pages stored so far stay)."""
    source = contact_source(runtime, brick)
    with session_scope(runtime.ready_engine()) as session:
        cursor = read_cursor(session, brick, CONTACTS_STREAM)
    report = PullReport(brick=brick, cursor=cursor)

    def store(page: ContactPage) -> None:
        offset = report.read
        store_page_once_more_on_collision(
            lambda: _store_page(runtime, brick, page, offset, report),
            what="contact page",
            brick=brick,
        )
        if progress is not None:
            progress(len(page.records))

    drained = await drain_pages(
        source.read_changes,
        store,
        cursor=cursor,
        policy=RetryPolicy.from_settings(runtime.settings.sending),
        what=f"{brick}.read_changes",
        sleep=sleep,
        max_pages=max_pages,
    )
    report.pages, report.cursor, report.has_more = drained.pages, drained.cursor, drained.has_more
    return report
