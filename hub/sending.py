"""Send one message through a brick, with governance applied by the core.

Order of operations, always the same: pick the brick, check consent, build the minimised view
(egress audited), commit, then call the brick outside any database transaction. Observer hooks
hear about the decision and the result after the core has recorded them.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from typing import Literal

from contracts import (
    BrickError,
    Capability,
    Channel,
    ContactView,
    CustomerField,
    DecisionOutcome,
    MessageKind,
    Purpose,
    Retryable,
    SendDecision,
    SendError,
    SendRequest,
    SendResult,
    SendStatus,
)
from hub.consent import may_contact
from hub.egress import build_view
from hub.runtime import Runtime
from hub.storage.db import session_scope
from hub.storage.types import utcnow

__all__ = ["NoBrickForChannel", "SendOutcome", "pick_sender", "send_message"]


#: Contact points, per channel. A message carries only its own channel's contact point, even
#: when the brick may receive others (an email never carries the phone number).
_CONTACT_POINT = {
    Channel.EMAIL: CustomerField.EMAIL,
    Channel.SMS: CustomerField.PHONE,
    Channel.PUSH: CustomerField.PUSH_TOKEN,
}


class NoBrickForChannel(Exception):
    pass


@dataclass(frozen=True)
class SendOutcome:
    status: Literal["sent", "refused", "failed"]
    brick: str
    decision: SendDecision
    result: SendResult | None = None


def pick_sender(
    runtime: Runtime, channel: Channel, purpose: Purpose, brick: str | None = None
) -> str:
    """The named brick, or the first enabled Sender serving ``channel`` for ``purpose``."""
    for name, configured in runtime.bricks.items():
        if brick is not None and name != brick:
            continue
        if (
            configured.enabled
            and Capability.SENDER in configured.cls.capabilities
            and channel in configured.cls.channels
            and purpose in configured.purposes
        ):
            return name
    wanted = f"brick {brick!r}" if brick else "any enabled brick"
    raise NoBrickForChannel(f"{wanted} cannot send {purpose.value} messages on {channel.value}")


async def send_message(
    runtime: Runtime,
    *,
    customer_id: str,
    channel: Channel,
    kind: MessageKind,
    scenario: str,
    template: str,
    variables: dict[str, str | int | float | bool] | None = None,
    brick: str | None = None,
    idempotency_key: str | None = None,
) -> SendOutcome:
    purpose = Purpose.MARKETING if kind is MessageKind.MARKETING else Purpose.TRANSACTIONAL
    name = pick_sender(runtime, channel, purpose, brick)
    configured = runtime.bricks[name]
    request_id = uuid.uuid4().hex
    key = idempotency_key or hashlib.sha256(
        f"{customer_id}|{channel}|{scenario}|{template}|{request_id}".encode()
    ).hexdigest()
    with session_scope(runtime.ready_engine()) as session:
        verdict = may_contact(session, customer_id, channel, kind)
        decision = SendDecision(
            outcome=DecisionOutcome.ALLOWED if verdict.allowed else DecisionOutcome.DENIED,
            rule=None if verdict.allowed else "consent",
            reason=verdict.reason,
        )
        view = None
        if verdict.allowed:
            view = build_view(
                session,
                runtime.identity,
                configured,
                customer_id,
                purpose=purpose,
                request_id=request_id,
                only=set(CustomerField) - set(_CONTACT_POINT.values()) | {_CONTACT_POINT[channel]},
            )
    request = SendRequest(
        request_id=request_id,
        idempotency_key=key,
        channel=channel,
        kind=kind,
        scenario=scenario,
        template=template,
        variables=variables or {},
        # A refused send still tells observers which pseudonym it concerned, with no field.
        recipient=view or ContactView(pseudonym=runtime.keys.pseudonym(name, customer_id)),
        created_at=utcnow(),
    )
    runtime.plugins.notify("hub_send_decided", request=request, decision=decision)
    if view is None:
        return SendOutcome("refused", name, decision)
    try:
        result = await runtime.brick(name).send(request)
    except BrickError as exc:
        retryable = isinstance(exc, Retryable)
        result = SendResult(
            request_id=request_id,
            status=SendStatus.FAILED if retryable else SendStatus.REJECTED,
            error=SendError(code=type(exc).__name__, message=exc.message, retryable=retryable),
        )
    runtime.plugins.notify("hub_send_completed", brick=name, request=request, result=result)
    status: Literal["sent", "failed"] = "sent" if result.status is SendStatus.ACCEPTED else "failed"
    return SendOutcome(status, name, decision, result)

