"""The ``Brick`` base class: what a vendor integration declares and how the core builds it.

A brick is one class per vendor. It declares metadata as class attributes, nests a pydantic
``Settings`` model that the core validates from the brick's section of ``hub.toml`` (unknown keys
are rejected, secrets are ``SecretStr``), and implements the capability protocols it lists.

    class AcmeMail(Brick):
        name = "acme"
        version = "1.0.0"
        description = "Acme Mail transactional email"
        capabilities = frozenset({Capability.SENDER})
        channels = frozenset({Channel.EMAIL})
        fields = frozenset({CustomerField.EMAIL, CustomerField.FIRST_NAME})

        class Settings(BrickSettings):
            api_key: SecretStr
            base_url: str = "https://api.acme.example"

        async def send(self, request): ...
        async def send_batch(self, requests): ...
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from contracts.capabilities import Capability
from contracts.vocabulary import Channel, CustomerField, Purpose

__all__ = [
    "BRICK_NAME_PATTERN",
    "RESERVED_SETTING_NAMES",
    "Brick",
    "BrickContext",
    "BrickSettings",
    "HealthStatus",
]

BRICK_NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]{1,39}$")

#: Keys of a ``[bricks.<name>]`` config section that belong to the core's governance, so a
#: brick's ``Settings`` may not declare them.
RESERVED_SETTING_NAMES: frozenset[str] = frozenset(
    {"enabled", "allowed_fields", "purposes", "pseudonym_key"}
)


class BrickSettings(BaseModel):
    """Base for every brick's ``Settings``: unknown keys are errors, instances are immutable.

    Declare credentials as ``pydantic.SecretStr`` so they are masked in ``repr``, logs and
    ``hub config show``; the core refuses them inline in TOML (env or file reference only).
    """

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


class BrickContext(BaseModel):
    """What the core tells a brick about the installation it runs in."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    data_dir: Path = Field(description="A writable folder for this installation's files.")
    public_base_url: str | None = Field(
        default=None, description="Where vendors reach the hub's webhooks, if it is exposed."
    )


class HealthStatus(BaseModel):
    """Result of ``Brick.check()``: never an exception, always a verdict with a reason."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    ok: bool
    detail: str
    checked_at: datetime = Field(default_factory=lambda: datetime.now(UTC))


class Brick:
    """Base class of every brick. Subclasses set the class attributes below."""

    name: ClassVar[str]
    version: ClassVar[str]
    description: ClassVar[str]
    capabilities: ClassVar[frozenset[Capability]] = frozenset()
    channels: ClassVar[frozenset[Channel]] = frozenset()
    #: Customer fields the brick can make use of; config may allow a subset, never more.
    fields: ClassVar[frozenset[CustomerField]] = frozenset()
    #: Purposes the brick processes data for; consent must cover them before data flows.
    purposes: ClassVar[frozenset[Purpose]] = frozenset({Purpose.MARKETING})
    #: True when the vendor honours an idempotency key, so a retried send cannot deliver twice.
    supports_idempotency: ClassVar[bool] = False
    #: Largest number of items the vendor accepts per batch call.
    batch_size: ClassVar[int] = 1

    class Settings(BrickSettings):
        """Bricks without settings keep this empty model."""

    def __init__(self, settings: BrickSettings, context: BrickContext) -> None:
        if not isinstance(settings, self.Settings):
            raise TypeError(
                f"{type(self).__name__} needs {type(self).__name__}.Settings, "
                f"got {type(settings).__name__}"
            )
        self.settings = settings
        self.context = context

    async def check(self) -> HealthStatus:
        """Report whether credentials and the vendor are usable. Must not raise."""
        return HealthStatus(ok=True, detail="no remote service to check")

    async def aclose(self) -> None:
        """Release connections and files; called once when the core is done with the brick."""

    @classmethod
    def describe(cls) -> dict[str, Any]:
        """Metadata as plain data (for ``hub plugins list``); never includes settings values."""
        return {
            "name": cls.name,
            "version": cls.version,
            "description": cls.description,
            "capabilities": sorted(c.value for c in cls.capabilities),
            "channels": sorted(c.value for c in cls.channels),
            "fields": sorted(f.value for f in cls.fields),
            "purposes": sorted(p.value for p in cls.purposes),
            "supports_idempotency": cls.supports_idempotency,
            "batch_size": cls.batch_size,
        }

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r} v{self.version}>"
