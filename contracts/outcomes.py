"""What happened to a message after the vendor took it, normalised across vendors."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, field_validator

from contracts.customers import _require_aware
from contracts.vocabulary import Channel

__all__ = ["CONSENT_REVOKING_OUTCOMES", "Outcome", "OutcomeType"]


class OutcomeType(StrEnum):
    DELIVERED = "delivered"
    OPENED = "opened"
    CLICKED = "clicked"
    BOUNCED_HARD = "bounced_hard"
    BOUNCED_SOFT = "bounced_soft"
    COMPLAINED = "complained"
    UNSUBSCRIBED = "unsubscribed"
    FAILED = "failed"


#: Outcomes after which the channel must not be used for marketing any more, in any brick.
CONSENT_REVOKING_OUTCOMES: frozenset[OutcomeType] = frozenset(
    {OutcomeType.BOUNCED_HARD, OutcomeType.COMPLAINED, OutcomeType.UNSUBSCRIBED}
)


class Outcome(BaseModel):
    """One delivery outcome reported by a vendor (usually through a webhook).

    The person is named by the reporting brick's pseudonym; the core maps it back.
    ``vendor_status`` keeps the vendor's own word (``hard_bounce``, ``undelivered``...) for audit.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: OutcomeType
    channel: Channel
    pseudonym: str | None = Field(default=None, min_length=16)
    vendor_message_id: str | None = Field(default=None, max_length=256)
    vendor_event_id: str | None = Field(default=None, max_length=256)
    vendor_status: str = Field(min_length=1, max_length=64)
    occurred_at: datetime
    reason: str | None = Field(default=None, max_length=1000)
    url: str | None = Field(default=None, max_length=2048, description="For clicks.")

    _aware = field_validator("occurred_at")(_require_aware)
