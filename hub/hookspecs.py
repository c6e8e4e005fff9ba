"""The hub's plugin hooks: few, typed, each documented in docs/plugin_hooks.md.

Two families:

* ``hub_register_*(register)`` hooks hand the core *objects* that carry their own contract (a
  ``Brick`` subclass, an event payload model, Typer commands). The objects do the work.
* Observer hooks (``hub_event_received``, ``hub_send_decided``, ``hub_send_completed``,
  ``hub_outcome_recorded``, ``hub_sync_completed``) are called after the core has committed its
  work, each implementation guarded: a failing plugin is logged and never rolls back core work.

Governance (consent, pressure, field minimisation, routing) is deliberately *not* a hook, so
plugin load order can never bypass it.

Evolving safely (pluggy): new arguments may be added to a spec at any time, implementations may
accept fewer; removals go through ``warn_on_impl`` first.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pluggy
from pydantic import BaseModel

from contracts import (
    Brick,
    EventEnvelope,
    Outcome,
    SendDecision,
    SendRequest,
    SendResult,
    SyncSummary,
)
from hub.sdk import PROJECT_NAME

hookspec = pluggy.HookspecMarker(PROJECT_NAME)

#: Hooks called by ``hub.plugins.notify`` after commit, each implementation guarded.
OBSERVER_HOOKS: tuple[str, ...] = (
    "hub_event_received",
    "hub_send_decided",
    "hub_send_completed",
    "hub_outcome_recorded",
    "hub_sync_completed",
)


@hookspec
def hub_register_bricks(register: Callable[[type[Brick]], None]) -> None:
    """Register the Brick classes this plugin provides.

    :param register: call it once per ``Brick`` subclass. The core checks the class (name
        pattern, metadata, unique name across plugins) and fails start-up with a message naming
        the plugin if anything is wrong.
    """


@hookspec
def hub_register_commands(app: Any) -> None:
    """Add commands to the ``hub`` CLI.

    :param app: the root ``typer.Typer`` application; call ``app.command()`` or
        ``app.add_typer()`` on it. Commands must follow the CLI conventions (``--json``, errors on
        stderr, exit codes 0/2/3/4).
    """


@hookspec
def hub_register_event_types(register: Callable[[str, type[BaseModel]], None]) -> None:
    """Register payload models for new, namespaced event types.

    :param register: call ``register("acme.points_earned", PointsEarned)``. The type must match
        ``namespace.name`` and must not shadow a built-in type (``cart.abandoned``...); the
        model should forbid extra keys so bad events are dead-lettered with a reason.
    """


@hookspec
def hub_event_received(event: EventEnvelope) -> None:
    """Observe an event after it was validated, de-duplicated and stored.

    :param event: the stored event; identifiers in it are natural identifiers, so treat it as
        personal data (never log values).
    """


@hookspec
def hub_send_decided(request: SendRequest, decision: SendDecision) -> None:
    """Observe the core's consent-and-pressure decision on a send, before any brick is called.

    :param request: the send as it would go out (recipient already minimised for the brick).
    :param decision: allowed / deferred / denied with the rule and reason.
    """


@hookspec
def hub_send_completed(brick: str, request: SendRequest, result: SendResult) -> None:
    """Observe the final result of a send after it was recorded.

    :param brick: name of the brick that handled it.
    :param request: what was sent.
    :param result: what the brick answered (after core-owned retries).
    """


@hookspec
def hub_outcome_recorded(brick: str, outcome: Outcome) -> None:
    """Observe a delivery outcome (delivered, opened, bounced...) after it was stored.

    :param brick: name of the brick that reported it.
    :param outcome: the normalised outcome, naming the person by that brick's pseudonym.
    """


@hookspec
def hub_sync_completed(summary: SyncSummary) -> None:
    """Observe the summary of a finished contact sync.

    :param summary: counts read, created, updated, skipped by consent and rejected, per sink.
    """
