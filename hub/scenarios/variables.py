"""Template variables: the few payload values of the trigger event a scenario hands to a brick.

A scenario lists them (``variables = ["cart_url", "total", "currency"]``): an allow-list of
dotted paths into the trigger's payload. Only those values, and only scalars, reach the brick;
the rest of the payload (line items, other identifiers, whatever a plugin's event carries)
never leaves the core. Config validation checks each path against the payload model of the
trigger's event type, so a typo fails ``hub config validate`` rather than sending a template
with a hole in it.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Mapping, Sequence
from datetime import date, datetime, time
from decimal import Decimal
from enum import Enum
from typing import Any

from pydantic import BaseModel

__all__ = ["Scalar", "extract_variables", "path_problem"]

Scalar = str | int | float | bool

_SCALARS = (str, int, float, bool, Decimal, datetime, date, time, Enum)


def _unwrap(annotation: Any) -> list[Any]:
    """The alternatives of ``X | None``, ``Optional[X]``, ``Annotated[X, ...]``."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _unwrap(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        found: list[Any] = []
        for arg in typing.get_args(annotation):
            if arg is not type(None):
                found.extend(_unwrap(arg))
        return found
    return [annotation]


def _is_scalar(annotation: Any) -> bool:
    if annotation is Any:
        return True
    if typing.get_origin(annotation) is typing.Literal:
        return True
    return isinstance(annotation, type) and issubclass(annotation, _SCALARS)


def path_problem(model: type[BaseModel], path: str) -> str | None:
    """Why ``path`` cannot name a scalar of ``model``'s payload (``None``: it can).

    Paths go through nested models only; a part typed ``Any`` or a mapping cannot be checked
    further and is accepted (the value is checked when the event arrives).
    """
    current: list[Any] = [model]
    walked: list[str] = []
    for key in path.split("."):
        models = [a for a in current if isinstance(a, type) and issubclass(a, BaseModel)]
        if not models:
            if any(a is Any or typing.get_origin(a) in (dict, Mapping) for a in current):
                return None
            where = ".".join(walked)
            if any(typing.get_origin(a) in (list, tuple, set, frozenset) for a in current):
                return f"{where!r} is a list: a variable names one value, not list elements"
            return f"{where!r} is a single value: it has no field {key!r}"
        fields = [m.model_fields[key] for m in models if key in m.model_fields]
        if not fields:
            known = ", ".join(sorted({f for m in models for f in m.model_fields}))
            return f"no field {key!r} in the payload (known: {known})"
        current = [alternative for f in fields for alternative in _unwrap(f.annotation)]
        walked.append(key)
    if all(_is_scalar(a) for a in current):
        return None
    return "not a single value (a list or an object): name one of its scalar fields"


def _scalar(value: Any) -> Scalar | None:
    if isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, Decimal):
        return str(value)
    return None


def extract_variables(payload: Mapping[str, Any], paths: Sequence[str]) -> dict[str, Scalar]:
    """The allow-listed scalar values of ``payload`` by path; a path that is missing, null or
    not a scalar in this event is left out (the template decides what to show instead)."""
    found: dict[str, Scalar] = {}
    for path in paths:
        current: Any = payload
        for key in path.split("."):
            if not isinstance(current, Mapping) or key not in current:
                current = None
                break
            current = current[key]
        value = _scalar(current)
        if value is not None:
            found[path] = value
    return found
