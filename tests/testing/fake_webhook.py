"""A fake webhook brick built on hub.sdk.webhooks (HMAC over timestamp + body, 5 minute
tolerance), and the kit configured for it. Broken variants live in the tests that use them.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

from pydantic import SecretStr

from contracts import (
    Brick,
    Capability,
    Channel,
    Outcome,
    OutcomeType,
    PayloadRejected,
    WebhookPayload,
)
from hub.sdk.webhooks import check_timestamp, hmac_signature, require_header, verify_hmac
from hub.testing import PSEUDONYM, WebhookConformance, WebhookSample

SECRET = "fakehook-secret-0123456789"
URL = "https://hub.conformance.example/webhooks/fakehook"
TOLERANCE = timedelta(minutes=5)
STATUSES = {
    "delivered": OutcomeType.DELIVERED,
    "opened": OutcomeType.OPENED,
    "hard_bounce": OutcomeType.BOUNCED_HARD,
    "unsubscribed": OutcomeType.UNSUBSCRIBED,
}


class FakeHook(Brick):
    name: ClassVar[str] = "fakehook"
    version: ClassVar[str] = "1.0.0"
    description: ClassVar[str] = "A fake webhook receiver used to test the conformance kit"
    capabilities: ClassVar[frozenset[Capability]] = frozenset({Capability.WEBHOOK_RECEIVER})
    channels: ClassVar[frozenset[Channel]] = frozenset({Channel.EMAIL})

    class Settings(Brick.Settings):
        signing_secret: SecretStr

    settings: Settings

    def verify(self, url: str, headers: Mapping[str, str], body: bytes) -> None:
        timestamp = require_header(headers, "X-Fake-Timestamp")
        check_timestamp(timestamp, tolerance=TOLERANCE)
        secret = self.settings.signing_secret.get_secret_value()
        message = timestamp.encode() + b"." + body
        verify_hmac(secret, message, require_header(headers, "X-Fake-Signature"))

    def parse(self, headers: Mapping[str, str], body: bytes) -> WebhookPayload:
        try:
            event = json.loads(body)
        except ValueError:
            raise PayloadRejected("body is not JSON") from None
        if not isinstance(event, dict):
            raise PayloadRejected("body is not a JSON object")
        status = event.get("event")
        if not isinstance(status, str) or status not in STATUSES:
            raise PayloadRejected("unknown or missing event", field="event")
        try:
            occurred = datetime.fromtimestamp(float(event["ts"]), UTC)
            outcome = Outcome(
                type=STATUSES[status],
                channel=Channel.EMAIL,
                pseudonym=event.get("ext_id"),
                vendor_message_id=event.get("message_id"),
                vendor_status=status,
                occurred_at=occurred,
            )
        except (KeyError, TypeError, ValueError, OverflowError, OSError) as exc:
            raise PayloadRejected(f"malformed event ({type(exc).__name__})") from None
        return WebhookPayload(outcomes=[outcome])


def signed(body: bytes, *, at: float | None = None, secret: str = SECRET) -> dict[str, str]:
    timestamp = str(int(time.time() if at is None else at))
    return {
        "X-Fake-Timestamp": timestamp,
        "X-Fake-Signature": hmac_signature(secret, timestamp.encode() + b"." + body),
    }


def event_body(status: str) -> bytes:
    return json.dumps(
        {"event": status, "ext_id": PSEUDONYM, "message_id": "fm-0001", "ts": 1768471200}
    ).encode()


class FakeHookSuite(WebhookConformance):
    """The kit configured for FakeHook; test modules subclass it with a ``Test`` name."""

    brick = FakeHook
    settings: ClassVar[dict[str, Any]] = {"signing_secret": SECRET}
    vendor_statuses = frozenset(STATUSES)
    fuzz_examples = 60

    def webhook_samples(self) -> list[WebhookSample]:
        samples = []
        for status, outcome in STATUSES.items():
            body = event_body(status)
            headers = {"Content-Type": "application/json", **signed(body)}
            samples.append(WebhookSample(status, URL, headers, body, status, (outcome,)))
        return samples

    def sign(self, url: str, headers: dict[str, str], body: bytes) -> dict[str, str]:
        return signed(body)

    def stale_sample(self) -> WebhookSample | None:
        body = event_body("delivered")
        headers = {"Content-Type": "application/json", **signed(body, at=time.time() - 3600)}
        return WebhookSample("stale", URL, headers, body, "delivered", (OutcomeType.DELIVERED,))
