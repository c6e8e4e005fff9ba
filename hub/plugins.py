"""The plugin host: a pluggy manager built by a factory, never at import time.

Every plugin, bundled or third-party, arrives through the ``hub`` entry-point group. The host
honours ``[plugins] blocked``, fails loudly on a misspelt hook (naming plugin and hook), checks
every registered Brick class, and calls observer hooks guarded so a broken plugin is logged
instead of breaking the core.
"""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint, entry_points
from typing import Any

import pluggy
from pydantic import BaseModel

from contracts import (
    BRICK_NAME_PATTERN,
    BUILTIN_EVENT_TYPES,
    CAPABILITY_PROTOCOLS,
    EVENT_TYPE_PATTERN,
    RESERVED_SETTING_NAMES,
    Brick,
    BrickSettings,
)
from hub import hookspecs
from hub.logs import get_logger
from hub.sdk import PROJECT_NAME

__all__ = [
    "ENTRY_POINT_GROUP",
    "PluginError",
    "PluginHost",
    "PluginInfo",
    "RegisteredBrick",
    "build_plugin_host",
    "check_brick",
]

ENTRY_POINT_GROUP = "hub"
log = get_logger(__name__)


class PluginError(Exception):
    """A plugin cannot be loaded as it is; the message names the plugin and what to fix."""


@dataclass(frozen=True)
class PluginInfo:
    name: str
    distribution: str | None
    version: str | None
    hooks: tuple[str, ...]
    blocked: bool


@dataclass(frozen=True)
class RegisteredBrick:
    cls: type[Brick]
    plugin: str


@dataclass
class PluginHost:
    """A pluggy manager plus what the core learnt while loading it."""

    pm: pluggy.PluginManager
    blocked: frozenset[str]
    entry_points: dict[str, EntryPoint] = field(default_factory=dict)
    _bricks: dict[str, RegisteredBrick] | None = None

    # -- discovery -------------------------------------------------------------------------
    def plugins(self) -> list[PluginInfo]:
        """Every plugin known: loaded ones with their hooks, blocked ones from their metadata."""
        infos: list[PluginInfo] = []
        for name, plugin in self.pm.list_name_plugin():
            if plugin is None:
                continue
            hooks = tuple(sorted(c.name for c in self.pm.get_hookcallers(plugin) or []))
            infos.append(PluginInfo(name, *self._dist(name), hooks, blocked=False))
        for name in sorted(self.blocked):
            infos.append(PluginInfo(name, *self._dist(name), (), blocked=True))
        return sorted(infos, key=lambda i: i.name)

    def _dist(self, name: str) -> tuple[str | None, str | None]:
        ep = self.entry_points.get(name)
        if ep is None or ep.dist is None:
            return (None, None)
        return (ep.dist.name, ep.dist.version)

    def bricks(self) -> dict[str, RegisteredBrick]:
        """Brick classes by name, checked once and cached."""
        if self._bricks is None:
            found: dict[str, RegisteredBrick] = {}
            for impl in self.pm.hook.hub_register_bricks.get_hookimpls():
                plugin = impl.plugin_name

                def register(cls: type[Brick], _plugin: str = plugin) -> None:
                    check_brick(cls, _plugin)
                    if cls.name in found:
                        raise PluginError(
                            f"plugin {_plugin!r}: brick name {cls.name!r} is already "
                            f"registered by plugin {found[cls.name].plugin!r}"
                        )
                    found[cls.name] = RegisteredBrick(cls, _plugin)

                _call_registration(impl, register)
            self._bricks = dict(sorted(found.items()))
        return self._bricks

    def event_types(self) -> dict[str, type[BaseModel]]:
        """Built-in event payload models plus the namespaced ones plugins register."""
        types: dict[str, type[BaseModel]] = dict(BUILTIN_EVENT_TYPES)
        for impl in self.pm.hook.hub_register_event_types.get_hookimpls():

            def register(
                name: str, model: type[BaseModel], _plugin: str = impl.plugin_name
            ) -> None:
                if not EVENT_TYPE_PATTERN.fullmatch(name):
                    raise PluginError(
                        f"plugin {_plugin!r}: event type {name!r} must look like 'namespace.name'"
                    )
                if name in types:
                    raise PluginError(f"plugin {_plugin!r}: event type {name!r} already exists")
                if not (isinstance(model, type) and issubclass(model, BaseModel)):
                    raise PluginError(
                        f"plugin {_plugin!r}: event type {name!r} needs a pydantic model"
                    )
                types[name] = model

            _call_registration(impl, register)
        return types

    def register_commands(self, app: Any) -> None:
        """Let plugins add CLI commands; a failing plugin is named, not a bare traceback."""
        for impl in reversed(self.pm.hook.hub_register_commands.get_hookimpls()):
            try:
                impl.function(**{name: app for name in impl.argnames})
            except Exception as exc:
                raise PluginError(
                    f"plugin {impl.plugin_name!r}: registering commands failed "
                    f"({type(exc).__name__}: {exc})"
                ) from exc

    # -- observers ---------------------------------------------------------------------------
    def notify(self, hook_name: str, **kwargs: Any) -> None:
        """Call an observer hook after commit; a failing implementation is logged, not raised."""
        if hook_name not in hookspecs.OBSERVER_HOOKS:
            raise ValueError(f"{hook_name} is not an observer hook")
        # pluggy keeps implementations in reverse call order (tryfirst ones last).
        for impl in reversed(getattr(self.pm.hook, hook_name).get_hookimpls()):
            args = {name: kwargs[name] for name in impl.argnames}
            try:
                impl.function(**args)
            except Exception as exc:
                log.error(
                    "plugin observer failed",
                    plugin=impl.plugin_name,
                    hook=hook_name,
                    error_type=type(exc).__name__,
                    error=str(exc),
                )


def _call_registration(impl: Any, register: Any) -> None:
    """Run one plugin's ``hub_register_*`` hook; any failure names the plugin."""
    try:
        impl.function(register=register)
    except PluginError:
        raise
    except Exception as exc:
        raise PluginError(
            f"plugin {impl.plugin_name!r}: registration failed ({type(exc).__name__}: {exc})"
        ) from exc


def check_brick(cls: Any, plugin: str) -> None:
    """Refuse a Brick class whose contract is incomplete, naming plugin and problem."""
    where = f"plugin {plugin!r}: brick {getattr(cls, '__name__', cls)!r}"
    if not (isinstance(cls, type) and issubclass(cls, Brick)):
        raise PluginError(f"{where} is not a subclass of contracts.Brick")
    for attr in ("name", "version", "description"):
        if not isinstance(getattr(cls, attr, None), str) or not getattr(cls, attr):
            raise PluginError(f"{where} must set the class attribute {attr!r}")
    if not BRICK_NAME_PATTERN.fullmatch(cls.name):
        raise PluginError(f"{where}: name {cls.name!r} must be lower snake case, 2-40 chars")
    if not cls.capabilities:
        raise PluginError(f"{where} declares no capabilities")
    for capability in cls.capabilities:
        protocol = CAPABILITY_PROTOCOLS[capability]
        missing = [
            member
            for member in _protocol_members(protocol)
            if not callable(getattr(cls, member, None))
        ]
        if missing:
            raise PluginError(
                f"{where} declares {capability.value} but does not implement {', '.join(missing)}"
            )
    settings = cls.Settings
    if not (isinstance(settings, type) and issubclass(settings, BrickSettings)):
        raise PluginError(f"{where}: Settings must subclass contracts.BrickSettings")
    if settings.model_config.get("extra") != "forbid":
        raise PluginError(f"{where}: Settings must forbid unknown keys (extra='forbid')")
    clash = RESERVED_SETTING_NAMES & set(settings.model_fields)
    if clash:
        raise PluginError(f"{where}: Settings may not define core keys {sorted(clash)}")


def _protocol_members(protocol: type) -> list[str]:
    return [
        name
        for name, value in vars(protocol).items()
        if not name.startswith("_") and inspect.isfunction(value)
    ]


def build_plugin_host(
    *,
    blocked: Iterable[str] = (),
    load_entry_points: bool = True,
    extra_plugins: Iterable[tuple[str, object]] = (),
) -> PluginHost:
    """Build an isolated plugin host (each test gets its own).

    :param blocked: plugin names never loaded (``[plugins] blocked``).
    :param load_entry_points: load the ``hub`` entry-point group (bundled and third-party).
    :param extra_plugins: ``(name, module_or_object)`` pairs registered directly (tests).
    """
    pm = pluggy.PluginManager(PROJECT_NAME)
    pm.add_hookspecs(hookspecs)
    blocked_set = frozenset(blocked)
    for name in blocked_set:
        pm.set_blocked(name)
    host = PluginHost(pm=pm, blocked=blocked_set)
    if load_entry_points:
        for ep in entry_points(group=ENTRY_POINT_GROUP):
            host.entry_points[ep.name] = ep
            if ep.name in blocked_set or pm.has_plugin(ep.name):
                continue
            try:
                plugin = ep.load()
            except Exception as exc:
                dist = f" from {ep.dist.name} {ep.dist.version}" if ep.dist else ""
                raise PluginError(
                    f"plugin {ep.name!r}{dist} failed to import ({type(exc).__name__}: {exc}); "
                    f"fix it or add it to [plugins] blocked"
                ) from exc
            _register(pm, ep.name, plugin)
    for name, plugin in extra_plugins:
        if name not in blocked_set:
            _register(pm, name, plugin)
    _check_pending(pm)
    return host


def _register(pm: pluggy.PluginManager, name: str, plugin: object) -> None:
    try:
        pm.register(plugin, name=name)
    except pluggy.PluginValidationError as exc:
        raise PluginError(f"plugin {name!r}: {exc}") from exc
    except ValueError as exc:
        raise PluginError(f"plugin {name!r} cannot be registered: {exc}") from exc


def _check_pending(pm: pluggy.PluginManager) -> None:
    """A hook implementation without a spec is a typo: fail naming plugin, hook and the fix."""
    known = [name for name in dir(hookspecs) if name.startswith("hub_")]
    for name in dir(pm.hook):
        if name.startswith("_"):
            continue
        caller = getattr(pm.hook, name)
        if not isinstance(caller, pluggy.HookCaller) or caller.has_spec():
            continue
        for impl in caller.get_hookimpls():
            if impl.optionalhook:
                continue
            guess = difflib.get_close_matches(name, known, n=1)
            hint = f" (did you mean {guess[0]!r}?)" if guess else ""
            raise PluginError(f"plugin {impl.plugin_name!r} implements unknown hook {name!r}{hint}")
