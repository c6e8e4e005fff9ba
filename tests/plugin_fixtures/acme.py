"""A complete, well-behaved third-party plugin: one brick, one event type, one CLI command."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, ClassVar

import typer
from pydantic import BaseModel, ConfigDict, Field, SecretStr

from contracts import (
    Brick,
    BrickSettings,
    Capability,
    Channel,
    CustomerField,
    SendRequest,
    SendResult,
    SendStatus,
)
from hub.sdk import hookimpl

__all__ = [
    "AcmeMail",
    "PointsEarned",
    "hub_register_bricks",
    "hub_register_commands",
    "hub_register_event_types",
]


class AcmeMail(Brick):
    """A Sender that accepts everything and delivers nothing."""

    name: ClassVar[str] = "acme_mail"
    version: ClassVar[str] = "1.2.0"
    description: ClassVar[str] = "Acme Mail transactional email (test fake)"
    capabilities: ClassVar[frozenset[Capability]] = frozenset({Capability.SENDER})
    channels: ClassVar[frozenset[Channel]] = frozenset({Channel.EMAIL})
    fields: ClassVar[frozenset[CustomerField]] = frozenset({CustomerField.EMAIL})

    class Settings(BrickSettings):
        api_key: SecretStr | None = None

    async def send(self, request: SendRequest) -> SendResult:
        return SendResult(request_id=request.request_id, status=SendStatus.ACCEPTED)

    async def send_batch(self, requests: Sequence[SendRequest]) -> list[SendResult]:
        return [await self.send(request) for request in requests]


class PointsEarned(BaseModel):
    """Payload of ``acme.points_earned``; unknown keys are refused."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    points: int = Field(gt=0)


@hookimpl
def hub_register_bricks(register: Callable[[type[Brick]], None]) -> None:
    register(AcmeMail)


@hookimpl
def hub_register_event_types(register: Callable[[str, type[BaseModel]], None]) -> None:
    register("acme.points_earned", PointsEarned)


def ping() -> None:
    """Check that Acme commands are installed."""
    typer.echo("acme: pong")


@hookimpl
def hub_register_commands(app: Any) -> None:
    app.command("acme-ping")(ping)
