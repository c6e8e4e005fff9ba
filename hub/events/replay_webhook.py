"""Replay a ``webhook`` dead letter: the brick reads the kept body again, the core stores it.

``POST /webhooks/{brick}`` dead-letters a body only *after* the brick's ``verify`` accepted the
call (an unverified call is answered 401 and leaves no trace), so every webhook letter holds a
body already proven to come from the vendor. The replay therefore skips verification, which
could not succeed anyway: signatures cover the URL and headers of the original call, and
freshness checks (Brevo's ``ts_event`` window) refuse any body hours later by design. What is
re-run is what failed: the brick's ``parse`` (after a fix: an upgraded brick, a corrected
setting), with the body and its ``Content-Type``, the only header kept. Outcomes and events
then take the same core paths as a live call, so a body that was in fact stored meanwhile
comes back as duplicates.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from contracts import Capability, PayloadRejected, WebhookPayload
from hub.events.letters import Letter, ReplayResult, settle
from hub.events.webhook_payloads import store_webhook_payload
from hub.logs import get_logger
from hub.runtime import Runtime

__all__ = ["replay_webhook"]

log = get_logger(__name__)


class _Unusable(Exception):
    def __init__(self, reason: str, field: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.field = field


def _receiver(runtime: Runtime, name: str) -> Any:
    configured = runtime.bricks.get(name)
    if (
        configured is None
        or not configured.enabled
        or Capability.WEBHOOK_RECEIVER not in configured.cls.capabilities
    ):
        raise _Unusable(f"brick {name!r} is not an enabled webhook receiver", "brick")
    return runtime.brick(name)


def _parse(runtime: Runtime, letter: Letter) -> tuple[str, WebhookPayload]:
    kept = letter.payload
    if not isinstance(kept, dict) or not isinstance(kept.get("body_base64"), str):
        raise _Unusable("the letter holds no webhook body", "body")
    name = str(kept.get("brick") or letter.source)
    try:
        body = base64.b64decode(kept["body_base64"], validate=True)
    except (binascii.Error, ValueError):
        raise _Unusable("the kept body is not valid base64", "body") from None
    headers = {"content-type": kept["content_type"]} if kept.get("content_type") else {}
    receiver = _receiver(runtime, name)
    try:
        return name, receiver.parse(headers, body)
    except PayloadRejected as exc:
        raise _Unusable(exc.message, exc.field or "body") from None
    except Exception as exc:  # a brick bug: the letter waits for the next fix
        log.error("webhook replay parse failed", brick=name, error_type=type(exc).__name__)
        raise _Unusable(f"{name} could not read the body ({type(exc).__name__})", "body") from None


def replay_webhook(runtime: Runtime, letter: Letter) -> ReplayResult:
    """Parse the kept body again and store its outcomes and events; settle the letter."""
    try:
        brick, payload = _parse(runtime, letter)
    except _Unusable as exc:
        settle(runtime, letter.id, replayed=False, field=exc.field, reason=exc.reason)
        return ReplayResult(letter.id, "pending", "rejected", exc.field, exc.reason, kind="webhook")
    counts = store_webhook_payload(runtime, brick, payload)
    settle(runtime, letter.id, replayed=True, field=None, reason=None)
    detail = {"brick": brick, "outcomes": counts["outcomes"], "events": counts["events"]}
    log.info("webhook replayed", brick=brick, dead_letter_id=letter.id)
    return ReplayResult(letter.id, "replayed", "stored", None, None, kind="webhook", detail=detail)
