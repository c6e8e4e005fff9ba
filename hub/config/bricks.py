"""The brick phase of config validation: each ``[bricks.<name>]`` against the installed brick.

Runs after the plugin host is built (it needs the Brick classes). Checks that the brick exists,
that its settings pass the brick's own ``Settings`` model (inline secrets refused, references
resolved), and that governance keys make sense: a brick may be allowed only fields and purposes
it declares, so the allow-list can never grant more than the brick uses.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from contracts import Brick, BrickSettings, CustomerField, Purpose
from hub.config.loader import ConfigProblem, problems_from_validation
from hub.config.model import BrickSection, HubSettings
from hub.config.secrets import (
    INLINE_SECRET_MESSAGE,
    SecretRefError,
    resolve_secret_ref,
    secret_field_patterns,
)

__all__ = ["ConfiguredBrick", "configure_bricks"]


@dataclass(frozen=True)
class ConfiguredBrick:
    """A brick as the core runs it: class, validated settings, governance and status."""

    name: str
    cls: type[Brick]
    plugin: str
    #: "enabled" | "disabled" ("blocked" bricks are never loaded at all); the runtime marks a
    #: brick "decommissioned" when the database says so (``hub bricks decommission``).
    status: str
    settings: BrickSettings | None
    allowed_fields: frozenset[CustomerField]
    purposes: frozenset[Purpose]

    @property
    def enabled(self) -> bool:
        return self.status == "enabled"


def _brick_settings(
    name: str, cls: type[Brick], section: BrickSection, settings: HubSettings
) -> tuple[BrickSettings | None, list[ConfigProblem]]:
    """Validate the section's own keys; inline secrets were reported by ``_inline_secrets``."""
    problems: list[ConfigProblem] = []
    values: dict[str, Any] = section.brick_settings()
    refused = {p.path for p in _inline_secrets(name, cls, settings)}
    for pattern in secret_field_patterns(cls.Settings):
        if len(pattern) != 1 or pattern[0] not in values:
            continue
        key = pattern[0]
        dotted = f"bricks.{name}.{key}"
        value = values[key]
        if dotted in refused:
            values.pop(key)
        elif isinstance(value, Mapping):
            try:
                values[key] = resolve_secret_ref(value)
            except SecretRefError as exc:
                problems.append(ConfigProblem(dotted, str(exc)))
                values.pop(key)
    reported = refused | {problem.path for problem in problems}
    try:
        built = cls.Settings(**values)
    except ValidationError as exc:
        problems.extend(
            problem
            for problem in problems_from_validation(exc, prefix=f"bricks.{name}")
            if problem.path not in reported
        )
        return None, problems
    return (None if problems else built), problems


def _inline_secrets(name: str, cls: type[Brick], settings: HubSettings) -> list[ConfigProblem]:
    """Inline secrets are refused even in a disabled section: the file is what leaks."""
    problems = []
    for pattern in secret_field_patterns(cls.Settings):
        dotted = f"bricks.{name}.{'.'.join(pattern)}"
        if "*" not in pattern and dotted in settings.inline_strings:
            problems.append(ConfigProblem(dotted, INLINE_SECRET_MESSAGE))
    return problems


def configure_bricks(
    settings: HubSettings,
    registered: Mapping[str, Any],
    blocked_plugins: frozenset[str] = frozenset(),
) -> tuple[dict[str, ConfiguredBrick], list[ConfigProblem]]:
    """Match config sections with registered bricks.

    :param registered: brick name -> ``RegisteredBrick`` (``cls`` and ``plugin``).
    :param blocked_plugins: plugin names blocked in config; their sections are not "unknown".
    :returns: every registered brick with its status, and the problems found.
    """
    problems: list[ConfigProblem] = []
    result: dict[str, ConfiguredBrick] = {}
    for name in settings.bricks:
        if name not in registered and name not in blocked_plugins:
            installed = ", ".join(sorted(registered)) or "none"
            problems.append(
                ConfigProblem(f"bricks.{name}", f"unknown brick (installed: {installed})")
            )
    for name, entry in registered.items():
        cls: type[Brick] = entry.cls
        section = settings.bricks.get(name)
        if section is not None:
            problems.extend(_inline_secrets(name, cls, settings))
        if section is None or not section.enabled:
            result[name] = ConfiguredBrick(
                name, cls, entry.plugin, "disabled", None, frozenset(), frozenset()
            )
            continue
        brick_settings, found = _brick_settings(name, cls, section, settings)
        problems.extend(found)
        extra_fields = sorted(set(section.allowed_fields) - cls.fields)
        if extra_fields:
            uses = ", ".join(sorted(cls.fields)) or "no customer field"
            problems.append(
                ConfigProblem(
                    f"bricks.{name}.allowed_fields",
                    f"{', '.join(extra_fields)} not used by this brick (it uses: {uses})",
                )
            )
        purposes = set(section.purposes) if section.purposes is not None else set(cls.purposes)
        if purposes - cls.purposes:
            problems.append(
                ConfigProblem(
                    f"bricks.{name}.purposes",
                    f"{', '.join(sorted(purposes - cls.purposes))} not declared by this brick",
                )
            )
        result[name] = ConfiguredBrick(
            name,
            cls,
            entry.plugin,
            "enabled",
            brick_settings,
            frozenset(section.allowed_fields) & cls.fields,
            frozenset(purposes) & cls.purposes,
        )
    return result, problems
