"""The Brevo brick passes the kit's conformance suite (static, HTTP and webhook checks)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, ClassVar

import httpx

from contracts import (
    Brick,
    Channel,
    ContactView,
    OutcomeType,
    PayloadRejected,
    SendResult,
    SendStatus,
    UpsertResult,
)
from hub.testing import (
    PSEUDONYM,
    PUBLIC_BASE_URL,
    Exchange,
    HttpBrickConformance,
    WebhookConformance,
    WebhookSample,
    make_send_request,
)
from plugins.brevo import BrevoBrick
from plugins.brevo.webhooks import EVENT_OUTCOMES

MESSAGE_ID = "<202601151000.1234567@smtp-relay.mailin.fr>"
IMPORT_THRESHOLD = 2
WEBHOOK_TOKEN = "whk-conformance-0123456789abcdef"
WEBHOOK_URL = f"{PUBLIC_BASE_URL}/webhooks/brevo"


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


def _event(word: str, ts: float, **extra: Any) -> dict[str, Any]:
    """A transactional event as Brevo documents it (developers.brevo.com, transactional
    webhooks), echoing the pseudonym the brick put in ``X-Mailin-custom``."""
    return {
        "event": word,
        "email": "ada.conformance@example.org",
        "id": 4242,
        "date": "2026-01-15 11:00:00",
        "ts": int(ts),
        "message-id": MESSAGE_ID,
        "ts_event": int(ts),
        "ts_epoch": int(ts * 1000),
        "subject": "Welcome",
        "X-Mailin-custom": PSEUDONYM,
        "sending_ip": "185.41.28.109",
        "template_id": 12,
        "tags": ["conformance"],
        **extra,
    }


_EXTRA: dict[str, dict[str, str]] = {
    "click": {"link": "https://shop.example.com/p/1?utm_source=brevo"},
    "hard_bounce": {"reason": "550 5.1.1 mailbox does not exist"},
    "soft_bounce": {"reason": "452 4.2.2 mailbox full"},
    "blocked": {"reason": "blocked: contact is blacklisted"},
    "invalid_email": {"reason": "invalid email address"},
    "deferred": {"reason": "421 try again later"},
    "error": {"reason": "internal error"},
}


class TestBrevoConformance(HttpBrickConformance, WebhookConformance):
    brick = BrevoBrick
    settings: ClassVar[dict[str, Any]] = {
        "base_url": "https://api.brevo.conformance/v3",
        "api_key": "xkeysib-conformance-0123456789",
        "templates": {"welcome-1": 12},
        "sender_email": "shop@brevo.conformance",
        "sender_name": "Conformance Shop",
        "list_ids": [3],
        "import_threshold": IMPORT_THRESHOLD,
        "webhook_token": WEBHOOK_TOKEN,
    }
    vendor_statuses = frozenset(EVENT_OUTCOMES)
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

    def sign(self, url: str, headers: dict[str, str], body: bytes) -> dict[str, str]:
        """Brevo's webhook ``auth`` option: the shared token as a bearer header."""
        return {"Authorization": f"Bearer {WEBHOOK_TOKEN}"}

    def _sample(self, name: str, status: str, events: Any) -> WebhookSample:
        body = json.dumps(events).encode()
        headers = {"Content-Type": "application/json", **self.sign(WEBHOOK_URL, {}, body)}
        words = [e["event"] for e in (events if isinstance(events, list) else [events])]
        expected = tuple(t for w in words if (t := EVENT_OUTCOMES[w]) is not None)
        return WebhookSample(name, WEBHOOK_URL, headers, body, status, expected)

    def webhook_samples(self) -> list[WebhookSample]:
        now = time.time()
        samples = [
            self._sample(word, word, _event(word, now - 60, **_EXTRA.get(word, {})))
            for word in sorted(EVENT_OUTCOMES)
        ]
        batch = [_event(w, now - 300) for w in ("request", "delivered", "unique_opened", "click")]
        samples.append(self._sample("batched", "delivered", batch))
        return samples

    def stale_sample(self) -> WebhookSample | None:
        """A genuine call two days old: past Brevo's last retry (about 11 h) and the 24 h
        tolerance, so it can only be a replay."""
        return self._sample("stale", "delivered", _event("delivered", time.time() - 2 * 86_400))


def test_expected_outcomes_of_samples_are_not_all_empty() -> None:
    """Guard against the samples above silently expecting nothing."""
    samples = TestBrevoConformance().webhook_samples()
    assert sum(len(s.expected) for s in samples) >= 12
    assert samples[-1].expected == (OutcomeType.DELIVERED, OutcomeType.OPENED, OutcomeType.CLICKED)
