"""``OneSignalBrick``: push notifications and pseudonym-to-device linking through OneSignal.

OneSignal knows a person by an ``external_id`` alias; this brick sets it to its own pseudonym,
so the hub's customer id never reaches OneSignal and another brick's pseudonym cannot be joined
with it. Sends target that alias only (never a push token), and a retried send carries the same
idempotency key, so OneSignal delivers it once.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar
from urllib.parse import quote

import httpx

from contracts import (
    Brick,
    BrickContext,
    BrickError,
    Capability,
    Channel,
    ContactView,
    CustomerField,
    HealthStatus,
    PayloadRejected,
    Purpose,
    SendError,
    SendRequest,
    SendResult,
    SendStatus,
    UpsertResult,
)
from hub.sdk.http import build_client, error_for_transport, raise_for_status, request
from plugins.onesignal.payloads import (
    ALIAS_LABEL,
    describe,
    notification_body,
    read_notification,
    user_body,
)
from plugins.onesignal.settings import OneSignalSettings

__all__ = ["OneSignalBrick"]


class OneSignalBrick(Brick):
    """Sender (push) and ContactSink (links the pseudonym to a push subscription)."""

    name: ClassVar[str] = "onesignal"
    version: ClassVar[str] = "1.0.0"
    description: ClassVar[str] = "OneSignal push notifications, addressed by the brick's pseudonym"
    capabilities: ClassVar[frozenset[Capability]] = frozenset(
        {Capability.SENDER, Capability.CONTACT_SINK}
    )
    channels: ClassVar[frozenset[Channel]] = frozenset({Channel.PUSH})
    fields: ClassVar[frozenset[CustomerField]] = frozenset(
        {CustomerField.PUSH_TOKEN, CustomerField.LOCALE}
    )
    purposes: ClassVar[frozenset[Purpose]] = frozenset({Purpose.MARKETING, Purpose.TRANSACTIONAL})
    supports_idempotency: ClassVar[bool] = True
    #: OneSignal has no multi-user upsert and sends are one notification per person, so a
    #: "batch" is a sequence of calls; 100 keeps one batch well inside the per-app rate limits.
    batch_size: ClassVar[int] = 100

    class Settings(OneSignalSettings):
        """App id, App API key, templates and push options (see ``settings.py``)."""

    def __init__(self, settings: OneSignalSettings, context: BrickContext) -> None:
        super().__init__(settings, context)
        self.settings: OneSignalSettings = settings
        self._client: httpx.AsyncClient | None = None

    def _http(self) -> httpx.AsyncClient:
        """The shared client, created on first use (bricks are built before the loop runs)."""
        if self._client is None:
            key = self.settings.api_key.get_secret_value()
            self._client = build_client(
                self.settings,
                brick_name=self.name,
                brick_version=self.version,
                headers={"Authorization": f"Key {key}", "Accept": "application/json"},
            )
        return self._client

    async def _call(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        return await request(self._http(), method, url, describe=describe, **kwargs)

    def _user_path(self, pseudonym: str) -> str:
        return f"/apps/{self.settings.app_id}/users/by/{ALIAS_LABEL}/{quote(pseudonym, safe='')}"

    # -- Sender ---------------------------------------------------------------------------

    async def send(self, request: SendRequest) -> SendResult:
        """Create one push notification for the pseudonym; raise when it cannot go out.

        A 200 without a notification id (nobody subscribed under that external_id) raises
        ``PayloadRejected``: the core records it as rejected, never as sent.
        """
        if request.channel is not Channel.PUSH:
            raise PayloadRejected(
                f"OneSignal brick sends push only, not {request.channel.value}", field="channel"
            )
        body = notification_body(request, self.settings)
        response = await self._call("POST", "/notifications", params={"c": "push"}, json=body)
        notification_id = read_notification(response)
        return SendResult(
            request_id=request.request_id,
            status=SendStatus.ACCEPTED,
            vendor_message_id=notification_id,
        )

    async def send_batch(self, requests: Sequence[SendRequest]) -> list[SendResult]:
        """One notification per request, in order; a refused one becomes a rejected result.

        Credentials, rate limits and outages raise for the whole batch: the core retries it,
        and the idempotency keys make OneSignal skip the ones already created.
        """
        results: list[SendResult] = []
        for item in requests:
            try:
                results.append(await self.send(item))
            except PayloadRejected as exc:
                # The core's convention: ``code`` is the contract error's class name.
                reason = f"{exc.message} [{exc.vendor_code}]" if exc.vendor_code else exc.message
                results.append(
                    SendResult(
                        request_id=item.request_id,
                        status=SendStatus.REJECTED,
                        error=SendError(code=type(exc).__name__, message=reason[:1000]),
                    )
                )
        return results

    # -- ContactSink ----------------------------------------------------------------------

    async def upsert(self, contacts: Sequence[ContactView]) -> list[UpsertResult]:
        """Create or update the OneSignal user whose ``external_id`` is the pseudonym.

        The view's push token becomes (or is moved onto) a push subscription of that user and
        its locale sets the user's language. 201 means a new user; 200/202 an existing one.
        """
        results: list[UpsertResult] = []
        for view in contacts:
            try:
                body = user_body(view, self.settings)
                response = await self._call(
                    "POST", f"/apps/{self.settings.app_id}/users", json=body
                )
            except PayloadRejected as exc:
                results.append(UpsertResult(pseudonym=view.pseudonym, error=exc.message))
                continue
            results.append(
                UpsertResult(pseudonym=view.pseudonym, created=response.status_code == 201)
            )
        return results

    async def erase(self, pseudonym: str) -> None:
        """Delete the user, its aliases and subscriptions; an unknown user is already erased."""
        try:
            response = await self._http().request("DELETE", self._user_path(pseudonym))
        except httpx.HTTPError as exc:
            raise error_for_transport(exc) from exc
        if response.status_code != 404:
            raise_for_status(response, describe=describe)

    # -- health ---------------------------------------------------------------------------

    async def check(self) -> HealthStatus:
        """List at most one push template: cheap, read-only, and needs the App API key.

        (Viewing the app itself needs the Organization key, which this brick never holds.)
        """
        try:
            await self._call(
                "GET",
                "/templates",
                params={"app_id": str(self.settings.app_id), "limit": 1, "channel": "push"},
            )
        except BrickError as exc:
            return HealthStatus(ok=False, detail=f"{type(exc).__name__}: {exc.message}")
        return HealthStatus(ok=True, detail="OneSignal accepted the App API key for this app")

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None
