"""Acme Sink, a third-party brick: sends email and holds contacts, in a JSON file.

It imports only ``contracts`` and ``hub.sdk``, like any brick shipped on its own. What the
"vendor" holds is ``acme_sink.json`` in the installation's data folder, so a test can check
what reached it and what its erase calls removed.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, ClassVar

from contracts import (
    Brick,
    BrickContext,
    BrickSettings,
    Capability,
    Channel,
    ContactView,
    CustomerField,
    Purpose,
    SendRequest,
    SendResult,
    SendStatus,
    UpsertResult,
)
from hub.sdk import hookimpl

__all__ = ["AcmeSink", "hub_register_bricks"]


class AcmeSink(Brick):
    name: ClassVar[str] = "acme_sink"
    version: ClassVar[str] = "0.1.0"
    description: ClassVar[str] = "Acme Sink ESP (test fixture, third party)"
    capabilities: ClassVar[frozenset[Capability]] = frozenset(
        {Capability.SENDER, Capability.CONTACT_SINK}
    )
    channels: ClassVar[frozenset[Channel]] = frozenset({Channel.EMAIL})
    fields: ClassVar[frozenset[CustomerField]] = frozenset(
        {CustomerField.EMAIL, CustomerField.FIRST_NAME}
    )
    purposes: ClassVar[frozenset[Purpose]] = frozenset({Purpose.MARKETING, Purpose.TRANSACTIONAL})
    batch_size: ClassVar[int] = 50

    class Settings(BrickSettings):
        list_name: str = "newsletter"

    def __init__(self, settings: BrickSettings, context: BrickContext) -> None:
        super().__init__(settings, context)
        self._path = Path(context.data_dir) / "acme_sink.json"

    def _load(self) -> dict[str, Any]:
        if self._path.exists():
            return json.loads(self._path.read_text(encoding="utf-8"))
        return {"held": {}, "sent": [], "erased": []}

    def _save(self, state: dict[str, Any]) -> None:
        self._path.parent.mkdir(parents=True, exist_ok=True)
        self._path.write_text(json.dumps(state, sort_keys=True), encoding="utf-8")

    async def send(self, request: SendRequest) -> SendResult:
        state = self._load()
        state["sent"].append(request.recipient.pseudonym)
        self._save(state)
        return SendResult(request_id=request.request_id, status=SendStatus.ACCEPTED)

    async def send_batch(self, requests: Sequence[SendRequest]) -> list[SendResult]:
        return [await self.send(request) for request in requests]

    async def upsert(self, contacts: Sequence[ContactView]) -> list[UpsertResult]:
        state = self._load()
        results = []
        for view in contacts:
            results.append(
                UpsertResult(pseudonym=view.pseudonym, created=view.pseudonym not in state["held"])
            )
            state["held"][view.pseudonym] = sorted(f.value for f in view.fields_present())
        self._save(state)
        return results

    async def erase(self, pseudonym: str) -> None:
        state = self._load()
        state["held"].pop(pseudonym, None)
        state["erased"].append(pseudonym)
        self._save(state)


@hookimpl
def hub_register_bricks(register: Callable[[type[Brick]], None]) -> None:
    register(AcmeSink)
