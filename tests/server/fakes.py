"""Fake bricks and a throw-away hub for the server and outcome tests.

``fake_hook`` receives webhooks (a shared token in ``X-Fake-Token``; the body is a
``WebhookPayload`` as JSON), ``fake_sink`` holds contacts and records every view it is given,
so a test sees exactly what an opt-out propagation told it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, ClassVar

from pydantic import SecretStr, ValidationError

from contracts import (
    Brick,
    Capability,
    Channel,
    Consent,
    ConsentStatus,
    Contact,
    ContactView,
    CustomerField,
    Identifier,
    IdentifierKind,
    Outcome,
    PayloadRejected,
    Permanent,
    Purpose,
    UpsertResult,
    WebhookPayload,
    WebhookRejected,
)
from hub.contacts.apply import apply_contact
from hub.plugins import build_plugin_host
from hub.runtime import Runtime, open_runtime
from hub.sdk import hookimpl
from hub.sdk.webhooks import constant_time_equals, get_header
from hub.storage.db import session_scope, upgrade
from hub.storage.types import utcnow
from hub.testing.installation import make_installation

HOOK_TOKEN = "fake-hook-token-0123456789"
API_TOKEN = "api-token-0123456789abcdef"
EMAIL = "ada@example.org"
PHONE = "+33612345678"


class FakeHook(Brick):
    name: ClassVar[str] = "fake_hook"
    version: ClassVar[str] = "1.0.0"
    description: ClassVar[str] = "Webhook receiver for tests: token header, JSON payload"
    capabilities: ClassVar[frozenset[Capability]] = frozenset({Capability.WEBHOOK_RECEIVER})
    channels: ClassVar[frozenset[Channel]] = frozenset({Channel.EMAIL, Channel.SMS})

    class Settings(Brick.Settings):
        token: SecretStr

    settings: Settings
    #: Every URL ``verify`` was called with, across instances.
    urls: ClassVar[list[str]] = []

    def verify(self, url: str, headers: Mapping[str, str], body: bytes) -> None:
        FakeHook.urls.append(url)
        given = get_header(headers, "X-Fake-Token") or ""
        if not constant_time_equals(given, self.settings.token.get_secret_value()):
            raise WebhookRejected("bad or missing X-Fake-Token")

    def parse(self, headers: Mapping[str, str], body: bytes) -> WebhookPayload:
        try:
            return WebhookPayload.model_validate_json(body)
        except ValidationError as exc:
            error = exc.errors()[0]
            where = ".".join(str(part) for part in error["loc"]) or "body"
            raise PayloadRejected(f"{where}: {error['msg']}", field=where) from None


class FakeSink(Brick):
    name: ClassVar[str] = "fake_sink"
    version: ClassVar[str] = "1.0.0"
    description: ClassVar[str] = "Contact sink for tests: records every view"
    capabilities: ClassVar[frozenset[Capability]] = frozenset({Capability.CONTACT_SINK})
    channels: ClassVar[frozenset[Channel]] = frozenset({Channel.EMAIL, Channel.SMS})
    fields: ClassVar[frozenset[CustomerField]] = frozenset(
        {CustomerField.EMAIL, CustomerField.PHONE, CustomerField.FIRST_NAME}
    )
    purposes: ClassVar[frozenset[Purpose]] = frozenset({Purpose.MARKETING})

    class Settings(Brick.Settings):
        pass

    views: ClassVar[list[ContactView]] = []
    #: ``"raise"``: the call fails; ``"refuse"``: the contact comes back with an error.
    mode: ClassVar[str] = "ok"

    async def upsert(self, contacts: Sequence[ContactView]) -> list[UpsertResult]:
        if FakeSink.mode == "raise":
            raise Permanent("vendor refused the credentials")
        FakeSink.views.extend(contacts)
        error = "contact locked" if FakeSink.mode == "refuse" else None
        return [UpsertResult(pseudonym=view.pseudonym, error=error) for view in contacts]

    async def erase(self, pseudonym: str) -> None:
        return None


class Registrar:
    @hookimpl
    def hub_register_bricks(self, register: Callable[[type[Brick]], None]) -> None:
        register(FakeHook)
        register(FakeSink)


class Observer:
    def __init__(self) -> None:
        self.outcomes: list[tuple[str, Outcome]] = []
        self.events: list[Any] = []

    @hookimpl
    def hub_outcome_recorded(self, brick: str, outcome: Outcome) -> None:
        self.outcomes.append((brick, outcome))

    @hookimpl
    def hub_event_received(self, event: Any) -> None:
        self.events.append(event)


@dataclass
class Hub:
    runtime: Runtime
    observer: Observer
    config: Path


def reset_fakes() -> None:
    FakeHook.urls.clear()
    FakeSink.views.clear()
    FakeSink.mode = "ok"


def make_hub(
    root: Path,
    database_url: str,
    *,
    extra: str = "",
    sink_enabled: bool = True,
) -> Hub:
    """A migrated hub with outbox, fake_hook and fake_sink; secrets as file references."""
    reset_fakes()
    keys = root / "keys"
    keys.mkdir(parents=True, exist_ok=True)
    (keys / "hook_token").write_text(HOOK_TOKEN, encoding="utf-8")
    (keys / "api_token").write_text(API_TOKEN, encoding="utf-8")
    bricks = (
        '[bricks.outbox]\nallowed_fields = ["email", "phone"]\n'
        f'[bricks.fake_hook]\ntoken = {{file = "{(keys / "hook_token").as_posix()}"}}\n'
        f"[bricks.fake_sink]\nenabled = {'true' if sink_enabled else 'false'}\n"
        'allowed_fields = ["email", "first_name"]\n'
    )
    installation = make_installation(
        root,
        bricks=bricks,
        database_url=database_url,
        extra=extra + "\n[sending]\nmax_attempts = 1\n",
        migrate=False,
    )
    observer = Observer()
    host = build_plugin_host(extra_plugins=[("fakes", Registrar()), ("observer", observer)])
    runtime = open_runtime(installation.config, host=host)
    upgrade(runtime.engine)
    return Hub(runtime, observer, installation.config)


def add_customer(runtime: Runtime, *, consent: bool = True) -> str:
    """One person with email and phone; when ``consent``, marketing consent on both granted an
    hour ago (vendors date outcomes to the second: a consent given the same instant would win
    over an unsubscribe reported for that second, as a later statement should)."""
    consents = [
        Consent(
            channel=channel,
            purpose=Purpose.MARKETING,
            status=ConsentStatus.GRANTED,
            source="test",
            recorded_at=utcnow() - timedelta(hours=1),
        )
        for channel in (Channel.EMAIL, Channel.SMS)
        if consent
    ]
    contact = Contact(
        identifiers=[
            Identifier(kind=IdentifierKind.EMAIL, value=EMAIL),
            Identifier(kind=IdentifierKind.PHONE, value=PHONE),
        ],
        first_name="Ada",
        consents=consents,
    )
    with session_scope(runtime.ready_engine()) as session:
        return apply_contact(session, runtime.identity, contact, source="test").customer_id
