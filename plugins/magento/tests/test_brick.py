"""Magento's answers become contract errors; ``check()`` reports without raising."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import respx

from contracts import (
    AuthFailed,
    BrickContext,
    PayloadRejected,
    Permanent,
    RateLimited,
    Retryable,
)
from plugins.magento import MagentoBrick
from plugins.magento.tests.shop import BASE_URL, TOKEN, search_answer

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def make_brick(clock: Any = lambda: NOW) -> MagentoBrick:
    settings = MagentoBrick.Settings(base_url=BASE_URL, access_token=TOKEN)
    return MagentoBrick(settings, BrickContext(name="magento", data_dir="."), clock=clock)


def poll_answering(carts: httpx.Response | type[Exception]) -> Exception | None:
    async def go() -> Exception | None:
        brick = make_brick()
        with respx.mock(base_url=BASE_URL, assert_all_mocked=True, assert_all_called=False) as r:
            route = r.get("/V1/carts/search")
            if isinstance(carts, httpx.Response):
                route.mock(return_value=carts)
            else:
                route.mock(side_effect=carts)
            r.get("/V1/orders").mock(return_value=search_answer([]))
            try:
                await brick.poll(None)
            except Exception as exc:
                return exc
            finally:
                await brick.aclose()
        return None

    return asyncio.run(go())


@pytest.mark.parametrize(
    ("body", "message", "field"),
    [
        (
            {"message": '"%fieldName" is required.', "parameters": {"fieldName": "searchCriteria"}},
            'HTTP 400: "searchCriteria" is required.',
            "searchCriteria",
        ),
        (
            {"message": "Invalid condition %1 for %2", "parameters": ["foo", "updated_at"]},
            "HTTP 400: Invalid condition foo for updated_at",
            None,
        ),
        (
            {
                "message": "No such entity with %fieldName = %fieldValue",
                "parameters": [{"fieldName": "email", "fieldValue": "Ada Lovelace"}],
            },
            "HTTP 400: No such entity with email = <value>",
            "email",
        ),
        (
            {"message": "Customer ada@example.com is locked (%1)", "parameters": ["+33612345678"]},
            "HTTP 400: Customer <email> is locked (<phone>)",
            None,
        ),
    ],
    ids=["map-parameters", "numbered-parameters", "field-value-hidden", "contact-points-scrubbed"],
)
def test_400_renders_magento_message(body: dict[str, Any], message: str, field: str | None) -> None:
    error = poll_answering(httpx.Response(400, json=body))
    assert isinstance(error, PayloadRejected)
    assert error.message == message
    assert error.field == field


def test_error_mapping() -> None:
    refused = poll_answering(
        httpx.Response(
            401,
            json={
                "message": "The consumer isn't authorized to access %resources.",
                "parameters": {"resources": "Magento_Cart::manage"},
            },
        )
    )
    assert isinstance(refused, AuthFailed)
    assert "Magento_Cart::manage" in refused.message
    limited = poll_answering(httpx.Response(429, headers={"Retry-After": "30"}, json={}))
    assert isinstance(limited, RateLimited) and limited.retry_after == 30
    down = poll_answering(httpx.Response(503, text="<html>maintenance</html>"))
    assert isinstance(down, Retryable) and not isinstance(down, RateLimited)
    assert isinstance(poll_answering(httpx.ConnectTimeout), Retryable)
    missing = poll_answering(
        httpx.Response(404, json={"message": "Request does not match any route."})
    )
    assert isinstance(missing, PayloadRejected)


def test_a_storefront_page_is_not_the_rest_api() -> None:
    error = poll_answering(httpx.Response(200, text="<!doctype html><title>Shop</title>"))
    assert isinstance(error, Permanent)
    assert "base_url" in error.message


def test_an_answer_that_is_no_search_result() -> None:
    error = poll_answering(httpx.Response(200, json={"items": {"0": {}}, "total_count": 1}))
    assert isinstance(error, Permanent)
    assert "'items'" in error.message


def test_a_naive_clock_is_a_programming_error() -> None:
    brick = make_brick(clock=lambda: datetime(2026, 3, 2, 12, 0))
    with pytest.raises(ValueError, match="aware"):
        asyncio.run(brick.poll(None))


def check_with(answers: dict[str, httpx.Response | type[Exception]]) -> Any:
    async def go() -> Any:
        brick = make_brick()
        with respx.mock(base_url=BASE_URL, assert_all_mocked=True, assert_all_called=False) as r:
            for path in ("/V1/carts/search", "/V1/orders", "/V1/customers/search"):
                answer = answers.get(path, search_answer([]))
                if isinstance(answer, httpx.Response):
                    r.get(path).mock(return_value=answer)
                else:
                    r.get(path).mock(side_effect=answer)
            try:
                return await brick.check(), list(r.calls)
            finally:
                await brick.aclose()

    return asyncio.run(go())


def test_check_reads_one_record_of_each_resource() -> None:
    status, calls = check_with({})
    assert status.ok
    assert "carts, orders and customers readable" in status.detail
    assert [c.request.url.path for c in calls] == [
        "/rest/default/V1/carts/search",
        "/rest/default/V1/orders",
        "/rest/default/V1/customers/search",
    ]
    assert all(c.request.url.params["searchCriteria[pageSize]"] == "1" for c in calls)


def test_check_names_the_resource_the_token_cannot_read() -> None:
    refused = httpx.Response(
        401,
        json={
            "message": "The consumer isn't authorized to access %resources.",
            "parameters": {"resources": "Magento_Sales::actions_view"},
        },
    )
    status, _ = check_with({"/V1/orders": refused})
    assert not status.ok
    assert "orders" in status.detail and "Magento_Sales::actions_view" in status.detail
    assert TOKEN not in status.detail


def test_check_never_raises() -> None:
    status, _ = check_with({"/V1/carts/search": httpx.ConnectError})
    assert not status.ok and "carts" in status.detail
    status, _ = check_with({"/V1/customers/search": httpx.Response(200, text="<html/>")})
    assert not status.ok and "base_url" in status.detail


def test_the_token_is_masked() -> None:
    brick = make_brick()
    assert TOKEN not in repr(brick)
    assert TOKEN not in repr(brick.settings)
