"""Request building, without HTTP: queries, collector bodies, paths, error descriptions."""

from __future__ import annotations

import httpx
import pytest

from plugins.unomi.payloads import (
    alias_path,
    collector_body,
    describe_error,
    events_query,
    holders_query,
    membership_path,
    next_scroll_query,
    profile_path,
    removal_event,
    update_event,
)
from plugins.unomi.tests.support import settings


def test_first_page_query_reads_the_verifying_types_of_the_scope_oldest_first() -> None:
    query = events_query(settings(settle_seconds=60), since=None, seen=0)
    assert query["sortby"] == "timeStamp:asc,itemId:asc"
    assert (query["offset"], query["limit"]) == (0, 100)
    condition = query["condition"]
    assert condition["type"] == "booleanCondition"
    assert condition["parameterValues"]["operator"] == "and"
    types, scope, settle = condition["parameterValues"]["subConditions"]
    assert types == {"type": "eventTypeCondition", "parameterValues": {"eventTypeId": "login"}}
    assert scope["parameterValues"] == {
        "propertyName": "scope",
        "comparisonOperator": "equals",
        "propertyValue": "demo-shop",
    }
    assert settle["parameterValues"] == {
        "propertyName": "timeStamp",
        "comparisonOperator": "lessThan",
        "propertyValueDateExpr": "now-60s",
    }


def test_resumed_query_starts_at_the_position_inclusively_and_asks_for_the_seen_ones_too() -> None:
    query = events_query(
        settings(page_size=20, link_events={"login": "login", "orderPlaced": "purchase"}),
        since="2026-01-15T10:00:00.000Z",
        seen=3,
    )
    assert query["limit"] == 23
    types, _, since = query["condition"]["parameterValues"]["subConditions"]
    assert types["type"] == "booleanCondition"
    assert types["parameterValues"]["operator"] == "or"
    assert [
        c["parameterValues"]["eventTypeId"] for c in types["parameterValues"]["subConditions"]
    ] == [
        "login",
        "orderPlaced",
    ]
    assert since["parameterValues"] == {
        "propertyName": "timeStamp",
        "comparisonOperator": "greaterThanOrEqualTo",
        "propertyValueDate": "2026-01-15T10:00:00.000Z",
    }


def test_settle_zero_adds_no_upper_bound() -> None:
    query = events_query(settings(settle_seconds=0), since=None, seen=0)
    parts = query["condition"]["parameterValues"]["subConditions"]
    assert all("propertyValueDateExpr" not in p["parameterValues"] for p in parts)


def test_holders_search_is_a_scrolled_property_search() -> None:
    path = membership_path(settings(), "big_spenders")
    assert path == "properties.hubAudiences.big_spenders"
    query = holders_query(settings(page_size=250), path)
    assert query == {
        "condition": {
            "type": "profilePropertyCondition",
            "parameterValues": {"propertyName": path, "comparisonOperator": "exists"},
        },
        "sortby": "itemId:asc",
        "offset": 0,
        "limit": 250,
        "scrollTimeValidity": "2m",
    }
    assert next_scroll_query("abc") == {"scrollIdentifier": "abc", "scrollTimeValidity": "2m"}


def test_update_and_removal_events_target_one_profile_each() -> None:
    path = "properties.hubAudiences.cyclists"
    set_flag = update_event(settings(), "p-1", path)
    clear_flag = removal_event(settings(), "p-2", path)
    assert set_flag["eventType"] == clear_flag["eventType"] == "updateProperties"
    assert set_flag["scope"] == "demo-shop"
    assert set_flag["persistent"] is False
    assert set_flag["properties"] == {
        "targetId": "p-1",
        "targetType": "profile",
        "update": {path: True},
    }
    assert clear_flag["properties"] == {
        "targetId": "p-2",
        "targetType": "profile",
        "delete": [path],
    }
    body = collector_body(settings(), [set_flag, clear_flag])
    assert body == {"profileId": "marketing-hub", "events": [set_flag, clear_flag]}


def test_paths_are_quoted() -> None:
    assert profile_path("ps_abc") == "/cxs/profiles/ps_abc"
    assert alias_path("a/b", "c d") == "/cxs/profiles/a%2Fb/aliases/c%20d"


@pytest.mark.parametrize(
    ("response", "message"),
    [
        (httpx.Response(500, json={"errorMessage": "internalServerError"}), "internalServerError"),
        (
            httpx.Response(400, text="Request rejected by the server because: Invalid data"),
            "Request rejected by the server because: Invalid data",
        ),
        (httpx.Response(400, json={"message": "bad condition", "code": 12}), "bad condition"),
        (httpx.Response(503), "Service Unavailable"),
        (httpx.Response(400, json=["odd"]), "Bad Request"),
    ],
    ids=["json-errorMessage", "plain-text", "json-message", "empty", "json-list"],
)
def test_error_bodies_are_read(response: httpx.Response, message: str) -> None:
    assert describe_error(response)[0] == message
