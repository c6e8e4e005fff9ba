"""HTTP for bricks: one client factory and one mapping from vendor answers to contract errors.

Every HTTP brick talks to its vendor the same way, so a vendor outage, a rate limit or a revoked
key reaches the core as the same typed error whatever the vendor. Bricks never retry: they raise
(``raise_for_status`` / ``request``) and the core retries ``Retryable`` errors with backoff,
honouring ``RateLimited.retry_after``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
from pydantic import Field, field_validator

from contracts import (
    AuthFailed,
    BrickError,
    BrickSettings,
    PayloadRejected,
    Permanent,
    RateLimited,
    Retryable,
)

__all__ = [
    "HttpBrickSettings",
    "VendorError",
    "build_client",
    "error_for_response",
    "error_for_transport",
    "parse_retry_after",
    "raise_for_status",
    "request",
    "scrub",
    "user_agent",
]

#: A vendor answer reduced to what the core may keep: a message (scrubbed of contact points), the
#: vendor's own error code and, for a refused payload, the field it named.
VendorError = tuple[str, str | None, str | None]

_EMAIL = re.compile(r"[^\s@<>\"']+@[^\s@<>\"']+\.[^\s@<>\"']+")
#: Eight digits or more, single separators allowed: phone numbers, not SMTP codes ("550 5.1.1").
_PHONE = re.compile(r"\+?\d(?:[ .()-]{0,2}\d){7,}")
_MAX_MESSAGE = 300


class HttpBrickSettings(BrickSettings):
    """Settings every HTTP brick shares; a brick's ``Settings`` subclasses this.

    ``base_url`` is always configurable (regional endpoints, sandboxes, tests), so each brick
    overrides it with its vendor's production URL as the default.
    """

    base_url: str
    """Root URL of the vendor API (override for a regional endpoint or a sandbox)."""
    timeout_seconds: float = Field(default=10.0, gt=0, le=300)
    """How long one HTTP call may take (connect, read, write) before it counts as a timeout."""
    max_connections: int = Field(default=10, ge=1, le=1000)
    """Concurrent connections to the vendor from one process."""

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("https://", "http://")):
            raise ValueError("must start with https:// (or http:// for a local test server)")
        return value.rstrip("/")


def user_agent(brick_name: str, brick_version: str) -> str:
    """Identify the hub and the brick to the vendor (their support asks for it)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        hub_version = version("marketing-hub")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        hub_version = "0"
    return f"marketing-hub/{hub_version} {brick_name}/{brick_version}"


def build_client(
    settings: HttpBrickSettings,
    *,
    brick_name: str,
    brick_version: str,
    headers: Mapping[str, str] | None = None,
    auth: httpx.Auth | tuple[str, str] | None = None,
) -> httpx.AsyncClient:
    """An ``httpx.AsyncClient`` with the brick's base URL, timeouts, limits and user agent.

    Create it lazily in the brick and close it in ``Brick.aclose``; respx intercepts it in tests.
    """
    timeout = httpx.Timeout(settings.timeout_seconds, connect=min(5.0, settings.timeout_seconds))
    limits = httpx.Limits(
        max_connections=settings.max_connections,
        max_keepalive_connections=settings.max_connections,
    )
    return httpx.AsyncClient(
        base_url=settings.base_url,
        timeout=timeout,
        limits=limits,
        headers={"User-Agent": user_agent(brick_name, brick_version), **(headers or {})},
        auth=auth,
    )


def scrub(text: str, *, also: Iterable[str | None] = ()) -> str:
    """Remove email addresses, phone numbers and the ``also`` values (the names or token the
    brick sent) a vendor echoed back, and cap the length.

    Error messages end up in logs and dead-letter rows, which must never hold personal data.
    """
    for value in sorted((v for v in also if v and len(v) >= 2), key=len, reverse=True):
        text = text.replace(value, "<redacted>")
    cleaned = _PHONE.sub("<phone>", _EMAIL.sub("<email>", text))
    return cleaned if len(cleaned) <= _MAX_MESSAGE else cleaned[: _MAX_MESSAGE - 3] + "..."


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` value: delta-seconds or an HTTP date."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def _default_describe(response: httpx.Response) -> VendorError:
    """Best effort on common JSON error shapes: ``message``/``code``, ``errors[0]``..."""
    try:
        body: Any = response.json()
    except ValueError:
        return (response.reason_phrase or f"HTTP {response.status_code}", None, None)
    if isinstance(body, dict):
        errors = body.get("errors")
        if isinstance(errors, list) and errors and isinstance(errors[0], str | dict):
            first = errors[0]
            message = first if isinstance(first, str) else str(first.get("message", first))
            return (message, None, None)
        message = body.get("message") or body.get("error") or response.reason_phrase
        code = body.get("code")
        return (str(message), None if code is None else str(code), None)
    return (response.reason_phrase or f"HTTP {response.status_code}", None, None)


def error_for_response(
    response: httpx.Response,
    *,
    describe: Callable[[httpx.Response], VendorError] | None = None,
    reset_header: str | None = None,
    redact: Iterable[str | None] = (),
) -> BrickError | None:
    """The contract error a vendor answer means, or ``None`` for a 2xx.

    429 -> ``RateLimited`` (``Retry-After``, else ``reset_header`` read as seconds until the
    window resets, e.g. Brevo's ``x-sib-ratelimit-reset``); 408, 5xx -> ``Retryable``;
    401/403 -> ``AuthFailed``; 400/404/409/413/422 -> ``PayloadRejected``; other 4xx ->
    ``Permanent``. ``describe`` reads the vendor's error body (message, code, field);
    ``redact`` lists values the brick sent (names, tokens) to remove from the message.
    """
    status = response.status_code
    if 200 <= status < 300:
        return None
    message, vendor_code, field = (describe or _default_describe)(response)
    text = f"HTTP {status}: {scrub(message, also=redact)}"
    if status == 429:
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        if retry_after is None and reset_header:
            retry_after = parse_retry_after(response.headers.get(reset_header))
        return RateLimited(text, retry_after=retry_after, vendor_code=vendor_code)
    if status == 408 or status >= 500:
        return Retryable(text, vendor_code=vendor_code)
    if status in (401, 403):
        return AuthFailed(text, vendor_code=vendor_code)
    if status in (400, 404, 409, 413, 422):
        return PayloadRejected(text, field=field, vendor_code=vendor_code)
    return Permanent(text, vendor_code=vendor_code)


def raise_for_status(
    response: httpx.Response,
    *,
    describe: Callable[[httpx.Response], VendorError] | None = None,
    reset_header: str | None = None,
    redact: Iterable[str | None] = (),
) -> httpx.Response:
    """Return a 2xx response unchanged; raise the mapped contract error otherwise."""
    error = error_for_response(
        response, describe=describe, reset_header=reset_header, redact=redact
    )
    if error is not None:
        raise error
    return response


def error_for_transport(exc: httpx.HTTPError) -> BrickError:
    """Timeouts and network failures may pass on a later try; a malformed URL never will."""
    name = type(exc).__name__
    if isinstance(exc, httpx.TimeoutException | httpx.NetworkError | httpx.RemoteProtocolError):
        return Retryable(f"{name} talking to the vendor")
    return Permanent(f"{name}: the request could not be made")


async def request(
    client: httpx.AsyncClient,
    method: str,
    url: str,
    *,
    describe: Callable[[httpx.Response], VendorError] | None = None,
    reset_header: str | None = None,
    redact: Iterable[str | None] = (),
    **kwargs: Any,
) -> httpx.Response:
    """``client.request`` with transport errors and non-2xx answers raised as contract errors."""
    try:
        response = await client.request(method, url, **kwargs)
    except httpx.HTTPError as exc:
        raise error_for_transport(exc) from exc
    return raise_for_status(response, describe=describe, reset_header=reset_header, redact=redact)
