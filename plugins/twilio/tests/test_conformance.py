"""The Twilio brick passes the standard conformance suite (HTTP and webhooks)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import httpx

from contracts import Brick, Channel, ContactView, SendResult, SendStatus
from hub.testing import Exchange, HttpBrickConformance, make_send_request
from plugins.twilio import TwilioBrick

ACCOUNT_SID = "AC" + "c0ffee00" * 4
SERVICE_SID = "MG" + "5e41ce00" * 4
CONTENT_SID = "HX" + "7e3417e0" * 4
MESSAGE_SID = "SM" + "5e4d0000" * 4
MESSAGES = f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"

SETTINGS: dict[str, Any] = {
    "base_url": "https://api.twilio.conformance.example",
    "account_sid": ACCOUNT_SID,
    "auth_token": "conformance-auth-token-0001",
    "from_number": "+14155552345",
    "templates": {
        # No ${first_name}: the kit re-runs every exchange with a view holding only the phone.
        "welcome-1": "Welcome to Demo Shop! Reply STOP to opt out.",
        "content-1": CONTENT_SID,
    },
}


def created(messaging_service: bool = False) -> httpx.Response:
    """The 201 answer of ``CreateMessage``, as the spec's ``create`` example."""
    return httpx.Response(
        201,
        json={
            "account_sid": ACCOUNT_SID,
            "api_version": "2010-04-01",
            "body": "Welcome to Demo Shop! Reply STOP to opt out.",
            "date_created": "Thu, 15 Jan 2026 10:00:01 +0000",
            "date_sent": None,
            "date_updated": "Thu, 15 Jan 2026 10:00:01 +0000",
            "direction": "outbound-api",
            "error_code": None,
            "error_message": None,
            "from": None if messaging_service else "+14155552345",
            "messaging_service_sid": SERVICE_SID if messaging_service else None,
            "num_media": "0",
            "num_segments": "1",
            "price": None,
            "price_unit": "USD",
            "sid": MESSAGE_SID,
            "status": "accepted" if messaging_service else "queued",
            "subresource_uris": {"media": f"{MESSAGES[:-5]}/{MESSAGE_SID}/Media.json"},
            "to": "+33612345678",
            "uri": f"{MESSAGES[:-5]}/{MESSAGE_SID}.json",
        },
    )


#: Twilio's error body for a recipient who replied STOP.
REJECTION = httpx.Response(
    400,
    json={
        "code": 21610,
        "message": "Attempt to send to unsubscribed recipient",
        "more_info": "https://www.twilio.com/docs/errors/21610",
        "status": 400,
    },
)


def accepted(result: SendResult) -> None:
    assert result.status is SendStatus.ACCEPTED
    assert result.vendor_message_id == MESSAGE_SID


def sending(template: str, variables: dict[str, Any] | None = None) -> Any:
    async def call(brick: Brick, view: ContactView) -> SendResult:
        request = make_send_request(
            view, channel=Channel.SMS, template=template, variables=variables
        )
        return await brick.send(request)  # type: ignore[attr-defined]

    return call


def with_messaging_service(call: Any) -> Any:
    """Run ``call`` on a twin of the kit's brick configured with a Messaging Service SID
    instead of a From number (the kit builds every brick from one settings example)."""

    async def twin_call(brick: Brick, view: ContactView) -> SendResult:
        values = {**brick.settings.model_dump(), "from_number": None}
        values["messaging_service_sid"] = SERVICE_SID
        twin = TwilioBrick(TwilioBrick.Settings.model_validate(values), brick.context)
        try:
            return await call(twin, view)
        finally:
            await twin.aclose()

    return twin_call


class TestTwilioConformance(HttpBrickConformance):
    brick = TwilioBrick
    settings: ClassVar[dict[str, Any]] = SETTINGS
    vendor_spec = "twilio_api_v2010.json"
    golden_dir = Path(__file__).parent / "golden"

    def exchanges(self) -> list[Exchange]:
        return [
            Exchange(
                name="send_sms_from_number",
                call=sending("welcome-1"),
                method="POST",
                path=MESSAGES,
                success=created(),
                check=accepted,
                rejection=REJECTION,
            ),
            Exchange(
                name="send_sms_messaging_service",
                call=with_messaging_service(sending("welcome-1")),
                method="POST",
                path=MESSAGES,
                success=created(messaging_service=True),
                check=accepted,
                rejection=REJECTION,
            ),
            Exchange(
                name="send_sms_content_template",
                call=sending("content-1", {"1": "Demo Shop", "2": "WELCOME10"}),
                method="POST",
                path=MESSAGES,
                success=created(),
                check=accepted,
                rejection=REJECTION,
            ),
        ]
