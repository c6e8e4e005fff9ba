"""A verified webhook call's payload, stored: outcomes recorded, events taken in.

The server (live calls) and ``hub events replay`` (dead-lettered calls) store a payload the
same way, so a replayed body ends exactly where the original call would have.
"""

from __future__ import annotations

from typing import Any

from contracts import WebhookPayload
from hub.events.intake import ingest_events
from hub.outcomes import record_outcomes
from hub.runtime import Runtime

__all__ = ["store_webhook_payload"]


def store_webhook_payload(runtime: Runtime, brick: str, payload: WebhookPayload) -> dict[str, Any]:
    """Record the outcomes and ingest the events (as ``brick``); return the counts."""
    outcomes = record_outcomes(runtime, brick, payload.outcomes)
    events = ingest_events(runtime, payload.events, source=brick)
    return {
        "outcomes": {
            "stored": outcomes.stored,
            "duplicates": outcomes.duplicates,
            "unmatched": outcomes.unmatched,
        },
        "events": {
            "accepted": events.accepted,
            "duplicates": events.duplicates,
            "rejected": len(events.rejected),
            "dead_letters": [r.dead_letter_id for r in events.rejected],
        },
        "by_type": outcomes.by_type,
    }
