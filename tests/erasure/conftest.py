"""A hub with the outbox (a sender that cannot erase) and ``memo``, a fake email sender and
contact sink that records what it holds and every erase call, and can be told to fail.

``hub`` runs on both backends (``database_url``); its CLI runs in-process with the memo plugin
loaded, as a third-party plugin would be.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import pytest

import hub.cli.main as cli_main
from contracts import (
    Brick,
    Capability,
    Channel,
    ContactView,
    CustomerField,
    Permanent,
    Purpose,
    Retryable,
    SendRequest,
    SendResult,
    SendStatus,
    UpsertResult,
)
from hub.cli.main import main
from hub.plugins import PluginHost, build_plugin_host
from hub.runtime import Runtime, open_runtime
from hub.sdk import hookimpl
from hub.storage.db import session_scope, upgrade
from hub.testing import Installation, make_installation

CONFIG = """
[sending]
max_attempts = 1

[scenarios.welcome]
[scenarios.order_confirmation]
kind = "transactional"

[bricks.outbox]
allowed_fields = ["email", "phone", "first_name", "locale"]
purposes = ["marketing", "transactional"]

[bricks.memo]
allowed_fields = ["email", "first_name", "last_name"]
"""

ADA = {
    "email": "Ada.Lovelace@Example.org",
    "phone": "+33 6 12 34 56 78",
    "first_name": "Ada",
    "last_name": "Lovelace",
}


class Memo(Brick):
    """Holds contacts by pseudonym; ``failures`` erase calls fail before the next succeeds
    (``permanent`` makes them ``Permanent`` instead of ``Retryable``)."""

    name: ClassVar[str] = "memo"
    version: ClassVar[str] = "1.0.0"
    description: ClassVar[str] = "Fake ESP for erasure tests"
    capabilities: ClassVar[frozenset[Capability]] = frozenset(
        {Capability.SENDER, Capability.CONTACT_SINK}
    )
    channels: ClassVar[frozenset[Channel]] = frozenset({Channel.EMAIL})
    fields: ClassVar[frozenset[CustomerField]] = frozenset(
        {CustomerField.EMAIL, CustomerField.FIRST_NAME, CustomerField.LAST_NAME}
    )
    purposes: ClassVar[frozenset[Purpose]] = frozenset({Purpose.MARKETING, Purpose.TRANSACTIONAL})
    batch_size: ClassVar[int] = 100
    held: ClassVar[dict[str, ContactView]] = {}
    sent: ClassVar[list[SendRequest]] = []
    erase_calls: ClassVar[list[str]] = []
    failures: ClassVar[int] = 0
    permanent: ClassVar[bool] = False

    @classmethod
    def reset(cls) -> None:
        cls.held, cls.sent, cls.erase_calls = {}, [], []
        cls.failures, cls.permanent = 0, False

    async def send(self, request: SendRequest) -> SendResult:
        Memo.sent.append(request)
        Memo.held.setdefault(request.recipient.pseudonym, request.recipient)
        return SendResult(request_id=request.request_id, status=SendStatus.ACCEPTED)

    async def send_batch(self, requests: Sequence[SendRequest]) -> list[SendResult]:
        return [await self.send(r) for r in requests]

    async def upsert(self, contacts: Sequence[ContactView]) -> list[UpsertResult]:
        results = []
        for view in contacts:
            results.append(UpsertResult(pseudonym=view.pseudonym,
                                        created=view.pseudonym not in Memo.held))
            Memo.held[view.pseudonym] = view
        return results

    async def erase(self, pseudonym: str) -> None:
        Memo.erase_calls.append(pseudonym)
        if Memo.failures > 0:
            Memo.failures -= 1
            if Memo.permanent:
                raise Permanent("memo refuses to erase today")
            raise Retryable("memo is down")
        Memo.held.pop(pseudonym, None)


class _Plugin:
    @hookimpl
    def hub_register_bricks(self, register: Callable[[type[Brick]], None]) -> None:
        register(Memo)


def memo_host(**kwargs: Any) -> PluginHost:
    return build_plugin_host(extra_plugins=[("memo-plugin", _Plugin())], **kwargs)


@dataclass
class Hub:
    installation: Installation
    root: Path
    cli: Callable[..., Any]

    def runtime(self) -> Runtime:
        return open_runtime(self.installation.config, host=memo_host())

    def run(self, coro_factory: Callable[[Runtime], Any]) -> Any:
        runtime = self.runtime()
        try:
            return asyncio.run(coro_factory(runtime))
        finally:
            asyncio.run(runtime.aclose())

    def write(self, name: str, text: str) -> Path:
        path = self.root / name
        path.write_text(text, encoding="utf-8")
        return path

    def session(self, runtime: Runtime | None = None) -> Any:
        return session_scope((runtime or self.runtime()).ready_engine())


@pytest.fixture
def hub(
    tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch, run_cli: Any
) -> Iterator[Hub]:
    Memo.reset()
    monkeypatch.setattr(cli_main, "build_plugin_host", memo_host)
    installation = make_installation(tmp_path / "hub", database_url=database_url,
                                     bricks=CONFIG, migrate=False)
    runtime = open_runtime(installation.config, host=memo_host())
    upgrade(runtime.engine)
    runtime.engine.dispose()

    def cli(*args: str) -> Any:
        return run_cli("--config", str(installation.config), *args)

    yield Hub(installation, tmp_path, cli)
    Memo.reset()


def people_csv(*rows: dict[str, str]) -> str:
    columns = ["email", "phone", "first_name", "last_name", "consent_email", "attr.tier"]
    lines = [",".join(columns)]
    for row in rows:
        lines.append(",".join(row.get(c, "") for c in columns))
    return "\n".join(lines) + "\n"


__all__ = ["ADA", "Hub", "Memo", "main", "people_csv"]
