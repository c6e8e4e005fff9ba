"""Checks for bricks that receive vendor webhooks (``Capability.WEBHOOK_RECEIVER``).

A webhook endpoint is public: anyone who learns its URL can post to it. What the core stores
from it — bounces, unsubscribes — changes consent for every other brick, so a brick's
``verify`` must reject anything the vendor did not send, and ``parse`` must turn anything that
*was* verified into contract outcomes or a clean ``PayloadRejected``, never a crash that would
make the vendor retry forever. The kit checks both from the outside: genuine samples, tampered
and unauthenticated copies, a replay, and hypothesis-generated bodies signed with the brick's
own ``sign``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar
from urllib.parse import urlencode, urlsplit, urlunsplit

import pytest

from contracts import (
    Brick,
    OutcomeType,
    PayloadRejected,
    WebhookPayload,
    WebhookReceiver,
    WebhookRejected,
)
from hub.testing.conformance import BrickConformance
from hub.testing.samples import PSEUDONYM

__all__ = ["WebhookConformance", "WebhookSample", "fuzz_bodies"]


@dataclass(frozen=True)
class WebhookSample:
    """One genuine vendor call and what ``parse`` must make of it."""

    name: str
    url: str
    headers: dict[str, str]
    body: bytes
    status: str
    expected: tuple[OutcomeType, ...] = field(default=())


def _without(headers: Mapping[str, str], names: set[str]) -> dict[str, str]:
    lowered = {name.lower() for name in names}
    return {k: v for k, v in headers.items() if k.lower() not in lowered}


def _forge(value: str) -> str:
    """A different credential of the same shape (so length checks cannot tell them apart)."""
    if not value:
        return "forged"
    last = value[-1]
    swapped = "A" if last != "A" else "B"
    return value[:-1] + swapped


def fuzz_bodies(samples: list[WebhookSample]) -> Any:
    """Hypothesis strategy: random bytes, random JSON, form bodies, and the samples' own JSON
    objects with values replaced (the bodies most likely to get past a first ``json.loads``)."""
    from hypothesis import strategies as st

    scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=40)
    values = st.recursive(
        scalars,
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner),
        max_leaves=12,
    )
    strategies = [
        st.binary(max_size=512),
        values.map(lambda value: json.dumps(value).encode()),
        st.dictionaries(st.text(max_size=16), st.text(max_size=32), max_size=8).map(
            lambda form: urlencode(form).encode()
        ),
    ]
    for sample in samples:
        try:
            decoded = json.loads(sample.body)
        except ValueError:
            continue
        template = decoded[0] if isinstance(decoded, list) and decoded else decoded
        if isinstance(template, dict) and template:
            mutated = st.fixed_dictionaries({}, optional={key: values for key in template}).map(
                lambda body, wrap=isinstance(decoded, list): json.dumps(
                    [body] if wrap else body
                ).encode()
            )
            strategies.append(mutated)
    return st.one_of(strategies)


class WebhookConformance(BrickConformance):
    """The standard suite plus webhook checks; see ``docs/writing-a-brick.md``."""

    #: Every vendor status/event word the brick handles (``hard_bounce``, ``undelivered``...).
    vendor_statuses: ClassVar[frozenset[str]] = frozenset()
    #: Why replays are harmless when the vendor's calls carry no timestamp (``stale_sample()``
    #: returns ``None``); required then, e.g. "outcomes are de-duplicated on the event id".
    replay_protection: ClassVar[str] = ""
    #: How many bodies hypothesis tries.
    fuzz_examples: ClassVar[int] = 200

    def webhook_samples(self) -> list[WebhookSample]:
        """Genuine vendor calls, at least one per vendor status."""
        pytest.fail(f"{type(self).__name__} must return webhook_samples()")

    def sign(self, url: str, headers: dict[str, str], body: bytes) -> dict[str, str]:
        """Headers that make ``(url, body)`` genuine (a signature, a token, a timestamp)."""
        pytest.fail(f"{type(self).__name__} must implement sign()")

    def stale_sample(self) -> WebhookSample | None:
        """A genuine call signed too long ago; ``None`` when the vendor sends no timestamp."""
        return None

    # -- helpers -------------------------------------------------------------------------------
    def receiver(self) -> WebhookReceiver:
        brick: Brick = self.brick(self._settings(), self._context())
        assert isinstance(brick, WebhookReceiver), "declare and implement WEBHOOK_RECEIVER"
        return brick

    def _samples(self) -> list[WebhookSample]:
        samples = self.webhook_samples()
        assert samples, "webhook_samples() must return at least one genuine call"
        return samples

    def _rejected(
        self, sample: WebhookSample, url: str, headers: dict[str, str], body: bytes, what: str
    ) -> None:
        try:
            self.receiver().verify(url, headers, body)
        except WebhookRejected:
            return
        except Exception as exc:
            raise AssertionError(
                f"{sample.name}: {what} must raise WebhookRejected, got {exc!r}"
            ) from exc
        raise AssertionError(f"{sample.name}: {what} was accepted by verify()")

    # -- checks --------------------------------------------------------------------------------
    def test_webhook_samples_parse(self) -> None:
        for sample in self._samples():
            receiver = self.receiver()
            try:
                receiver.verify(sample.url, sample.headers, sample.body)
            except WebhookRejected as exc:
                message = f"{sample.name}: a genuine call was rejected: {exc!r}"
                raise AssertionError(message) from exc
            try:
                payload = receiver.parse(sample.headers, sample.body)
            except Exception as exc:
                message = f"{sample.name}: parse() failed on a genuine call: {exc!r}"
                raise AssertionError(message) from exc
            assert isinstance(payload, WebhookPayload), f"{sample.name}: parse() -> {payload!r}"
            got = tuple(outcome.type for outcome in payload.outcomes)
            assert got == tuple(sample.expected), (
                f"{sample.name} ({sample.status}): expected outcomes {list(sample.expected)}, "
                f"parse() gave {list(got)}"
            )
            echoed = PSEUDONYM.encode() in sample.body or PSEUDONYM in sample.url
            for outcome in payload.outcomes:
                assert outcome.channel in self.brick.channels, (
                    f"{sample.name}: outcome on {outcome.channel}, which the brick does not serve"
                )
                if echoed:
                    assert outcome.pseudonym == PSEUDONYM, (
                        f"{sample.name}: the vendor echoed the pseudonym; the outcome must carry "
                        f"it so the core can find the person (got {outcome.pseudonym!r})"
                    )

    def test_webhook_statuses_covered(self) -> None:
        assert self.vendor_statuses, "list the vendor status words the brick handles"
        covered = {sample.status for sample in self._samples()}
        missing = sorted(set(self.vendor_statuses) - covered)
        assert not missing, f"no genuine sample for vendor statuses {missing}"
        unknown = sorted(covered - set(self.vendor_statuses))
        assert not unknown, f"samples carry statuses not in vendor_statuses: {unknown}"

    def test_webhook_tampered_body_rejected(self) -> None:
        samples = self._samples()
        unsigned = []
        for sample in samples:
            tampered = sample.body + b" "
            genuine = self.sign(sample.url, sample.headers, sample.body)
            again = self.sign(sample.url, sample.headers, sample.body)
            if genuine == again == self.sign(sample.url, sample.headers, tampered):
                unsigned.append(sample.name)  # the credentials do not depend on the body
                continue
            self._rejected(sample, sample.url, sample.headers, tampered, "a tampered body")
        if len(unsigned) == len(samples):
            pytest.skip(
                "the vendor does not sign bodies (a shared token authenticates the call): a "
                "tampered body cannot be told apart; forged and missing tokens are checked"
            )

    def test_webhook_forged_credentials_rejected(self) -> None:
        for sample in self._samples():
            credentials = self.sign(sample.url, sample.headers, sample.body)
            if not credentials:
                continue  # credentials live in the URL: see the missing-credentials check
            forged = {**sample.headers}
            lowered = {name.lower() for name in credentials}
            for name in list(forged):
                if name.lower() in lowered:
                    forged[name] = _forge(forged[name])
            for name, value in credentials.items():
                if name.lower() not in {key.lower() for key in forged}:
                    forged[name] = _forge(value)
            self._rejected(sample, sample.url, forged, sample.body, "a forged credential")

    def test_webhook_missing_credentials_rejected(self) -> None:
        for sample in self._samples():
            credentials = self.sign(sample.url, sample.headers, sample.body)
            if credentials:
                stripped = _without(sample.headers, set(credentials))
                self._rejected(sample, sample.url, stripped, sample.body, "a call without auth")
            else:
                parts = urlsplit(sample.url)
                host = parts.netloc.rpartition("@")[2]  # no user:password@ either
                bare = urlunsplit((parts.scheme, host, parts.path, "", ""))
                self._rejected(sample, bare, sample.headers, sample.body, "a URL without token")

    def test_webhook_stale_call_rejected(self) -> None:
        stale = self.stale_sample()
        if stale is None:
            assert self.replay_protection.strip(), (
                "stale_sample() is None (no timestamp in the vendor's calls): explain in "
                "replay_protection why a replayed call does no harm"
            )
            pytest.skip(f"no timestamp to check; replay protection: {self.replay_protection}")
        self._rejected(stale, stale.url, stale.headers, stale.body, "a stale (replayed) call")

    def test_webhook_fuzzed_bodies_never_crash(self) -> None:
        from hypothesis import HealthCheck, given, settings

        samples = self._samples()
        first = samples[0]
        base = _without(first.headers, set(self.sign(first.url, first.headers, first.body)))

        @settings(
            max_examples=self.fuzz_examples,
            deadline=None,
            database=None,
            report_multiple_bugs=False,  # one minimal failing body, raised as AssertionError
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        )
        @given(body=fuzz_bodies(samples))
        def fuzz(body: bytes) -> None:
            self.check_fuzzed_body(first.url, base, body)

        fuzz()

    def check_fuzzed_body(self, url: str, base: dict[str, str], body: bytes) -> None:
        """A signed body verifies (or is rejected cleanly); parse returns or refuses cleanly."""
        headers = {**base, **self.sign(url, base, body)}
        receiver = self.receiver()
        try:
            receiver.verify(url, headers, body)
        except WebhookRejected:
            return  # e.g. a vendor whose timestamp lives in the body: cleanly refused
        except Exception as exc:
            raise AssertionError(f"verify() crashed on {body!r}: {exc!r}") from exc
        try:
            payload = receiver.parse(headers, body)
        except PayloadRejected:
            return
        except Exception as exc:
            raise AssertionError(
                f"parse() must return a WebhookPayload or raise PayloadRejected; on {body!r} "
                f"it raised {exc!r}"
            ) from exc
        assert isinstance(payload, WebhookPayload), f"parse() returned {payload!r} on {body!r}"
