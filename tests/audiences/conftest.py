"""A small shop history for audience tests: orders, attributes and consents on each backend."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from contracts import Channel, Consent, ConsentStatus, Contact, Identifier, IdentifierKind, Purpose
from hub.consent import record_consents
from hub.contacts.apply import apply_contacts
from hub.events.intake import ingest_events
from hub.runtime import Runtime
from hub.storage.db import session_scope
from hub.testing import Installation

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)

CYCLING = {"interests": ["cycling"]}
EUR_800 = [(10, "400", "EUR"), (11, "400", "EUR")]
#: email -> (orders as (days ago, total, currency), attributes, profiling consent)
PEOPLE: dict[str, tuple[list[tuple[int, str, str]], dict[str, Any], str | None]] = {
    "big.cyclist@example.com": (
        [(10, "400", "EUR"), (40, "300", "EUR")],
        {"interests": ["cycling", "tea"]},
        "granted",
    ),
    "big.runner@example.com": (EUR_800, {"interests": ["running"]}, "granted"),
    "small.cyclist@example.com": ([(3, "20", "EUR"), (4, "30", "EUR")], CYCLING, "granted"),
    "dollar.cyclist@example.com": ([(3, "900", "USD"), (4, "900", "USD")], CYCLING, "granted"),
    "old.cyclist@example.com": ([(400, "900", "EUR"), (420, "900", "EUR")], CYCLING, "granted"),
    "stale.cyclist@example.com": ([(200, "500", "EUR"), (210, "500", "EUR")], CYCLING, "granted"),
    "shy.cyclist@example.com": (EUR_800, CYCLING, None),
    "revoked.cyclist@example.com": (EUR_800, CYCLING, "denied"),
}


def _order(email: str, index: int, days: int, total: str, currency: str) -> dict[str, Any]:
    return {
        "id": f"{email}-{index}",
        "type": "order.placed",
        "source": "shop",
        "occurred_at": (NOW - timedelta(days=days)).isoformat(),
        "identifiers": [{"kind": "email", "value": email}],
        "payload": {
            "order_id": f"o-{email}-{index}",
            "items": [{"sku": "bike", "quantity": 1, "unit_price": total}],
            "total": total,
            "currency": currency,
        },
    }


def customer_of(runtime: Runtime, email: str) -> str:
    with session_scope(runtime.engine) as session:
        found = runtime.identity.find(session, Identifier(kind=IdentifierKind.EMAIL, value=email))
    assert found is not None
    return found


def build_shop(runtime: Runtime) -> None:
    events = [
        _order(email, i, *order)
        for email, (orders, _, _) in PEOPLE.items()
        for i, order in enumerate(orders)
    ]
    report = ingest_events(runtime, events, source="shop")
    assert not report.rejected
    with session_scope(runtime.engine) as session:
        contacts = [
            Contact(identifiers=[Identifier(kind=IdentifierKind.EMAIL, value=e)], attributes=a)
            for e, (_, a, _) in PEOPLE.items()
        ]
        results = apply_contacts(session, runtime.identity, contacts, source="crm")
        for (email, (_, _, consent)), result in zip(PEOPLE.items(), results, strict=True):
            if consent is None:
                continue
            record_consents(
                session,
                result.customer_id,  # type: ignore[union-attr]
                [
                    Consent(
                        channel=Channel.EMAIL,
                        purpose=Purpose.PROFILING,
                        status=ConsentStatus(consent),
                        source="crm",
                        recorded_at=NOW - timedelta(days=1),
                    )
                ],
            )
            assert email


AUDIENCES = """
[audiences.big-spenders-cycling]
description = "Big spenders interested in cycling"
orders = {within = "365d", min_count = 2, min_total = 500, currency = "EUR", last_within = "90d"}
attributes = {interests = {contains = "cycling"}}

[audiences.everyone-consented]
"""


@pytest.fixture
def shop(tmp_path, database_url) -> Iterator[tuple[Installation, Runtime]]:
    from hub.testing import make_installation
    from tests.conftest import OUTBOX

    installation = make_installation(
        tmp_path / "hub", bricks=OUTBOX, database_url=database_url, extra=AUDIENCES
    )
    runtime = installation.runtime()
    build_shop(runtime)
    yield installation, runtime
    asyncio.run(runtime.aclose())
