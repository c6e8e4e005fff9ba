"""GET /healthz says whether the hub can work; GET /metrics never carries personal data."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text

from hub.server import create_app
from tests.server.conftest import AUTH, HOOK, cart_event, settings
from tests.server.fakes import Hub, make_hub

pytestmark = pytest.mark.anyio


async def test_healthy(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


async def test_stale_schema_is_503_with_the_reason(hub: Hub) -> None:
    with hub.runtime.engine.begin() as connection:
        connection.execute(text("DELETE FROM alembic_version"))
    app = create_app(hub.runtime, settings())
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://h") as c:
        response = await c.get("/healthz")
    assert response.status_code == 503
    assert (
        response.json()["status"] == "unavailable" and "hub db upgrade" in response.json()["reason"]
    )


async def test_unreachable_database_is_503(tmp_path: Path) -> None:
    made = make_hub(tmp_path / "hub", f"sqlite:///{tmp_path / 'gone.db'}")
    (tmp_path / "gone.db").unlink()
    (tmp_path / "gone.db").mkdir()  # a directory: SQLite cannot open it
    made.runtime.engine.dispose()
    try:
        app = create_app(made.runtime, settings())
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://h") as c:
            response = await c.get("/healthz")
        assert response.status_code == 503 and "database" in response.json()["reason"]
    finally:
        await made.runtime.aclose()


async def test_metrics_count_by_result_and_route(client: httpx.AsyncClient) -> None:
    await client.post("/events", json=[cart_event("m-1"), {"id": "bad"}], headers=AUTH)
    await client.post("/events", json=cart_event("m-1"), headers=AUTH)
    await client.post("/events", json={}, headers={"Content-Type": "application/json"})
    await client.post("/webhooks/fake_hook", json={}, headers=HOOK)
    await client.post("/webhooks/fake_hook", json={}, headers={})
    await client.post("/webhooks/invented_by_a_caller", json={}, headers=HOOK)
    await client.get("/no/such/path")
    response = await client.get("/metrics")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    text_ = response.text
    for line in (
        'hub_events_total{result="accepted"} 1.0',
        'hub_events_total{result="duplicate"} 1.0',
        'hub_events_total{result="rejected"} 1.0',
        'hub_webhooks_total{brick="fake_hook",result="ok"} 1.0',
        'hub_webhooks_total{brick="fake_hook",result="unauthorised"} 1.0',
        'hub_http_requests_total{route="/events",status="202"} 2.0',
        'hub_http_requests_total{route="/events",status="401"} 1.0',
        'hub_http_requests_total{route="/webhooks/{brick}",status="404"} 1.0',
        'hub_http_requests_total{route="unmatched",status="404"} 1.0',
        'hub_http_request_duration_seconds_count{route="/events"} 3.0',
    ):
        assert line in text_, line
    assert "invented_by_a_caller" not in text_ and "ada@example.org" not in text_
    assert "/no/such/path" not in text_


async def test_each_app_has_its_own_registry(hub: Hub) -> None:
    first = create_app(hub.runtime, settings())
    second = create_app(hub.runtime, settings())
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=first), base_url="http://h"
    ) as c:
        await c.get("/healthz")
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=second), base_url="http://h"
    ) as c:
        body = (await c.get("/metrics")).text
    assert 'route="/healthz"' not in body


async def test_metrics_can_be_switched_off(hub: Hub) -> None:
    app = create_app(hub.runtime, settings(metrics=False))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://h") as c:
        response = await c.get("/metrics")
    assert response.status_code == 404 and "[server] metrics" in response.json()["error"]


def test_requests_are_logged_without_query_strings(
    hub: Hub, capfd: pytest.CaptureFixture[str]
) -> None:
    from hub.logs import configure_logging

    configure_logging(json_output=True)
    app = create_app(hub.runtime, settings())

    async def call() -> None:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://h") as c:
            await c.post("/webhooks/fake_hook?token=secret-in-query-0001", json={}, headers=HOOK)

    asyncio.run(call())
    # The test's own HTTP client logs its URL; the server's lines are what matters.
    lines = [json.loads(line) for line in capfd.readouterr().err.splitlines() if line.strip()]
    logged = json.dumps([line for line in lines if line.get("logger") != "httpx"])
    assert '"route": "/webhooks/{brick}"' in logged
    assert "secret-in-query-0001" not in logged
