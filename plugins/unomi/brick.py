"""``UnomiBrick``: identity links read from Apache Unomi 2.x, hub audiences written back to it.

Two credentials, as Unomi separates them: the private ``/cxs`` endpoints (events and profiles
search, aliases, cluster) take Basic auth; ``/cxs/eventcollector`` is public and accepts the
protected ``updateProperties`` event only from a configured third-party server, recognised by
its key in ``X-Unomi-Peer`` and its IP address. Each request carries only the credential its
endpoint uses. The brick never retries: vendor answers become contract errors
(``hub.sdk.http``) and the core decides.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import httpx

from contracts import (
    Audience,
    AudienceMember,
    AuthFailed,
    Brick,
    BrickContext,
    BrickError,
    BrickSettings,
    Capability,
    HealthStatus,
    IdentityLink,
    IdentityLinkPage,
    Permanent,
    Purpose,
    RateLimited,
)
from hub.sdk.http import build_client, error_for_transport, raise_for_status, request
from plugins.unomi.audiences import is_member_value, plan_members
from plugins.unomi.keyset import MAX_WINDOW, Position, advance
from plugins.unomi.links import link_for, parse_event
from plugins.unomi.payloads import (
    CLUSTER,
    EVENT_COLLECTOR,
    EVENTS_SEARCH,
    PROFILES_SEARCH,
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
from plugins.unomi.settings import UnomiSettings

__all__ = ["UnomiBrick"]

#: Upper bound on scroll pages of one holders search (a server repeating pages must not loop).
_MAX_SCROLL_PAGES = 100_000


class UnomiBrick(Brick):
    """Reads verified identity links from Unomi events; pushes hub audiences onto profiles."""

    name: ClassVar[str] = "unomi"
    version: ClassVar[str] = "1.0.0"
    description: ClassVar[str] = (
        "Apache Unomi 2.x (CDP/DMP): identity links from login events, audiences onto profiles"
    )
    capabilities: ClassVar[frozenset[Capability]] = frozenset(
        {Capability.IDENTITY_LINK_SOURCE, Capability.AUDIENCE_SINK}
    )
    purposes: ClassVar[frozenset[Purpose]] = frozenset({Purpose.PROFILING})

    Settings: ClassVar[type[BrickSettings]] = UnomiSettings
    settings: UnomiSettings

    def __init__(self, settings: BrickSettings, context: BrickContext) -> None:
        super().__init__(settings, context)
        self._http: httpx.AsyncClient | None = None

    @property
    def cookie_namespaces(self) -> frozenset[str]:
        """Only site cookies of this namespace are Unomi profile ids (``AudienceSink``)."""
        return frozenset({self.settings.site_cookie_namespace})

    # -- HTTP ------------------------------------------------------------------------------

    def _client(self) -> httpx.AsyncClient:
        if self._http is None:
            self._http = build_client(
                self.settings, brick_name=self.name, brick_version=self.version
            )
        return self._http

    def _basic(self) -> httpx.BasicAuth:
        return httpx.BasicAuth(self.settings.username, self.settings.password.get_secret_value())

    async def _private(
        self,
        method: str,
        path: str,
        *,
        redact: Sequence[str] = (),
        absent_ok: bool = False,
        **kwargs: Any,
    ) -> httpx.Response:
        """A call to a private ``/cxs`` endpoint (Basic auth). With ``absent_ok`` a 404 is an
        answer ("no such profile"), not an error: Unomi itself says so with a 204, a proxy in
        front of it may not."""
        try:
            response = await self._client().request(method, path, auth=self._basic(), **kwargs)
        except httpx.HTTPError as exc:
            raise error_for_transport(exc) from exc
        if absent_ok and response.status_code == 404:
            return response
        return raise_for_status(response, describe=describe_error, redact=redact)

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    @staticmethod
    def _json(response: httpx.Response, what: str) -> Any:
        try:
            return response.json()
        except ValueError:
            raise Permanent(f"Unomi answered the {what} with something that is not JSON") from None

    # -- IdentityLinkSource ----------------------------------------------------------------

    async def read_links(self, cursor: str | None) -> IdentityLinkPage:
        """One page of links from the configured verifying events, oldest first.

        ``has_more`` is true when Unomi filled the page: more events may be waiting. An event
        with a missing or unreadable ``timeStamp`` / ``itemId`` refuses the page
        (``PayloadRejected`` naming ``list.<n>.timeStamp``), since skipping it would lose it.
        """
        position = Position.decode(cursor)
        if len(position.seen) + self.settings.page_size > MAX_WINDOW:
            raise Permanent(
                f"more than {MAX_WINDOW - self.settings.page_size} verifying events share the "
                f"time {position.at}: a search window ({MAX_WINDOW} results, Elasticsearch's "
                "default) cannot page past them without skipping some"
            )
        query = events_query(self.settings, since=position.at, seen=len(position.seen))
        response = await self._private("POST", EVENTS_SEARCH, json=query)
        body = self._json(response, "events search")
        items = body.get("list") if isinstance(body, Mapping) else None
        if not isinstance(items, list):
            raise Permanent("Unomi answered the events search without a 'list' of events")
        events = [parse_event(raw, index) for index, raw in enumerate(items)]
        following, fresh = advance(position, [(event.item_id, event.at) for event in events])
        links: list[IdentityLink] = []
        for index in fresh:
            link = link_for(events[index], self.settings)
            if link is not None:
                links.append(link)
        return IdentityLinkPage(
            links=links,
            next_cursor=following.encode(),
            has_more=len(items) >= query["limit"],
        )

    # -- AudienceSink ----------------------------------------------------------------------

    async def push(self, audience: Audience, members: Sequence[AudienceMember]) -> None:
        """Make Unomi's profiles carry exactly this audience's membership.

        1. the profiles already flagged are listed (a scrolled profiles search, read to the
           end before anything changes);
        2. ``updateProperties`` events, ``batch_size`` per ``/cxs/eventcollector`` call, delete
           the flag from flagged profiles that are no longer members, then set it on member
           profiles not flagged yet: segments are right as soon as this step is done;
        3. each member's profiles are made known under its pseudonym: an alias on the first of
           them that exists in Unomi (an alias names one profile); an alias left on a profile
           that is no longer the member's is moved.

        Pushing the same membership again sends no update and creates no alias. A failure
        raises the contract error after the steps already done (a failing alias does not stop
        the other members' aliases; the first error is raised at the end, except credentials
        and rate limits, raised at once); the core pushes the whole audience again, which
        converges, every step being idempotent.
        """
        plan = plan_members(members)
        path = membership_path(self.settings, audience.name)
        flagged = await self._flagged_profiles(path, audience.name)
        current = set(plan.profiles)
        # Removals first: a member's cookie may be an id Unomi merged into another profile (an
        # alias of it), which the search lists under the other id; setting the flag after the
        # removal leaves that profile flagged, as it should be.
        events = [
            removal_event(self.settings, profile_id, path)
            for profile_id in flagged
            if profile_id not in current
        ]
        events += [
            update_event(self.settings, profile_id, path)
            for profile_id in plan.profiles
            if not flagged.get(profile_id, False)
        ]
        await self._send_events(events)
        first_error: BrickError | None = None
        for member in plan.members:
            try:
                await self._ensure_alias(member.pseudonym, member.profiles)
            except (AuthFailed, RateLimited):
                raise
            except BrickError as exc:
                first_error = first_error or exc
        if first_error is not None:
            raise first_error

    async def _lookup(self, profile_id: str) -> str | None:
        """The id of the profile ``profile_id`` names (itself, or the profile an alias points
        to: Unomi resolves aliases on ``GET /cxs/profiles/{id}``), ``None`` when unknown."""
        response = await self._private(
            "GET", profile_path(profile_id), redact=[profile_id], absent_ok=True
        )
        if response.status_code != 200 or not response.content:
            return None
        found = self._json(response, "profile lookup")
        item_id = found.get("itemId") if isinstance(found, Mapping) else None
        return item_id if isinstance(item_id, str) and item_id else None

    async def _ensure_alias(self, pseudonym: str, profiles: Sequence[str]) -> None:
        """Nothing to do when the pseudonym already names one of the member's profiles;
        otherwise alias the first member profile Unomi has under its own id (not a stale
        cookie, not one Unomi merged into another), moving the alias if it named another."""
        current = await self._lookup(pseudonym)
        if current in profiles:
            return
        target = None
        for profile_id in profiles:
            if await self._lookup(profile_id) == profile_id:
                target = profile_id
                break
        if target is None:
            return  # none of the person's cookies is a Unomi profile (yet)
        headers = {"X-Unomi-ClientId": self.settings.alias_client_id}
        if current is not None and current != pseudonym:
            await self._private(
                "DELETE",
                alias_path(current, pseudonym),
                headers=headers,
                redact=[pseudonym, current],
            )
        await self._private(
            "POST", alias_path(target, pseudonym), headers=headers, redact=[pseudonym, target]
        )

    async def _flagged_profiles(self, path: str, name: str) -> dict[str, bool]:
        """Profile id -> whether its flag is already ``true``, for every profile carrying it.

        Read to the end before anything changes (a scroll is a snapshot), since the updates
        then remove profiles from this very search."""
        flagged: dict[str, bool] = {}
        query: dict[str, Any] = holders_query(self.settings, path)
        for _ in range(_MAX_SCROLL_PAGES):
            response = await self._private("POST", PROFILES_SEARCH, json=query)
            body = self._json(response, "profiles search")
            items = body.get("list") if isinstance(body, Mapping) else None
            if not isinstance(items, list):
                raise Permanent("Unomi answered the profiles search without a 'list'")
            for profile in items:
                profile_id = profile.get("itemId") if isinstance(profile, Mapping) else None
                if isinstance(profile_id, str) and profile_id:
                    flagged[profile_id] = is_member_value(
                        profile, self.settings.audience_property, name
                    )
            scroll = body.get("scrollIdentifier")
            if len(items) < self.settings.page_size or not isinstance(scroll, str) or not scroll:
                break
            query = next_scroll_query(scroll)
        return flagged

    async def _send_events(self, events: Sequence[dict[str, Any]]) -> None:
        """``batch_size`` events per call, with the third-party server key (no Basic auth: the
        collector is a public endpoint and the key is what Unomi checks for protected events).
        """
        headers = {self.settings.auth_header: self.settings.auth_key.get_secret_value()}
        size = self.settings.batch_size
        for start in range(0, len(events), size):
            batch = events[start : start + size]
            await request(
                self._client(),
                "POST",
                EVENT_COLLECTOR,
                json=collector_body(self.settings, batch),
                headers=headers,
                describe=describe_error,
                redact=[event["properties"]["targetId"] for event in batch],
            )

    # -- Health ----------------------------------------------------------------------------

    async def check(self) -> HealthStatus:
        """``GET /cxs/cluster``: proves Unomi answers and accepts the Basic-auth user. The
        third-party key is checked by Unomi only when events arrive (see the brick's docs)."""
        try:
            response = await self._private("GET", CLUSTER)
        except AuthFailed:
            return HealthStatus(ok=False, detail="Unomi rejected the username / password")
        except BrickError as exc:
            return HealthStatus(ok=False, detail=f"Unomi cluster check failed: {exc.message}")
        try:
            nodes = response.json()
        except ValueError:
            nodes = None
        if not isinstance(nodes, list):
            return HealthStatus(ok=False, detail="Unomi answered /cxs/cluster without a node list")
        return HealthStatus(ok=True, detail=f"Unomi reachable, {len(nodes)} cluster node(s)")
