"""Sending: what the core asks a Sender to deliver and what comes back."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from contracts.customers import ContactView, _require_aware
from contracts.vocabulary import Channel, MessageKind

__all__ = ["SendError", "SendRequest", "SendResult", "SendStatus"]

Scalar = str | int | float | bool


class SendRequest(BaseModel):
    """One message to one recipient, already approved by consent and pressure.

    ``idempotency_key`` is stable across retries of the same logical send: a brick whose vendor
    honours one must forward it, so a retried request never delivers twice.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    request_id: str = Field(min_length=8, max_length=64)
    idempotency_key: str = Field(min_length=8, max_length=128)
    channel: Channel
    kind: MessageKind
    scenario: str = Field(min_length=1, max_length=128)
    template: str = Field(min_length=1, max_length=256)
    variables: dict[str, Scalar] = Field(default_factory=dict)
    recipient: ContactView
    created_at: datetime

    _aware = field_validator("created_at")(_require_aware)


class SendStatus(StrEnum):
    ACCEPTED = "accepted"
    """The vendor took the message; delivery outcomes arrive later."""
    REJECTED = "rejected"
    """The vendor or brick refused it for good (bad address, payload refused)."""
    FAILED = "failed"
    """It did not go out; ``error.retryable`` tells whether trying again may help."""


class SendError(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    code: str = Field(max_length=64)
    message: str = Field(max_length=1000)
    retryable: bool = False
    retry_after: float | None = None


class SendResult(BaseModel):
    """The brick's answer for one ``SendRequest`` (batch sends return one per input, in order)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    request_id: str
    status: SendStatus
    vendor_message_id: str | None = None
    error: SendError | None = None

    @model_validator(mode="after")
    def _error_matches_status(self) -> SendResult:
        if (self.status is SendStatus.ACCEPTED) == (self.error is not None):
            raise ValueError("an accepted result has no error; any other status must carry one")
        return self
