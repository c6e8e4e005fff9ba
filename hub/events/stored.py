"""An accepted event as the rest of the core sees it: resolved to a customer, stored once."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

__all__ = ["StoredEvent"]


@dataclass(frozen=True)
class StoredEvent:
    """One row of ``customer_events`` with its payload opened (it may hold personal data:
    never log it). Scenarios schedule and cancel jobs from it."""

    id: int
    customer_id: str
    type: str
    source: str
    source_event_id: str
    occurred_at: datetime
    payload: dict[str, Any] = field(default_factory=dict)
