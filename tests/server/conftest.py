"""A hub with fake bricks, and an in-process client for its server app (both backends)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from hub.config.model import ServerSettings
from hub.server import create_app
from tests.server.fakes import API_TOKEN, HOOK_TOKEN, Hub, make_hub

WHEN = "2026-01-15T10:00:00+00:00"
AUTH = {"Authorization": f"Bearer {API_TOKEN}", "Content-Type": "application/json"}
HOOK = {"X-Fake-Token": HOOK_TOKEN, "Content-Type": "application/json"}


def settings(**overrides: Any) -> ServerSettings:
    return ServerSettings(api_token=SecretStr(API_TOKEN), **overrides)


def cart_event(event_id: str = "e-1", **overrides: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "id": event_id,
        "type": "cart.abandoned",
        "source": "shop",
        "occurred_at": WHEN,
        "identifiers": [{"kind": "email", "value": "ada@example.org"}],
        "payload": {
            "cart_id": "c-1",
            "items": [{"sku": "sku-1", "quantity": 1, "unit_price": "19.90"}],
            "total": "19.90",
            "currency": "EUR",
            "updated_at": WHEN,
        },
    }
    event.update(overrides)
    return event


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def hub(tmp_path: Path, database_url: str) -> Iterator[Hub]:
    made = make_hub(tmp_path / "hub", database_url)
    yield made
    asyncio.run(made.runtime.aclose())


@pytest.fixture
async def client(hub: Hub) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(hub.runtime, settings())
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://hub.test") as made:
        yield made
