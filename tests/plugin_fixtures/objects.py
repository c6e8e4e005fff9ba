"""Plugin objects and brick classes built on demand, for tests of the plugin host.

pluggy accepts any object with ``@hookimpl`` methods as a plugin, so each class here is a
plugin whose behaviour a test chooses; ``brick_class`` builds a Brick that passes every check
except the one a test breaks.
"""

from __future__ import annotations

from typing import Any

from pydantic import ConfigDict

from contracts import Brick, BrickSettings, Capability, Channel
from hub.sdk import hookimpl

__all__ = [
    "LooseSettings",
    "Recorder",
    "RegistersBricks",
    "RegistersEventType",
    "ReservedKeySettings",
    "brick_class",
]


class RegistersBricks:
    """A plugin object that registers the given classes, whatever they are."""

    def __init__(self, *classes: Any) -> None:
        self.classes = classes

    @hookimpl
    def hub_register_bricks(self, register: Any) -> None:
        for cls in self.classes:
            register(cls)


class RegistersEventType:
    """A plugin object that registers one event type, whatever it is."""

    def __init__(self, name: str, model: Any) -> None:
        self.name, self.model = name, model

    @hookimpl
    def hub_register_event_types(self, register: Any) -> None:
        register(self.name, self.model)


async def _send(self: Any, request: Any) -> Any: ...
async def _send_batch(self: Any, requests: Any) -> Any: ...


class LooseSettings(BrickSettings):
    model_config = ConfigDict(extra="ignore")


class ReservedKeySettings(BrickSettings):
    enabled: bool = True


def brick_class(*, base: type = Brick, drop: tuple[str, ...] = (), **overrides: Any) -> type:
    """A Sender brick class that passes every check, except what the arguments change."""
    attrs: dict[str, Any] = {
        "name": "custom",
        "version": "0.1.0",
        "description": "A brick built for one test",
        "capabilities": frozenset({Capability.SENDER}),
        "channels": frozenset({Channel.EMAIL}),
        "send": _send,
        "send_batch": _send_batch,
        **overrides,
    }
    for key in drop:
        del attrs[key]
    return type("CustomBrick", (base,), attrs)


class Recorder:
    """Implements every observer hook and remembers each call."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []

    @hookimpl
    def hub_event_received(self, event: Any) -> None:
        self.calls.append(("hub_event_received", {"event": event}))

    @hookimpl
    def hub_send_decided(self, request: Any, decision: Any) -> None:
        self.calls.append(("hub_send_decided", {"request": request, "decision": decision}))

    @hookimpl
    def hub_send_completed(self, brick: Any, request: Any, result: Any) -> None:
        self.calls.append(
            ("hub_send_completed", {"brick": brick, "request": request, "result": result})
        )

    @hookimpl
    def hub_outcome_recorded(self, brick: Any, outcome: Any) -> None:
        self.calls.append(("hub_outcome_recorded", {"brick": brick, "outcome": outcome}))

    @hookimpl
    def hub_sync_completed(self, summary: Any) -> None:
        self.calls.append(("hub_sync_completed", {"summary": summary}))
