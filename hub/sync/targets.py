"""Checking ``--from`` and ``--to`` before anything is read or written.

A sink must be an enabled, configured brick with the ``contact_sink`` capability, configured
for the marketing purpose (a contact sync feeds marketing tools), and not decommissioned: the
runtime refuses to build a decommissioned brick, and the sync also reads
``brick_decommissions`` itself, so no data flows to it whichever check fires first.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from contracts import Capability, Channel, ContactSink, CustomerField, Purpose
from hub.contacts.pull import NotAContactSource, contact_source
from hub.runtime import Runtime
from hub.storage.db import session_scope
from hub.sync.records import decommissioned

__all__ = ["HUB_SOURCE", "SinkTarget", "SyncOptionError", "check_source", "resolve_sinks"]

#: ``--from hub``: push from the hub's own store, no source brick.
HUB_SOURCE = "hub"


class SyncOptionError(Exception):
    """A bad ``--from`` / ``--to``: ``option`` names it, nothing was read or written."""

    def __init__(self, option: str, reason: str) -> None:
        super().__init__(f"{option}: {reason}")
        self.option = option
        self.reason = reason


@dataclass(frozen=True)
class SinkTarget:
    name: str
    brick: ContactSink
    channels: frozenset[Channel]
    fields: frozenset[CustomerField]
    batch_size: int


def check_source(runtime: Runtime, source: str) -> None:
    if source == HUB_SOURCE:
        return
    try:
        contact_source(runtime, source)
    except NotAContactSource as exc:
        raise SyncOptionError("--from", f"{exc} (or use --from hub)") from None


def _target(runtime: Runtime, name: str) -> SinkTarget:
    configured = runtime.bricks.get(name)
    if configured is None:
        installed = ", ".join(sorted(runtime.bricks)) or "none"
        raise SyncOptionError("--to", f"no brick named {name!r} (installed: {installed})")
    if Capability.CONTACT_SINK not in configured.cls.capabilities:
        raise SyncOptionError("--to", f"brick {name!r} is not a contact sink")
    if not configured.enabled:
        raise SyncOptionError("--to", f"brick {name!r} is {configured.status}")
    if Purpose.MARKETING not in configured.purposes:
        raise SyncOptionError(
            "--to", f"brick {name!r} is not configured for the marketing purpose"
        )
    with session_scope(runtime.ready_engine()) as session:
        since = decommissioned(session, name)
    if since is not None:
        raise SyncOptionError(
            "--to",
            f"brick {name!r} was decommissioned on {since:%Y-%m-%d}: no data may flow to it "
            "(`hub bricks reinstate` first)",
        )
    try:
        brick = runtime.brick(name)
    except Exception as exc:  # the runtime's refusal (decommissioned, disabled...)
        detail = exc.args[0] if exc.args else type(exc).__name__
        raise SyncOptionError("--to", str(detail)) from None
    if not isinstance(brick, ContactSink):
        raise SyncOptionError("--to", f"brick {name!r} does not implement upsert()/erase()")
    size = int(getattr(configured.cls, "batch_size", 0) or 0)
    if size < 1:
        raise SyncOptionError("--to", f"brick {name!r} declares no positive batch_size")
    return SinkTarget(
        name, brick, frozenset(configured.cls.channels), configured.allowed_fields, size
    )


def resolve_sinks(runtime: Runtime, names: Sequence[str]) -> list[SinkTarget]:
    """Every sink checked before the first is used; raises ``SyncOptionError``."""
    wanted = [n.strip() for n in names if n.strip()]
    if not wanted:
        raise SyncOptionError("--to", "name at least one contact sink, e.g. --to brevo")
    duplicates = sorted({n for n in wanted if wanted.count(n) > 1})
    if duplicates:
        raise SyncOptionError("--to", f"{', '.join(duplicates)} named twice")
    return [_target(runtime, name) for name in wanted]
