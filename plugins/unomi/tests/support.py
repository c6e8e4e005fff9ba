"""A small in-memory Unomi for the brick's own tests, answering through respx.

It implements just what the brick uses, the way Unomi 2.x behaves: the events search
(``booleanCondition`` / ``eventTypeCondition`` / ``eventPropertyCondition``, ``timeStamp`` and
``itemId`` sort, offset / limit), the profiles search on a property (scrolled), profile lookup
by id or alias (204 when unknown), alias creation (refused when the alias names another
profile, answered 500 as Unomi 2.x's exception mapper does) and deletion, and the event
collector applying ``updateProperties`` (``update`` / ``delete``) to the profile its
``targetId`` names when the third-party key is right (silently ignored otherwise, like Unomi).
Every request is recorded for assertions.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import httpx
import respx

from contracts import BrickContext
from plugins.unomi import UnomiBrick

BASE = "http://unomi.test:8181"
USER = "karaf"
PASSWORD = "unomi-test-password-0001"
PEER_KEY = "unomi-test-peer-key-0001"
SCOPE = "demo-shop"
EMAIL = "grace.hopper@example.org"

SETTINGS: dict[str, Any] = {
    "base_url": BASE,
    "username": USER,
    "password": PASSWORD,
    "auth_key": PEER_KEY,
    "scope": SCOPE,
    "settle_seconds": 0,
}


def settings(**overrides: Any) -> UnomiBrick.Settings:
    return UnomiBrick.Settings.model_validate({**SETTINGS, **overrides})


def make_brick(tmp_path: Path, **overrides: Any) -> UnomiBrick:
    return UnomiBrick(settings(**overrides), BrickContext(name="unomi", data_dir=tmp_path))


def stamp(seconds: float) -> str:
    """An ISO time ``seconds`` after 2026-01-15T10:00:00Z, as Unomi writes it."""
    moment = datetime.fromtimestamp(
        datetime(2026, 1, 15, 10, tzinfo=UTC).timestamp() + seconds, UTC
    )
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def login_event(
    item_id: str,
    at: str,
    *,
    profile_id: str | None = "0b8825a6-efb8-41a6-bea5-d745b33c94cb",
    event_type: str = "login",
    scope: str = SCOPE,
    **target_properties: Any,
) -> dict[str, Any]:
    """A stored event shaped like the manual's login example (``target`` = the user)."""
    event: dict[str, Any] = {
        "itemId": item_id,
        "itemType": "event",
        "scope": scope,
        "eventType": event_type,
        "sessionId": "7b8a5f17-cdb0-4c14-b676-34c1c0de0825",
        "timeStamp": at,
        "properties": {},
        "source": None,
        "target": {
            "itemId": "13054a95-092d-4d7b-81f5-e4656c2ebc88",
            "itemType": "cmsUser",
            "scope": scope,
            "properties": {"preferredLanguage": "en", **target_properties},
        },
    }
    if profile_id is not None:
        event["profileId"] = profile_id
    return event


def partial_list(
    items: list[dict[str, Any]],
    offset: int = 0,
    total: int | None = None,
    scroll: str | None = None,
) -> dict[str, Any]:
    """Unomi's ``PartialList`` answer."""
    return {
        "list": items,
        "offset": offset,
        "pageSize": len(items),
        "totalSize": len(items) if total is None else total,
        "totalSizeRelation": "EQUAL",
        "scrollIdentifier": scroll,
        "scrollTimeValidity": "2m" if scroll else None,
    }


def _matches(condition: dict[str, Any], item: dict[str, Any]) -> bool:
    kind, params = condition["type"], condition["parameterValues"]
    if kind == "booleanCondition":
        results = [_matches(sub, item) for sub in params["subConditions"]]
        return all(results) if params.get("operator", "and") == "and" else any(results)
    if kind == "eventTypeCondition":
        return item.get("eventType") == params["eventTypeId"]
    if kind in ("eventPropertyCondition", "profilePropertyCondition"):
        value: Any = item
        for segment in params["propertyName"].split("."):
            value = value.get(segment) if isinstance(value, dict) else None
        operator = params["comparisonOperator"]
        if operator == "exists":
            return value is not None
        if operator == "equals":
            return value == params["propertyValue"]
        if "propertyValueDateExpr" in params:
            return True  # "now-60s": every test event is older than that
        bound = datetime.fromisoformat(params["propertyValueDate"])
        moment = datetime.fromisoformat(value)
        return moment >= bound if operator == "greaterThanOrEqualTo" else moment < bound
    raise AssertionError(f"condition the fake does not know: {kind}")


@dataclass
class FakeUnomi:
    events: list[dict[str, Any]] = field(default_factory=list)
    profiles: dict[str, dict[str, Any]] = field(default_factory=dict)
    aliases: dict[str, str] = field(default_factory=dict)
    requests: list[httpx.Request] = field(default_factory=list)
    scrolls: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    scroll_limit: int = 100

    def install(self, router: respx.Router) -> None:
        router.route(method="POST", path="/cxs/events/search").mock(side_effect=self._events)
        router.route(method="POST", path="/cxs/profiles/search").mock(side_effect=self._search)
        router.route(method="GET", path="/cxs/cluster").mock(side_effect=self._cluster)
        router.route(path__regex=r"^/cxs/profiles/[^/]+/aliases/[^/]+$").mock(
            side_effect=self._alias
        )
        router.route(method="GET", path__regex=r"^/cxs/profiles/[^/]+$").mock(
            side_effect=self._profile
        )
        router.route(method="POST", path="/cxs/eventcollector").mock(side_effect=self._collect)

    def dispatch(self, request: httpx.Request) -> httpx.Response:
        """The same routing as ``install``, for a real (loopback) HTTP server."""
        method, path = request.method, request.url.path
        parts = path.split("/")
        if (method, path) == ("POST", "/cxs/events/search"):
            return self._events(request)
        if (method, path) == ("POST", "/cxs/profiles/search"):
            return self._search(request)
        if (method, path) == ("GET", "/cxs/cluster"):
            return self._cluster(request)
        if (method, path) == ("POST", "/cxs/eventcollector"):
            return self._collect(request)
        if len(parts) == 6 and parts[:3] == ["", "cxs", "profiles"] and parts[4] == "aliases":
            return self._alias(request)
        if method == "GET" and len(parts) == 4 and parts[:3] == ["", "cxs", "profiles"]:
            return self._profile(request)
        return httpx.Response(404, text="no such endpoint in the fake Unomi")

    # -- helpers for tests -----------------------------------------------------------------
    def flag(self, profile_id: str, property_name: str, audience: str) -> Any:
        props = self.profiles.get(profile_id, {}).get("properties", {})
        return props.get(property_name, {}).get(audience)

    def calls(self, method: str, prefix: str) -> list[httpx.Request]:
        return [r for r in self.requests if r.method == method and r.url.path.startswith(prefix)]

    # -- handlers --------------------------------------------------------------------------
    def _record(self, request: httpx.Request) -> None:
        self.requests.append(request)

    def _private(self, request: httpx.Request) -> httpx.Response | None:
        self._record(request)
        expected = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
        if request.headers.get("authorization") != expected:
            return httpx.Response(401, json={"errorMessage": "unauthorized"})
        return None

    def _events(self, request: httpx.Request) -> httpx.Response:
        if (denied := self._private(request)) is not None:
            return denied
        query = json.loads(request.content)
        found = [e for e in self.events if _matches(query["condition"], e)]
        assert query["sortby"] == "timeStamp:asc,itemId:asc"
        found.sort(key=lambda e: (datetime.fromisoformat(e["timeStamp"]), e["itemId"]))
        page = found[query["offset"] : query["offset"] + query["limit"]]
        return httpx.Response(200, json=partial_list(page, query["offset"], len(found)))

    def _search(self, request: httpx.Request) -> httpx.Response:
        if (denied := self._private(request)) is not None:
            return denied
        query = json.loads(request.content)
        if "scrollIdentifier" in query:
            rest = self.scrolls.pop(query["scrollIdentifier"], [])
            limit = self.scroll_limit
        else:
            rest = sorted(
                (p for p in self.profiles.values() if _matches(query["condition"], p)),
                key=lambda p: p["itemId"],
            )
            limit = self.scroll_limit = query["limit"]
        page, rest = rest[:limit], rest[limit:]
        scroll = f"scroll-{len(self.requests)}"
        self.scrolls[scroll] = rest
        return httpx.Response(200, json=partial_list(page, scroll=scroll))

    def _cluster(self, request: httpx.Request) -> httpx.Response:
        if (denied := self._private(request)) is not None:
            return denied
        return httpx.Response(200, json=[{"itemId": "node1", "publicHostAddress": "unomi:8181"}])

    def _profile(self, request: httpx.Request) -> httpx.Response:
        if (denied := self._private(request)) is not None:
            return denied
        wanted = unquote(request.url.path.rsplit("/", 1)[1])
        profile = self.profiles.get(self.aliases.get(wanted, wanted))
        return httpx.Response(204) if profile is None else httpx.Response(200, json=profile)

    def _alias(self, request: httpx.Request) -> httpx.Response:
        if (denied := self._private(request)) is not None:
            return denied
        parts = request.url.path.split("/")
        profile_id, alias = unquote(parts[3]), unquote(parts[5])
        if request.method == "DELETE":
            if self.aliases.get(alias) == profile_id:
                del self.aliases[alias]
            return httpx.Response(204)
        owner = self.aliases.get(alias)
        if owner is not None and owner != profile_id:
            return httpx.Response(500, json={"errorMessage": "internalServerError"})
        self.aliases[alias] = profile_id
        return httpx.Response(204)

    def _collect(self, request: httpx.Request) -> httpx.Response:
        self._record(request)
        body = json.loads(request.content)
        if not body.get("profileId"):
            return httpx.Response(400, text="Request rejected by the server because: no profile")
        if body["profileId"] not in self.profiles:  # Unomi creates the request's profile
            self.profiles[body["profileId"]] = profile(body["profileId"])
        if request.headers.get("x-unomi-peer") != PEER_KEY:
            return httpx.Response(200, json={"updated": 0})  # protected events dropped silently
        for event in body["events"]:
            props = event["properties"]
            # Unomi loads the target like any profile: an alias id resolves to its profile.
            target = self.profiles.get(self.aliases.get(props["targetId"], props["targetId"]))
            if target is None:
                continue  # Unomi: "No profile found with Id ... Update skipped."
            for path, value in props.get("update", {}).items():
                node = target
                *parents, leaf = path.split(".")
                for segment in parents:
                    node = node.setdefault(segment, {})
                node[leaf] = value
            for path in props.get("delete", []):
                *parents, leaf = path.split(".")
                node = target
                for segment in parents:
                    node = node.get(segment, {})
                node.pop(leaf, None)
        return httpx.Response(200, json={"updated": 0})


def profile(item_id: str, **properties: Any) -> dict[str, Any]:
    return {
        "itemId": item_id,
        "itemType": "profile",
        "properties": {"firstVisit": "2026-01-01T09:00:00Z", **properties},
        "systemProperties": {},
        "segments": [],
        "scores": {},
        "mergedWith": None,
        "consents": {},
    }
