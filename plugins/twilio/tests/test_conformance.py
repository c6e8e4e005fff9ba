"""The Twilio brick passes the standard conformance suite (HTTP and webhooks)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import urlencode

import httpx

from contracts import Brick, Channel, ContactView, OutcomeType, SendResult, SendStatus
from hub.testing import (
    PUBLIC_BASE_URL,
    Exchange,
    HttpBrickConformance,
    WebhookConformance,
    WebhookSample,
    make_send_request,
)
from plugins.twilio import TwilioBrick
from plugins.twilio.webhooks import form_params, signature_for

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


CALLBACK_URL = f"{PUBLIC_BASE_URL}/webhooks/twilio"

#: Status -> outcomes of a status callback without an error code.
STATUSES: dict[str, tuple[OutcomeType, ...]] = {
    "accepted": (),
    "scheduled": (),
    "queued": (),
    "sending": (),
    "sent": (),
    "partially_delivered": (),
    "delivered": (OutcomeType.DELIVERED,),
    "undelivered": (OutcomeType.FAILED,),
    "failed": (OutcomeType.FAILED,),
    "read": (OutcomeType.OPENED,),
    "canceled": (OutcomeType.FAILED,),
    "receiving": (),
    "received": (),
}


def status_body(status: str, error_code: str | None = None) -> dict[str, str]:
    """A status callback as Twilio posts it (form fields of its documented example)."""
    fields = {
        "AccountSid": ACCOUNT_SID,
        "ApiVersion": "2010-04-01",
        "From": "+14155552345",
        "MessageSid": MESSAGE_SID,
        "MessageStatus": status,
        "SmsSid": MESSAGE_SID,
        "SmsStatus": status,
        "To": "+33612345678",
    }
    if status == "delivered":
        fields["RawDlrDoneDate"] = "2601151001"
    if error_code is not None:
        fields["ErrorCode"] = error_code
    return fields


def signed_sample(
    name: str, fields: dict[str, str], status: str, expected: tuple[OutcomeType, ...]
) -> WebhookSample:
    body = urlencode(fields).encode()
    signature = signature_for(SETTINGS["auth_token"], CALLBACK_URL, form_params(body))
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Twilio-Signature": signature,
    }
    return WebhookSample(name, CALLBACK_URL, headers, body, status, expected)


class TestTwilioConformance(HttpBrickConformance, WebhookConformance):
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

    vendor_statuses = frozenset(STATUSES)
    replay_protection = (
        "Twilio signs no timestamp; every outcome carries vendor_event_id = "
        "MessageSid:MessageStatus, which the core stores once, so a replayed callback adds "
        "nothing"
    )

    def webhook_samples(self) -> list[WebhookSample]:
        samples = [
            signed_sample(status, status_body(status), status, expected)
            for status, expected in STATUSES.items()
        ]
        samples += [
            signed_sample(
                "undelivered_unreachable_30003",
                status_body("undelivered", "30003"),
                "undelivered",
                (OutcomeType.BOUNCED_SOFT,),
            ),
            signed_sample(
                "undelivered_unknown_number_30005",
                status_body("undelivered", "30005"),
                "undelivered",
                (OutcomeType.BOUNCED_HARD,),
            ),
            signed_sample(
                "failed_unsubscribed_21610",
                status_body("failed", "21610"),
                "failed",
                (OutcomeType.UNSUBSCRIBED,),
            ),
            signed_sample(
                "inbound_stop_reply",
                {
                    "AccountSid": ACCOUNT_SID,
                    "ApiVersion": "2010-04-01",
                    "Body": "STOP",
                    "From": "+33612345678",
                    "MessageSid": MESSAGE_SID,
                    "NumMedia": "0",
                    "NumSegments": "1",
                    "OptOutType": "STOP",
                    "SmsMessageSid": MESSAGE_SID,
                    "SmsSid": MESSAGE_SID,
                    "SmsStatus": "received",
                    "To": "+14155552345",
                },
                "received",
                (),
            ),
        ]
        return samples

    def sign(self, url: str, headers: dict[str, str], body: bytes) -> dict[str, str]:
        return {"X-Twilio-Signature": signature_for(SETTINGS["auth_token"], url, form_params(body))}
