"""``hub identity pull``: read a DMP's identity links (cookie matching) into the core.

An ``IdentityLinkSource`` brick reports ``IdentityLink``s: identifiers it saw together, with the
evidence (a login, a purchase, a newsletter click, or only anonymous co-occurrence). The core
reads them page by page through its retries (bricks never retry), and stores each page's
effects and the page's ``next_cursor`` (stream ``links`` in ``source_cursors``) in one
transaction, so a crash re-reads at most one page, which links idempotently.

Per link:

* ``anonymous`` evidence -> skipped (counted, never linked: a co-occurrence proves nothing);
* a junk or invalid identifier -> the link is refused and dead-lettered (kind
  ``identity_link``, field ``links.<n>.identifiers.<m>.value``), nothing of it applied;
* identifiers all unknown and none a verified email / phone / shop id / CRM id -> skipped
  (``unknown person``); identifiers naming different customers with nothing verified to
  make them one -> skipped (``conflict``);
* otherwise the unknown identifiers are attached to the customer (cookies for ``link_ttl``
  after ``observed_at``, renewed by each new proof), and verified identifiers naming two
  customers merge them (``hub.identity.merges``). Events parked on a cookie just linked are
  replayed in the same transaction.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from sqlmodel import Session

from contracts import Capability, IdentityLink, IdentityLinkPage, IdentityLinkSource, LinkEvidence
from hub.dead_letters import store_dead_letter
from hub.events.cursors import advance_cursor, read_cursor
from hub.events.intake import IntakeReport, notify_stored
from hub.identity.normalize import InvalidIdentifier
from hub.identity.parked import replay_parked
from hub.identity.resolution import Claim, IdentityConflict, NormalisedIdentifier
from hub.identity.service import Resolution
from hub.logs import get_logger
from hub.paging import drain_pages, store_page_once_more_on_collision
from hub.retries import RetryPolicy
from hub.runtime import Runtime
from hub.storage.db import session_scope

__all__ = [
    "DEAD_LETTER_KIND",
    "LINKS_STREAM",
    "LinkRejection",
    "LinkReport",
    "NotALinkSource",
    "apply_link",
    "pull_links",
]

log = get_logger(__name__)

#: The stream name of ``IdentityLinkSource.read_links`` cursors.
LINKS_STREAM = "links"
DEAD_LETTER_KIND = "identity_link"


class NotALinkSource(Exception):
    """The brick is unknown, disabled, or lacks the ``identity_link_source`` capability."""


@dataclass(frozen=True)
class LinkRejection:
    """Link number ``index`` of this run was refused (and dead-lettered)."""

    index: int
    field: str
    reason: str
    dead_letter_id: int | None


@dataclass
class LinkReport:
    brick: str
    pages: int = 0
    #: Links read.
    links: int = 0
    #: Identifiers newly attached to a customer (cookies linked or moved, new ids).
    linked: int = 0
    #: Cookie links renewed by new proof (their expiry pushed back).
    refreshed: int = 0
    #: Customers merged (one per ``identity_merges`` row written).
    merged: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    rejected: list[LinkRejection] = field(default_factory=list)
    #: Parked anonymous events replayed because a cookie of theirs got linked.
    replayed: int = 0
    cursor: str | None = None
    has_more: bool = False


def _link_source(runtime: Runtime, name: str) -> IdentityLinkSource:
    try:
        brick = runtime.brick(name)
    except KeyError as exc:
        raise NotALinkSource(str(exc.args[0])) from None
    if Capability.IDENTITY_LINK_SOURCE not in brick.capabilities or not isinstance(
        brick, IdentityLinkSource
    ):
        raise NotALinkSource(f"brick {name!r} is not an identity link source")
    return brick


def _normalised(
    runtime: Runtime, link: IdentityLink, index: int
) -> list[NormalisedIdentifier] | tuple[str, str]:
    """The link's identifiers normalised, or (field, reason) of the first bad one."""
    group = []
    for position, identifier in enumerate(link.identifiers):
        try:
            group.append(runtime.identity.normalise(identifier))
        except InvalidIdentifier as exc:
            return f"links.{index}.identifiers.{position}.value", f"{exc.kind}: {exc.reason}"
    return group


def _apply_page(
    session: Session,
    runtime: Runtime,
    brick: str,
    page: IdentityLinkPage,
    offset: int,
    report: LinkReport,
    stored: IntakeReport,
    *,
    dead_letters: bool = True,
) -> None:
    """Resolve the page's links; a refused one is dead-lettered (unless ``dead_letters`` is
    off: a replay keeps its own letter)."""
    claims: list[Claim] = []
    for index, link in enumerate(page.links, offset):
        if link.evidence is LinkEvidence.ANONYMOUS:
            report.skipped["anonymous"] += 1
            continue
        group = _normalised(runtime, link, index)
        if isinstance(group, tuple):
            path, reason = group
            letter_id = None
            if dead_letters:
                letter_id = store_dead_letter(
                    session,
                    runtime.vault,
                    kind=DEAD_LETTER_KIND,
                    source=brick,
                    reference=link.source_event_id or f"links.{index}",
                    field=path,
                    reason=reason,
                    payload=link.model_dump(mode="json"),
                ).id
            report.rejected.append(LinkRejection(index, path, reason, letter_id))
            continue
        claims.append(
            Claim.linked(
                group,
                evidence=link.evidence.value,
                seen_at=link.observed_at,
                reference=link.source_event_id,
            )
        )
    linked: set[str] = set()
    for result in runtime.identity.resolve_claims(session, claims, source=brick):
        if result is None:
            report.skipped["unknown person"] += 1
        elif isinstance(result, IdentityConflict):
            report.skipped["conflict"] += 1
        else:
            _count(report, result)
            linked.update(result.linked, result.refreshed)
    if linked:
        report.replayed += len(replay_parked(session, runtime, linked, stored).replayed)


def _count(report: LinkReport, result: Resolution) -> None:
    report.linked += result.new_identifiers
    report.refreshed += len(result.refreshed)
    report.merged += len(result.merges)
    if not (result.new_identifiers or result.refreshed or result.merges):
        report.skipped["already known"] += 1


def apply_link(
    session: Session, runtime: Runtime, brick: str, link: IdentityLink, stored: IntakeReport
) -> LinkReport:
    """One link, as a pull would apply it, in the caller's transaction, writing no dead
    letter (``hub events replay`` of an ``identity_link`` letter)."""
    report = LinkReport(brick=brick, links=1)
    page = IdentityLinkPage(links=[link], next_cursor=None)
    _apply_page(session, runtime, brick, page, 0, report, stored, dead_letters=False)
    return report


def _store_page(
    runtime: Runtime, brick: str, page: IdentityLinkPage, offset: int
) -> tuple[LinkReport, IntakeReport]:
    def write() -> tuple[LinkReport, IntakeReport]:
        part, stored = LinkReport(brick=brick), IntakeReport()
        with session_scope(runtime.ready_engine()) as session:
            _apply_page(session, runtime, brick, page, offset, part, stored)
            if page.next_cursor is not None:
                advance_cursor(session, brick, LINKS_STREAM, page.next_cursor)
        return part, stored

    return store_page_once_more_on_collision(write, what="link page", brick=brick)


async def pull_links(
    runtime: Runtime,
    brick: str,
    *,
    max_pages: int | None = None,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> LinkReport:
    """Read links until the brick has nothing more (or ``max_pages``); raises
    ``NotALinkSource``, or the brick's error once the core's retries are spent (pages
    stored so far stay)."""
    source = _link_source(runtime, brick)
    with session_scope(runtime.ready_engine()) as session:
        cursor = read_cursor(session, brick, LINKS_STREAM)
    report = LinkReport(brick=brick, cursor=cursor)

    def store(page: IdentityLinkPage) -> None:
        part, stored = _store_page(runtime, brick, page, report.links)
        notify_stored(runtime, stored)
        report.links += len(page.links)
        report.linked += part.linked
        report.refreshed += part.refreshed
        report.merged += part.merged
        report.skipped.update(part.skipped)
        report.rejected.extend(part.rejected)
        report.replayed += part.replayed

    drained = await drain_pages(
        source.read_links,
        store,
        cursor=cursor,
        policy=RetryPolicy.from_settings(runtime.settings.sending),
        what=f"{brick}.read_links",
        sleep=sleep,
        max_pages=max_pages,
    )
    report.pages, report.cursor, report.has_more = drained.pages, drained.cursor, drained.has_more
    log.info(
        "identity links pulled",
        brick=brick,
        links=report.links,
        linked=report.linked,
        merged=report.merged,
        rejected=len(report.rejected),
    )
    return report
