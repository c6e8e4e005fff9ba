"""Capability protocols: the small interfaces a brick implements, one per thing it can do.

A brick lists the capabilities it has in ``Brick.capabilities``; the conformance kit checks the
class really implements each protocol. All I/O methods are ``async``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from enum import StrEnum
from typing import Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

from contracts.audiences import Audience, AudienceMember, IdentityLink
from contracts.customers import Contact, ContactView
from contracts.events import EventEnvelope
from contracts.messages import SendRequest, SendResult
from contracts.outcomes import Outcome

__all__ = [
    "CAPABILITY_PROTOCOLS",
    "AudienceSink",
    "Capability",
    "ContactPage",
    "ContactSink",
    "ContactSource",
    "EventPage",
    "EventSource",
    "IdentityLinkPage",
    "IdentityLinkSource",
    "Sender",
    "UpsertResult",
    "WebhookPayload",
    "WebhookReceiver",
]


class Capability(StrEnum):
    SENDER = "sender"
    CONTACT_SINK = "contact_sink"
    CONTACT_SOURCE = "contact_source"
    EVENT_SOURCE = "event_source"
    WEBHOOK_RECEIVER = "webhook_receiver"
    AUDIENCE_SINK = "audience_sink"
    IDENTITY_LINK_SOURCE = "identity_link_source"


class _Page(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    next_cursor: str | None = Field(
        description="Opaque to the core; stored only after the page has been committed."
    )
    has_more: bool = False


class ContactPage(_Page):
    records: list[Contact]


class EventPage(_Page):
    events: list[EventEnvelope]


class IdentityLinkPage(_Page):
    links: list[IdentityLink]


class UpsertResult(BaseModel):
    """Per-contact answer of a sink, in input order."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    pseudonym: str
    created: bool = False
    error: str | None = None


class WebhookPayload(BaseModel):
    """What one webhook call carried: events and/or delivery outcomes."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    events: list[EventEnvelope] = Field(default_factory=list)
    outcomes: list[Outcome] = Field(default_factory=list)


@runtime_checkable
class Sender(Protocol):
    async def send(self, request: SendRequest) -> SendResult:
        """Deliver one message; raise a ``contracts.errors`` error when it cannot go out."""
        ...

    async def send_batch(self, requests: Sequence[SendRequest]) -> list[SendResult]:
        """Deliver several: one result per input, in order; never raise for one bad item.

        A failure of the whole call (credentials, rate limit, outage) raises, like ``send``.
        """
        ...


@runtime_checkable
class ContactSink(Protocol):
    async def upsert(self, contacts: Sequence[ContactView]) -> list[UpsertResult]:
        """Create or update contacts, at most ``Brick.batch_size`` per call.

        One result per input, in order; an item the vendor refused carries ``error``. A failure
        of the whole call (credentials, rate limit, outage) raises a ``contracts.errors`` error.
        """
        ...

    async def erase(self, pseudonym: str) -> None:
        """Delete everything the vendor holds on this person (GDPR art. 17)."""
        ...


@runtime_checkable
class ContactSource(Protocol):
    async def read_changes(self, cursor: str | None) -> ContactPage:
        """Contacts changed since ``cursor`` (``None``: from the beginning)."""
        ...


@runtime_checkable
class EventSource(Protocol):
    async def poll(self, cursor: str | None) -> EventPage:
        """Events since ``cursor``; the core stores them before it stores ``next_cursor``."""
        ...


@runtime_checkable
class WebhookReceiver(Protocol):
    def verify(self, url: str, headers: Mapping[str, str], body: bytes) -> None:
        """Raise ``WebhookRejected`` unless the call provably comes from the vendor."""
        ...

    def parse(self, headers: Mapping[str, str], body: bytes) -> WebhookPayload:
        """Turn a verified body into contract events/outcomes; raise ``PayloadRejected``."""
        ...


@runtime_checkable
class AudienceSink(Protocol):
    """A DMP/CDP that receives audiences.

    A sink may also define ``cookie_namespaces`` (a ``frozenset[str]`` attribute or property):
    the namespaces of the site-cookie identifiers that mean something to it (e.g. the cookie
    its own tracker sets). The core then puts only those in ``AudienceMember.cookie_ids``;
    without it, every live site cookie matched to the member is sent.
    """

    async def push(self, audience: Audience, members: Sequence[AudienceMember]) -> None:
        """Make ``members`` the whole membership of ``audience`` at the vendor (people who
        left it lose it); raise a ``contracts.errors`` error when the call fails."""
        ...


@runtime_checkable
class IdentityLinkSource(Protocol):
    async def read_links(self, cursor: str | None) -> IdentityLinkPage: ...


CAPABILITY_PROTOCOLS: Mapping[Capability, type] = {
    Capability.SENDER: Sender,
    Capability.CONTACT_SINK: ContactSink,
    Capability.CONTACT_SOURCE: ContactSource,
    Capability.EVENT_SOURCE: EventSource,
    Capability.WEBHOOK_RECEIVER: WebhookReceiver,
    Capability.AUDIENCE_SINK: AudienceSink,
    Capability.IDENTITY_LINK_SOURCE: IdentityLinkSource,
}
