"""``BrevoBrick``: transactional email, contact sync and delivery webhooks for Brevo (API v3).

Every call goes through ``hub.sdk.http.request``: Brevo's answers become contract errors (429
with ``x-sib-ratelimit-reset`` -> ``RateLimited``, 5xx -> ``Retryable``, 400 -> ``PayloadRejected``
naming the field...) and the core owns every retry. The brick never retries and never logs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import timedelta
from typing import Any, ClassVar
from urllib.parse import quote

import httpx

from contracts import (
    AuthFailed,
    Brick,
    BrickContext,
    BrickError,
    BrickSettings,
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
    WebhookPayload,
)
from hub.sdk.http import build_client, error_for_transport, raise_for_status, request
from plugins.brevo.payloads import (
    blacklist_flags,
    contact_body,
    error_reader,
    import_body,
    redact,
    send_body,
    view_values,
)
from plugins.brevo.settings import BrevoSettings
from plugins.brevo.webhooks import normalise_message_id, parse_events, verify_call

__all__ = ["LIST_ADD_LIMIT", "RESET_HEADER", "BrevoBrick"]

#: Seconds until Brevo's rate-limit window resets, sent with every 429.
RESET_HEADER = "x-sib-ratelimit-reset"
#: Brevo accepts at most 150 identifiers per "add contacts to a list" call.
LIST_ADD_LIMIT = 150


class BrevoBrick(Brick):
    """Sends templated email, keeps Brevo's contacts in step, reads delivery webhooks."""

    name: ClassVar[str] = "brevo"
    version: ClassVar[str] = "1.0.0"
    description: ClassVar[str] = (
        "Brevo (ex-Sendinblue): templated transactional email, contact sync, delivery webhooks"
    )
    capabilities: ClassVar[frozenset[Capability]] = frozenset(
        {Capability.SENDER, Capability.CONTACT_SINK, Capability.WEBHOOK_RECEIVER}
    )
    channels: ClassVar[frozenset[Channel]] = frozenset({Channel.EMAIL})
    fields: ClassVar[frozenset[CustomerField]] = frozenset(
        {
            CustomerField.EMAIL,
            CustomerField.FIRST_NAME,
            CustomerField.LAST_NAME,
            CustomerField.PHONE,
            CustomerField.LOCALE,
            CustomerField.TIME_ZONE,
        }
    )
    purposes: ClassVar[frozenset[Purpose]] = frozenset({Purpose.MARKETING, Purpose.TRANSACTIONAL})
    supports_idempotency: ClassVar[bool] = True
    batch_size: ClassVar[int] = 500

    class Settings(BrevoSettings):
        """API key, template and list ids, attribute names, webhook token (``settings.py``)."""

    settings: BrevoSettings

    def __init__(self, settings: BrickSettings, context: BrickContext) -> None:
        super().__init__(settings, context)
        self._client: httpx.AsyncClient | None = None
        self._describe = error_reader(self.settings)

    # -- plumbing ------------------------------------------------------------------------------
    def _http(self) -> httpx.AsyncClient:
        """The client is created on first use, so building a brick (config checks) is free."""
        if self._client is None:
            self._client = build_client(
                self.settings,
                brick_name=self.name,
                brick_version=self.version,
                headers={
                    "api-key": self.settings.api_key.get_secret_value(),
                    "Accept": "application/json",
                },
            )
        return self._client

    async def _call(
        self, method: str, url: str, *, personal: Iterable[str] = (), **kwargs: Any
    ) -> httpx.Response:
        try:
            return await request(
                self._http(),
                method,
                url,
                describe=self._describe,
                reset_header=RESET_HEADER,
                **kwargs,
            )
        except BrickError as exc:
            redact(exc, personal)
            raise

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def check(self) -> HealthStatus:
        """``GET /account``: the cheapest call that proves the key works."""
        try:
            await self._call("GET", "/account")
        except AuthFailed:
            return HealthStatus(ok=False, detail="Brevo rejected the API key (401/403)")
        except BrickError as exc:
            return HealthStatus(ok=False, detail=f"Brevo unreachable or failing: {exc.message}")
        return HealthStatus(ok=True, detail="Brevo accepted the API key")

    # -- Sender --------------------------------------------------------------------------------
    async def send(self, request: SendRequest) -> SendResult:
        """``POST /smtp/email`` with the mapped template; Brevo's ``messageId`` comes back."""
        body = send_body(request, self.settings)
        response = await self._call(
            "POST", "/smtp/email", json=body, personal=view_values(request.recipient)
        )
        return SendResult(
            request_id=request.request_id,
            status=SendStatus.ACCEPTED,
            vendor_message_id=normalise_message_id(_json(response).get("messageId")),
        )

    async def send_batch(self, requests: Sequence[SendRequest]) -> list[SendResult]:
        """One ``/smtp/email`` call per message, in order.

        Brevo's ``messageVersions`` could batch, but its ``headers`` (idempotency key, the
        pseudonym echoed in webhooks) are shared by every version: per-message calls keep
        each message individually idempotent and traceable. A refused message gets its own
        ``rejected`` result; anything else (credentials, rate limit, outage) stops the batch
        and raises, and the idempotency keys make the core's retry of the batch harmless.
        """
        results: list[SendResult] = []
        for item in requests:
            try:
                results.append(await self.send(item))
            except PayloadRejected as exc:
                results.append(
                    SendResult(
                        request_id=item.request_id,
                        status=SendStatus.REJECTED,
                        error=SendError(
                            code=(exc.vendor_code or type(exc).__name__)[:64],
                            message=exc.message[:1000],
                        ),
                    )
                )
        return results

    # -- ContactSink ---------------------------------------------------------------------------
    async def upsert(self, contacts: Sequence[ContactView]) -> list[UpsertResult]:
        """Create or update contacts keyed by ``ext_id`` = the brick's pseudonym.

        Up to ``import_threshold`` contacts: one ``POST /contacts`` each (``updateEnabled``), so
        each gets its own answer. Larger batches, when ``list_ids`` is set (Brevo's import
        requires a list): one ``POST /contacts/import`` job per ``batch_size`` contacts; Brevo
        processes it in the background, so every contact is reported as accepted, not created.
        Contacts with ``opted_out`` channels always go through ``POST /contacts``, the only call
        that carries Brevo's unsubscribe flags.
        """
        if len(contacts) > self.settings.import_threshold and self.settings.list_ids:
            # Import rows cannot carry unsubscribe flags: opted-out contacts go one by one.
            flagged = {i for i, view in enumerate(contacts) if blacklist_flags(view, self.settings)}
            bulk = [view for i, view in enumerate(contacts) if i not in flagged]
            answers: dict[str, UpsertResult] = {}
            for start in range(0, len(bulk), self.batch_size):
                for result in await self._import(bulk[start : start + self.batch_size]):
                    answers[result.pseudonym] = result
            results: list[UpsertResult] = []
            for i, view in enumerate(contacts):
                if i in flagged:
                    results.append(await self._upsert_one(view))
                else:
                    results.append(answers[view.pseudonym])
            return results
        return [await self._upsert_one(view) for view in contacts]

    async def _upsert_one(self, view: ContactView) -> UpsertResult:
        try:
            body = contact_body(view, self.settings)
            response = await self._call("POST", "/contacts", json=body, personal=view_values(view))
        except PayloadRejected as exc:
            return UpsertResult(pseudonym=view.pseudonym, error=exc.message)
        # 201 answers {"id": ...} for a new contact; 204 means an existing one was updated.
        return UpsertResult(pseudonym=view.pseudonym, created=response.status_code == 201)

    async def _import(self, views: Sequence[ContactView]) -> list[UpsertResult]:
        # Read only if the call fails (a generator): listing 1,500 values per batch up front
        # cost more than the rest of the brick's work.
        personal = (value for view in views for value in view_values(view))
        await self._call(
            "POST", "/contacts/import", json=import_body(views, self.settings), personal=personal
        )
        return [UpsertResult(pseudonym=view.pseudonym) for view in views]

    async def add_to_list(self, list_id: int, pseudonyms: Sequence[str]) -> list[str]:
        """Add existing contacts (by ``ext_id``) to a Brevo list; return those Brevo refused.

        Brevo takes at most 150 identifiers per call, so the input is split. A contact the list
        already holds, or that Brevo does not know, comes back in Brevo's ``failure`` list.
        """
        if list_id <= 0:
            raise PayloadRejected("list ids are positive integers", field="list_id")
        refused: list[str] = []
        unique = list(dict.fromkeys(pseudonyms))
        for start in range(0, len(unique), LIST_ADD_LIMIT):
            chunk = unique[start : start + LIST_ADD_LIMIT]
            response = await self._call(
                "POST", f"/contacts/lists/{list_id}/contacts/add", json={"extIds": chunk}
            )
            contacts = _json(response).get("contacts")
            failure = contacts.get("failure") if isinstance(contacts, dict) else None
            if isinstance(failure, list):
                refused += [str(item) for item in failure if str(item) in chunk]
        return refused

    async def erase(self, pseudonym: str) -> None:
        """``DELETE /contacts/{ext_id}?identifierType=ext_id``; a contact already gone is done."""
        url = f"/contacts/{quote(pseudonym, safe='')}"
        try:
            response = await self._http().request(
                "DELETE", url, params={"identifierType": "ext_id"}
            )
        except httpx.HTTPError as exc:
            raise error_for_transport(exc) from exc
        if response.status_code == 404:
            return
        raise_for_status(response, describe=self._describe, reset_header=RESET_HEADER)

    # -- WebhookReceiver -----------------------------------------------------------------------
    def verify(self, url: str, headers: Mapping[str, str], body: bytes) -> None:
        """Shared token (bearer header or ``token`` query parameter) and event freshness."""
        token = self.settings.webhook_token
        verify_call(
            token.get_secret_value() if token is not None else None,
            url,
            headers,
            body,
            tolerance=timedelta(seconds=self.settings.webhook_tolerance_seconds),
        )

    def parse(self, headers: Mapping[str, str], body: bytes) -> WebhookPayload:
        """Transactional events -> outcomes, named by pseudonym, never by address."""
        return parse_events(body)


def _json(response: httpx.Response) -> dict[str, Any]:
    """A 2xx body as a dict; Brevo's 204s and odd bodies read as empty."""
    try:
        data = response.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}
