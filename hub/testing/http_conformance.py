"""Behaviour checks for bricks that call a vendor over HTTP.

A brick's test class lists its operations as ``Exchange``s; the kit then runs each one against a
mocked vendor (respx, every request must be mocked) and checks what the brick *sent*: a golden
snapshot, only the fields it needs, never the hub's customer id, the idempotency key, the
vendor's published spec, and what it *raised* for each kind of vendor failure. Reading the
requests rather than trusting the brick's code is the point: minimisation and the error tree are
promises the core relies on, so they are checked from the outside, the same way for every
vendor.
"""

from __future__ import annotations

import difflib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import httpx
import pytest
from pydantic import SecretStr

from contracts import (
    AuthFailed,
    Brick,
    BrickError,
    Channel,
    ContactView,
    CustomerField,
    PayloadRejected,
    RateLimited,
    Retryable,
)
from hub.testing.conformance import BrickConformance
from hub.testing.exchanges import (
    Answer,
    Exchange,
    ExchangeRun,
    error_from_result,
    find_leaks,
    request_text,
    run_exchange,
    snapshot,
)
from hub.testing.samples import (
    CONTACT_POINTS,
    HUB_ID_PATTERN,
    SAMPLE_VALUES,
    full_view,
    view_values,
    view_with,
)

__all__ = ["ErrorCase", "HttpBrickConformance", "error_cases"]

_FILE_NAME = re.compile(r"[A-Za-z0-9_-]+")
_ECHO = f"{SAMPLE_VALUES[CustomerField.EMAIL]} {SAMPLE_VALUES[CustomerField.PHONE]}"


@dataclass(frozen=True)
class ErrorCase:
    """One row of the error matrix: what the vendor does and what the brick must raise."""

    name: str
    answer: Answer
    expected: type[BrickError]
    not_rate_limited: bool


def error_cases(rejection: httpx.Response | None) -> list[ErrorCase]:
    """The matrix. Error bodies echo the recipient's address and number, as real vendors do, so
    a brick that copies vendor text into its error messages is caught leaking them."""

    def body(message: str) -> dict[str, str]:
        return {"message": f"{message} for {_ECHO}", "code": "conformance_error"}

    return [
        ErrorCase(
            "429",
            httpx.Response(429, headers={"Retry-After": "7"}, json=body("Too many requests")),
            RateLimited,
            not_rate_limited=False,
        ),
        ErrorCase(
            "500",
            httpx.Response(500, json=body("Internal error")),
            Retryable,
            not_rate_limited=True,
        ),
        ErrorCase(
            "503", httpx.Response(503, json=body("Unavailable")), Retryable, not_rate_limited=True
        ),
        ErrorCase("ReadTimeout", httpx.ReadTimeout, Retryable, not_rate_limited=True),
        ErrorCase("ConnectError", httpx.ConnectError, Retryable, not_rate_limited=True),
        ErrorCase(
            "400",
            rejection if rejection is not None else httpx.Response(400, json={}),
            PayloadRejected,
            not_rate_limited=True,
        ),
        ErrorCase(
            "401",
            httpx.Response(401, json=body("Key not found")),
            AuthFailed,
            not_rate_limited=True,
        ),
    ]


class HttpBrickConformance(BrickConformance):
    """The standard suite plus HTTP behaviour checks; see ``docs/writing-a-brick.md``."""

    #: File name inside ``$HUB_VENDOR_SPECS`` (``"brevo_v3.yml"``); ``None``: no spec check.
    vendor_spec: ClassVar[str | None] = None
    #: Folder of golden request snapshots, one ``<exchange name>.json`` per exchange.
    golden_dir: ClassVar[Path]
    #: The fields the brick works with at the very least (default: its channels' contact points).
    required_fields: ClassVar[frozenset[CustomerField] | None] = None
    #: Channel of the end-to-end send through the core (default: the brick's first channel).
    core_send_channel: ClassVar[Channel | None] = None

    def exchanges(self) -> list[Exchange]:
        """The brick's HTTP operations; every brick test class built on this kit lists them."""
        pytest.fail(f"{type(self).__name__} must list the brick's HTTP exchanges in exchanges()")

    # -- helpers -------------------------------------------------------------------------------
    def minimal_fields(self) -> frozenset[CustomerField]:
        if self.required_fields is not None:
            return frozenset(self.required_fields)
        return frozenset(CONTACT_POINTS[channel] for channel in self.brick.channels)

    def base_url(self) -> str:
        base = getattr(self._settings(), "base_url", None) or self.settings.get("base_url")
        assert base, "HTTP bricks need a base_url setting (derive Settings from HttpBrickSettings)"
        return str(base)

    def secret_values(self) -> list[str]:
        """Secret setting values, so snapshots redact them wherever they appear."""
        built = self._settings()
        return [
            value.get_secret_value()
            for value in dict(built).values()
            if isinstance(value, SecretStr) and value.get_secret_value()
        ]

    def fresh_brick(self) -> Brick:
        return self.brick(self._settings(), self._context())

    def run(
        self, exchange: Exchange, view: ContactView | None = None, answer: Answer | None = None
    ) -> ExchangeRun:
        """Run one exchange on a fresh brick (default view: everything the brick may use)."""
        view = full_view(self.brick) if view is None else view
        return run_exchange(self.fresh_brick, exchange, view, self.base_url(), answer)

    def _exchanges(self) -> list[Exchange]:
        exchanges = self.exchanges()
        assert exchanges, "exchanges() must list at least one HTTP operation"
        return exchanges

    # -- checks --------------------------------------------------------------------------------
    def test_http_exchanges_declared(self) -> None:
        names = [exchange.name for exchange in self._exchanges()]
        assert len(set(names)) == len(names), f"exchange names must be unique: {names}"
        for name in names:
            assert _FILE_NAME.fullmatch(name), (
                f"exchange name {name!r} must be usable as a file name (letters, digits, _ -)"
            )
        assert isinstance(getattr(self, "golden_dir", None), Path), (
            "set golden_dir = Path(__file__).parent / 'golden' on the test class"
        )

    def test_http_success(self) -> None:
        for exchange in self._exchanges():
            run = self.run(exchange)
            run.expect_success()
            if exchange.check is not None:
                exchange.check(run.result)

    def test_http_golden_snapshots(self) -> None:
        secrets = self.secret_values()
        for exchange in self._exchanges():
            run = self.run(exchange)
            run.expect_success()
            shots = [snapshot(request, secrets) for request in run.route_requests]
            self._compare_golden(exchange.name, shots[0] if len(shots) == 1 else shots)

    def _compare_golden(self, name: str, recorded: Any) -> None:
        path = self.golden_dir / f"{name}.json"
        text = json.dumps(recorded, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
        missing = not path.exists()
        if missing or os.environ.get("HUB_UPDATE_GOLDEN") == "1":
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            if missing and os.environ.get("CI"):
                pytest.fail(f"golden file {path} was missing (written now): review and commit it")
            return
        expected = path.read_text(encoding="utf-8")
        if json.loads(expected) != json.loads(text):
            diff = "".join(
                difflib.unified_diff(
                    expected.splitlines(keepends=True),
                    text.splitlines(keepends=True),
                    f"{path.name} (golden)",
                    f"{path.name} (sent now)",
                )
            )
            raise AssertionError(
                f"{name}: the request differs from its golden snapshot; if the change is "
                f"intended, rerun with HUB_UPDATE_GOLDEN=1 and review the diff\n{diff}"
            )

    def test_http_minimal_view(self) -> None:
        minimal = self.minimal_fields()
        others = {
            field.value: value
            for field, value in view_values(full_view(self.brick)).items()
            if field not in minimal
        }
        for exchange in self._exchanges():
            run = self.run(exchange, view_with(minimal))
            run.expect_success()
            leaks = find_leaks(others, [request_text(r) for r in run.requests])
            assert not leaks, (
                f"{exchange.name}: with a view of only {sorted(minimal)}, the requests still "
                f"carry the sample values of {leaks}: a field not in the view must not be sent "
                "(hard-coded, cached or defaulted)"
            )

    def test_http_no_hub_id(self) -> None:
        for exchange in self._exchanges():
            run = self.run(exchange)
            for request in run.requests:
                found = HUB_ID_PATTERN.search(request_text(request))
                assert found is None, (
                    f"{exchange.name}: {request.method} {request.url.path} carries a hub "
                    "customer id; identify the person by the brick's pseudonym"
                )

    def test_http_error_matrix(self) -> None:
        values = {f.value: v for f, v in view_values(full_view(self.brick)).items()}
        for exchange in self._exchanges():
            for case in error_cases(exchange.rejection):
                self._check_error_case(exchange, case, values)

    def _check_error_case(self, exchange: Exchange, case: ErrorCase, values: dict) -> None:
        label = f"{exchange.name}, vendor answers {case.name}"
        run = self.run(exchange, answer=case.answer)
        assert run.route_calls, f"{label}: the route was never called"
        error = run.error if run.error is not None else error_from_result(run.result)
        assert error is not None, f"{label}: expected {case.expected.__name__}, got {run.result!r}"
        assert isinstance(error, case.expected), (
            f"{label}: expected {case.expected.__name__}, got {error!r}"
        )
        if case.not_rate_limited:
            assert not isinstance(error, RateLimited), f"{label}: not a rate limit, got {error!r}"
        else:
            assert getattr(error, "retry_after", None) == 7, (
                f"{label}: Retry-After: 7 must become retry_after == 7, got {error!r}"
            )
        texts = [str(error).lower(), repr(error).lower()]
        if isinstance(error, BrickError):
            texts.append(error.message.lower())
        leaks = find_leaks(values, texts)
        assert not leaks, f"{label}: the error message carries personal data ({leaks}): {error!r}"

    def test_http_idempotency_key(self) -> None:
        keyed = [exchange for exchange in self._exchanges() if exchange.idempotency_key]
        if not self.brick.supports_idempotency:
            pytest.skip(
                f"{self.brick.name} declares supports_idempotency = False: its vendor honours no "
                "idempotency key, so the core de-duplicates retried sends on its side"
            )
        assert keyed, (
            "the brick declares supports_idempotency = True: set idempotency_key on the "
            "exchanges that carry one, so the kit can see it forwarded"
        )
        for exchange in keyed:
            run = self.run(exchange)
            run.expect_success()
            key = str(exchange.idempotency_key).lower()
            assert any(key in request_text(r) for r in run.route_requests), (
                f"{exchange.name}: idempotency key {exchange.idempotency_key!r} is not in the "
                "request (header or body); a retried send could deliver twice"
            )

    def test_http_vendor_spec(self) -> None:
        if self.vendor_spec is None:
            pytest.skip("no vendor_spec declared for this brick")
        from hub.testing.vendor_specs import load_vendor_spec

        spec = load_vendor_spec(self.vendor_spec)
        for exchange in self._exchanges():
            full = self.run(exchange)
            full.expect_success()
            minimal = self.run(exchange, view_with(self.minimal_fields()))
            for run in (full, minimal):
                for call in run.calls:
                    spec.validate_request(call.request, label=exchange.name)
            for call in full.calls:
                if call.has_response:
                    spec.validate_response(call.request, call.response, label=exchange.name)
            if exchange.rejection is not None:
                spec.validate_response(
                    full.route_requests[0], exchange.rejection, label=f"{exchange.name} rejection"
                )

    def test_core_end_to_end_send(self, tmp_path: Path) -> None:
        from contracts import Capability
        from hub.testing.core_send import check_core_send

        if Capability.SENDER not in self.brick.capabilities:
            pytest.skip(f"{self.brick.name} is not a Sender")
        check_core_send(self, tmp_path)
