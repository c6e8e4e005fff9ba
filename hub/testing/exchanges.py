"""Run one brick operation against a mocked vendor and keep everything it sent.

The HTTP conformance checks all start the same way: a fresh brick, respx with *every* request
required to match a route (an unmocked call is a network call in production, so it fails the
test), one call, then questions about the recorded requests. This module is that common part;
``http_conformance`` asks the questions.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote, unquote_plus

import httpx
import respx
from respx.models import Call

import contracts
from contracts import Brick, BrickError, ContactView, RateLimited, SendResult

__all__ = [
    "Exchange",
    "ExchangeRun",
    "add_route",
    "error_from_result",
    "find_leaks",
    "request_text",
    "run_exchange",
    "snapshot",
]

#: Answer the route under test gives: a response, or a transport exception class to raise.
Answer = httpx.Response | type[httpx.TransportError]

_REGEX_CHARS = frozenset("^$*+?()[]{}|\\")
_DROPPED_HEADERS = frozenset({"user-agent", "content-length", "host", "connection"})
_AUTH_HEADER = re.compile(r"auth|key|token|secret|signature|password|cookie|session", re.I)
_NOT_AUTH_HEADER = re.compile(r"idempotency", re.I)
REDACTED = "<redacted>"


@dataclass(frozen=True)
class Exchange:
    """One operation of a brick and the vendor call it must make (see ``kit_api``)."""

    name: str
    call: Callable[[Brick, ContactView], Awaitable[Any]]
    method: str
    path: str
    success: httpx.Response
    check: Callable[[Any], None] | None = None
    idempotency_key: str | None = None
    rejection: httpx.Response | None = None
    extra_routes: Callable[[respx.Router], None] | None = None


@dataclass
class ExchangeRun:
    """What happened during one call: its return value or error, and every request made."""

    exchange: Exchange
    result: Any = None
    error: Exception | None = None
    calls: list[Call] = field(default_factory=list)
    route_calls: list[Call] = field(default_factory=list)

    @property
    def requests(self) -> list[httpx.Request]:
        return [call.request for call in self.calls]

    @property
    def route_requests(self) -> list[httpx.Request]:
        return [call.request for call in self.route_calls]

    def expect_success(self) -> None:
        """Fail, naming the exchange, unless the call returned after reaching its route."""
        name = self.exchange.name
        if self.error is not None:
            raise AssertionError(f"{name}: the call raised {self.error!r}") from self.error
        assert self.route_calls, (
            f"{name}: {self.exchange.method} {self.exchange.path} was never called "
            f"(requests made: {[f'{r.method} {r.url.path}' for r in self.requests]})"
        )


def copy_response(response: httpx.Response) -> httpx.Response:
    """A fresh, unread copy: one ``Exchange`` answers many runs and respx reads what it returns."""
    return httpx.Response(
        response.status_code, headers=response.headers.copy(), content=response.content
    )


def add_route(router: respx.Router, method: str, path: str) -> respx.Route:
    """A route for ``method`` + ``path`` under the router's base URL.

    ``path`` is a regular expression as soon as it holds a regex metacharacter other than ``.``
    (``/Accounts/\\w+/Messages.json``); otherwise it must match exactly.
    """
    if _REGEX_CHARS & set(path):
        pattern = path if path.startswith("^") else "^" + path
        pattern = pattern if pattern.endswith("$") else pattern + "$"
        return router.route(method=method.upper(), path__regex=pattern)
    return router.route(method=method.upper(), path=path)


async def _run(
    factory: Callable[[], Brick],
    exchange: Exchange,
    view: ContactView,
    base_url: str,
    answer: Answer | None,
) -> ExchangeRun:
    run = ExchangeRun(exchange)
    with respx.mock(base_url=base_url, assert_all_mocked=True, assert_all_called=False) as router:
        route = add_route(router, exchange.method, exchange.path)
        answer = exchange.success if answer is None else answer
        if isinstance(answer, httpx.Response):
            route.mock(return_value=copy_response(answer))
        else:
            route.mock(side_effect=answer)
        if exchange.extra_routes is not None:
            exchange.extra_routes(router)
        brick = factory()
        try:
            run.result = await exchange.call(brick, view)
        except Exception as exc:  # every failure is evidence for the checks, not a crash here
            run.error = exc
        finally:
            await brick.aclose()
        run.calls = list(router.calls)
        run.route_calls = list(route.calls)
    return run


def run_exchange(
    factory: Callable[[], Brick],
    exchange: Exchange,
    view: ContactView,
    base_url: str,
    answer: Answer | None = None,
) -> ExchangeRun:
    """Call ``exchange`` on a fresh brick from ``factory``; the route answers ``answer``
    (default: the exchange's documented success)."""
    return asyncio.run(_run(factory, exchange, view, base_url, answer))


def error_from_result(result: Any) -> Exception | None:
    """The error a batch-style result reports, as the exception ``send`` would have raised.

    ``send_batch`` never raises for its items; it returns ``SendResult``s whose ``error.code``
    is the contract error's class name (the convention of the core and the bundled bricks).
    """
    results = [result] if isinstance(result, SendResult) else result
    if not isinstance(results, list) or not results:
        return None
    if not all(isinstance(item, SendResult) and item.error for item in results):
        return None
    error = results[0].error
    cls = getattr(contracts, error.code, None)
    if not (isinstance(cls, type) and issubclass(cls, BrickError)):
        return None
    if issubclass(cls, RateLimited):
        return cls(error.message, retry_after=error.retry_after)
    return cls(error.message)


def _body(request: httpx.Request) -> Any:
    content = request.content
    if not content:
        return None
    content_type = request.headers.get("content-type", "").lower()
    text = content.decode("utf-8", "replace")
    if "json" in content_type:
        try:
            return json.loads(text)
        except ValueError:
            return text
    if "x-www-form-urlencoded" in content_type:
        form: dict[str, Any] = {}
        for key, value in parse_qsl(text, keep_blank_values=True):
            if key in form:
                previous = form[key]
                form[key] = [*previous, value] if isinstance(previous, list) else [previous, value]
            else:
                form[key] = value
        return form
    return text


def snapshot(request: httpx.Request, secrets: Iterable[str] = ()) -> dict[str, Any]:
    """The stable, reviewable part of a request: what a golden file holds.

    Transport details (user agent, length, host, ``accept*``, connection) are dropped;
    credentials are replaced by ``<redacted>`` so golden files can be committed.
    """
    hidden = [s for s in secrets if s]
    headers: dict[str, str] = {}
    for name, value in request.headers.multi_items():
        lower = name.lower()
        if lower in _DROPPED_HEADERS or lower.startswith("accept"):
            continue
        secret = _AUTH_HEADER.search(lower) and not _NOT_AUTH_HEADER.search(lower)
        if secret or any(s in value for s in hidden):
            value = REDACTED
        headers[lower] = f"{headers[lower]}, {value}" if lower in headers else value
    return {
        "method": request.method,
        "url": request.url.raw_path.decode("ascii"),
        "headers": dict(sorted(headers.items())),
        "body": _body(request),
    }


def request_text(request: httpx.Request) -> str:
    """Everything a request carries (URL, headers, body), raw and percent-decoded, lower case."""
    url = str(request.url)
    body = request.content.decode("utf-8", "replace")
    headers = "\n".join(f"{k}: {v}" for k, v in request.headers.multi_items())
    return "\n".join([url, unquote(url), headers, body, unquote_plus(body)]).lower()


def _variants(value: str) -> list[str]:
    """Forms a value may take on the wire: as is, and a phone number without its ``+``."""
    lowered = value.lower()
    variants = [lowered]
    if lowered.startswith("+") and lowered[1:].isdigit():
        variants.append(lowered[1:])
    return variants


def find_leaks(values: dict[str, str], texts: Sequence[str]) -> list[str]:
    """Names of the ``values`` found in any of ``texts`` (already lower case)."""
    return sorted(
        name
        for name, value in values.items()
        if any(variant in text for variant in _variants(value) for text in texts)
    )
