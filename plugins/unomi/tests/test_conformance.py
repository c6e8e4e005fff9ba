"""The Unomi brick passes the standard conformance suite (HTTP exchanges, golden requests).

Unomi publishes no OpenAPI document, so there is no ``vendor_spec``: the mocked answers follow
the shapes of Unomi 2.x's REST endpoints and manual (``PartialList``, the login event example,
204 for a void endpoint, ``{"errorMessage": ...}`` and plain-text error bodies).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import httpx
import respx

from contracts import (
    Audience,
    AudienceMember,
    Brick,
    ContactView,
    IdentifierKind,
    IdentityLinkPage,
    LinkEvidence,
)
from hub.testing import PSEUDONYM, Exchange, HttpBrickConformance
from plugins.unomi import UnomiBrick
from plugins.unomi.keyset import Position
from plugins.unomi.tests.support import login_event, partial_list, profile

BASE = "https://unomi.conformance.example"
COOKIE_A = "f7d1f1b9-4415-4ff1-8fee-407b109364f7"
COOKIE_B = "bc1e1238-a9ac-4b3a-8f63-5eec205cfcd5"
FORMER = "0a7e43d2-6a3c-4cbb-9a39-3d7c0c5e1f10"
ALIAS = f"/cxs/profiles/{COOKIE_A}/aliases/{PSEUDONYM}"

SETTINGS: dict[str, Any] = {
    "base_url": BASE,
    "username": "karaf",
    "password": "conformance-unomi-password",
    "auth_key": "conformance-unomi-peer-key",
    "scope": "demo-shop",
    "link_events": {"login": "login", "orderPlaced": "purchase"},
    "shop_customer_id_paths": ["target.properties.customerId", "properties.customerId"],
    "shop_namespace": "prestashop",
    "partner_cookie_paths": {"adpartner": ["target.properties.partnerIds"]},
    "batch_size": 2,
}

EVENTS = partial_list(
    [
        login_event(
            "0b8825a6-0001-41a6-bea5-d745b33c94cb",
            "2026-01-15T10:00:00.000Z",
            profile_id=COOKIE_A,
            email="bill.galileo@example.com",
            customerId=1042,
            partnerIds=["ap-77f1", "ap-90c2"],
        ),
        login_event(
            "0b8825a6-0002-41a6-bea5-d745b33c94cb",
            "2026-01-15T10:00:00.000Z",
            profile_id=COOKIE_B,
        ),
    ]
)

#: Unomi's answer to a request its validation refused (``InvalidRequestExceptionMapper``).
REJECTED = httpx.Response(
    400,
    text="Request rejected by the server because: Invalid received data",
    headers={"Content-Type": "text/plain"},
)


async def read_first(brick: Brick, view: ContactView) -> IdentityLinkPage:
    return await brick.read_links(None)  # type: ignore[attr-defined]


async def read_resumed(brick: Brick, view: ContactView) -> IdentityLinkPage:
    cursor = Position(at="2026-01-15T10:00:00.000Z", seen=("0b8825a6-0001",)).encode()
    return await brick.read_links(cursor)  # type: ignore[attr-defined]


def first_page(page: IdentityLinkPage) -> None:
    assert len(page.links) == 1  # the second login carries nothing but its cookie
    link = page.links[0]
    assert link.evidence is LinkEvidence.LOGIN
    kinds = sorted((i.kind.value, i.namespace, i.verified) for i in link.identifiers)
    assert kinds == [
        ("email", "", True),
        ("partner_cookie", "adpartner", False),
        ("partner_cookie", "adpartner", False),
        ("shop_customer_id", "prestashop", True),
        ("site_cookie", "unomi", False),
    ]
    cookie = next(i for i in link.identifiers if i.kind is IdentifierKind.SITE_COOKIE)
    assert cookie.value == COOKIE_A
    assert page.next_cursor is not None
    assert not page.has_more


def resumed_page(page: IdentityLinkPage) -> None:
    assert len(page.links) == 1
    assert page.links[0].source_event_id == "0b8825a6-0001-41a6-bea5-d745b33c94cb"


async def push(brick: Brick, view: ContactView) -> None:
    members = [
        AudienceMember(pseudonym=view.pseudonym, cookie_ids=[COOKIE_A, COOKIE_B]),
        AudienceMember(pseudonym="ps_conformancewithoutcookie01", cookie_ids=[]),
    ]
    await brick.push(Audience(name="big_spenders"), members)  # type: ignore[attr-defined]


def push_routes(under_test: tuple[str, str]) -> Any:
    """Unomi as the push finds it: no alias yet, the member's first profile known, one former
    member still flagged. The route
    under test is left to the kit (respx would replace a route with the same pattern)."""
    former = profile(FORMER, hubAudiences={"big_spenders": True})
    answers = {
        ("GET", f"/cxs/profiles/{PSEUDONYM}"): httpx.Response(204),
        ("GET", f"/cxs/profiles/{COOKIE_A}"): httpx.Response(200, json=profile(COOKIE_A)),
        ("POST", ALIAS): httpx.Response(204),
        ("POST", "/cxs/profiles/search"): httpx.Response(
            200, json=partial_list([former], scroll="DXF1ZXJ5QW5kRmV0Y2g")
        ),
        ("POST", "/cxs/eventcollector"): httpx.Response(200, json={"updated": 0}),
    }

    def install(router: respx.Router) -> None:
        for (method, path), answer in answers.items():
            if (method, path) != under_test:
                router.route(method=method, path=path).mock(return_value=answer)

    return install


def pushed(result: None) -> None:
    assert result is None


class TestUnomiConformance(HttpBrickConformance):
    brick = UnomiBrick
    settings: ClassVar[dict[str, Any]] = SETTINGS
    vendor_spec = None  # Unomi publishes no OpenAPI document
    golden_dir = Path(__file__).parent / "golden"

    def exchanges(self) -> list[Exchange]:
        def push_exchange(name: str, method: str, path: str, success: httpx.Response) -> Exchange:
            return Exchange(
                name=name,
                call=push,
                method=method,
                path=path,
                success=success,
                check=pushed,
                rejection=REJECTED,
                extra_routes=push_routes((method, path)),
            )

        return [
            Exchange(
                name="read_links_first_page",
                call=read_first,
                method="POST",
                path="/cxs/events/search",
                success=httpx.Response(200, json=EVENTS),
                check=first_page,
                rejection=REJECTED,
            ),
            Exchange(
                name="read_links_resumed",
                call=read_resumed,
                method="POST",
                path="/cxs/events/search",
                success=httpx.Response(200, json=EVENTS),
                check=resumed_page,
                rejection=REJECTED,
            ),
            push_exchange(
                "push_alias_lookup", "GET", f"/cxs/profiles/{PSEUDONYM}", httpx.Response(204)
            ),
            push_exchange(
                "push_alias_target_lookup",
                "GET",
                f"/cxs/profiles/{COOKIE_A}",
                httpx.Response(200, json=profile(COOKIE_A)),
            ),
            push_exchange("push_alias_create", "POST", ALIAS, httpx.Response(204)),
            push_exchange(
                "push_holders_search",
                "POST",
                "/cxs/profiles/search",
                httpx.Response(
                    200,
                    json=partial_list(
                        [profile(FORMER, hubAudiences={"big_spenders": True})], scroll="DXF1"
                    ),
                ),
            ),
            push_exchange(
                "push_update_properties",
                "POST",
                "/cxs/eventcollector",
                httpx.Response(200, json={"updated": 0}),
            ),
        ]
