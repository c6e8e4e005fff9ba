"""What a page of the change feed means for one sink: push, unchanged, or skipped (and why).

Pure decisions over pre-read state, so the rules are tested without a database:

* only ``active`` customers are ever pushed (``erased``, ``suppressed``, ``objected`` and
  ``merged`` people never are: skipped as inactive);
* a customer without a granted marketing consent on one of the sink's channels is skipped by
  consent, unless the sink holds them as ``present``: then they are pushed once more with their
  opted-out channels and recorded ``unsubscribed`` (the hub never re-subscribes anyone);
* a view whose digest matches what the sink was last given is unchanged (unless ``full``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from sqlmodel import Session

from contracts import Channel, ConsentStatus, ContactView
from hub.sync.feed import FeedItem, FeedKey
from hub.sync.views import Held, ViewMaker, held_by_sink, marketing_consents

__all__ = ["Action", "Decision", "Planned", "consented", "decide", "plan_page"]

ACTIVE = "active"


class Action(StrEnum):
    CREATE = "create"
    UPDATE = "update"
    UNSUBSCRIBE = "unsubscribe"


class Decision(StrEnum):
    PUSH = "push"
    UNCHANGED = "unchanged"
    SKIPPED_BY_CONSENT = "skipped_by_consent"
    SKIPPED_INACTIVE = "skipped_inactive"


@dataclass(frozen=True)
class Planned:
    """One contact to hand to the sink."""

    customer_id: str
    key: FeedKey
    view: ContactView
    digest: str
    action: Action
    #: Field names the sink got last time (``None``: it never got this person from the hub).
    previous_fields: tuple[str, ...] | None

    @property
    def state(self) -> str:
        """What ``sink_contacts`` records once the sink confirmed."""
        return "unsubscribed" if self.action is Action.UNSUBSCRIBE else "present"

    @property
    def fields(self) -> list[str]:
        return [f.value for f in self.view.fields_present()]


def consented(statuses: dict[Channel, str], channels: frozenset[Channel]) -> bool:
    """Marketing granted on at least one of the sink's channels (any channel for a sink that
    declares none, e.g. a CRM)."""
    wanted = channels or frozenset(statuses)
    return any(statuses.get(c) == ConsentStatus.GRANTED.value for c in wanted)


def decide(
    *,
    status: str,
    allowed: bool,
    held: Held | None,
    digest: str | None,
    full: bool,
) -> tuple[Decision, Action | None]:
    """The rule table for one customer (``digest`` is needed only when a view was built)."""
    if status != ACTIVE:
        return Decision.SKIPPED_INACTIVE, None
    if not allowed:
        if held is not None and held.state == "present":
            return Decision.PUSH, Action.UNSUBSCRIBE
        return Decision.SKIPPED_BY_CONSENT, None
    if held is None or held.state == "erased":
        return Decision.PUSH, Action.CREATE
    if not full and held.state == "present" and held.view_digest == digest:
        return Decision.UNCHANGED, None
    return Decision.PUSH, Action.UPDATE


@dataclass
class PagePlan:
    items: list[tuple[FeedItem, Decision]]
    planned: dict[str, Planned]


def plan_page(
    session: Session,
    maker: ViewMaker,
    sink: str,
    channels: frozenset[Channel],
    items: Sequence[FeedItem],
    *,
    full: bool,
) -> PagePlan:
    """Read what the rules need for ``items`` (a few queries) and decide each of them."""
    active = [item for item in items if item.status == ACTIVE]
    ids = [item.customer_id for item in active]
    consents = marketing_consents(session, ids)
    held = held_by_sink(session, sink, ids)
    allowed = {c: consented(consents[c], channels) for c in ids}
    needing_view = [
        item
        for item in active
        if allowed[item.customer_id]
        or (held.get(item.customer_id) is not None and held[item.customer_id].state == "present")
    ]
    views = maker.views(session, needing_view, consents)
    decided: list[tuple[FeedItem, Decision]] = []
    planned: dict[str, Planned] = {}
    for item in items:
        customer_id = item.customer_id
        view = views.get(customer_id)
        digest = maker.digest(view) if view is not None else None
        before = held.get(customer_id)
        decision, action = decide(
            status=item.status,
            allowed=allowed.get(customer_id, False),
            held=before,
            digest=digest,
            full=full,
        )
        decided.append((item, decision))
        if action is not None:
            assert view is not None
            assert digest is not None
            planned[customer_id] = Planned(
                customer_id,
                item.key,
                view,
                digest,
                action,
                None if before is None or before.state == "erased" else before.fields,
            )
    return PagePlan(decided, planned)
