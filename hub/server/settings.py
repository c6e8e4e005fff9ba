"""``[server]``: how ``hub serve`` listens, who may post events, how much it reads."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

__all__ = ["MIN_TOKEN_LENGTH", "ServerSettings", "server_settings"]

#: A shorter API token could be guessed; ``hub keys generate`` style tokens are far longer.
MIN_TOKEN_LENGTH = 16


class ServerSettings(BaseModel):
    """``[server]`` in ``hub.toml``; every key has a safe default."""

    model_config = ConfigDict(extra="forbid")

    api_token: SecretStr | None = Field(
        default=None,
        description="Bearer token that POST /events requires (a secret: reference it with "
        "{file = ...} or {env = ...}). Unset, every POST /events is refused.",
    )
    max_body_bytes: int = Field(
        default=1024 * 1024,
        ge=1024,
        le=64 * 1024 * 1024,
        description="Largest request body read, in bytes; a larger one is answered 413.",
    )
    host: str = Field(
        default="127.0.0.1",
        min_length=1,
        description="Interface `hub serve` listens on; keep loopback behind a reverse proxy.",
    )
    port: int = Field(default=8000, ge=1, le=65535, description="Port `hub serve` listens on.")
    metrics: bool = Field(default=True, description="Serve GET /metrics (Prometheus text format).")
    trust_forwarded_headers: bool = Field(
        default=False,
        description="Rebuild the URL vendors called from X-Forwarded-Proto and "
        "X-Forwarded-Host (webhook signatures cover it). Only behind a reverse proxy that "
        "sets them: otherwise any caller could pick the URL a signature is checked against.",
    )

    @field_validator("api_token")
    @classmethod
    def _long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value().strip()) < MIN_TOKEN_LENGTH:
            raise ValueError(f"must be at least {MIN_TOKEN_LENGTH} characters")
        return value


def server_settings(settings: Any) -> ServerSettings:
    """The hub's ``[server]`` section, defaults when the configuration has none."""
    section = getattr(settings, "server", None)
    return section if isinstance(section, ServerSettings) else ServerSettings()
