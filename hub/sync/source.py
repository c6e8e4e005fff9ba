"""The source half of a sync: ``hub contacts pull``, or its dry-run preview.

A real run is exactly ``pull_contacts`` (each page stored with its cursor in one transaction).
A dry run reads the same pages from the source's stored cursor (a read at the vendor) and
applies them inside the dry run's own transaction, which is rolled back at the end: the push
half then sees the pulled changes, so the summary is the one a real run would print, and
nothing is kept (no customer, no consent, no dead letter, no cursor).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from sqlmodel import Session

from contracts import BrickError, ContactPage
from hub.contacts.apply import ContactRejected, apply_contacts
from hub.contacts.pull import CONTACTS_STREAM, PullReport, RejectedContact, contact_source
from hub.events.cursors import read_cursor
from hub.paging import drain_pages
from hub.retries import RetryPolicy
from hub.runtime import Runtime
from hub.storage.types import utcnow

__all__ = ["preview_pull"]


async def preview_pull(
    runtime: Runtime,
    session: Session,
    brick: str,
    *,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    progress: Callable[[int], None] | None = None,
) -> tuple[PullReport, str | None]:
    """Apply the source's pages in ``session`` (the caller rolls it back); returns the report
    and the source's error once the retries are spent (pages applied before stay applied)."""
    source = contact_source(runtime, brick)
    cursor = read_cursor(session, brick, CONTACTS_STREAM)
    report = PullReport(brick=brick, cursor=cursor)

    def store(page: ContactPage) -> None:
        offset = report.read
        results = apply_contacts(
            session, runtime.identity, page.records, source=brick, now=utcnow()
        )
        for index, result in enumerate(results):
            if isinstance(result, ContactRejected):
                report.rejected.append(
                    RejectedContact(offset + index, result.field, result.reason, 0)
                )
                continue
            if result.suppressed:
                report.suppressed += 1  # an erased person's contact point: never pushed
                continue
            setattr(report, result.status, getattr(report, result.status) + 1)
            if result.status != "unchanged":
                report.changed_customers.append(result.customer_id)
        if progress is not None:
            progress(len(page.records))

    try:
        drained = await drain_pages(
            source.read_changes,
            store,
            cursor=cursor,
            policy=RetryPolicy.from_settings(runtime.settings.sending),
            what=f"{brick}.read_changes",
            sleep=sleep,
        )
    except BrickError as exc:
        return report, f"{type(exc).__name__}: {exc}"[:1000]
    report.pages, report.cursor, report.has_more = drained.pages, drained.cursor, drained.has_more
    return report, None
