"""Send one message through a brick, with governance applied by the core.

Order of operations, always the same: pick the brick, claim the idempotency key in ``sends``,
check consent, reserve in the pressure ledger, build the minimised view (egress audited), then
call the brick outside any database transaction with core-owned retries, record the result,
and commit or release the reservation. A send that still fails is dead-lettered with its
reason, so it can be replayed. Observer hooks hear about the decision and the result after the
core has recorded them.
"""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from contracts import (
    BrickError,
    Capability,
    Channel,
    Consent,
    ConsentStatus,
    ContactView,
    CustomerField,
    DecisionOutcome,
    MessageKind,
    PayloadRejected,
    Purpose,
    RateLimited,
    RecipientOptedOut,
    Retryable,
    SendDecision,
    SendError,
    SendRequest,
    SendResult,
    SendStatus,
)
from hub.consent import may_contact, record_consents
from hub.dead_letters import store_dead_letter
from hub.egress import build_view
from hub.pressure.engine import Decision
from hub.retries import RetryPolicy, call_with_retries
from hub.runtime import Runtime
from hub.send_records import Claim, SendState, claim_send, finish_send
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
    """What became of one send. ``duplicate``: an earlier call with the same key was accepted
    and is reported again without reaching the vendor; ``in_doubt``: an earlier attempt with the
    key is in flight or was cut off, so nothing was sent (an operator decides)."""

    status: Literal["sent", "deferred", "refused", "failed", "in_doubt"]
    brick: str
    decision: SendDecision
    result: SendResult | None = None
    request_id: str | None = None
    duplicate: bool = False
    dead_letter_id: int | None = None


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
    named = runtime.bricks.get(brick) if brick else None
    if named is not None and not named.enabled:  # e.g. decommissioned: say so
        raise NoBrickForChannel(f"brick {brick!r} is {named.status}: no data may flow to it")
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
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    now: datetime | None = None,
) -> SendOutcome:
    """Claim the key, then consent, a pressure reservation, the minimised view, the brick call.

    ``kind`` defaults to the scenario's; the reservation is committed when the brick accepts
    the message and released otherwise, so a failed send never uses up the customer's quota.
    Without ``idempotency_key`` every call is a new message. ``now`` is the instant the send
    happens at (the worker's clock, a simulation's virtual time): the ledger decides at it and
    the ``sends`` row and the request carry it; default the real time. Raises
    ``UnknownScenario`` and ``NoBrickForChannel`` for input the caller must fix.
    """
    kind = kind or runtime.ledger.policy.scenario(scenario).kind
    purpose = Purpose.MARKETING if kind is MessageKind.MARKETING else Purpose.TRANSACTIONAL
    name = pick_sender(runtime, channel, purpose, brick)
    engine = runtime.ready_engine()
    key = idempotency_key or uuid.uuid4().hex + uuid.uuid4().hex
    claim = claim_send(
        engine,
        request_id=uuid.uuid4().hex,
        idempotency_key=key,
        brick=name,
        customer_id=customer_id,
        channel=channel.value,
        scenario=scenario,
        kind=kind.value,
        template=template,
        now=now,
    )
    if not claim.ours:
        return _earlier_attempt(name, claim)
    request = SendRequest(
        request_id=claim.request_id,
        idempotency_key=key,
        channel=channel,
        kind=kind,
        scenario=scenario,
        template=template,
        variables=variables or {},
        # Until the send is allowed, observers learn only which pseudonym it concerns.
        recipient=ContactView(pseudonym=runtime.keys.pseudonym(name, customer_id)),
        created_at=now or utcnow(),
    )
    decision, reservation_id = _decide(runtime, request, customer_id, name, claim.attempt, now)
    if reservation_id is None:
        deferred = decision.outcome is DecisionOutcome.DEFERRED
        finish_send(
            engine,
            claim.request_id,
            SendState.DEFERRED if deferred else SendState.REFUSED,
            error_code=decision.rule,
            error_message=decision.reason,
            now=now,
        )
        runtime.plugins.notify("hub_send_decided", request=request, decision=decision)
        return SendOutcome(
            "deferred" if deferred else "refused", name, decision, request_id=claim.request_id
        )
    with session_scope(engine) as session:
        view = build_view(
            session,
            runtime.identity,
            runtime.bricks[name],
            customer_id,
            purpose=purpose,
            request_id=claim.request_id,
            only=set(CustomerField) - set(_CONTACT_POINT.values()) | {_CONTACT_POINT[channel]},
        )
    request = request.model_copy(update={"recipient": view})
    runtime.plugins.notify("hub_send_decided", request=request, decision=decision)
    result, error = await _deliver(runtime, name, request, sleep)
    dead_letter_id = _record_result(
        runtime, request, customer_id, name, reservation_id, result, error, now
    )
    runtime.plugins.notify("hub_send_completed", brick=name, request=request, result=result)
    status: Literal["sent", "failed"] = "sent" if result.status is SendStatus.ACCEPTED else "failed"
    return SendOutcome(
        status, name, decision, result, request_id=claim.request_id, dead_letter_id=dead_letter_id
    )


def _earlier_attempt(brick: str, claim: Claim) -> SendOutcome:
    """Report the attempt that already holds the key instead of sending again."""
    if claim.state is SendState.ACCEPTED:
        decision = SendDecision(
            outcome=DecisionOutcome.ALLOWED,
            rule="idempotency",
            reason="already sent under this idempotency key; not sent again",
        )
        result = SendResult(
            request_id=claim.request_id,
            status=SendStatus.ACCEPTED,
            vendor_message_id=claim.vendor_message_id,
        )
        return SendOutcome(
            "sent", brick, decision, result, request_id=claim.request_id, duplicate=True
        )
    decision = SendDecision(
        outcome=DecisionOutcome.DENIED,
        rule="idempotency",
        reason="an earlier attempt under this idempotency key is in flight or was interrupted; "
        "it is never re-sent blindly (see `hub jobs in-doubt`)",
    )
    return SendOutcome("in_doubt", brick, decision, request_id=claim.request_id)


def _decide(
    runtime: Runtime,
    request: SendRequest,
    customer_id: str,
    brick: str,
    attempt: int,
    now: datetime | None,
) -> tuple[SendDecision, int | None]:
    """Consent first, then the ledger; returns the decision and the reservation, if granted."""
    with session_scope(runtime.engine) as session:
        verdict = may_contact(session, customer_id, request.channel, request.kind)
    if not verdict.allowed:
        refused = SendDecision(
            outcome=DecisionOutcome.DENIED, rule="consent", reason=verdict.reason
        )
        return refused, None
    # One ledger key per attempt: a retry after a failure is a new decision, never a replay.
    ledger_key = hashlib.sha256(f"{brick}|{request.idempotency_key}|{attempt}".encode()).hexdigest()
    reservation = runtime.ledger.reserve(
        customer_id,
        request.channel,
        request.scenario,
        kind=request.kind,
        at=now,
        idempotency_key=f"send:{ledger_key}",
    )
    return _contract(reservation.decision), reservation.reservation_id


async def _deliver(
    runtime: Runtime,
    name: str,
    request: SendRequest,
    sleep: Callable[[float], Awaitable[None]],
) -> tuple[SendResult, BrickError | None]:
    """Call the brick with the core's retry policy; errors become a result, never escape."""
    policy = RetryPolicy.from_settings(runtime.settings.sending)
    sender = runtime.brick(name)
    try:
        result = await call_with_retries(
            lambda: sender.send(request), policy, what=f"{name}.send", sleep=sleep
        )
        return result, None
    except BrickError as exc:
        retryable = isinstance(exc, Retryable)
        error = SendError(
            code=(exc.vendor_code or type(exc).__name__)[:64],
            message=exc.message[:1000],
            retryable=retryable,
            retry_after=exc.retry_after if isinstance(exc, RateLimited) else None,
        )
        status = SendStatus.FAILED if retryable else SendStatus.REJECTED
        return SendResult(request_id=request.request_id, status=status, error=error), exc


def _record_result(
    runtime: Runtime,
    request: SendRequest,
    customer_id: str,
    brick: str,
    reservation_id: int,
    result: SendResult,
    raised: BrickError | None,
    now: datetime | None,
) -> int | None:
    """Settle the reservation and the ``sends`` row; dead-letter what did not go out.

    A recipient who opted out at the vendor (SMS STOP) gets the channel's marketing consent
    recorded as denied, so every brick respects it from now on.
    """
    engine = runtime.engine
    if result.status is SendStatus.ACCEPTED:
        runtime.ledger.commit(reservation_id)
        finish_send(
            engine,
            request.request_id,
            SendState.ACCEPTED,
            reservation_id=reservation_id,
            vendor_message_id=result.vendor_message_id,
            now=now,
        )
        return None
    runtime.ledger.release(reservation_id)
    error = result.error
    code = error.code if error else result.status.value
    message = error.message if error else "the brick did not accept the message"
    state = SendState.FAILED if result.status is SendStatus.FAILED else SendState.REJECTED
    finish_send(
        engine,
        request.request_id,
        state,
        reservation_id=reservation_id,
        error_code=code,
        error_message=message,
        now=now,
    )
    payload = {
        "customer_id": customer_id,
        "brick": brick,
        "channel": request.channel.value,
        "scenario": request.scenario,
        "kind": request.kind.value,
        "template": request.template,
        "variables": request.variables,
        "idempotency_key": request.idempotency_key,
    }
    with session_scope(engine) as session:
        if isinstance(raised, RecipientOptedOut):
            opt_out = Consent(
                channel=request.channel,
                purpose=Purpose.MARKETING,
                status=ConsentStatus.DENIED,
                source=f"{brick}:opt-out",
                recorded_at=now or utcnow(),
            )
            record_consents(session, customer_id, [opt_out])
        entry = store_dead_letter(
            session,
            runtime.vault,
            kind="send",
            source=brick,
            reference=request.request_id,
            reason=f"{code}: {message}",
            payload=payload,
            field=raised.field if isinstance(raised, PayloadRejected) else None,
        )
        return entry.id
