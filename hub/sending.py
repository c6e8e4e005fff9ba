"""Send one message through a brick, with governance applied by the core.

Order of operations, always the same: pick the brick, check consent, reserve in the pressure
ledger, build the minimised view (egress audited), then call the brick outside any database
transaction, and commit or release the reservation. Observer hooks
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
from hub.pressure.engine import Decision
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
    status: Literal["sent", "deferred", "refused", "failed"]
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


def _contract(decision: Decision) -> SendDecision:
    return SendDecision(
        outcome=decision.outcome,
        rule=decision.rule,
        reason=decision.reason,
        until=decision.until,
        consulted=decision.consulted,
    )


async def send_message(
    runtime: Runtime,
    *,
    customer_id: str,
    channel: Channel,
    scenario: str,
    template: str,
    kind: MessageKind | None = None,
    variables: dict[str, str | int | float | bool] | None = None,
    brick: str | None = None,
    idempotency_key: str | None = None,
) -> SendOutcome:
    """Consent, then a pressure reservation, then the minimised view and the brick call.

    ``kind`` defaults to the scenario's; the reservation is committed when the brick accepts
    the message and released otherwise, so a failed send never uses up the customer's quota.
    Raises ``UnknownScenario`` and ``NoBrickForChannel`` for input the caller must fix.
    """
    kind = kind or runtime.ledger.policy.scenario(scenario).kind
    purpose = Purpose.MARKETING if kind is MessageKind.MARKETING else Purpose.TRANSACTIONAL
    name = pick_sender(runtime, channel, purpose, brick)
    request_id = uuid.uuid4().hex
    key = (
        idempotency_key
        or hashlib.sha256(
            f"{customer_id}|{channel}|{scenario}|{template}|{request_id}".encode()
        ).hexdigest()
    )
    request = SendRequest(
        request_id=request_id,
        idempotency_key=key,
        channel=channel,
        kind=kind,
        scenario=scenario,
        template=template,
        variables=variables or {},
        # Until the send is allowed, observers learn only which pseudonym it concerns.
        recipient=ContactView(pseudonym=runtime.keys.pseudonym(name, customer_id)),
        created_at=utcnow(),
    )
    with session_scope(runtime.ready_engine()) as session:
        verdict = may_contact(session, customer_id, channel, kind)
    if not verdict.allowed:
        refused = SendDecision(
            outcome=DecisionOutcome.DENIED, rule="consent", reason=verdict.reason
        )
        runtime.plugins.notify("hub_send_decided", request=request, decision=refused)
        return SendOutcome("refused", name, refused)
    reservation = runtime.ledger.reserve(
        customer_id, channel, scenario, kind=kind, idempotency_key=key
    )
    decision = _contract(reservation.decision)
    if reservation.reservation_id is None:
        runtime.plugins.notify("hub_send_decided", request=request, decision=decision)
        deferred = decision.outcome is DecisionOutcome.DEFERRED
        return SendOutcome("deferred" if deferred else "refused", name, decision)
    with session_scope(runtime.engine) as session:
        view = build_view(
            session,
            runtime.identity,
            runtime.bricks[name],
            customer_id,
            purpose=purpose,
            request_id=request_id,
            only=set(CustomerField) - set(_CONTACT_POINT.values()) | {_CONTACT_POINT[channel]},
        )
    request = request.model_copy(update={"recipient": view})
    runtime.plugins.notify("hub_send_decided", request=request, decision=decision)
    try:
        result = await runtime.brick(name).send(request)
    except BrickError as exc:
        retryable = isinstance(exc, Retryable)
        result = SendResult(
            request_id=request_id,
            status=SendStatus.FAILED if retryable else SendStatus.REJECTED,
            error=SendError(code=type(exc).__name__, message=exc.message, retryable=retryable),
        )
    if result.status is SendStatus.ACCEPTED:
        runtime.ledger.commit(reservation.reservation_id)
    else:
        runtime.ledger.release(reservation.reservation_id)
    runtime.plugins.notify("hub_send_completed", brick=name, request=request, result=result)
    status: Literal["sent", "failed"] = "sent" if result.status is SendStatus.ACCEPTED else "failed"
    return SendOutcome(status, name, decision, result)
