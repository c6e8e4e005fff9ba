"""Webhooks: token checks, replay window, every documented event, and no address in outcomes."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

import pytest

from contracts import OutcomeType, PayloadRejected, WebhookRejected
from plugins.brevo.tests.helpers import EMAIL, PSEUDONYM, TOKEN, event, make_brick
from plugins.brevo.webhooks import EVENT_OUTCOMES, reject_stale

URL = "https://hub.example.com/webhooks/brevo"
AUTH = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}


def body_of(*events: dict) -> bytes:
    return json.dumps(events[0] if len(events) == 1 else list(events)).encode()


def now() -> float:
    return time.time()


# -- who may call -------------------------------------------------------------------------------
def test_bearer_token_is_accepted() -> None:
    make_brick().verify(URL, AUTH, body_of(event("delivered", now())))


def test_header_name_and_scheme_are_case_insensitive() -> None:
    headers = {"authorization": f"bearer {TOKEN}"}
    make_brick().verify(URL, headers, body_of(event("delivered", now())))


def test_query_token_is_accepted() -> None:
    make_brick().verify(f"{URL}?token={TOKEN}", {}, body_of(event("delivered", now())))


@pytest.mark.parametrize(
    ("url", "headers"),
    [
        (URL, {}),
        (URL, {"Authorization": "Bearer wrong-token-0123456789ab"}),
        (URL, {"Authorization": f"Basic {TOKEN}"}),
        (URL, {"Authorization": f"Bearer {TOKEN[:-1]}"}),
        (f"{URL}?token=wrong", {}),
        (f"{URL}?token={TOKEN}&token={TOKEN}", {}),
        # A wrong header is not rescued by a right query parameter.
        (f"{URL}?token={TOKEN}", {"Authorization": "Bearer nope"}),
    ],
)
def test_missing_or_wrong_token_is_rejected(url: str, headers: dict[str, str]) -> None:
    with pytest.raises(WebhookRejected) as caught:
        make_brick().verify(url, headers, body_of(event("delivered", now())))
    assert TOKEN not in str(caught.value)


def test_without_configured_token_every_call_is_refused() -> None:
    with pytest.raises(WebhookRejected, match="not configured"):
        make_brick(webhook_token=None).verify(URL, AUTH, body_of(event("delivered", now())))


# -- replay window ------------------------------------------------------------------------------
def test_event_older_than_tolerance_is_refused() -> None:
    stale = event("delivered", now() - 86_400 - 120)
    with pytest.raises(WebhookRejected, match="tolerance"):
        make_brick().verify(URL, AUTH, body_of(stale))


def test_brevo_last_retry_after_eleven_hours_is_still_accepted() -> None:
    make_brick().verify(URL, AUTH, body_of(event("hard_bounce", now() - 11.5 * 3600)))


def test_tolerance_is_a_setting() -> None:
    brick = make_brick(webhook_tolerance_seconds=600)
    with pytest.raises(WebhookRejected):
        brick.verify(URL, AUTH, body_of(event("delivered", now() - 900)))


def test_one_stale_event_in_a_batch_refuses_the_call() -> None:
    batch = body_of(event("delivered", now()), event("click", now() - 3 * 86_400))
    with pytest.raises(WebhookRejected):
        make_brick().verify(URL, AUTH, batch)


def test_ts_epoch_is_used_when_ts_event_is_missing() -> None:
    old = event("delivered", now() - 3 * 86_400)
    del old["ts_event"]
    with pytest.raises(WebhookRejected):
        reject_stale(json.dumps(old).encode(), tolerance=timedelta(hours=24))


def test_future_events_are_refused_too() -> None:
    with pytest.raises(WebhookRejected):
        reject_stale(body_of(event("delivered", now() + 2 * 86_400)), tolerance=timedelta(hours=24))


# -- what each event means ----------------------------------------------------------------------
EXPECTED = {
    "request": None,
    "delivered": OutcomeType.DELIVERED,
    "opened": OutcomeType.OPENED,
    "unique_opened": OutcomeType.OPENED,
    "proxy_open": OutcomeType.OPENED,
    "unique_proxy_open": OutcomeType.OPENED,
    "click": OutcomeType.CLICKED,
    "hard_bounce": OutcomeType.BOUNCED_HARD,
    "soft_bounce": OutcomeType.BOUNCED_SOFT,
    "invalid_email": OutcomeType.BOUNCED_HARD,
    "blocked": OutcomeType.FAILED,
    "error": OutcomeType.FAILED,
    "spam": OutcomeType.COMPLAINED,
    "unsubscribed": OutcomeType.UNSUBSCRIBED,
    "deferred": None,
}


def test_every_documented_event_is_mapped() -> None:
    assert dict(EVENT_OUTCOMES) == EXPECTED


@pytest.mark.parametrize(("word", "expected"), sorted(EXPECTED.items()))
def test_event_becomes_its_outcome(word: str, expected: OutcomeType | None) -> None:
    ts = 1_768_471_200  # 2026-01-15T10:00:00Z
    payload = make_brick().parse(AUTH, body_of(event(word, ts, reason="550 mailbox full")))
    if expected is None:
        assert payload.outcomes == []
        return
    (outcome,) = payload.outcomes
    assert outcome.type is expected
    assert outcome.vendor_status == word
    assert outcome.pseudonym == PSEUDONYM
    assert outcome.vendor_message_id == "<202601151000.1234567@smtp-relay.mailin.fr>"
    assert outcome.occurred_at == datetime(2026, 1, 15, 10, tzinfo=UTC)
    assert outcome.channel.value == "email"
    assert EMAIL not in outcome.model_dump_json()


def test_batched_body_gives_outcomes_in_order_and_skips_unknown_words() -> None:
    ts = now()
    batch = body_of(
        event("delivered", ts),
        event("some_future_event", ts),
        event("request", ts),
        event("click", ts, link="https://shop.example.com/p/1"),
    )
    outcomes = make_brick().parse(AUTH, batch).outcomes
    assert [o.type for o in outcomes] == [OutcomeType.DELIVERED, OutcomeType.CLICKED]
    assert outcomes[1].url == "https://shop.example.com/p/1"


def test_click_link_loses_the_parts_that_carry_the_address() -> None:
    link = (
        "https://shop.example.com/p/1?utm_source=brevo&uid=ada.lovelace%40example.org"
        "&e=" + EMAIL + "#" + EMAIL
    )
    (outcome,) = make_brick().parse(AUTH, body_of(event("click", now(), link=link))).outcomes
    assert outcome.url == "https://shop.example.com/p/1?utm_source=brevo"
    in_path = "https://shop.example.com/unsubscribe/ada.lovelace@example.org/confirm"
    (outcome,) = make_brick().parse(AUTH, body_of(event("click", now(), link=in_path))).outcomes
    assert outcome.url is None


def test_bounce_reason_loses_the_address() -> None:
    reason = f"550 5.1.1 <{EMAIL}>: Recipient address rejected; also {EMAIL.upper()}"
    (outcome,) = (
        make_brick().parse(AUTH, body_of(event("hard_bounce", now(), reason=reason))).outcomes
    )
    assert outcome.reason is not None
    assert EMAIL not in outcome.reason.lower()
    assert "Recipient address rejected" in outcome.reason


def test_foreign_custom_header_is_not_taken_for_a_pseudonym() -> None:
    for custom in ("short", EMAIL, "x" * 200, 12345678901234567890):
        (outcome,) = (
            make_brick()
            .parse(AUTH, body_of(event("delivered", now(), **{"X-Mailin-custom": custom})))
            .outcomes
        )
        assert outcome.pseudonym is None


def test_event_without_custom_header_still_maps_by_message_id() -> None:
    data = event("delivered", now())
    del data["X-Mailin-custom"]
    (outcome,) = make_brick().parse(AUTH, body_of(data)).outcomes
    assert outcome.pseudonym is None and outcome.vendor_message_id is not None


def test_vendor_event_id_is_stable_across_retries_and_distinct_per_event() -> None:
    ts = now()
    first = make_brick().parse(AUTH, body_of(event("opened", ts))).outcomes[0]
    again = make_brick().parse(AUTH, body_of(event("opened", ts))).outcomes[0]
    other = make_brick().parse(AUTH, body_of(event("opened", ts + 5))).outcomes[0]
    assert first.vendor_event_id == again.vendor_event_id != other.vendor_event_id


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not json",
        b"\xff\xfe",
        b"42",
        b'"delivered"',
        b"[1, 2]",
        b'{"email": "x@example.org"}',
        b'{"event": 5}',
        b'{"event": "delivered"}',
        b'{"event": "delivered", "ts_event": "yesterday"}',
        b'{"event": "delivered", "ts_event": true}',
        b'{"event": "delivered", "ts_event": 1e300}',
        b"[" * 5000 + b"]" * 5000,
    ],
)
def test_malformed_bodies_are_payload_rejected(body: bytes) -> None:
    with pytest.raises(PayloadRejected) as caught:
        make_brick().parse(AUTH, body)
    assert "x@example.org" not in str(caught.value)


def test_malformed_bodies_still_pass_verify_so_parse_can_refuse_them() -> None:
    make_brick().verify(URL, AUTH, b"not json")


def test_empty_batch_is_an_empty_payload() -> None:
    assert make_brick().parse(AUTH, b"[]").outcomes == []
