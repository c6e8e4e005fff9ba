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
from typing import NamedTuple

from sqlmodel import Session

from contracts import Channel, ConsentStatus, ContactView
from hub.sync.feed import FeedItem, FeedKey
from hub.sync.views import Held, Sealed, ViewMaker, held_by_sink, marketing_consents

__all__ = [
    "Action",
    "Decision",
    "PagePlan",
    "PageRead",
    "Planned",
    "consented",
    "decide",
    "plan_page",
    "read_page",
]

ACTIVE = "active"
_GRANTED = ConsentStatus.GRANTED.value


class Action(StrEnum):
    CREATE = "create"
    UPDATE = "update"
    UNSUBSCRIBE = "unsubscribe"


class Decision(StrEnum):
    PUSH = "push"
    UNCHANGED = "unchanged"
    SKIPPED_BY_CONSENT = "skipped_by_consent"
    SKIPPED_INACTIVE = "skipped_inactive"


class Planned(NamedTuple):
    """One contact to hand to the sink."""

    customer_id: str
    key: FeedKey
    view: ContactView
    #: Field names the view carries (the egress audit row and ``sink_contacts.fields``).
    fields: tuple[str, ...]
    digest: str
    action: Action
    #: Field names the sink got last time, comma-separated (``None``: it never got this
    #: person from the hub).
    previous_fields: str | None

    @property
    def state(self) -> str:
        """What ``sink_contacts`` records once the sink confirmed."""
        return "unsubscribed" if self.action is Action.UNSUBSCRIBE else "present"


def consented(statuses: dict[str, str], channels: frozenset[str]) -> bool:
    """Marketing granted on at least one of the sink's channels (any channel for a sink that
    declares none, e.g. a CRM)."""
    wanted = channels or frozenset(statuses)
    return any(statuses.get(c) == _GRANTED for c in wanted)


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


@dataclass
class PageRead:
    """Everything the rules need about a page, read in one short transaction."""

    items: Sequence[FeedItem]
    consents: dict[str, dict[str, str]]
    held: dict[str, Held]
    allowed: dict[str, bool]
    needing_view: list[FeedItem]
    sealed: Sealed


def read_page(
    session: Session,
    maker: ViewMaker,
    sink: str,
    channels: frozenset[Channel],
    items: Sequence[FeedItem],
) -> PageRead:
    """A few queries: marketing consents, what the sink holds, and the sealed fields of the
    people who may get a view (consented, or held: to be told they unsubscribed)."""
    active = [item for item in items if item.status == ACTIVE]
    ids = [item.customer_id for item in active]
    consents = marketing_consents(session, ids)
    held = held_by_sink(session, sink, ids)
    wanted = frozenset(c.value for c in channels)
    allowed = {c: consented(consents[c], wanted) for c in ids}
    needing_view = [
        item
        for item in active
        if allowed[item.customer_id]
        or (held.get(item.customer_id) is not None and held[item.customer_id].state == "present")
    ]
    sealed = maker.fetch(session, [item.customer_id for item in needing_view])
    return PageRead(items, consents, held, allowed, needing_view, sealed)


def plan_page(read: PageRead, maker: ViewMaker, *, full: bool) -> PagePlan:
    """Decide each customer of the page (CPU only: decryption, views, digests, the rules)."""
    views = maker.views(read.needing_view, read.consents, read.sealed)
    decided: list[tuple[FeedItem, Decision]] = []
    planned: dict[str, Planned] = {}
    for item in read.items:
        customer_id = item.customer_id
        built = views.get(customer_id)
        before = read.held.get(customer_id)
        decision, action = decide(
            status=item.status,
            allowed=read.allowed.get(customer_id, False),
            held=before,
            digest=built.digest if built is not None else None,
            full=full,
        )
        decided.append((item, decision))
        if action is not None:
            assert built is not None
            planned[customer_id] = Planned(
                customer_id,
                item.key,
                built.view,
                built.fields,
                built.digest,
                action,
                None if before is None or before.state == "erased" else before.fields,
            )
    return PagePlan(decided, planned)
