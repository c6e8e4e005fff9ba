"""What goes to Unomi and how its error answers are read: paths, queries, collector bodies.

Pure functions, so every request is unit-tested without HTTP. Shapes follow Unomi 2.x:

- ``POST /cxs/events/search`` and ``POST /cxs/profiles/search`` take a ``Query``
  (``condition``, ``sortby``, ``offset``, ``limit``, ``scrollTimeValidity``,
  ``scrollIdentifier``) and answer a ``PartialList`` (``list``, ``offset``, ``pageSize``,
  ``totalSize``, ``scrollIdentifier``);
- a condition is ``{"type": ..., "parameterValues": {...}}`` (``booleanCondition``,
  ``eventTypeCondition``, ``eventPropertyCondition``, ``profilePropertyCondition``);
- ``POST /cxs/eventcollector`` takes ``{"profileId", "events": [...]}``; an ``updateProperties``
  event names the profile to change in ``properties.targetId`` / ``targetType`` and lists
  ``update`` (path -> value) and ``delete`` (paths); a ``targetId`` other than the request's
  profile is a cross-profile update, which Unomi 2.x accepts from a third-party server.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

import httpx

from hub.sdk.http import VendorError
from plugins.unomi.settings import UnomiSettings

__all__ = [
    "CLUSTER",
    "EVENTS_SEARCH",
    "EVENT_COLLECTOR",
    "PROFILES_SEARCH",
    "SCROLL_VALIDITY",
    "alias_path",
    "collector_body",
    "condition",
    "describe_error",
    "events_query",
    "holders_query",
    "membership_path",
    "next_scroll_query",
    "profile_path",
    "removal_event",
    "update_event",
]

EVENTS_SEARCH = "/cxs/events/search"
PROFILES_SEARCH = "/cxs/profiles/search"
EVENT_COLLECTOR = "/cxs/eventcollector"
CLUSTER = "/cxs/cluster"
#: How long Unomi keeps a profiles-search scroll open between two pages.
SCROLL_VALIDITY = "2m"
#: Events sorted by time, then id, so events stamped in the same millisecond keep one order.
EVENTS_SORT = "timeStamp:asc,itemId:asc"
#: Who sent an update, as the event's ``source`` item (Unomi rules may match on it).
SOURCE_ID = "marketing-hub"


def profile_path(profile_id: str) -> str:
    """``GET`` a profile; Unomi resolves an alias id to the profile it names."""
    return f"/cxs/profiles/{quote(profile_id, safe='')}"


def alias_path(profile_id: str, alias_id: str) -> str:
    """``POST`` (create) or ``DELETE`` the alias ``alias_id`` of ``profile_id``."""
    return f"{profile_path(profile_id)}/aliases/{quote(alias_id, safe='')}"


def condition(kind: str, **parameters: Any) -> dict[str, Any]:
    return {"type": kind, "parameterValues": parameters}


def _all_of(parts: Sequence[dict[str, Any]]) -> dict[str, Any]:
    if len(parts) == 1:
        return parts[0]
    return condition("booleanCondition", operator="and", subConditions=list(parts))


def events_query(
    settings: UnomiSettings, *, since: str | None, seen: int, settle: bool = True
) -> dict[str, Any]:
    """The events search of one ``read_links`` page.

    Only the configured verifying event types of the configured scope, at or after ``since``
    (an ISO time: the keyset position, re-read inclusively so events sharing that millisecond
    are never skipped), older than ``settle_seconds`` (Unomi's date math, evaluated by Unomi),
    oldest first. ``seen`` events at ``since`` were handed out already and come back first, so
    the page asks for that many more.
    """
    types = [condition("eventTypeCondition", eventTypeId=name) for name in settings.link_events]
    parts: list[dict[str, Any]] = [
        types[0]
        if len(types) == 1
        else condition("booleanCondition", operator="or", subConditions=types),
        condition(
            "eventPropertyCondition",
            propertyName="scope",
            comparisonOperator="equals",
            propertyValue=settings.scope,
        ),
    ]
    if since is not None:
        parts.append(
            condition(
                "eventPropertyCondition",
                propertyName="timeStamp",
                comparisonOperator="greaterThanOrEqualTo",
                propertyValueDate=since,
            )
        )
    if settle and settings.settle_seconds:
        parts.append(
            condition(
                "eventPropertyCondition",
                propertyName="timeStamp",
                comparisonOperator="lessThan",
                propertyValueDateExpr=f"now-{settings.settle_seconds}s",
            )
        )
    return {
        "condition": _all_of(parts),
        "sortby": EVENTS_SORT,
        "offset": 0,
        "limit": settings.page_size + seen,
    }


def membership_path(settings: UnomiSettings, audience_name: str) -> str:
    """The profile property that says "member of this audience": one key per audience, so
    audiences are added and removed independently, without reading the profile first."""
    return f"properties.{settings.audience_property}.{audience_name}"


def holders_query(settings: UnomiSettings, path: str) -> dict[str, Any]:
    """First page of a scrolled profiles search: every profile carrying ``path``."""
    return {
        "condition": condition(
            "profilePropertyCondition", propertyName=path, comparisonOperator="exists"
        ),
        "sortby": "itemId:asc",
        "offset": 0,
        "limit": settings.page_size,
        "scrollTimeValidity": SCROLL_VALIDITY,
    }


def next_scroll_query(scroll_identifier: str) -> dict[str, Any]:
    return {"scrollIdentifier": scroll_identifier, "scrollTimeValidity": SCROLL_VALIDITY}


def _update_properties(
    settings: UnomiSettings, profile_id: str, change: dict[str, Any]
) -> dict[str, Any]:
    return {
        "eventType": "updateProperties",
        "scope": settings.scope,
        # Not stored in Unomi's event index: the profile change is what matters, and one stored
        # event per member and push would only grow the index.
        "persistent": False,
        "source": {"itemType": "application", "itemId": SOURCE_ID, "scope": settings.scope},
        "properties": {"targetId": profile_id, "targetType": "profile", **change},
    }


def update_event(settings: UnomiSettings, profile_id: str, path: str) -> dict[str, Any]:
    """Mark ``profile_id`` as a member: ``path`` set to ``true``."""
    return _update_properties(settings, profile_id, {"update": {path: True}})


def removal_event(settings: UnomiSettings, profile_id: str, path: str) -> dict[str, Any]:
    """``profile_id`` left the audience: ``path`` deleted."""
    return _update_properties(settings, profile_id, {"delete": [path]})


def collector_body(settings: UnomiSettings, events: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """One ``/cxs/eventcollector`` call. Unomi needs a profile (or session) id for the request
    itself and creates the profile when it does not exist; the brick's own
    ``collector_profile_id`` is used, so an event whose target Unomi does not know (a stale
    cookie) is skipped by Unomi rather than turned into a new profile."""
    return {"profileId": settings.collector_profile_id, "events": list(events)}


def describe_error(response: httpx.Response) -> VendorError:
    """Unomi answers errors as ``{"errorMessage": ...}`` (its exception mappers) or as plain
    text ("Request rejected by the server because: ..."); keep the message, the core scrubs
    and caps it."""
    reason = response.reason_phrase or f"HTTP {response.status_code}"
    try:
        body: Any = response.json()
    except ValueError:
        text = response.text.strip() if response.content else ""
        return (text or reason, None, None)
    if isinstance(body, dict):
        for key in ("errorMessage", "message", "error"):
            value = body.get(key)
            if isinstance(value, str) and value.strip():
                code = body.get("code")
                return (value, None if code is None else str(code), None)
    return (reason, None, None)
