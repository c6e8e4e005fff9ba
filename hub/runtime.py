"""Assemble the core from config: plugins, bricks, keys, database, identity.

Every entry point (CLI, server, worker, tests) builds a ``Runtime`` the same way, so the checks
that stop a misconfigured hub (bad config, unknown brick, short keys, stale schema) run
everywhere, and in the same order.

A brick decommissioned in the database (``hub bricks decommission``) is marked so in
``Runtime.bricks`` (status ``decommissioned``) whatever config says, each time the engine is
made ready: every door that checks ``ConfiguredBrick.enabled`` then refuses it, and
``Runtime.brick`` will not build it (but for the erase calls owed to people it holds).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path

from sqlalchemy import Engine

from contracts import Brick, BrickContext
from hub.config import (
    ConfigError,
    ConfigProblem,
    ConfiguredBrick,
    HubSettings,
    configure_bricks,
    load_settings,
)
from hub.erasure.state import decommissioned_bricks
from hub.identity.keys import KeyRing
from hub.identity.service import IdentityService
from hub.identity.vault import Vault
from hub.logs import register_secret
from hub.plugins import PluginHost, build_plugin_host
from hub.pressure.ledger import Ledger
from hub.pressure.policy import Policy
from hub.storage.db import create_db_engine, normalise_url, require_current_schema

__all__ = ["SCHEMA_RECHECK_SECONDS", "Runtime", "open_runtime"]

#: How long a successful schema check holds. A server or worker asks ``ready_engine`` before
#: every unit of work; reading the revision each time cost more than a whole event intake,
#: and a schema changed under a running process is still noticed within this delay.
SCHEMA_RECHECK_SECONDS = 5.0


@dataclass
class Runtime:
    settings: HubSettings
    plugins: PluginHost
    bricks: dict[str, ConfiguredBrick]
    _instances: dict[str, Brick] = field(default_factory=dict, repr=False)
    #: Decommissioned bricks as config made them, to restore when one is reinstated.
    _retired: dict[str, ConfiguredBrick] = field(default_factory=dict, repr=False)
    #: ``time.monotonic()`` until which the last schema check holds.
    _schema_checked_until: float = field(default=0.0, repr=False)

    @cached_property
    def keys(self) -> KeyRing:
        """Raises ``KeyMaterialError`` when keys are missing or too short."""
        return KeyRing.from_settings(self.settings)

    @cached_property
    def vault(self) -> Vault:
        return Vault(self.keys)

    @cached_property
    def identity(self) -> IdentityService:
        return IdentityService(
            self.keys,
            self.vault,
            default_region=self.settings.identity.default_region,
            link_ttl=self.settings.identity.link_ttl,
            junk=frozenset(self.settings.identity.junk_values),
        )

    @property
    def database_url(self) -> str:
        """Raises ``ConfigError`` when the URL's reference cannot be read on this machine."""
        missing = self.settings.unavailable_secrets.get("database_url")
        if missing:
            raise ConfigError([ConfigProblem("database_url", missing)])
        url = self.settings.database_url
        return normalise_url(url.get_secret_value() if url else "", self.settings.data_dir)

    @cached_property
    def engine(self) -> Engine:
        return create_db_engine(self.database_url)

    @cached_property
    def ledger(self) -> Ledger:
        return Ledger(self.engine, Policy(self.settings.pressure, self.settings.scenarios))

    def ready_engine(self) -> Engine:
        """The engine for data work: keys checked first (no customer data is touched without
        them, ``KeyMaterialError``), then the schema (``DatabaseNotReady``)."""
        _ = self.keys
        if time.monotonic() >= self._schema_checked_until:
            require_current_schema(self.engine)
            self._schema_checked_until = time.monotonic() + SCHEMA_RECHECK_SECONDS
        self._apply_decommissions()
        return self.engine

    def _apply_decommissions(self) -> None:
        """Read at every ``ready_engine``, so a long-running worker or server stops feeding a
        brick as soon as it is decommissioned (one query on a tiny table)."""
        retired = decommissioned_bricks(self.engine)
        for name in [n for n in self._retired if n not in retired]:
            self.bricks[name] = self._retired.pop(name)
        for name in retired:
            configured = self.bricks.get(name)
            if configured is not None and name not in self._retired:
                self._retired[name] = configured
                self.bricks[name] = replace(configured, status="decommissioned")

    def brick(self, name: str, *, erasing: bool = False) -> Brick:
        """The live instance of an enabled brick (built once per runtime).

        ``erasing``: for an erase call only, a decommissioned brick is built too (from its
        config): erasing what a retired vendor still holds is the one call it still gets.
        """
        configured = self.bricks.get(name)
        if configured is None:
            raise KeyError(f"no brick named {name!r} (installed: {', '.join(self.bricks)})")
        if erasing and name in self._retired:
            configured = self._retired[name]
        elif configured.status == "decommissioned":
            raise KeyError(
                f"brick {name!r} is decommissioned: no data may flow to it "
                f"(`hub bricks reinstate {name}` brings it back)"
            )
        if not configured.enabled or configured.settings is None:
            raise KeyError(f"brick {name!r} is {configured.status}")
        if name not in self._instances:
            context = BrickContext(
                name=name,
                data_dir=Path(self.settings.data_dir),
                public_base_url=self.settings.public_base_url,
            )
            self._instances[name] = configured.cls(configured.settings, context)
        return self._instances[name]

    async def aclose(self) -> None:
        for instance in self._instances.values():
            await instance.aclose()
        self._instances.clear()
        if "engine" in self.__dict__:
            self.engine.dispose()


def _register_secrets(settings: HubSettings) -> None:
    """Teach the log redactor every secret value, so it is scrubbed even inside free text."""
    overrides = [section.pseudonym_key for section in settings.bricks.values()]
    for secret in (
        settings.database_url,
        settings.security.pepper,
        settings.security.master_key,
        settings.security.pseudonym_key,
        *overrides,
    ):
        if secret is not None:
            register_secret(secret.get_secret_value())
    url = settings.database_url.get_secret_value() if settings.database_url else ""
    if "@" in url and ":" in url.split("://", 1)[-1].split("@", 1)[0]:
        register_secret(url.split("://", 1)[-1].split("@", 1)[0].split(":", 1)[1])


def open_runtime(
    config_path: Path | None,
    *,
    settings: HubSettings | None = None,
    host: PluginHost | None = None,
) -> Runtime:
    """Load config, plugins and bricks; raise ``ConfigError`` listing every problem."""
    settings = settings or load_settings(config_path)
    _register_secrets(settings)
    host = host or build_plugin_host(blocked=settings.plugins.blocked)
    bricks, problems = configure_bricks(settings, host.bricks(), host.blocked)
    if problems:
        raise ConfigError(problems)
    for configured in bricks.values():
        if configured.settings is None:
            continue
        for value in configured.settings.model_dump().values():
            if hasattr(value, "get_secret_value"):
                register_secret(value.get_secret_value())
    return Runtime(settings=settings, plugins=host, bricks=bricks)
