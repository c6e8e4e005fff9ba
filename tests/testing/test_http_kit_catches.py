"""Each HTTP check fails for the bug it exists for: broken variants of the fake brick."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar

import httpx
import pytest

from contracts import Channel, PayloadRejected, RateLimited, SendRequest, SendResult, SendStatus
from hub.sdk.http import raise_for_status
from hub.testing import Exchange, make_send_request
from tests.testing.fake_http import FakeMail, FakeMailSuite


def suite(brick: type[FakeMail], golden_dir: Path | None = None, **attrs: Any) -> FakeMailSuite:
    """The FakeMail suite pointed at another brick class (and golden folder)."""
    extra: dict[str, Any] = {"brick": brick, **attrs}
    if golden_dir is not None:
        extra["golden_dir"] = golden_dir
    return type("Suite", (FakeMailSuite,), extra)()


def send_exchange(s: FakeMailSuite) -> Exchange:
    [exchange] = [e for e in s.exchanges() if e.name == "send_email"]
    return exchange


class CachesProfiles(FakeMail):
    """Remembers names by address across instances and fills them in: data the view did not
    carry (the kind of "enrichment" that defeats the allow-list)."""

    profiles: ClassVar[dict[str, dict[str, str]]] = {}

    def _recipient(self, view):
        to = super()._recipient(view)
        known = self.profiles.setdefault(view.email, {})
        if view.first_name:
            known["first_name"] = view.first_name
        return {**known, **to}


class NeedsFirstName(FakeMail):
    def _recipient(self, view):
        if view.first_name is None:
            raise PayloadRejected("no first name", field="first_name")
        return super()._recipient(view)


class SwallowsRateLimit(FakeMail):
    async def send(self, req: SendRequest) -> SendResult:
        response = await self._http().post("/send", json=self._send_body(req))
        if response.status_code == 429:  # "the vendor will catch up": it will not
            return SendResult(request_id=req.request_id, status=SendStatus.ACCEPTED)
        raise_for_status(response)
        return SendResult(request_id=req.request_id, status=SendStatus.ACCEPTED)


class ForgetsRetryAfter(FakeMail):
    async def send(self, req: SendRequest) -> SendResult:
        response = await self._http().post("/send", json=self._send_body(req))
        if response.status_code == 429:
            raise RateLimited("slow down")
        return await super().send(req)


class LeaksTransportErrors(FakeMail):
    """Calls httpx directly: a ConnectError reaches the core as an unknown exception."""

    async def send(self, req: SendRequest) -> SendResult:
        response = raise_for_status(await self._http().post("/send", json=self._send_body(req)))
        return SendResult(
            request_id=req.request_id,
            status=SendStatus.ACCEPTED,
            vendor_message_id=response.json()["message_id"],
        )


class EchoesVendorText(FakeMail):
    async def send(self, req: SendRequest) -> SendResult:
        response = await self._http().post("/send", json=self._send_body(req))
        if response.status_code >= 500:
            from contracts import Retryable

            raise Retryable(f"vendor said: {response.text}")
        return await super().send(req)


class IgnoresIdempotencyKey(FakeMail):
    def _send_body(self, req: SendRequest) -> dict[str, Any]:
        body = super()._send_body(req)
        del body["idempotency_key"]
        return body


class CallsUnmockedEndpoint(FakeMail):
    async def send(self, req: SendRequest) -> SendResult:
        await self._http().get("/account")  # not part of any exchange: a real network call
        return await super().send(req)


def test_the_well_behaved_brick_passes_each_check_called_directly(tmp_path: Path) -> None:
    s = suite(FakeMail)
    for check in (
        s.test_http_exchanges_declared,
        s.test_http_success,
        s.test_http_golden_snapshots,
        s.test_http_minimal_view,
        s.test_http_no_hub_id,
        s.test_http_error_matrix,
        s.test_http_idempotency_key,
    ):
        check()
    s.test_core_end_to_end_send(tmp_path)


def test_a_field_outside_the_view_is_a_leak() -> None:
    s = suite(CachesProfiles)
    CachesProfiles.profiles.clear()
    s.run(send_exchange(s)).expect_success()  # the full view fills the cache
    with pytest.raises(AssertionError, match=r"carry the sample values of \['first_name'\]"):
        s.test_http_minimal_view()
    CachesProfiles.profiles.clear()


def test_the_core_send_catches_data_the_configuration_withheld(tmp_path: Path) -> None:
    s = suite(CachesProfiles)
    CachesProfiles.profiles.clear()
    s.run(send_exchange(s)).expect_success()
    with pytest.raises(AssertionError, match="never let it have"):
        s.test_core_end_to_end_send(tmp_path)
    CachesProfiles.profiles.clear()


def test_a_brick_that_needs_more_than_the_minimum_fails(tmp_path: Path) -> None:
    s = suite(NeedsFirstName)
    with pytest.raises(AssertionError, match="PayloadRejected"):
        s.test_http_minimal_view()
    with pytest.raises(AssertionError, match="could not send"):
        s.test_core_end_to_end_send(tmp_path)


def test_swallowing_a_429_fails_the_error_matrix() -> None:
    with pytest.raises(AssertionError, match="send_email, vendor answers 429"):
        suite(SwallowsRateLimit).test_http_error_matrix()


def test_retry_after_must_be_read() -> None:
    with pytest.raises(AssertionError, match="retry_after == 7"):
        suite(ForgetsRetryAfter).test_http_error_matrix()


def test_raw_transport_errors_fail_the_error_matrix() -> None:
    with pytest.raises(AssertionError, match="vendor answers ReadTimeout: expected Retryable"):
        suite(LeaksTransportErrors).test_http_error_matrix()


def test_vendor_text_echoing_the_address_is_a_leak() -> None:
    with pytest.raises(AssertionError, match=r"personal data \(\['email'\]\)"):
        suite(EchoesVendorText).test_http_error_matrix()


def test_an_ignored_idempotency_key_fails() -> None:
    with pytest.raises(AssertionError, match="idempotency key 'idem-conformance-0001'"):
        suite(IgnoresIdempotencyKey).test_http_idempotency_key()


def test_idempotency_claimed_but_never_shown_fails() -> None:
    s = suite(FakeMail)
    s.exchanges = lambda: [  # type: ignore[method-assign]
        Exchange(
            name="send_email",
            call=lambda brick, view: brick.send(make_send_request(view, channel=Channel.EMAIL)),
            method="POST",
            path="/send",
            success=httpx.Response(201, json={"message_id": "fm-0001"}),
        )
    ]
    with pytest.raises(AssertionError, match="set idempotency_key"):
        s.test_http_idempotency_key()


def test_a_brick_without_idempotency_is_recorded_as_such() -> None:
    class NoKeys(FakeMail):
        supports_idempotency: ClassVar[bool] = False

    with pytest.raises(pytest.skip.Exception, match="declares supports_idempotency = False"):
        suite(NoKeys).test_http_idempotency_key()


def test_an_unmocked_request_fails() -> None:
    with pytest.raises(AssertionError, match="not mocked"):
        suite(CallsUnmockedEndpoint).test_http_success()


def test_a_hub_id_in_a_request_fails() -> None:
    s = suite(FakeMail)
    hub_id = "cus_" + "a" * 32
    s.exchanges = lambda: [  # type: ignore[method-assign]
        Exchange(
            name="send_email",
            call=lambda brick, view: brick.send(
                make_send_request(view, channel=Channel.EMAIL, variables={"ref": hub_id})
            ),
            method="POST",
            path="/send",
            success=httpx.Response(201, json={"message_id": "fm-0001"}),
        )
    ]
    with pytest.raises(AssertionError, match="carries a hub customer id"):
        s.test_http_no_hub_id()


def test_golden_snapshots_written_compared_and_refreshed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.delenv("HUB_UPDATE_GOLDEN", raising=False)
    s = suite(FakeMail, golden_dir=tmp_path)
    s.test_http_golden_snapshots()  # missing files are written
    golden = tmp_path / "send_email.json"
    recorded = json.loads(golden.read_text())
    assert recorded["headers"]["api-key"] == "<redacted>"
    assert "user-agent" not in recorded["headers"]
    assert recorded["body"]["idempotency_key"] == "idem-conformance-0001"

    golden.write_text(json.dumps({**recorded, "url": "/v1/old-send"}))
    with pytest.raises(AssertionError, match="differs from its golden snapshot"):
        s.test_http_golden_snapshots()
    monkeypatch.setenv("HUB_UPDATE_GOLDEN", "1")
    s.test_http_golden_snapshots()
    assert json.loads(golden.read_text()) == recorded


def test_a_missing_golden_file_fails_in_ci(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    monkeypatch.delenv("HUB_UPDATE_GOLDEN", raising=False)
    with pytest.raises(pytest.fail.Exception, match="was missing"):
        suite(FakeMail, golden_dir=tmp_path).test_http_golden_snapshots()
    assert (tmp_path / "send_email.json").exists()


def test_batch_results_count_as_raised_errors() -> None:
    s = suite(FakeMail)
    s.exchanges = lambda: [  # type: ignore[method-assign]
        Exchange(
            name="send_batch",
            call=lambda brick, view: brick.send_batch(
                [make_send_request(view, channel=Channel.EMAIL)]
            ),
            method="POST",
            path="/send",
            success=httpx.Response(201, json={"message_id": "fm-0001"}),
        )
    ]
    s.test_http_error_matrix()
