"""Event builders and a runtime on each backend for the intake tests."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

from hub.runtime import Runtime
from hub.testing import Installation

WHEN = "2026-03-02T10:00:00+00:00"


def cart(**overrides: Any) -> dict[str, Any]:
    payload = {
        "cart_id": "c-1",
        "items": [{"sku": "sku-1", "quantity": 1, "unit_price": "19.90"}],
        "total": "19.90",
        "currency": "EUR",
        "updated_at": WHEN,
    }
    return {**payload, **overrides}


def event(
    event_id: str = "e-1",
    *,
    type: str = "cart.abandoned",
    source: str = "shop",
    email: str | None = "ada@example.com",
    payload: dict[str, Any] | None = None,
    **overrides: Any,
) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": event_id,
        "type": type,
        "source": source,
        "occurred_at": WHEN,
        "payload": cart() if payload is None else payload,
    }
    if email is not None:
        data["identifiers"] = [{"kind": "email", "value": email}]
    return {**data, **overrides}


@pytest.fixture
def runtime(installation: Installation) -> Iterator[Runtime]:
    opened = installation.runtime()
    yield opened
    asyncio.run(opened.aclose())
