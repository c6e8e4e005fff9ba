"""The Brevo brick passes the kit's conformance suite (static, HTTP and webhook checks)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

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
from plugins.brevo import BrevoBrick

MESSAGE_ID = "<202601151000.1234567@smtp-relay.mailin.fr>"
IMPORT_THRESHOLD = 2


def _refusal(message: str, code: str = "invalid_parameter") -> httpx.Response:
    return httpx.Response(400, json={"code": code, "message": message})


async def _send(brick: Brick, view: ContactView) -> SendResult:
    assert isinstance(brick, BrevoBrick)
    return await brick.send(make_send_request(view, channel=Channel.EMAIL))


def _sent(result: Any) -> None:
    assert isinstance(result, SendResult) and result.status is SendStatus.ACCEPTED
    assert result.vendor_message_id == MESSAGE_ID


async def _upsert(brick: Brick, view: ContactView) -> list[UpsertResult]:
    """A refused contact is an item error, not an exception: surface it for the error matrix."""
    assert isinstance(brick, BrevoBrick)
    results = await brick.upsert([view])
    if results[0].error is not None:
        raise PayloadRejected(results[0].error)
    return results


def _created(result: Any) -> None:
    assert result == [UpsertResult(pseudonym=PSEUDONYM, created=True)]


def _batch(view: ContactView) -> list[ContactView]:
    """One more contact than the import threshold: the same fields under other pseudonyms."""
    return [view] + [
        view.model_copy(update={"pseudonym": f"{PSEUDONYM}{n}"}) for n in range(IMPORT_THRESHOLD)
    ]


async def _import(brick: Brick, view: ContactView) -> list[UpsertResult]:
    assert isinstance(brick, BrevoBrick)
    return await brick.upsert(_batch(view))


def _imported(result: Any) -> None:
    assert [r.pseudonym for r in result] == [
        v.pseudonym for v in _batch(ContactView(pseudonym=PSEUDONYM))
    ]
    assert all(r.error is None for r in result)


async def _erase(brick: Brick, view: ContactView) -> None:
    assert isinstance(brick, BrevoBrick)
    await brick.erase(view.pseudonym)


class TestBrevoConformance(HttpBrickConformance):
    brick = BrevoBrick
    settings: ClassVar[dict[str, Any]] = {
        "base_url": "https://api.brevo.conformance/v3",
        "api_key": "xkeysib-conformance-0123456789",
        "templates": {"welcome-1": 12},
        "sender_email": "shop@brevo.conformance",
        "sender_name": "Conformance Shop",
        "list_ids": [3],
        "import_threshold": IMPORT_THRESHOLD,
        "webhook_token": "whk-conformance-0123456789abcdef",
    }
    vendor_spec = "brevo_v3.yml"
    golden_dir = Path(__file__).parent / "golden"

    def exchanges(self) -> list[Exchange]:
        """Send, upsert, import and erase. "Add contacts to a list" is checked in
        test_contacts.py against its own request schema instead: the spec's ``oneOf`` of three
        all-optional object schemas matches every body three times, so no request can pass
        whole-operation validation, and its response schema types successes as emails."""
        return [
            Exchange(
                name="send_email",
                call=_send,
                method="POST",
                path="/smtp/email",
                success=httpx.Response(201, json={"messageId": MESSAGE_ID}),
                check=_sent,
                idempotency_key="idem-conformance-0001",
                rejection=_refusal("Invalid template id"),
            ),
            Exchange(
                name="upsert_contact",
                call=_upsert,
                method="POST",
                path="/contacts",
                success=httpx.Response(201, json={"id": 21}),
                check=_created,
                rejection=_refusal("Invalid email address", "invalid_parameter"),
            ),
            Exchange(
                name="import_contacts",
                call=_import,
                method="POST",
                path="/contacts/import",
                success=httpx.Response(202, json={"processId": 78}),
                check=_imported,
                rejection=_refusal("listIds is not valid"),
            ),
            Exchange(
                name="erase_contact",
                call=_erase,
                method="DELETE",
                path=f"/contacts/{PSEUDONYM}",
                success=httpx.Response(204),
                rejection=_refusal("Invalid identifierType"),
            ),
        ]
