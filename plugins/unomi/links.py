"""Unomi events -> identity links: which identifiers one verifying event ties together.

A configured event (a ``login`` by default) ties Unomi's ``profileId`` (the visitor's
``context-profile-id`` site cookie) to the identifiers found at the configured property paths:
email, shop customer id, CRM id, partner cookie ids. Natural identifiers carried by a
verifying event are ``verified`` (the visitor authenticated, bought, or clicked a link sent to
that address); cookies never are (a device can be shared, so a cookie must never merge two
people). An event with nothing but the cookie, or without a ``profileId`` (Unomi removes it
from events of visitors browsing anonymously), links nothing and is skipped.

Values are trimmed; empty or over-long values are dropped rather than sent (the core refuses
junk such as ``"null"`` itself).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from contracts import Identifier, IdentifierKind, IdentityLink, LinkEvidence, PayloadRejected
from plugins.unomi.keyset import parse_time
from plugins.unomi.settings import UnomiSettings

__all__ = ["UnomiEvent", "link_for", "parse_event", "value_at"]

_MAX_VALUE = 512
_MAX_EVENT_ID = 256


@dataclass(frozen=True)
class UnomiEvent:
    """An event of a search page, with the two fields paging relies on checked."""

    item_id: str
    at: datetime
    raw: Mapping[str, Any]


def parse_event(raw: object, index: int) -> UnomiEvent:
    """Check ``itemId`` and ``timeStamp`` of the ``index``-th event of ``list``; without them
    the stream cannot be paged or de-duplicated, so a bad one refuses the page, naming it."""
    if not isinstance(raw, Mapping):
        raise PayloadRejected(
            f"event {index} of the search answer is not an object", field=f"list.{index}"
        )
    item_id = raw.get("itemId")
    if not isinstance(item_id, str) or not item_id.strip() or len(item_id) > _MAX_EVENT_ID:
        raise PayloadRejected(
            f"event {index} has no usable itemId (1-{_MAX_EVENT_ID} characters)",
            field=f"list.{index}.itemId",
        )
    try:
        at = parse_time(raw.get("timeStamp"))
    except (ValueError, OverflowError, OSError):
        raise PayloadRejected(
            f"event {index} has no readable timeStamp (ISO 8601 or epoch milliseconds)",
            field=f"list.{index}.timeStamp",
        ) from None
    return UnomiEvent(item_id=item_id, at=at, raw=raw)


def value_at(data: Mapping[str, Any], path: str) -> Any:
    """The value at a dotted path (``target.properties.email``), ``None`` when absent."""
    current: Any = data
    for segment in path.split("."):
        if not isinstance(current, Mapping):
            return None
        current = current.get(segment)
    return current


def _clean(value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, str | int):
        return None
    text = str(value).strip()
    return text if 0 < len(text) <= _MAX_VALUE else None


def _values(data: Mapping[str, Any], paths: list[str], *, first_only: bool) -> Iterator[str]:
    """Values at ``paths``, in order: scalars, or each scalar of a list."""
    for path in paths:
        found = value_at(data, path)
        items = found if isinstance(found, list) else [found]
        cleaned = [text for text in map(_clean, items) if text is not None]
        if cleaned and first_only:
            yield cleaned[0]
            return
        yield from cleaned


def link_for(event: UnomiEvent, settings: UnomiSettings) -> IdentityLink | None:
    """The link one event proves, or ``None`` when it proves nothing usable."""
    evidence = settings.link_events.get(str(event.raw.get("eventType")))
    if evidence is None:  # not a verifying type: never link from it, whatever Unomi returned
        return None
    cookie = _clean(event.raw.get("profileId"))
    if cookie is None:
        return None
    identifiers = [
        Identifier(
            kind=IdentifierKind.SITE_COOKIE,
            value=cookie,
            namespace=settings.site_cookie_namespace,
        )
    ]
    natural = [
        (IdentifierKind.EMAIL, settings.email_paths, ""),
        (IdentifierKind.SHOP_CUSTOMER_ID, settings.shop_customer_id_paths, settings.shop_namespace),
        (IdentifierKind.CRM_ID, settings.crm_id_paths, settings.crm_namespace),
    ]
    for kind, paths, namespace in natural:
        for value in _values(event.raw, paths, first_only=True):
            identifiers.append(
                Identifier(kind=kind, value=value, namespace=namespace, verified=True)
            )
    for namespace, paths in settings.partner_cookie_paths.items():
        for value in _values(event.raw, paths, first_only=False):
            identifiers.append(
                Identifier(kind=IdentifierKind.PARTNER_COOKIE, value=value, namespace=namespace)
            )
    unique = list({(i.kind, i.namespace, i.value): i for i in identifiers}.values())
    if len(unique) < 2:
        return None
    return IdentityLink(
        identifiers=unique,
        evidence=LinkEvidence(evidence),
        observed_at=event.at,
        source_event_id=event.item_id,
    )
