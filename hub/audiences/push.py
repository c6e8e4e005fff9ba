"""``hub audiences push NAME --to BRICK``: hand a DMP the current members of an audience.

Members travel keyed by the brick's own pseudonym and the site cookies the hub matched to the
person (cookie matching, docs/identity-and-privacy.md), never by email or hub id. The push is
the whole membership, so the brick can also drop people who left the audience. Only a brick
configured for the audience's purpose receives anything, and every member transferred gets an
egress audit row (field names only) under one request id.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from contracts import (
    Audience,
    AudienceMember,
    AudienceSink,
    BrickError,
    Capability,
    IdentifierKind,
)
from hub.audiences.members import compute_members
from hub.dead_letters import store_dead_letter
from hub.identity.cookies import linked_cookies
from hub.identity.service import IdentityService
from hub.retries import RetryPolicy, call_with_retries
from hub.runtime import Runtime
from hub.storage.db import chunks, session_scope
from hub.storage.models import AuditEntry, BrickPseudonym, table
from hub.storage.types import utcnow

__all__ = ["DEAD_LETTER_KIND", "AudienceError", "PushReport", "push_audience"]

DEAD_LETTER_KIND = "audience_push"


class AudienceError(Exception):
    """The push cannot start: ``field`` names the culprit (the audience or ``--to``)."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


@dataclass(frozen=True)
class PushReport:
    audience: str
    brick: str
    at: datetime
    members: int
    #: Members sent with at least one matched cookie id (the others by pseudonym only).
    with_cookies: int
    #: Matched the criteria but have not granted the audience's purpose: not pushed.
    without_consent: int
    dry_run: bool
    request_id: str


def _sink(runtime: Runtime, brick: str, purpose_name: str) -> AudienceSink:
    configured = runtime.bricks.get(brick)
    if configured is None or not configured.enabled:
        state = "not configured" if configured is None else configured.status
        raise AudienceError("--to", f"brick {brick!r} is {state}")
    if Capability.AUDIENCE_SINK not in configured.cls.capabilities:
        raise AudienceError("--to", f"brick {brick!r} is not an audience sink")
    if purpose_name not in {p.value for p in configured.purposes}:
        raise AudienceError(
            "--to", f"brick {brick!r} is not configured for the {purpose_name} purpose"
        )
    instance = runtime.brick(brick)
    if not isinstance(instance, AudienceSink):
        raise AudienceError("--to", f"brick {brick!r} does not implement push()")
    return instance


def pseudonyms_for(
    session: Session, identity: IdentityService, brick: str, customer_ids: Sequence[str]
) -> dict[str, str]:
    """The brick's pseudonyms of many customers, recording new ones for the reverse lookup in
    bulk (``IdentityService.pseudonym_for`` does the same one customer at a time)."""
    wanted = {c: identity.keys.pseudonym(brick, c) for c in customer_ids}
    known: set[str] = set()
    for chunk in chunks(sorted(wanted.values())):
        known.update(
            session.exec(
                select(BrickPseudonym.pseudonym).where(
                    BrickPseudonym.brick == brick, col(BrickPseudonym.pseudonym).in_(chunk)
                )
            )
        )
    fresh = [
        {"brick": brick, "pseudonym": p, "customer_id": c, "created_at": utcnow()}
        for c, p in wanted.items()
        if p not in known
    ]
    if fresh:
        session.execute(table(BrickPseudonym).insert(), fresh)
    return wanted


def _audit(
    session: Session, report: PushReport, members: list[tuple[str, AudienceMember]], purpose: str
) -> None:
    rows = [
        {
            "at": report.at,
            "action": "egress",
            "actor": f"audience:{report.audience}",
            "customer_id": customer_id,
            "brick": report.brick,
            "pseudonym": member.pseudonym,
            "fields": "audience,cookie_ids" if member.cookie_ids else "audience",
            "purpose": purpose,
            "request_id": report.request_id,
        }
        for customer_id, member in members
    ]
    for start in range(0, len(rows), 1000):
        session.execute(table(AuditEntry).insert(), rows[start : start + 1000])


async def push_audience(
    runtime: Runtime,
    name: str,
    brick: str,
    *,
    at: datetime | None = None,
    dry_run: bool = False,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    dead_letter: bool = True,
) -> PushReport:
    """Compute and push; raises ``AudienceError`` before anything leaves, or the brick's error
    once the core's retries are spent (dead-lettered, unless ``dead_letter`` is off: a replay
    keeps its own letter; pushing again re-sends the membership)."""
    definition = runtime.settings.audiences.get(name)
    if definition is None:
        known = ", ".join(sorted(runtime.settings.audiences)) or "none"
        raise AudienceError(f"audiences.{name}", f"no such audience (defined: {known})")
    sink = _sink(runtime, brick, definition.purpose.value)
    namespaces: frozenset[str] | None = getattr(sink, "cookie_namespaces", None)
    at = at or utcnow()
    with session_scope(runtime.ready_engine()) as session:
        found = compute_members(session, runtime.vault, name, definition, at=at)
        pseudonyms = pseudonyms_for(session, runtime.identity, brick, found.members)
        cookies = linked_cookies(session, runtime.identity, found.members, now=at)
    members = [
        (
            customer_id,
            AudienceMember(
                pseudonym=pseudonyms[customer_id],
                cookie_ids=sorted(
                    {
                        c.value
                        for c in cookies.get(customer_id, [])
                        if c.kind is IdentifierKind.SITE_COOKIE
                        and (namespaces is None or c.namespace in namespaces)
                    }
                ),
            ),
        )
        for customer_id in found.members
    ]
    report = PushReport(
        audience=name,
        brick=brick,
        at=at,
        members=len(members),
        with_cookies=sum(1 for _, m in members if m.cookie_ids),
        without_consent=found.without_consent,
        dry_run=dry_run,
        request_id=uuid.uuid4().hex,
    )
    if dry_run:
        return report
    audience = Audience(name=name, description=definition.description)
    try:
        await call_with_retries(
            lambda: sink.push(audience, [m for _, m in members]),
            RetryPolicy.from_settings(runtime.settings.sending),
            what=f"{brick}.push",
            sleep=sleep,
        )
    except BrickError as exc:
        with session_scope(runtime.engine) as session:
            # Part of the membership may have reached the vendor before it failed.
            _audit(session, report, members, definition.purpose.value)
            if dead_letter:
                store_dead_letter(
                    session,
                    runtime.vault,
                    kind=DEAD_LETTER_KIND,
                    source=brick,
                    reference=f"{name}:{report.request_id}",
                    reason=f"{type(exc).__name__}: {exc}"[:1000],
                    payload={"audience": name, "brick": brick, "members": len(members)},
                )
        raise
    with session_scope(runtime.engine) as session:
        _audit(session, report, members, definition.purpose.value)
    return report
