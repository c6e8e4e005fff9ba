"""``SmtpBrick``: email through any SMTP server (a provider's submission port, a local relay).

SMTP has no idempotency key: a message the server accepted cannot be recalled, and a retry
after a lost reply delivers twice. The brick therefore declares ``supports_idempotency = False``
and the core de-duplicates on its side (its sends table records each attempt before the brick is
called, and an attempt whose outcome is unknown is held for review instead of being re-sent).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar

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
    Purpose,
    RateLimited,
    Retryable,
    SendError,
    SendRequest,
    SendResult,
    SendStatus,
)
from plugins.smtp.message import Outgoing, build_message
from plugins.smtp.session import SmtpSession
from plugins.smtp.settings import SmtpSettings
from plugins.smtp.templates import TemplateStore

__all__ = ["SmtpBrick"]


class SmtpBrick(Brick):
    """A Sender for the email channel speaking SMTP (RFC 5321) with STARTTLS or implicit TLS."""

    name: ClassVar[str] = "smtp"
    version: ClassVar[str] = "1.0.0"
    description: ClassVar[str] = (
        "Email through any SMTP server (STARTTLS or implicit TLS, AUTH), from local templates"
    )
    capabilities: ClassVar[frozenset[Capability]] = frozenset({Capability.SENDER})
    channels: ClassVar[frozenset[Channel]] = frozenset({Channel.EMAIL})
    #: The address to deliver to; names for the ``To`` display name and ``${first_name}``.
    fields: ClassVar[frozenset[CustomerField]] = frozenset(
        {CustomerField.EMAIL, CustomerField.FIRST_NAME, CustomerField.LAST_NAME}
    )
    purposes: ClassVar[frozenset[Purpose]] = frozenset({Purpose.MARKETING, Purpose.TRANSACTIONAL})
    supports_idempotency: ClassVar[bool] = False
    #: Messages per SMTP session: many servers close a session after 100 messages or so.
    batch_size: ClassVar[int] = 50

    class Settings(SmtpSettings):
        """Server, TLS, credentials, addresses and templates (see ``settings.py``)."""

    settings: SmtpSettings

    def __init__(self, settings: BrickSettings, context: BrickContext) -> None:
        super().__init__(settings, context)
        self.templates_dir = self._resolve(self.settings.templates_dir)
        ca_file = self.settings.ca_file
        self.ca_file = None if ca_file is None else self._resolve(ca_file)

    def _resolve(self, path: Path) -> Path:
        """Relative paths are read from the installation's data_dir, like the outbox's file."""
        return path if path.is_absolute() else self.context.data_dir / path

    async def send(self, request: SendRequest) -> SendResult:
        """Deliver one message in its own session; refusals raise contract errors."""
        return await asyncio.to_thread(self._send_one, request)

    async def send_batch(self, requests: Sequence[SendRequest]) -> list[SendResult]:
        """Deliver several in one session; one result per request, in order.

        A message the server refuses (bad recipient, content refused, 4xx) gets its own failed
        or rejected result. If the session cannot be opened, or breaks (or the server asks for
        authentication) before any message was accepted, the whole call raises; once some
        were accepted, the rest get ``failed`` results instead, so the accepted ones are not
        retried and delivered twice.
        """
        if not requests:
            return []
        return await asyncio.to_thread(self._send_many, list(requests))

    async def check(self) -> HealthStatus:
        """Connect, EHLO, STARTTLS and AUTH as configured, then QUIT; never raises."""
        return await asyncio.to_thread(self._check_sync)

    # -- blocking work, run in a worker thread ------------------------------------------------

    def _build(self, request: SendRequest, store: TemplateStore) -> Outgoing:
        if request.channel is not Channel.EMAIL:
            raise PayloadRejected(
                f"the smtp brick sends email, not {request.channel.value}", field="channel"
            )
        return build_message(request, self.settings, store)

    def _session(self) -> SmtpSession:
        return SmtpSession(self.settings, self.ca_file)

    def _send_one(self, request: SendRequest) -> SendResult:
        outgoing = self._build(request, TemplateStore(self.templates_dir))
        session = self._session()
        session.open()
        try:
            session.deliver(outgoing)
        finally:
            session.close()
        return _accepted(request, outgoing.message_id)

    def _send_many(self, requests: list[SendRequest]) -> list[SendResult]:
        store = TemplateStore(self.templates_dir)
        results: list[SendResult | None] = [None] * len(requests)
        pending: list[tuple[int, Outgoing]] = []
        for index, request in enumerate(requests):
            try:
                pending.append((index, self._build(request, store)))
            except BrickError as exc:
                results[index] = _failure(request, exc)
        if pending:
            self._deliver_all(requests, pending, results)
        return [result for result in results if result is not None]

    def _deliver_all(
        self,
        requests: list[SendRequest],
        pending: list[tuple[int, Outgoing]],
        results: list[SendResult | None],
    ) -> None:
        session = self._session()
        session.open()  # a session that cannot open fails the whole call
        delivered = 0
        broken: BrickError | None = None
        try:
            for index, outgoing in pending:
                request = requests[index]
                if broken is not None:
                    results[index] = _failure(request, broken)
                    continue
                try:
                    session.deliver(outgoing)
                except BrickError as exc:
                    if not session.alive or isinstance(exc, AuthFailed):
                        if delivered == 0:
                            raise
                        broken = exc
                    results[index] = _failure(request, exc)
                else:
                    delivered += 1
                    results[index] = _accepted(request, outgoing.message_id)
        finally:
            session.close()

    def _check_sync(self) -> HealthStatus:
        session = self._session()
        try:
            session.open()
        except BrickError as exc:
            return HealthStatus(ok=False, detail=f"{type(exc).__name__}: {exc.message}")
        except Exception as exc:  # check() must never raise, whatever smtplib does
            return HealthStatus(ok=False, detail=f"unexpected failure: {type(exc).__name__}")
        steps = ", ".join(session.steps)
        session.close()
        where = f"{self.settings.host}:{self.settings.port}"
        return HealthStatus(ok=True, detail=f"SMTP server {where} accepted {steps}")


def _accepted(request: SendRequest, message_id: str) -> SendResult:
    return SendResult(
        request_id=request.request_id, status=SendStatus.ACCEPTED, vendor_message_id=message_id
    )


def _failure(request: SendRequest, exc: BrickError) -> SendResult:
    retryable = isinstance(exc, Retryable)
    return SendResult(
        request_id=request.request_id,
        status=SendStatus.FAILED if retryable else SendStatus.REJECTED,
        error=SendError(
            code=type(exc).__name__,
            message=exc.message[:1000],
            retryable=retryable,
            retry_after=exc.retry_after if isinstance(exc, RateLimited) else None,
        ),
    )
