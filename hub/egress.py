"""Field minimisation: the only way customer data leaves the core towards a brick.

A brick receives its own pseudonym plus the fields config allows it (deny by default),
intersected with the fields it declares it uses, and the channels the person opted out of for
marketing when the brick holds contacts (so it can mark them unsubscribed at the vendor too,
and a sender learns nothing it does not need). Each view built writes an egress audit row
(brick, pseudonym, field names, purpose, request id).

Nothing flows about an erased or suppressed person, and nothing flows for profiling about a
person who objected (art. 21); an objecting person's view may still go to a contact sink for
marketing, which is how an unsubscribe reaches it (``hub.erasure.state``).
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlmodel import Session

from contracts import Capability, Channel, ConsentStatus, ContactView, CustomerField, Purpose
from hub.audit import record_audit
from hub.config import ConfiguredBrick
from hub.consent import current_consents
from hub.erasure.state import status_refusal, statuses
from hub.identity.service import IdentityService

__all__ = ["BrickNotEnabled", "build_view", "opted_out_channels"]


class BrickNotEnabled(Exception):
    """Data was about to flow to a brick that is disabled, decommissioned or not configured,
    or about a person whose status forbids it (erased, suppressed, objected to profiling)."""


def build_view(
    session: Session,
    identity: IdentityService,
    brick: ConfiguredBrick,
    customer_id: str,
    *,
    purpose: Purpose,
    request_id: str,
    only: Iterable[CustomerField] | None = None,
) -> ContactView:
    """The brick's view of the customer; ``only`` narrows it further (e.g. to one channel)."""
    if not brick.enabled:
        raise BrickNotEnabled(f"brick {brick.name!r} is {brick.status}: no data may flow to it")
    if purpose not in brick.purposes:
        raise BrickNotEnabled(f"brick {brick.name!r} is not configured for {purpose.value}")
    refusal = status_refusal(
        statuses(session, [customer_id]).get(customer_id), marketing=purpose is Purpose.PROFILING
    )
    if refusal is not None:
        raise BrickNotEnabled(f"no data may flow to brick {brick.name!r}: {refusal}")
    pseudonym = identity.pseudonym_for(session, brick.name, customer_id)
    fields = brick.allowed_fields if only is None else brick.allowed_fields & set(only)
    profile = identity.read_profile(session, customer_id, fields)
    view = ContactView(
        pseudonym=pseudonym,
        opted_out=(
            opted_out_channels(session, customer_id)
            if Capability.CONTACT_SINK in brick.cls.capabilities
            else frozenset()
        ),
        **{f.value: v for f, v in profile.items()},
    )
    record_audit(
        session,
        action="egress",
        customer_id=customer_id,
        brick=brick.name,
        pseudonym=pseudonym,
        fields=[f.value for f in view.fields_present()],
        purpose=purpose.value,
        request_id=request_id,
    )
    return view


def opted_out_channels(session: Session, customer_id: str) -> frozenset[Channel]:
    """Channels whose current marketing consent is denied. Channels with no statement at all
    are not listed: the hub never tells a vendor someone unsubscribed when they did not."""
    return frozenset(
        channel
        for (channel, purpose), entry in current_consents(session, customer_id).items()
        if purpose is Purpose.MARKETING and entry.status == ConsentStatus.DENIED.value
    )
