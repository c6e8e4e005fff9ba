"""One week of a small shop, for the simulation tests: contacts, events, config.

Three people with different consents and time zones; sign-ups, carts (one big), an order that
cancels what is pending, a consent withdrawal, a duplicate, an event outside the window and an
invalid one. The pressure rules (a daily cap, a 20 h gap, quiet hours) make the ledger defer and
refuse, so the decisions are worth comparing.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from tests.scenarios.flows import FLOWS, OUTBOX, cart, order, when

T0 = datetime(2026, 3, 2, 7, 30, tzinfo=UTC)  # a Monday, 08:30 in Paris
START, END = T0 - timedelta(hours=1), T0 + timedelta(days=9)

PRESSURE = """
[pressure]
caps = [{name = "marketing-daily", calendar = "day", limit = 1}]
gaps = [{name = "breathing-space", min_gap = "20h"}]
quiet_hours = [{start = "21:00", end = "08:00"}]
"""

CONFIG = FLOWS + PRESSURE
BRICKS = OUTBOX

EMAILS = {"ada": "ada@example.com", "bob": "bob@example.com", "eve": "eve@example.com"}

CONTACTS = (
    "email,phone,consent_email,consent_sms,consent_recorded_at,time_zone\n"
    "ada@example.com,+33612345678,yes,yes,2026-01-01T00:00:00+00:00,Europe/Paris\n"
    "bob@example.com,+12125550100,no,yes,2026-01-01T00:00:00+00:00,America/New_York\n"
    "eve@example.com,,yes,,2026-01-01T00:00:00+00:00,Asia/Tokyo\n"
)


def signed_up(email: str, event_id: str, at: datetime) -> dict[str, Any]:
    return {
        "id": event_id,
        "type": "customer.signed_up",
        "source": "shop",
        "occurred_at": when(at),
        "identifiers": [{"kind": "email", "value": email}],
        "payload": {"method": "newsletter"},
    }


def withdraws_email(email: str, event_id: str, at: datetime) -> dict[str, Any]:
    denied = [{"channel": "email", "status": "denied", "source": "crm", "recorded_at": when(at)}]
    return {
        "id": event_id,
        "type": "customer.updated",
        "source": "crm",
        "occurred_at": when(at),
        "identifiers": [{"kind": "email", "value": email}],
        "payload": {
            "contact": {"identifiers": [{"kind": "email", "value": email}], "consents": denied}
        },
    }


def events() -> list[dict[str, Any]]:
    """In file order (not time order: the simulation sorts them)."""
    h = timedelta(hours=1)
    bad = cart(EMAILS["bob"], "c-bad", T0 + 5 * h)
    bad["payload"]["currency"] = "euros"
    return [
        signed_up(EMAILS["ada"], "s-ada", T0),
        cart(EMAILS["bob"], "c-bob", T0 + h, total="150.00"),
        cart(EMAILS["ada"], "c-ada", T0 + h / 2),
        signed_up(EMAILS["eve"], "s-eve", T0 + 2 * h),
        cart(EMAILS["eve"], "c-eve", T0 + 13 * h),
        order(EMAILS["ada"], "o-ada", T0 + 30 * h),
        withdraws_email(EMAILS["eve"], "u-eve", T0 + 50 * h),
        cart(EMAILS["bob"], "c-bob", T0 + h, total="150.00"),  # a duplicate
        bad,
        cart(EMAILS["ada"], "c-late", END + h),  # outside the window
    ]


def write_inputs(directory: Path) -> tuple[Path, Path]:
    directory.mkdir(parents=True, exist_ok=True)
    events_file, contacts_file = directory / "events.jsonl", directory / "contacts.csv"
    events_file.write_text("".join(json.dumps(e) + "\n" for e in events()), encoding="utf-8")
    contacts_file.write_text(CONTACTS, encoding="utf-8")
    return events_file, contacts_file


def label_emails() -> dict[str, str]:
    """Trigger event label (``source/id``) -> the email of the person it concerns."""
    found: dict[str, str] = {}
    for event in events():
        identifiers = event["identifiers"]
        found[f"{event['source']}/{event['id']}"] = identifiers[0]["value"]
    return found
