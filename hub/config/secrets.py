"""Secrets in config: where they are, how references resolve, and why inline ones are refused.

A secret may come from the environment (``HUB_SECURITY__PEPPER=...``) or from a reference in
TOML: ``pepper = {env = "MY_PEPPER"}`` or ``pepper = {file = "/run/secrets/pepper"}``. A plain
string in TOML is refused: config files get committed, copied and pasted into tickets.
"""

from __future__ import annotations

import os
import types
import typing
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, SecretBytes, SecretStr

__all__ = [
    "INLINE_SECRET_MESSAGE",
    "SecretRefError",
    "SecretUnavailable",
    "concrete_paths",
    "is_secret_ref",
    "resolve_secret_ref",
    "secret_field_patterns",
    "string_leaf_paths",
]

# An error message, not a secret (hence the noqa).
INLINE_SECRET_MESSAGE = (
    'inline secrets are not allowed: use {env = "VARIABLE"} or {file = "PATH"}, '  # noqa: S105
    "or set the HUB_ environment variable"
)

_SECRET_TYPES = (SecretStr, SecretBytes)


@dataclass
class SecretRefError(Exception):
    """The reference itself is malformed: a config error, whatever the machine."""

    message: str

    def __str__(self) -> str:
        return self.message


class SecretUnavailable(SecretRefError):
    """The reference is fine but its variable or file is missing on this machine.

    Loading still succeeds so commands that need no secret (``hub plugins list``) work; the
    hub refuses to start anything that needs the secret, with this message.
    """


def _unwrap(annotation: Any) -> list[Any]:
    """The concrete types behind Optional/Union/Annotated."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _unwrap(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        return [t for arg in typing.get_args(annotation) for t in _unwrap(arg)]
    return [annotation]


def secret_field_patterns(model: type[BaseModel], prefix: tuple[str, ...] = ()) -> list[tuple]:
    """Dotted path patterns of every secret field in ``model``; ``*`` stands for a dict key."""
    patterns: list[tuple[str, ...]] = []
    for name, field in model.model_fields.items():
        path = (*prefix, name)
        for kind in _unwrap(field.annotation):
            if isinstance(kind, type) and issubclass(kind, _SECRET_TYPES):
                patterns.append(path)
            elif isinstance(kind, type) and issubclass(kind, BaseModel):
                patterns.extend(secret_field_patterns(kind, path))
            elif typing.get_origin(kind) is dict:
                value_type = typing.get_args(kind)[1]
                for inner in _unwrap(value_type):
                    if isinstance(inner, type) and issubclass(inner, BaseModel):
                        patterns.extend(secret_field_patterns(inner, (*path, "*")))
    return patterns


def concrete_paths(data: Mapping[str, Any], pattern: tuple[str, ...]) -> Iterator[tuple[str, ...]]:
    """Paths present in ``data`` that match ``pattern``."""
    head, rest = pattern[0], pattern[1:]
    keys = list(data) if head == "*" else [head] if head in data else []
    for key in keys:
        if not rest:
            yield (key,)
        elif isinstance(data[key], Mapping):
            for tail in concrete_paths(data[key], rest):
                yield (key, *tail)


def string_leaf_paths(data: Any, prefix: tuple[str, ...] = ()) -> Iterator[str]:
    """Dotted paths of every string value written in the file (secret or not)."""
    if isinstance(data, Mapping):
        for key, value in data.items():
            yield from string_leaf_paths(value, (*prefix, str(key)))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            yield from string_leaf_paths(value, (*prefix, str(index)))
    elif isinstance(data, str):
        yield ".".join(prefix)


def is_secret_ref(value: Any) -> bool:
    return isinstance(value, Mapping) and set(value) <= {"env", "file"} and len(value) >= 1


def resolve_secret_ref(value: Any, environ: Mapping[str, str] | None = None) -> str:
    """Read the secret a ``{env = ...}`` or ``{file = ...}`` reference points at."""
    if not isinstance(value, Mapping) or len(value) != 1 or not set(value) <= {"env", "file"}:
        raise SecretRefError('a secret reference is {env = "VARIABLE"} or {file = "PATH"}')
    environ = os.environ if environ is None else environ
    if "env" in value:
        name = value["env"]
        if not isinstance(name, str) or not name:
            raise SecretRefError("env must name an environment variable")
        if not environ.get(name):
            raise SecretUnavailable(f"environment variable {name} is not set")
        return environ[name]
    path = value["file"]
    if not isinstance(path, str) or not path:
        raise SecretRefError("file must be a path")
    try:
        text = Path(path).expanduser().read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise SecretUnavailable(f"cannot read secret file {path} ({exc.strerror})") from None
    if not text:
        raise SecretUnavailable(f"secret file {path} is empty")
    return text
