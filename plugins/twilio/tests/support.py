"""Shared test data for the Twilio brick's own tests (the conformance kit has its own)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from contracts import BrickContext, Channel, ContactView, MessageKind, SendRequest
from plugins.twilio import TwilioBrick

ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
SERVICE_SID = "MG" + "fedcba9876543210" * 2
CONTENT_SID = "HX" + "00112233445566778899aabbccddeeff"
MESSAGE_SID = "SM" + "aa" * 16
AUTH_TOKEN = "twilio-test-auth-token-0001"
BASE_URL = "https://api.twilio.test"
PUBLIC_BASE_URL = "https://hub.example.org"
MESSAGES = f"{BASE_URL}/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
ACCOUNT = f"{BASE_URL}/2010-04-01/Accounts/{ACCOUNT_SID}.json"
PHONE = "+33698765432"
FIRST_NAME = "Grace"
PSEUDONYM = "ps_twiliotest_0123456789"

TEMPLATES: dict[str, Any] = {
    "welcome": "Hello ${first_name}, welcome to $shop! Reply STOP to opt out.",
    "plain": "Your code is $code.",
    "content": CONTENT_SID,
    "content-mapped": {
        "content_sid": CONTENT_SID,
        "variables": {"1": "${first_name}", "2": "$cart"},
    },
}


def settings(**overrides: Any) -> TwilioBrick.Settings:
    values: dict[str, Any] = {
        "base_url": BASE_URL,
        "account_sid": ACCOUNT_SID,
        "auth_token": AUTH_TOKEN,
        "from_number": "+14155552345",
        "templates": TEMPLATES,
    }
    values.update(overrides)
    return TwilioBrick.Settings.model_validate(values)


def brick(
    tmp_path: Path, *, public_base_url: str | None = PUBLIC_BASE_URL, **overrides: Any
) -> TwilioBrick:
    context = BrickContext(name="twilio", data_dir=tmp_path, public_base_url=public_base_url)
    return TwilioBrick(settings(**overrides), context)


def send_request(
    template: str = "welcome",
    *,
    variables: dict[str, Any] | None = None,
    phone: str | None = PHONE,
    first_name: str | None = FIRST_NAME,
    key: str = "0001",
    channel: Channel = Channel.SMS,
) -> SendRequest:
    return SendRequest(
        request_id=f"request-{key}",
        idempotency_key=f"idemkey-{key}",
        channel=channel,
        kind=MessageKind.MARKETING,
        scenario="welcome",
        template=template,
        variables={"shop": "Demo Shop"} if variables is None else variables,
        recipient=ContactView(pseudonym=PSEUDONYM, phone=phone, first_name=first_name),
        created_at=datetime(2026, 1, 15, 10, 0, tzinfo=UTC),
    )


def created(sid: str = MESSAGE_SID, status: str = "queued") -> dict[str, Any]:
    """A ``CreateMessage`` 201 body, shaped like the spec's example."""
    return {
        "account_sid": ACCOUNT_SID,
        "api_version": "2010-04-01",
        "body": "Hello!",
        "date_created": "Thu, 15 Jan 2026 10:00:00 +0000",
        "date_sent": None,
        "date_updated": "Thu, 15 Jan 2026 10:00:00 +0000",
        "direction": "outbound-api",
        "error_code": None,
        "error_message": None,
        "from": "+14155552345",
        "messaging_service_sid": None,
        "num_media": "0",
        "num_segments": "1",
        "price": None,
        "price_unit": None,
        "sid": sid,
        "status": status,
        "subresource_uris": {
            "media": f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages/{sid}/Media.json"
        },
        "to": PHONE,
        "uri": f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages/{sid}.json",
    }


def twilio_error(code: int, message: str, status: int = 400) -> dict[str, Any]:
    """Twilio's error body: ``{code, message, more_info, status}``."""
    return {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }
