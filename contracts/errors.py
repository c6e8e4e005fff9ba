"""The error tree every brick raises and the core catches.

Bricks raise; the core owns retries, backoff, dead letters and cursors. The tree is shaped by
what the core must *do* next, not by what went wrong at the vendor:

    BrickError
    ├── Retryable            try again later (timeouts, 5xx, connection errors)
    │   └── RateLimited      try again after ``retry_after`` seconds (429, vendor reset headers)
    └── Permanent            never retry this input as it is
        ├── AuthFailed       credentials rejected: retrying cannot help, an operator must act
        ├── PayloadRejected  the vendor refused this payload (400/422): dead-letter it, with reason
        │   └── RecipientOptedOut  the person told the vendor to stop (SMS STOP, Twilio 21610)
        └── WebhookRejected  an inbound webhook failed verification: answer 401, store nothing

Messages must never carry secrets or personal data: they end up in logs and dead-letter rows.
"""

from __future__ import annotations

__all__ = [
    "AuthFailed",
    "BrickError",
    "PayloadRejected",
    "Permanent",
    "RateLimited",
    "RecipientOptedOut",
    "Retryable",
    "WebhookRejected",
]


class BrickError(Exception):
    """Base of every error a brick raises towards the core.

    ``vendor_code`` keeps the vendor's own error code (e.g. Twilio ``21610``) so the core can map
    it to an outcome without parsing free text.
    """

    def __init__(self, message: str, *, vendor_code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.vendor_code = vendor_code

    def __repr__(self) -> str:
        code = f", vendor_code={self.vendor_code!r}" if self.vendor_code else ""
        return f"{type(self).__name__}({self.message!r}{code})"


class Retryable(BrickError):
    """A transient failure: the same request may succeed later."""


class RateLimited(Retryable):
    """The vendor asked us to slow down; ``retry_after`` is in seconds (``None`` if unknown)."""

    def __init__(
        self,
        message: str = "rate limited by the vendor",
        *,
        retry_after: float | None = None,
        vendor_code: str | None = None,
    ) -> None:
        super().__init__(message, vendor_code=vendor_code)
        if retry_after is not None and retry_after < 0:
            raise ValueError("retry_after must be >= 0 seconds")
        self.retry_after = retry_after


class Permanent(BrickError):
    """Retrying the same input cannot succeed."""


class AuthFailed(Permanent):
    """The vendor rejected the brick's credentials (401/403)."""


class PayloadRejected(Permanent):
    """The vendor refused the payload itself (400/422); ``field`` names the culprit when known."""

    def __init__(
        self, message: str, *, field: str | None = None, vendor_code: str | None = None
    ) -> None:
        super().__init__(message, vendor_code=vendor_code)
        self.field = field


class RecipientOptedOut(PayloadRejected):
    """The vendor refused because the recipient opted out at the vendor (an SMS ``STOP`` reply:
    Twilio error 21610). The core records the channel's marketing consent as denied, so the
    opt-out holds across every brick, not only the one that learnt it."""


class WebhookRejected(Permanent):
    """A webhook call failed verification (bad signature or token, replay outside tolerance)."""
