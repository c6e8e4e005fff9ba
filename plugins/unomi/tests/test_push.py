"""Audience push against an in-memory Unomi: aliases, flags, removals, idempotence, privacy."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import unquote

import httpx
import pytest
import respx

from contracts import (
    Audience,
    AudienceMember,
    AuthFailed,
    PayloadRejected,
    RateLimited,
    Retryable,
)
from hub.testing import HUB_ID_PATTERN
from plugins.unomi import UnomiBrick
from plugins.unomi.tests.support import BASE, EMAIL, FakeUnomi, make_brick, profile

pytestmark = pytest.mark.anyio

P1, P2, P3, P4 = (f"profile-000{i}-4415-4ff1-8fee-407b109364f7" for i in range(1, 5))
ADA = "ps_ada0123456789abcdefghijklmnop"
BOB = "ps_bob0123456789abcdefghijklmnop"
CYCLISTS = Audience(name="cyclists", description="bought a bike part this year")
FLAG = "properties.hubAudiences.cyclists"
_EMAIL = re.compile(r"[^\s@/\"]+@[^\s@/\"]+\.[a-z]{2,}", re.I)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def fake() -> FakeUnomi:
    return FakeUnomi(profiles={p: profile(p, email=EMAIL) for p in (P1, P2, P3, P4)})


@pytest.fixture
async def brick(tmp_path: Path) -> AsyncIterator[UnomiBrick]:
    instance = make_brick(tmp_path)
    yield instance
    await instance.aclose()


@pytest.fixture
def unomi(fake: FakeUnomi) -> AsyncIterator[respx.Router]:
    with respx.mock(base_url=BASE, assert_all_mocked=True, assert_all_called=False) as router:
        fake.install(router)
        yield router


def collector_events(fake: FakeUnomi) -> list[dict]:
    return [
        e
        for r in fake.calls("POST", "/cxs/eventcollector")
        for e in json.loads(r.content)["events"]
    ]


def assert_private(fake: FakeUnomi) -> None:
    """No request carries an email address or a hub customer id: URL, headers or body."""
    for request in fake.requests:
        text = "\n".join(
            [
                unquote(str(request.url)),
                *(f"{k}: {v}" for k, v in request.headers.items()),
                request.content.decode(),
            ]
        )
        assert not _EMAIL.search(text), f"{request.method} {request.url.path} carries an email"
        assert not HUB_ID_PATTERN.search(text), f"{request.method} {request.url.path}: hub id"
        assert "cus_" not in text


async def test_first_push_aliases_members_and_flags_their_profiles(
    brick: UnomiBrick, fake: FakeUnomi, unomi: respx.Router
) -> None:
    members = [
        AudienceMember(pseudonym=ADA, cookie_ids=[P1, P2]),
        AudienceMember(pseudonym=BOB, cookie_ids=[P3]),
        AudienceMember(pseudonym="ps_nocookie0123456789abcdef", cookie_ids=[]),
    ]
    await brick.push(CYCLISTS, members)
    assert fake.aliases == {ADA: P1, BOB: P3}
    assert [fake.flag(p, "hubAudiences", "cyclists") for p in (P1, P2, P3, P4)] == [
        True,
        True,
        True,
        None,
    ]
    events = collector_events(fake)
    assert {e["properties"]["targetId"] for e in events} == {P1, P2, P3}
    assert all(e["properties"]["update"] == {FLAG: True} for e in events)
    alias_calls = fake.calls("POST", "/cxs/profiles/profile-")
    assert all(r.headers["x-unomi-clientid"] == "marketing-hub" for r in alias_calls)
    for request in fake.calls("POST", "/cxs/eventcollector"):
        assert "authorization" not in request.headers  # the collector gets the peer key only
        assert request.headers["x-unomi-peer"]
    assert_private(fake)


async def test_former_members_lose_the_flag_and_others_keep_theirs(
    brick: UnomiBrick, fake: FakeUnomi, unomi: respx.Router
) -> None:
    fake.profiles[P3]["properties"]["hubAudiences"] = {"cyclists": True, "golfers": True}
    fake.profiles[P4]["properties"]["hubAudiences"] = {"cyclists": "true"}
    await brick.push(CYCLISTS, [AudienceMember(pseudonym=ADA, cookie_ids=[P1])])
    assert fake.flag(P1, "hubAudiences", "cyclists") is True
    assert fake.flag(P3, "hubAudiences", "cyclists") is None
    assert fake.flag(P3, "hubAudiences", "golfers") is True  # another audience is untouched
    assert fake.flag(P4, "hubAudiences", "cyclists") is None
    removals = [e for e in collector_events(fake) if "delete" in e["properties"]]
    assert sorted(e["properties"]["targetId"] for e in removals) == [P3, P4]
    assert all(e["properties"]["delete"] == [FLAG] for e in removals)
    assert_private(fake)


async def test_pushing_the_same_membership_twice_changes_nothing(
    brick: UnomiBrick, fake: FakeUnomi, unomi: respx.Router
) -> None:
    members = [AudienceMember(pseudonym=ADA, cookie_ids=[P1, P2])]
    await brick.push(CYCLISTS, members)
    state = json.dumps([fake.profiles, fake.aliases], sort_keys=True)
    fake.requests.clear()
    await brick.push(CYCLISTS, members)
    assert json.dumps([fake.profiles, fake.aliases], sort_keys=True) == state
    assert fake.calls("POST", "/cxs/eventcollector") == []
    assert [r.method for r in fake.requests] == ["POST", "GET"]  # holders search, alias lookup
    assert_private(fake)


async def test_an_empty_audience_clears_every_flag(
    brick: UnomiBrick, fake: FakeUnomi, unomi: respx.Router
) -> None:
    await brick.push(CYCLISTS, [AudienceMember(pseudonym=ADA, cookie_ids=[P1, P2])])
    await brick.push(CYCLISTS, [])
    assert [fake.flag(p, "hubAudiences", "cyclists") for p in (P1, P2)] == [None, None]


async def test_the_alias_moves_when_its_profile_is_no_longer_the_members(
    brick: UnomiBrick, fake: FakeUnomi, unomi: respx.Router
) -> None:
    await brick.push(CYCLISTS, [AudienceMember(pseudonym=ADA, cookie_ids=[P1])])
    await brick.push(CYCLISTS, [AudienceMember(pseudonym=ADA, cookie_ids=[P2, P1])])
    assert fake.aliases == {ADA: P1}  # still one of the member's profiles: kept
    await brick.push(CYCLISTS, [AudienceMember(pseudonym=ADA, cookie_ids=[P4])])
    assert fake.aliases == {ADA: P4}
    assert len(fake.calls("DELETE", f"/cxs/profiles/{P1}/aliases/{ADA}")) == 1
    assert fake.flag(P1, "hubAudiences", "cyclists") is None


async def test_updates_go_in_batches_of_batch_size(
    tmp_path: Path, fake: FakeUnomi, unomi: respx.Router
) -> None:
    brick = make_brick(tmp_path, batch_size=2)
    fake.profiles[P4]["properties"]["hubAudiences"] = {"cyclists": True}
    try:
        await brick.push(CYCLISTS, [AudienceMember(pseudonym=ADA, cookie_ids=[P1, P2, P3])])
    finally:
        await brick.aclose()
    bodies = [json.loads(r.content) for r in fake.calls("POST", "/cxs/eventcollector")]
    assert [len(b["events"]) for b in bodies] == [2, 2]
    # Calls are made as the brick's own profile; each event changes its target only.
    assert [b["profileId"] for b in bodies] == ["marketing-hub", "marketing-hub"]
    assert [fake.flag(p, "hubAudiences", "cyclists") for p in (P1, P2, P3, P4)] == [
        True,
        True,
        True,
        None,
    ]


async def test_holders_are_read_to_the_end_before_anything_changes(
    tmp_path: Path, fake: FakeUnomi, unomi: respx.Router
) -> None:
    for index in range(7):
        fake.profiles[f"old-{index}"] = profile(f"old-{index}", hubAudiences={"cyclists": True})
    brick = make_brick(tmp_path, page_size=3)
    try:
        await brick.push(CYCLISTS, [AudienceMember(pseudonym=ADA, cookie_ids=[P1])])
    finally:
        await brick.aclose()
    searches = fake.calls("POST", "/cxs/profiles/search")
    assert len(searches) == 3
    assert "scrollIdentifier" in json.loads(searches[1].content)
    assert all(fake.flag(f"old-{i}", "hubAudiences", "cyclists") is None for i in range(7))
    first_collect = fake.requests.index(fake.calls("POST", "/cxs/eventcollector")[0])
    assert first_collect > fake.requests.index(searches[-1])


async def test_cookie_ids_that_look_like_an_email_or_a_hub_id_never_leave(
    brick: UnomiBrick, fake: FakeUnomi, unomi: respx.Router
) -> None:
    hub_id = "cus_" + "a" * 32
    member = AudienceMember(pseudonym=ADA, cookie_ids=[EMAIL, hub_id, "", "bad id", P2])
    await brick.push(CYCLISTS, [member])
    assert fake.aliases == {ADA: P2}
    assert {e["properties"]["targetId"] for e in collector_events(fake)} == {P2}
    assert_private(fake)


async def test_a_pseudonym_unomi_cannot_take_refuses_the_push(
    brick: UnomiBrick, fake: FakeUnomi, unomi: respx.Router
) -> None:
    member = AudienceMember(pseudonym="ps with spaces 0123456789", cookie_ids=[P1])
    with pytest.raises(PayloadRejected) as caught:
        await brick.push(CYCLISTS, [member])
    assert caught.value.field == "members.0.pseudonym"
    assert fake.requests == []


async def test_a_wrong_peer_key_is_dropped_silently_by_unomi(
    tmp_path: Path, fake: FakeUnomi, unomi: respx.Router
) -> None:
    """Documented limit: Unomi answers 200 and ignores protected events from an unknown peer."""
    brick = make_brick(tmp_path, auth_key="not-the-configured-key")
    try:
        await brick.push(CYCLISTS, [AudienceMember(pseudonym=ADA, cookie_ids=[P1])])
    finally:
        await brick.aclose()
    assert fake.flag(P1, "hubAudiences", "cyclists") is None


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        (httpx.Response(401, json={"errorMessage": "unauthorized"}), AuthFailed),
        (httpx.Response(403, text="Forbidden"), AuthFailed),
        (httpx.Response(429, headers={"Retry-After": "3"}), RateLimited),
        (httpx.Response(503, json={"errorMessage": "internalServerError"}), Retryable),
        (
            httpx.Response(400, text=f"Request rejected by the server because: bad {EMAIL}"),
            PayloadRejected,
        ),
    ],
    ids=["401", "403", "429", "503", "400"],
)
async def test_collector_failures_raise_the_contract_error(
    brick: UnomiBrick,
    fake: FakeUnomi,
    unomi: respx.Router,
    answer: httpx.Response,
    expected: type[Exception],
) -> None:
    unomi.route(method="POST", path="/cxs/eventcollector").mock(return_value=answer)
    with pytest.raises(expected) as caught:
        await brick.push(CYCLISTS, [AudienceMember(pseudonym=ADA, cookie_ids=[P1])])
    assert EMAIL not in str(caught.value)
    if expected is PayloadRejected:
        assert "Request rejected by the server because" in str(caught.value)
    # The alias step was done; a re-push (what the core does) converges.
    unomi.route(method="POST", path="/cxs/eventcollector").mock(side_effect=fake._collect)
    await brick.push(CYCLISTS, [AudienceMember(pseudonym=ADA, cookie_ids=[P1])])
    assert fake.flag(P1, "hubAudiences", "cyclists") is True


async def test_check_reports_without_raising(
    brick: UnomiBrick, fake: FakeUnomi, unomi: respx.Router
) -> None:
    status = await brick.check()
    assert status.ok and "1 cluster node" in status.detail
    unomi.route(method="GET", path="/cxs/cluster").mock(return_value=httpx.Response(401))
    status = await brick.check()
    assert not status.ok and "username / password" in status.detail
    unomi.route(method="GET", path="/cxs/cluster").mock(side_effect=httpx.ConnectError)
    status = await brick.check()
    assert not status.ok and "cluster check failed" in status.detail
    unomi.route(method="GET", path="/cxs/cluster").mock(
        return_value=httpx.Response(200, json={"odd": 1})
    )
    assert not (await brick.check()).ok
    for request in fake.requests:
        assert request.headers["authorization"].startswith("Basic ")
        assert "x-unomi-peer" not in request.headers


def lookup_answering(fake: FakeUnomi, answer: httpx.Response) -> respx.MockRouter:
    """The fake Unomi, except that the pseudonym lookup gives ``answer`` (routes match in the
    order they are added, so this one goes first)."""
    router = respx.mock(base_url=BASE, assert_all_mocked=True, assert_all_called=False)
    router.route(method="GET", path=f"/cxs/profiles/{ADA}").mock(return_value=answer)
    fake.install(router)
    return router


async def test_a_404_profile_lookup_means_no_alias_yet(brick: UnomiBrick, fake: FakeUnomi) -> None:
    """Unomi answers 204 for an unknown id; a proxy in front of it may answer 404."""
    with lookup_answering(fake, httpx.Response(404, text="Not Found")) as router:
        await brick.push(CYCLISTS, [AudienceMember(pseudonym=ADA, cookie_ids=[P1])])
        assert router.routes[0].call_count == 1
    assert fake.aliases == {ADA: P1}


async def test_a_lookup_error_other_than_404_raises(brick: UnomiBrick, fake: FakeUnomi) -> None:
    answer = httpx.Response(400, text="Request rejected by the server because: bad id")
    members = [
        AudienceMember(pseudonym=ADA, cookie_ids=[P1]),
        AudienceMember(pseudonym=BOB, cookie_ids=[P2]),
    ]
    with lookup_answering(fake, answer), pytest.raises(PayloadRejected, match="bad id"):
        await brick.push(CYCLISTS, members)
    # The flags went first (segments are right); the other member's alias was still made.
    assert [fake.flag(p, "hubAudiences", "cyclists") for p in (P1, P2)] == [True, True]
    assert fake.aliases == {BOB: P2}


async def test_only_a_profile_unomi_has_under_its_own_id_gets_the_alias(
    brick: UnomiBrick, fake: FakeUnomi, unomi: respx.Router
) -> None:
    stale = "stale-cookie-0001"  # a cookie id Unomi has no profile for (purged, other site)
    fake.aliases["merged-away-0002"] = P3  # an id Unomi merged into another profile
    member = AudienceMember(pseudonym=ADA, cookie_ids=[stale, "merged-away-0002", P2])
    await brick.push(CYCLISTS, [member])
    assert fake.aliases[ADA] == P2
    assert stale not in fake.profiles  # the collector created no profile for it
    assert fake.flag(P2, "hubAudiences", "cyclists") is True
    await brick.push(CYCLISTS, [AudienceMember(pseudonym=BOB, cookie_ids=[stale])])
    assert BOB not in fake.aliases  # nothing to alias: no profile in Unomi


async def test_a_cookie_unomi_merged_into_another_profile_keeps_that_profile_flagged(
    brick: UnomiBrick, fake: FakeUnomi, unomi: respx.Router
) -> None:
    """The search lists the merged profile under its own id, not the member's cookie: the
    removal of that id must not win over the member's update."""
    fake.aliases["merged-away-0002"] = P3
    member = AudienceMember(pseudonym=ADA, cookie_ids=["merged-away-0002", P1])
    for _ in range(3):
        await brick.push(CYCLISTS, [member])
        assert fake.flag(P3, "hubAudiences", "cyclists") is True
        assert fake.flag(P1, "hubAudiences", "cyclists") is True


async def test_credentials_refused_on_an_alias_stop_at_once(
    brick: UnomiBrick, fake: FakeUnomi
) -> None:
    members = [
        AudienceMember(pseudonym=ADA, cookie_ids=[P1]),
        AudienceMember(pseudonym=BOB, cookie_ids=[P2]),
    ]
    with lookup_answering(fake, httpx.Response(401)), pytest.raises(AuthFailed):
        await brick.push(CYCLISTS, members)
    assert fake.aliases == {}
