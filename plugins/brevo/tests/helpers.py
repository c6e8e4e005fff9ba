"""Shared builders for the Brevo brick's tests (no network: respx mocks every call)."""

from __future__ import annotations

import json
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from contracts import BrickContext, Channel, ContactView, MessageKind, SendRequest
from plugins.brevo import BrevoBrick

BASE = "https://api.brevo.test/v3"
TOKEN = "whk-token-0123456789abcdef"
PSEUDONYM = "ps_brevotest0123456789abcd"
EMAIL = "ada.lovelace@example.org"
SETTINGS: dict[str, Any] = {
    "base_url": BASE,
    "api_key": "xkeysib-test-0123456789",
    "templates": {"welcome-1": 12, "reset": 7},
    "sender_email": "shop@example.net",
    "sender_name": "Demo Shop",
    "list_ids": [3],
    "webhook_token": TOKEN,
}


def make_brick(**overrides: Any) -> BrevoBrick:
    settings = BrevoBrick.Settings(**{**SETTINGS, **overrides})
    return BrevoBrick(settings, BrickContext(name="brevo", data_dir=Path(tempfile.mkdtemp())))


def view(pseudonym: str = PSEUDONYM, **fields: Any) -> ContactView:
    values = {"email": EMAIL, "first_name": "Ada", "last_name": "Lovelace", **fields}
    return ContactView(pseudonym=pseudonym, **values)


def send_request(
    key: str = "idem-0001-abcdef",
    *,
    recipient: ContactView | None = None,
    template: str = "welcome-1",
    channel: Channel = Channel.EMAIL,
    variables: dict[str, Any] | None = None,
) -> SendRequest:
    return SendRequest(
        request_id=f"req-{key}",
        idempotency_key=key,
        channel=channel,
        kind=MessageKind.TRANSACTIONAL,
        scenario="welcome",
        template=template,
        variables={"coupon": "HELLO10"} if variables is None else variables,
        recipient=recipient or view(),
        created_at=datetime(2026, 1, 15, 10, tzinfo=UTC),
    )


def sent_json(route: Any, index: int = -1) -> Any:
    return json.loads(route.calls[index].request.content)


def event(name: str, ts: float, **extra: Any) -> dict[str, Any]:
    """A transactional event shaped like Brevo's documented payloads."""
    body: dict[str, Any] = {
        "event": name,
        "email": EMAIL,
        "id": 4242,
        "date": "2026-01-15 11:00:00",
        "ts": int(ts),
        "message-id": "<202601151000.1234567@smtp-relay.mailin.fr>",
        "ts_event": int(ts),
        "ts_epoch": int(ts * 1000),
        "subject": "Welcome",
        "X-Mailin-custom": PSEUDONYM,
        "sending_ip": "185.41.28.109",
        "template_id": 12,
        "tags": ["welcome"],
    }
    body.update(extra)
    return body
