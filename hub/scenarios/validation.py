"""Checks on scenario flows that need more than one key: event types and senders.

The flow model validates each scenario on its own (a step without a template, a bad delay, an
unknown channel). What it cannot see: whether a trigger or cancel-if names an event type that
exists (built-ins plus the types plugins register), whether a template variable names a scalar
field of the trigger's payload model, and whether any enabled brick can send a step at all.
``hub config validate`` and ``hub worker`` report these by dotted path.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import TYPE_CHECKING

from pydantic import BaseModel

from contracts import Capability, Channel, MessageKind, Purpose
from hub.scenarios.variables import path_problem

if TYPE_CHECKING:
    from hub.config import ConfiguredBrick
    from hub.pressure.rules import ScenarioSettings

__all__ = ["MAX_FLOW_NAME", "enabled_senders", "flow_problems"]

#: Job and send idempotency keys embed the scenario name and must fit in 128 characters.
MAX_FLOW_NAME = 48


def flow_problems(
    scenarios: Mapping[str, ScenarioSettings],
    event_types: Collection[str],
    senders: Mapping[Channel, Collection[Purpose]] | None = None,
) -> list[tuple[str, str]]:
    """(dotted path, message) pairs; ``senders``: the purposes enabled bricks serve per channel
    (``None`` skips the sender check, e.g. before bricks are configured). When
    ``event_types`` maps types to payload models, template variables are checked against the
    trigger's model."""
    known = sorted(event_types)
    listing = ", ".join(known)
    problems: list[tuple[str, str]] = []

    def check_type(path: str, event_type: str) -> None:
        if event_type not in event_types:
            problems.append((path, f"unknown event type {event_type!r} (known: {listing})"))

    for name, scenario in sorted(scenarios.items()):
        base = f"scenarios.{name}"
        flows = bool(scenario.trigger or scenario.inactivity)
        if flows and len(name) > MAX_FLOW_NAME:
            problems.append((base, f"a flow needs a name of at most {MAX_FLOW_NAME} characters"))
        if scenario.trigger:
            check_type(f"{base}.trigger", scenario.trigger)
            model = event_types.get(scenario.trigger) if isinstance(event_types, Mapping) else None
            if isinstance(model, type) and issubclass(model, BaseModel):
                for index, variable in enumerate(scenario.variables):
                    problem = path_problem(model, variable)
                    if problem:
                        problems.append((f"{base}.variables.{index}", problem))
        for index, event_type in enumerate(scenario.cancel_if):
            check_type(f"{base}.cancel_if.{index}", event_type)
        if scenario.inactivity is not None:
            for index, event_type in enumerate(scenario.inactivity.events):
                check_type(f"{base}.inactivity.events.{index}", event_type)
        if senders is None:
            continue
        purpose = (
            Purpose.MARKETING if scenario.kind is MessageKind.MARKETING else Purpose.TRANSACTIONAL
        )
        for index in range(len(scenario.steps)):
            channels = scenario.step_channels(index)
            if not any(purpose in senders.get(channel, ()) for channel in channels):
                wanted = ", ".join(c.value for c in channels)
                problems.append(
                    (
                        f"{base}.steps.{index}",
                        f"no enabled brick sends {purpose.value} messages on {wanted}",
                    )
                )
    return problems


def enabled_senders(bricks: Mapping[str, ConfiguredBrick]) -> dict[Channel, set[Purpose]]:
    """The purposes some enabled Sender brick serves, per channel."""
    served: dict[Channel, set[Purpose]] = {}
    for configured in bricks.values():
        if configured.enabled and Capability.SENDER in configured.cls.capabilities:
            for channel in configured.cls.channels:
                served.setdefault(channel, set()).update(configured.purposes)
    return served
