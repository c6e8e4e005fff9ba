"""``TwilioBrick``: SMS through Twilio's Message resource, delivery reports through its callbacks.

Twilio has no idempotency key: a ``CreateMessage`` call that timed out may or may not have sent
the SMS. The brick never retries (the core does) and declares ``supports_idempotency = False``, so
the core de-duplicates on its side and treats a timed-out send as in doubt.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import ClassVar

import httpx

from contracts import (
    AuthFailed,
    Brick,
    BrickContext,
    BrickError,
    BrickSettings,
    Capability,
    Channel,
    CustomerField,
    HealthStatus,
    PayloadRejected,
    Permanent,
    Purpose,
    RateLimited,
    RecipientOptedOut,
    Retryable,
    SendError,
    SendRequest,
    SendResult,
    SendStatus,
    WebhookPayload,
)
from hub.sdk.http import build_client, error_for_response, error_for_transport, parse_retry_after
from plugins.twilio.codes import RATE_LIMIT_CODE, UNSUBSCRIBED_CODES
from plugins.twilio.payloads import account_path, describe_error, message_form, messages_path
from plugins.twilio.settings import TwilioSettings
from plugins.twilio.webhooks import parse_status_callback, verify_signature

__all__ = ["TwilioBrick"]


def _raise_for(response: httpx.Response) -> httpx.Response:
    """Raise the contract error a Twilio answer means; error 20429 is a rate limit whatever
    the HTTP status it came with (Twilio documents it as "never processed, safe to retry")."""
    error = error_for_response(response, describe=describe_error)
    if error is None:
        return response
    if error.vendor_code == RATE_LIMIT_CODE and not isinstance(error, RateLimited):
        error = RateLimited(
            error.message,
            retry_after=parse_retry_after(response.headers.get("Retry-After")),
            vendor_code=error.vendor_code,
        )
    elif error.vendor_code in UNSUBSCRIBED_CODES:
        # The person replied STOP: the core records the opt-out for every brick.
        error = RecipientOptedOut(error.message, field="phone", vendor_code=error.vendor_code)
    raise error


class TwilioBrick(Brick):
    """Sends SMS with Twilio and turns its status callbacks into delivery outcomes."""

    name: ClassVar[str] = "twilio"
    version: ClassVar[str] = "1.0.0"
    description: ClassVar[str] = "Twilio Programmable Messaging: SMS and delivery status callbacks"
    capabilities: ClassVar[frozenset[Capability]] = frozenset(
        {Capability.SENDER, Capability.WEBHOOK_RECEIVER}
    )
    channels: ClassVar[frozenset[Channel]] = frozenset({Channel.SMS})
    fields: ClassVar[frozenset[CustomerField]] = frozenset(
        {CustomerField.PHONE, CustomerField.FIRST_NAME}
    )
    purposes: ClassVar[frozenset[Purpose]] = frozenset({Purpose.MARKETING, Purpose.TRANSACTIONAL})
    supports_idempotency: ClassVar[bool] = False
    #: No batch endpoint: a batch is sent one call after the other, so keep batches small.
    batch_size: ClassVar[int] = 25

    Settings: ClassVar[type[BrickSettings]] = TwilioSettings
    settings: TwilioSettings

    def __init__(self, settings: BrickSettings, context: BrickContext) -> None:
        super().__init__(settings, context)
        self._http: httpx.AsyncClient | None = None

    # -- HTTP ------------------------------------------------------------------------------

    def _client(self) -> httpx.AsyncClient:
        if self._http is None:
            self._http = build_client(
                self.settings,
                brick_name=self.name,
                brick_version=self.version,
                auth=(self.settings.account_sid, self.settings.auth_token.get_secret_value()),
            )
        return self._http

    async def _call(self, method: str, path: str, **kwargs: object) -> httpx.Response:
        try:
            response = await self._client().request(method, path, **kwargs)  # type: ignore[arg-type]
        except httpx.HTTPError as exc:
            raise error_for_transport(exc) from exc
        return _raise_for(response)

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    # -- Sender ----------------------------------------------------------------------------

    def callback_url(self) -> str | None:
        """Where Twilio reports delivery: ``webhook_url``, else the hub's public webhook URL."""
        if not self.settings.status_callback:
            return None
        if self.settings.webhook_url is not None:
            return self.settings.webhook_url
        base = self.context.public_base_url
        if not base:
            return None
        return f"{base.rstrip('/')}/webhooks/{self.context.name}"

    async def send(self, request: SendRequest) -> SendResult:
        """One ``CreateMessage`` call; raises the contract error of a refused or failed call.

        Refusals keep Twilio's code: 21610 (the person replied STOP) is raised as
        ``RecipientOptedOut``, so the core records the opt-out; 21211, 21614 and 21635 name the
        ``phone`` field.
        """
        if request.channel is not Channel.SMS:
            raise PayloadRejected(f"the twilio brick sends sms, not {request.channel.value}")
        phone = request.recipient.phone
        if not phone:
            raise PayloadRejected("allow the 'phone' field for this brick", field="phone")
        form = message_form(self.settings, request, phone, self.callback_url())
        response = await self._call("POST", messages_path(self.settings.account_sid), data=form)
        try:
            answer = response.json()
        except ValueError:
            answer = None
        sid = answer.get("sid") if isinstance(answer, dict) else None
        if not isinstance(sid, str) or not sid:
            # The message may exist; failing permanently avoids a blind (duplicate) re-send.
            raise Permanent("Twilio accepted the call but returned no message sid")
        return SendResult(
            request_id=request.request_id, status=SendStatus.ACCEPTED, vendor_message_id=sid
        )

    async def send_batch(self, requests: Sequence[SendRequest]) -> list[SendResult]:
        """Send one after the other: one result per request, in order.

        A refused item gets a ``rejected`` result; ``error.code`` is the contract error's class
        name (the core's convention) and ``error.message`` ends with Twilio's code ("... (Twilio
        error 21610)"). A call-wide failure (credentials, rate limit,
        outage) raises when nothing was sent yet; once some messages went out it cannot raise
        without the core re-sending them (Twilio has no idempotency key), so the failing item gets
        a ``failed`` result and the remaining ones a retryable ``NotAttempted`` result.
        """
        results: list[SendResult] = []
        for index, request in enumerate(requests):
            try:
                results.append(await self.send(request))
            except PayloadRejected as exc:
                results.append(_failure(request, exc, SendStatus.REJECTED))
            except BrickError as exc:
                if not any(r.status is SendStatus.ACCEPTED for r in results):
                    raise
                results.append(_failure(request, exc, SendStatus.FAILED))
                results.extend(_not_attempted(r) for r in requests[index + 1 :])
                break
        return results

    # -- Health ----------------------------------------------------------------------------

    async def check(self) -> HealthStatus:
        """Fetch the Account resource: proves the credentials and that the account is active."""
        try:
            response = await self._call("GET", account_path(self.settings.account_sid))
        except AuthFailed:
            return HealthStatus(ok=False, detail="Twilio rejected the Account SID / Auth Token")
        except BrickError as exc:
            return HealthStatus(ok=False, detail=f"Twilio account check failed: {exc.message}")
        try:
            status = response.json().get("status")
        except (ValueError, AttributeError):
            status = None
        if status != "active":
            return HealthStatus(ok=False, detail=f"Twilio account status is {status!r}")
        detail = "Twilio account active"
        if self.settings.status_callback and self.callback_url() is None:
            detail += "; no public_base_url or webhook_url, so no delivery reports"
        return HealthStatus(ok=True, detail=detail)

    # -- WebhookReceiver -------------------------------------------------------------------

    def verify(self, url: str, headers: Mapping[str, str], body: bytes) -> None:
        """Check ``X-Twilio-Signature`` against the URL the hub was called on and, when set,
        ``webhook_url`` (the URL Twilio was told, which a proxy may have rewritten)."""
        urls = [url] if self.settings.webhook_url is None else [url, self.settings.webhook_url]
        verify_signature(self.settings.auth_token.get_secret_value(), urls, headers, body)

    def parse(self, headers: Mapping[str, str], body: bytes) -> WebhookPayload:
        return parse_status_callback(body, account_sid=self.settings.account_sid)


def _failure(request: SendRequest, exc: BrickError, status: SendStatus) -> SendResult:
    retryable = isinstance(exc, Retryable)
    return SendResult(
        request_id=request.request_id,
        status=status,
        error=SendError(
            code=type(exc).__name__,
            message=exc.message[:1000],
            retryable=retryable,
            retry_after=exc.retry_after if isinstance(exc, RateLimited) else None,
        ),
    )


def _not_attempted(request: SendRequest) -> SendResult:
    return SendResult(
        request_id=request.request_id,
        status=SendStatus.FAILED,
        error=SendError(
            code="NotAttempted",
            message="not sent: an earlier message of the batch failed",
            retryable=True,
        ),
    )
