"""The shape of the central configuration, as pydantic-settings models.

Every section forbids unknown keys so a typo is an error with its dotted path, not a silently
ignored setting. Brick sections are the exception by design: their extra keys are the brick's
own settings, validated later against the brick's ``Settings`` model (see ``hub.config.bricks``).
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

import phonenumbers
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, SecretStr, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from contracts import BRICK_NAME_PATTERN, CustomerField, Purpose
from hub.audiences.model import AudienceSettings, check_audience_names
from hub.durations import Duration
from hub.pressure.rules import PressureSettings, ScenarioSettings

__all__ = [
    "BrickSection",
    "HubSettings",
    "IdentitySettings",
    "LoggingSettings",
    "PluginsSettings",
    "SecuritySettings",
]

_SECTION = ConfigDict(extra="forbid")


class SecuritySettings(BaseModel):
    """Key material. Missing or short keys stop the hub at start-up (see ``hub.identity.keys``)."""

    model_config = _SECTION

    pepper: SecretStr | None = Field(
        default=None, description="Key of the HMAC digests identifiers are looked up by."
    )
    master_key: SecretStr | None = Field(
        default=None, description="Wraps each customer's data key in the vault."
    )
    pseudonym_key: SecretStr | None = Field(
        default=None, description="Derives each brick's pseudonym key."
    )


class IdentitySettings(BaseModel):
    model_config = _SECTION

    default_region: str | None = Field(
        default=None,
        description="ISO 3166 region for phone numbers written without a country code, e.g. FR.",
    )
    link_ttl: Duration = Field(
        default=timedelta(days=395),
        description="How long a cookie link lives after the hub last saw it linked on verified "
        "evidence (a login, a purchase): 13 months, as cookie rules commonly require.",
    )
    junk_values: list[str] = Field(
        default_factory=list,
        max_length=1000,
        description="Extra placeholder values refused as identifiers of every kind, compared "
        'trimmed and case-insensitively (e.g. ["no-cookie", "client-inconnu"]); "null", '
        '"undefined", "0", "guest"... are always refused.',
    )

    @field_validator("junk_values")
    @classmethod
    def _folded_junk(cls, values: list[str]) -> list[str]:
        """Stored folded (trimmed, case-folded): the form values are compared in."""
        folded = []
        for index, value in enumerate(values):
            text = value.strip().casefold()
            if not text or len(text) > 256:
                raise ValueError(f"item {index}: must be 1 to 256 characters after trimming")
            if text not in folded:
                folded.append(text)
        return folded

    @field_validator("default_region")
    @classmethod
    def _known_region(cls, value: str | None) -> str | None:
        if value is None:
            return None
        region = value.upper()
        if region not in phonenumbers.SUPPORTED_REGIONS:
            raise ValueError(f"unknown region {value!r}: use an ISO 3166 code such as FR or US")
        return region


class LoggingSettings(BaseModel):
    model_config = _SECTION

    level: Literal["debug", "info", "warning", "error"] = "info"
    format: Literal["auto", "json", "console"] = Field(
        default="auto", description="auto: console on a terminal, JSON lines otherwise."
    )


class PluginsSettings(BaseModel):
    model_config = _SECTION

    blocked: list[str] = Field(
        default_factory=list,
        description="Plugins (entry point names) never loaded, e.g. to switch a brick off "
        "without uninstalling it.",
    )


class SendingSettings(BaseModel):
    """``[sending]``: how the core retries a brick call that failed for a transient reason.

    Bricks never retry; the core does, with exponential backoff and jitter, and waits what the
    vendor asked (``Retry-After``, vendor reset headers) when it rate-limits us.
    """

    model_config = _SECTION

    max_attempts: int = Field(
        default=4, ge=1, le=20, description="Calls per message, the first one included."
    )
    backoff_initial: Duration = Field(
        default=timedelta(seconds=1),
        description="Wait before the first retry; doubles on each retry (with jitter).",
    )
    backoff_max: Duration = Field(
        default=timedelta(seconds=30), description="Longest wait between two retries."
    )
    max_retry_after: Duration = Field(
        default=timedelta(minutes=2),
        description="A vendor asking us to wait longer than this (Retry-After) fails the send "
        "now instead of holding the process; the message is dead-lettered for a later replay.",
    )


class WorkerSettings(BaseModel):
    """``[worker]``: how ``hub worker`` claims, orders and recovers scenario jobs."""

    model_config = _SECTION

    arbitration_window: Duration = Field(
        default=timedelta(hours=1),
        description="A customer's job waits for a higher-priority one due within this window, "
        "so the most important message takes the pressure slot first.",
    )
    lease: Duration = Field(
        default=timedelta(minutes=10),
        description="A job running for longer belongs to a worker that died; it is recovered "
        "(keep it above the longest send with its retries).",
    )
    poll_interval: Duration = Field(
        default=timedelta(seconds=5), description="Pause between polls when nothing is due."
    )
    batch: int = Field(
        default=50,
        ge=1,
        le=1000,
        description="Jobs claimed per round (all due jobs of the customers in it come along).",
    )


#: A shorter API token could be guessed; ``hub keys generate`` style tokens are far longer.
MIN_TOKEN_LENGTH = 16


class ServerSettings(BaseModel):
    """``[server]``: how ``hub serve`` listens, who may post events, how much it reads."""

    model_config = _SECTION

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


class BrickSection(BaseModel):
    """``[bricks.<name>]``: governance keys owned by the core + the brick's own settings."""

    model_config = ConfigDict(extra="allow")

    enabled: bool = True
    allowed_fields: list[CustomerField] = Field(
        default_factory=list,
        description="Customer fields this brick may receive. Deny by default: empty means the "
        "brick gets only its pseudonym.",
    )
    purposes: list[Purpose] | None = Field(
        default=None, description="Restrict the purposes this brick is used for."
    )
    pseudonym_key: SecretStr | None = Field(
        default=None,
        description="Override the derived pseudonym key (e.g. to keep ids stable "
        "when migrating an existing integration).",
    )

    @field_validator("allowed_fields")
    @classmethod
    def _no_duplicates(cls, value: list[CustomerField]) -> list[CustomerField]:
        if len(set(value)) != len(value):
            raise ValueError("lists a field twice")
        return value

    def brick_settings(self) -> dict[str, Any]:
        """The keys that belong to the brick's own ``Settings`` model."""
        return dict(self.model_extra or {})


class HubSettings(BaseSettings):
    """The whole configuration. Build it with ``hub.config.load_settings``."""

    model_config = SettingsConfigDict(
        env_prefix="HUB_",
        env_nested_delimiter="__",
        extra="forbid",
        validate_default=True,
    )

    data_dir: Path = Field(
        default=Path(".hub"),
        description="Where the embedded database and local files live (relative to the "
        "working directory).",
    )
    database_url: SecretStr | None = Field(
        default=None,
        description="SQLAlchemy URL; default: SQLite file <data_dir>/hub.db. PostgreSQL: "
        "postgresql://user@host/db. May hold a password, so it is a secret.",
    )
    public_base_url: str | None = Field(
        default=None, description="Where vendors reach the hub's webhooks, if exposed."
    )
    security: SecuritySettings = Field(default_factory=SecuritySettings)
    identity: IdentitySettings = Field(default_factory=IdentitySettings)
    logging: LoggingSettings = Field(default_factory=LoggingSettings)
    plugins: PluginsSettings = Field(default_factory=PluginsSettings)
    bricks: dict[str, BrickSection] = Field(default_factory=dict)
    pressure: PressureSettings = Field(default_factory=PressureSettings)
    scenarios: dict[str, ScenarioSettings] = Field(default_factory=dict)
    audiences: dict[str, AudienceSettings] = Field(
        default_factory=dict, description="Segments pushed to audience_sink bricks (a DMP)."
    )
    sending: SendingSettings = Field(default_factory=SendingSettings)
    worker: WorkerSettings = Field(default_factory=WorkerSettings)
    server: ServerSettings = Field(default_factory=ServerSettings)

    #: Where the file came from and which of its string values were written inline, so the
    #: brick phase can refuse inline secrets in brick sections too.
    _source_path: Path | None = PrivateAttr(default=None)
    _inline_strings: frozenset[str] = PrivateAttr(default=frozenset())
    _unavailable_secrets: dict[str, str] = PrivateAttr(default_factory=dict)

    @field_validator("bricks")
    @classmethod
    def _brick_names(cls, value: dict[str, BrickSection]) -> dict[str, BrickSection]:
        for name in value:
            if not BRICK_NAME_PATTERN.fullmatch(name):
                raise ValueError(f"{name!r} is not a valid brick name (lower snake case)")
        return value

    _audience_names = field_validator("audiences")(check_audience_names)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The TOML file arrives as init kwargs (already checked for inline secrets and with
        # secret references resolved); the environment wins over it.
        return (env_settings, init_settings)

    @property
    def source_path(self) -> Path | None:
        return self._source_path

    @property
    def inline_strings(self) -> frozenset[str]:
        return self._inline_strings

    @property
    def unavailable_secrets(self) -> dict[str, str]:
        """Dotted path -> why its referenced variable or file could not be read."""
        return dict(self._unavailable_secrets)
