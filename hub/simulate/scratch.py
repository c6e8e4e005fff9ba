"""The scratch installation a simulation runs in: same rules, its own database, nothing sent.

``hub simulate`` must take the decisions the live hub would, so it runs the live code: intake,
the scheduler, the worker, consent, the pressure ledger, the minimised views. What changes is
only what would reach the outside world or the real data:

* the database is a fresh SQLite file in a temporary directory (``data_dir`` points there too),
  migrated to the current schema; the configured ``database_url`` is never opened;
* the keys are fresh, random ones: nothing in the scratch database is derived from the real
  pepper, master key or pseudonym keys (brick pseudonym key overrides are dropped too);
* every brick keeps its configuration (channels, purposes, allowed fields: governance decides
  the same), but ``runtime.brick(name)`` returns a recording sender that accepts every message
  and delivers none. Brick classes are never instantiated, so no vendor client is built;
* plugin observers (``hub_event_received``, ``hub_send_decided``, ``hub_send_completed``) are
  not called: a plugin's side effects belong to the live hub.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from pydantic import SecretStr

from contracts import Brick, SendRequest, SendResult, SendStatus
from hub.config import HubSettings
from hub.identity.keys import generate_key
from hub.plugins import PluginHost, build_plugin_host
from hub.runtime import Runtime, open_runtime
from hub.storage.db import upgrade

__all__ = ["RecordingSender", "SimulationRuntime", "open_scratch_runtime", "scratch_settings"]

DATABASE_FILE = "simulation.db"


@dataclass
class RecordedSend:
    brick: str
    request: SendRequest


class RecordingSender:
    """Stands in for every brick: accepts each message, keeps it, delivers nothing."""

    def __init__(self) -> None:
        self.sent: list[RecordedSend] = []
        self._ids = itertools.count(1)

    def for_brick(self, name: str) -> _BrickFace:
        return _BrickFace(self, name)

    async def aclose(self) -> None:
        return None


@dataclass
class _BrickFace:
    """The recorder as one brick sees it (so each recorded send names its brick)."""

    recorder: RecordingSender
    name: str

    async def send(self, request: SendRequest) -> SendResult:
        self.recorder.sent.append(RecordedSend(self.name, request))
        return SendResult(
            request_id=request.request_id,
            status=SendStatus.ACCEPTED,
            vendor_message_id=f"simulated-{next(self.recorder._ids)}",
        )

    async def aclose(self) -> None:
        return None


class _QuietHost(PluginHost):
    """The plugin host without observers: registrations (event types, bricks) stay."""

    def notify(self, hook_name: str, **kwargs: Any) -> None:
        return None


@dataclass
class SimulationRuntime(Runtime):
    """A runtime whose bricks all resolve to the recording sender."""

    recorder: RecordingSender = field(default_factory=RecordingSender)

    def brick(self, name: str) -> Brick:
        configured = self.bricks.get(name)
        if configured is None or not configured.enabled:
            raise KeyError(f"no enabled brick named {name!r}")
        return cast(Brick, self.recorder.for_brick(name))


def scratch_settings(settings: HubSettings, directory: Path) -> HubSettings:
    """``settings`` pointed at a SQLite file in ``directory``, with fresh keys."""
    security = settings.security.model_copy(
        update={
            "pepper": SecretStr(generate_key()),
            "master_key": SecretStr(generate_key()),
            "pseudonym_key": SecretStr(generate_key()),
        }
    )
    bricks = {
        name: section.model_copy(update={"pseudonym_key": None})
        for name, section in settings.bricks.items()
    }
    copy = settings.model_copy(
        update={
            "data_dir": directory,
            "database_url": SecretStr(f"sqlite:///{directory / DATABASE_FILE}"),
            "security": security,
            "bricks": bricks,
        }
    )
    # References the real installation could not resolve no longer matter for what was replaced.
    copy._unavailable_secrets = {
        path: reason
        for path, reason in settings.unavailable_secrets.items()
        if path != "database_url"
        and not path.startswith("security.")
        and not path.endswith(".pseudonym_key")
    }
    return copy


def open_scratch_runtime(
    settings: HubSettings, directory: Path, host: PluginHost | None = None
) -> SimulationRuntime:
    """A migrated scratch installation in ``directory`` (raises ``ConfigError`` like the hub)."""
    base = host or build_plugin_host(blocked=settings.plugins.blocked)
    quiet = _QuietHost(
        pm=base.pm, blocked=base.blocked, entry_points=base.entry_points, _bricks=base._bricks
    )
    opened = open_runtime(None, settings=scratch_settings(settings, directory), host=quiet)
    runtime = SimulationRuntime(
        settings=opened.settings, plugins=opened.plugins, bricks=opened.bricks
    )
    upgrade(runtime.engine)
    runtime.ready_engine()  # the fresh keys and the schema, checked as the live hub does
    return runtime
