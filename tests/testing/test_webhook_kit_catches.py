"""Each webhook check fails for the bug it exists for: broken variants of the fake receiver."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, ClassVar

import pytest

from contracts import OutcomeType, WebhookPayload, WebhookRejected
from hub.sdk.webhooks import require_header, verify_token
from hub.testing import WebhookConformance, WebhookSample
from tests.testing.fake_webhook import (
    SECRET,
    STATUSES,
    URL,
    FakeHook,
    FakeHookSuite,
    event_body,
)


def suite(brick: type[FakeHook], **attrs: Any) -> FakeHookSuite:
    return type("Suite", (FakeHookSuite,), {"brick": brick, **attrs})()


class AcceptsAnything(FakeHook):
    def verify(self, url: str, headers: Mapping[str, str], body: bytes) -> None:
        return None


class NoReplayCheck(FakeHook):
    def verify(self, url: str, headers: Mapping[str, str], body: bytes) -> None:
        from hub.sdk.webhooks import verify_hmac

        timestamp = require_header(headers, "X-Fake-Timestamp")
        message = timestamp.encode() + b"." + body
        verify_hmac(SECRET, message, require_header(headers, "X-Fake-Signature"))


class CrashesOnOddBodies(FakeHook):
    def parse(self, headers: Mapping[str, str], body: bytes) -> WebhookPayload:
        event = json.loads(body)  # ValueError, KeyError, TypeError... reach the server
        event["event"] = str(event["event"])
        return super().parse(headers, body)


class SoftensHardBounces(FakeHook):
    def parse(self, headers: Mapping[str, str], body: bytes) -> WebhookPayload:
        payload = super().parse(headers, body)
        outcomes = [
            o.model_copy(update={"type": OutcomeType.BOUNCED_SOFT})
            if o.type is OutcomeType.BOUNCED_HARD
            else o
            for o in payload.outcomes
        ]
        return WebhookPayload(outcomes=outcomes)


class ForgetsThePseudonym(FakeHook):
    def parse(self, headers: Mapping[str, str], body: bytes) -> WebhookPayload:
        payload = super().parse(headers, body)
        return WebhookPayload(
            outcomes=[o.model_copy(update={"pseudonym": None}) for o in payload.outcomes]
        )


def test_the_well_behaved_receiver_passes_each_check_called_directly() -> None:
    s = suite(FakeHook)
    s.test_webhook_samples_parse()
    s.test_webhook_statuses_covered()
    s.test_webhook_tampered_body_rejected()
    s.test_webhook_forged_credentials_rejected()
    s.test_webhook_missing_credentials_rejected()
    s.test_webhook_stale_call_rejected()
    s.test_webhook_fuzzed_bodies_never_crash()


@pytest.mark.parametrize(
    ("check", "message"),
    [
        ("test_webhook_tampered_body_rejected", "a tampered body was accepted"),
        ("test_webhook_forged_credentials_rejected", "a forged credential was accepted"),
        ("test_webhook_missing_credentials_rejected", "a call without auth was accepted"),
        ("test_webhook_stale_call_rejected", r"a stale \(replayed\) call was accepted"),
    ],
)
def test_a_receiver_accepting_forgeries_fails(check: str, message: str) -> None:
    with pytest.raises(AssertionError, match=message):
        getattr(suite(AcceptsAnything), check)()


def test_a_receiver_without_replay_check_fails_only_that_check() -> None:
    s = suite(NoReplayCheck)
    s.test_webhook_forged_credentials_rejected()
    s.test_webhook_tampered_body_rejected()
    with pytest.raises(AssertionError, match="stale"):
        s.test_webhook_stale_call_rejected()


def test_a_parser_crashing_on_fuzzed_bodies_fails() -> None:
    with pytest.raises(AssertionError, match="parse\\(\\) must return a WebhookPayload"):
        suite(CrashesOnOddBodies).test_webhook_fuzzed_bodies_never_crash()


def test_a_wrong_status_mapping_fails() -> None:
    with pytest.raises(AssertionError, match=r"hard_bounce \(hard_bounce\): expected outcomes"):
        suite(SoftensHardBounces).test_webhook_samples_parse()


def test_an_outcome_without_the_echoed_pseudonym_fails() -> None:
    with pytest.raises(AssertionError, match="the vendor echoed the pseudonym"):
        suite(ForgetsThePseudonym).test_webhook_samples_parse()


def test_every_vendor_status_needs_a_sample() -> None:
    s = suite(FakeHook, vendor_statuses=frozenset({*STATUSES, "clicked"}))
    with pytest.raises(
        AssertionError, match=r"no genuine sample for vendor statuses \['clicked'\]"
    ):
        s.test_webhook_statuses_covered()


def test_no_timestamp_needs_an_explanation() -> None:
    s = suite(FakeHook, stale_sample=lambda self: None)
    with pytest.raises(AssertionError, match="explain in replay_protection"):
        s.test_webhook_stale_call_rejected()
    explained = suite(
        FakeHook, stale_sample=lambda self: None, replay_protection="events de-duplicated on id"
    )
    with pytest.raises(pytest.skip.Exception, match="events de-duplicated on id"):
        explained.test_webhook_stale_call_rejected()


# -- a token-authenticated vendor (bodies unsigned, like Brevo) ---------------------------------
TOKEN = "fake-webhook-token-0123456789"


class TokenHook(FakeHook):
    def verify(self, url: str, headers: Mapping[str, str], body: bytes) -> None:
        verify_token(TOKEN, require_header(headers, "X-Hook-Token"))


class AcceptsAnyToken(TokenHook):
    def verify(self, url: str, headers: Mapping[str, str], body: bytes) -> None:
        if not require_header(headers, "X-Hook-Token"):
            raise WebhookRejected("missing token")


class TokenSuite(WebhookConformance):
    brick = TokenHook
    settings: ClassVar[dict[str, Any]] = {"signing_secret": SECRET}
    vendor_statuses = frozenset(STATUSES)
    replay_protection = "outcomes are de-duplicated on the vendor's event id"
    fuzz_examples = 30

    def webhook_samples(self) -> list[WebhookSample]:
        return [
            WebhookSample(s, URL, {"X-Hook-Token": TOKEN}, event_body(s), s, (o,))
            for s, o in STATUSES.items()
        ]

    def sign(self, url: str, headers: dict[str, str], body: bytes) -> dict[str, str]:
        return {"X-Hook-Token": TOKEN}


def test_a_token_vendor_skips_the_tamper_check_but_not_the_token_checks() -> None:
    s = TokenSuite()
    with pytest.raises(pytest.skip.Exception, match="does not sign bodies"):
        s.test_webhook_tampered_body_rejected()
    s.test_webhook_forged_credentials_rejected()
    s.test_webhook_missing_credentials_rejected()
    s.test_webhook_samples_parse()
    s.test_webhook_fuzzed_bodies_never_crash()
    broken = type("Broken", (TokenSuite,), {"brick": AcceptsAnyToken})()
    with pytest.raises(AssertionError, match="a forged credential was accepted"):
        broken.test_webhook_forged_credentials_rejected()
