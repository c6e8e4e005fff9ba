"""The OneSignal brick passes the standard HTTP conformance suite."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from contracts import (
    Brick,
    Channel,
    ContactView,
    PayloadRejected,
    SendResult,
    SendStatus,
    UpsertResult,
)
from hub.testing import PSEUDONYM, Exchange, HttpBrickConformance, make_send_request
from plugins.onesignal import OneSignalBrick
from plugins.onesignal.payloads import idempotency_uuid

APP_ID = "8250eaf6-1a58-489e-b136-7c74a864b434"
NOTIFICATION_ID = "b98881cc-1e94-4366-bbd9-db8f3429292b"
#: What OneSignal receives for the kit's key "idem-conformance-0001" (it only takes UUIDs).
IDEMPOTENCY_UUID = idempotency_uuid("idem-conformance-0001")
REJECTION = httpx.Response(
    400, json={"errors": ["Notification contents for each language must be a string"]}
)


async def _send(brick: Brick, view: ContactView) -> SendResult:
    assert isinstance(brick, OneSignalBrick)
    return await brick.send(make_send_request(view, channel=Channel.PUSH))


async def _send_inline(brick: Brick, view: ContactView) -> SendResult:
    assert isinstance(brick, OneSignalBrick)
    request = make_send_request(
        view, channel=Channel.PUSH, template="order-shipped", variables={"order_id": "A-1001"}
    )
    return await brick.send(request)


async def _send_batch(brick: Brick, view: ContactView) -> list[SendResult]:
    assert isinstance(brick, OneSignalBrick)
    return await brick.send_batch([make_send_request(view, channel=Channel.PUSH)])


async def _upsert(brick: Brick, view: ContactView) -> UpsertResult:
    """One contact through the sink; an item the vendor refused is raised as the kit expects.

    ``upsert`` reports a refused item in ``UpsertResult.error`` (it never raises for one item),
    so this adapter turns it back into the ``PayloadRejected`` the error matrix looks for.
    """
    assert isinstance(brick, OneSignalBrick)
    [result] = await brick.upsert([view])
    if result.error is not None:
        raise PayloadRejected(result.error)
    return result


async def _erase(brick: Brick, view: ContactView) -> None:
    assert isinstance(brick, OneSignalBrick)
    await brick.erase(view.pseudonym)


def _accepted(result: Any) -> None:
    results = result if isinstance(result, list) else [result]
    assert [r.status for r in results] == [SendStatus.ACCEPTED]
    assert results[0].vendor_message_id == NOTIFICATION_ID


def _created(result: Any) -> None:
    assert isinstance(result, UpsertResult)
    assert result.pseudonym == PSEUDONYM and result.created and result.error is None


class TestOneSignalConformance(HttpBrickConformance):
    brick = OneSignalBrick
    settings = {
        "base_url": "https://onesignal.conformance.test",
        "app_id": APP_ID,
        "api_key": "os_v2_app_conformance_key_0123456789",
        "android_channel_id": "2f5e0b2c-9c5d-4a4e-8f39-3c1a52e1b0aa",
        "ttl_seconds": 86400,
        "templates": {
            "welcome-1": "be4a8044-bbd6-11e4-a581-000c2940e62c",
            "order-shipped": {
                "contents": {"en": "Order $order_id has shipped", "fr": "Commande $order_id"},
                "headings": {"en": "Good news"},
            },
        },
    }
    vendor_spec = "onesignal.yaml"
    golden_dir = Path(__file__).parent / "golden"
    # Sends target the pseudonym and the sink can create the user from the pseudonym alone:
    # every exchange must work, and leak nothing, with no field at all.
    required_fields = frozenset()

    def exchanges(self) -> list[Exchange]:
        sent = httpx.Response(200, json={"id": NOTIFICATION_ID, "external_id": None})
        users = f"/apps/{APP_ID}/users"
        return [
            Exchange(
                name="send_template",
                call=_send,
                method="POST",
                path="/notifications",
                success=sent,
                check=_accepted,
                idempotency_key=IDEMPOTENCY_UUID,
                rejection=REJECTION,
            ),
            Exchange(
                name="send_inline",
                call=_send_inline,
                method="POST",
                path="/notifications",
                success=sent,
                check=_accepted,
                idempotency_key=IDEMPOTENCY_UUID,
                rejection=REJECTION,
            ),
            Exchange(
                name="send_batch",
                call=_send_batch,
                method="POST",
                path="/notifications",
                success=sent,
                check=_accepted,
                idempotency_key=IDEMPOTENCY_UUID,
                rejection=REJECTION,
            ),
            Exchange(
                name="upsert",
                call=_upsert,
                method="POST",
                path=users,
                success=httpx.Response(
                    201,
                    json={
                        "identity": {"external_id": PSEUDONYM, "onesignal_id": NOTIFICATION_ID},
                        "properties": {"language": "fr"},
                        "subscriptions": [],
                    },
                ),
                check=_created,
                rejection=httpx.Response(
                    400, json={"errors": [{"code": "invalid_value", "title": "Invalid token"}]}
                ),
            ),
            Exchange(
                name="erase",
                call=_erase,
                method="DELETE",
                path=f"{users}/by/external_id/{PSEUDONYM}",
                success=httpx.Response(200),
                rejection=httpx.Response(400, json={"errors": ["Invalid alias label"]}),
            ),
        ]
