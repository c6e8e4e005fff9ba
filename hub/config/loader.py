"""Load and validate the central configuration, reporting every problem by dotted path."""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from pydantic_settings.exceptions import SettingsError

from hub.config.model import HubSettings
from hub.config.secrets import (
    INLINE_SECRET_MESSAGE,
    SecretRefError,
    SecretUnavailable,
    concrete_paths,
    resolve_secret_ref,
    secret_field_patterns,
    string_leaf_paths,
)
from hub.pressure.rules import policy_problems

__all__ = [
    "DEFAULT_CONFIG_PATH",
    "ConfigError",
    "ConfigProblem",
    "find_config_path",
    "load_settings",
    "problems_from_validation",
]

DEFAULT_CONFIG_PATH = Path("config/hub.toml")


@dataclass(frozen=True, order=True)
class ConfigProblem:
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


class ConfigError(Exception):
    """One or more configuration problems; ``str()`` gives one line per problem."""

    def __init__(self, problems: list[ConfigProblem]) -> None:
        self.problems = sorted(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


_MESSAGES = {
    "extra_forbidden": "unknown key",
    "missing": "required",
}


def problems_from_validation(error: ValidationError, prefix: str = "") -> list[ConfigProblem]:
    """Turn pydantic errors into dotted-path problems; never echoes the input value."""
    problems = []
    for item in error.errors(include_input=False, include_url=False):
        path = ".".join(str(part) for part in (prefix, *item["loc"]) if part != "")
        message = _MESSAGES.get(item["type"], item["msg"])
        message = message.removeprefix("Value error, ")
        problems.append(ConfigProblem(path or "(root)", message))
    return problems


def find_config_path(
    explicit: Path | None, environ: Mapping[str, str] | None = None
) -> Path | None:
    """``--config`` wins, then ``HUB_CONFIG``, then ``config/hub.toml`` if it exists."""
    environ = os.environ if environ is None else environ
    if explicit is not None:
        return explicit
    if environ.get("HUB_CONFIG"):
        return Path(environ["HUB_CONFIG"])
    return DEFAULT_CONFIG_PATH if DEFAULT_CONFIG_PATH.is_file() else None


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError([ConfigProblem(str(path), "config file not found")]) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([ConfigProblem(str(path), f"not valid TOML: {exc}")]) from None
    except OSError as exc:
        raise ConfigError([ConfigProblem(str(path), f"cannot read: {exc.strerror}")]) from None


def _pop_path(data: dict[str, Any], path: tuple[str, ...]) -> Any:
    parent = data
    for key in path[:-1]:
        parent = parent[key]
    return parent.pop(path[-1])


def _set_path(data: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    parent = data
    for key in path[:-1]:
        parent = parent[key]
    parent[path[-1]] = value


def _env_overrides(path: tuple[str, ...]) -> bool:
    """True when the ``HUB_`` variable of this key is set: the environment wins over the file."""
    name = ("HUB_" + "__".join(path)).upper()
    return any(key.upper() == name for key in os.environ)


def _resolve_core_secrets(
    raw: dict[str, Any], problems: list[ConfigProblem], unavailable: dict[str, str]
) -> None:
    """Refuse inline secrets and resolve references, in place."""
    for pattern in secret_field_patterns(HubSettings):
        for path in list(concrete_paths(raw, pattern)):
            dotted = ".".join(path)
            value = _pop_path(raw, path)
            if value is None:
                continue
            if isinstance(value, str):
                problems.append(ConfigProblem(dotted, INLINE_SECRET_MESSAGE))
                continue
            if _env_overrides(path):
                continue  # not read: the HUB_ variable wins over the reference
            try:
                _set_path(raw, path, resolve_secret_ref(value))
            except SecretUnavailable as exc:
                unavailable[dotted] = str(exc)
            except SecretRefError as exc:
                problems.append(ConfigProblem(dotted, str(exc)))


def load_settings(path: Path | None = None) -> HubSettings:
    """Build ``HubSettings`` from ``path`` (or defaults) and ``HUB_*`` variables.

    Raises ``ConfigError`` listing *every* problem found, each with its dotted path. Brick
    sections are checked against the bricks' own models later (``configure_bricks``). A secret
    whose variable or file is missing is not an error here: it is recorded in
    ``settings.unavailable_secrets`` and refused by whatever needs it.
    """
    raw = _read_toml(path) if path is not None else {}
    inline = frozenset(string_leaf_paths(raw))
    problems: list[ConfigProblem] = []
    unavailable: dict[str, str] = {}
    _resolve_core_secrets(raw, problems, unavailable)
    settings: HubSettings | None = None
    try:
        settings = HubSettings(**raw)
    except ValidationError as exc:
        problems.extend(problems_from_validation(exc))
    except SettingsError as exc:
        problems.append(ConfigProblem("environment", str(exc)))
    if settings is not None:
        problems.extend(
            ConfigProblem(p, m) for p, m in policy_problems(settings.pressure, settings.scenarios)
        )
    if problems or settings is None:
        raise ConfigError(problems + [ConfigProblem(p, m) for p, m in unavailable.items()])
    settings._source_path = path
    settings._inline_strings = inline
    settings._unavailable_secrets = unavailable
    return settings
