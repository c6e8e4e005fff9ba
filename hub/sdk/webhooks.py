"""Webhook verification helpers: constant-time comparison, HMAC signatures, replay windows.

A webhook endpoint is reachable by anyone who knows its URL, so a brick's ``verify`` must prove
each call comes from the vendor before the core stores anything. These helpers do the parts that
are easy to get subtly wrong (timing leaks, header case, clock skew) and raise
``WebhookRejected``, which the server answers with 401.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Literal

from contracts import WebhookRejected

__all__ = [
    "check_timestamp",
    "constant_time_equals",
    "get_header",
    "hmac_signature",
    "require_header",
    "verify_hmac",
    "verify_token",
]

Algorithm = Literal["sha1", "sha256", "sha512"]
Encoding = Literal["hex", "base64"]


def constant_time_equals(a: str | bytes, b: str | bytes) -> bool:
    """Compare secrets without leaking, through timing, how many leading characters match."""
    left = a.encode("utf-8") if isinstance(a, str) else a
    right = b.encode("utf-8") if isinstance(b, str) else b
    return hmac.compare_digest(left, right)


def get_header(headers: Mapping[str, str], name: str) -> str | None:
    """A header's value whatever its case (HTTP header names are case-insensitive)."""
    wanted = name.lower()
    for key, value in headers.items():
        if key.lower() == wanted:
            return value
    return None


def require_header(headers: Mapping[str, str], name: str) -> str:
    value = get_header(headers, name)
    if not value:
        raise WebhookRejected(f"missing {name} header")
    return value


def hmac_signature(
    secret: str | bytes,
    message: str | bytes,
    *,
    algorithm: Algorithm = "sha256",
    encoding: Encoding = "hex",
) -> str:
    """The HMAC of ``message`` under ``secret``, as hex or base64 text."""
    key = secret.encode("utf-8") if isinstance(secret, str) else secret
    data = message.encode("utf-8") if isinstance(message, str) else message
    digest = hmac.new(key, data, getattr(hashlib, algorithm)).digest()
    return digest.hex() if encoding == "hex" else base64.b64encode(digest).decode("ascii")


def verify_hmac(
    secret: str | bytes,
    message: str | bytes,
    signature: str | None,
    *,
    algorithm: Algorithm = "sha256",
    encoding: Encoding = "hex",
) -> None:
    """Raise ``WebhookRejected`` unless ``signature`` is the HMAC of ``message``."""
    if not signature:
        raise WebhookRejected("missing signature")
    expected = hmac_signature(secret, message, algorithm=algorithm, encoding=encoding)
    if not constant_time_equals(expected, signature.strip()):
        raise WebhookRejected("signature does not match")


def verify_token(expected: str, presented: str | None, *, what: str = "webhook token") -> None:
    """Shared-secret check for vendors that do not sign payloads (e.g. Brevo)."""
    if not presented:
        raise WebhookRejected(f"missing {what}")
    if not constant_time_equals(expected, presented):
        raise WebhookRejected(f"{what} does not match")


def check_timestamp(
    sent_at: datetime | float | int | str,
    *,
    tolerance: timedelta,
    now: datetime | None = None,
) -> datetime:
    """Reject a call signed too long ago (or too far in the future): a replay.

    ``sent_at`` is a datetime, Unix seconds, or their text. Returns the parsed instant.
    """
    when = _as_datetime(sent_at)
    current = now or datetime.now(UTC)
    if abs(current - when) > tolerance:
        raise WebhookRejected(
            f"timestamp outside the {int(tolerance.total_seconds())} s tolerance (replay?)"
        )
    return when


def _as_datetime(value: datetime | float | int | str) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        try:
            parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError as exc:
            raise WebhookRejected("unreadable timestamp") from exc
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    if seconds > 1e11:  # milliseconds since the epoch
        seconds /= 1000
    try:
        return datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError) as exc:
        raise WebhookRejected("unreadable timestamp") from exc
