"""Check one raw event against its contract: the envelope, then the payload model for its type.

A failure becomes ``(field, reason)`` with the dotted path of the culprit
(``payload.items.0.quantity``) and pydantic's message, scrubbed of the value: reasons end up in
dead letters, CLI output and HTTP responses, and an event is full of personal data.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError

from contracts import EventEnvelope

__all__ = [
    "CheckedEvent",
    "EventRejected",
    "check_event",
    "describe_validation_error",
    "event_reference",
]

_VALUE_ERROR_PREFIXES = ("Value error, ", "Assertion failed, ")
#: Inputs shorter than this are not scrubbed from messages ("1", "EUR" carry no identity and
#: replacing them would garble the message: "at most 3 characters").
_SCRUB_MIN_LENGTH = 4


class EventRejected(Exception):
    """An event the hub cannot accept; ``field`` is a dotted path, never a value."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


@dataclass(frozen=True)
class CheckedEvent:
    """An event whose envelope and payload passed their contracts.

    ``envelope.payload`` is replaced by the payload model's JSON form (defaults filled in,
    decimals as strings), which is what gets sealed, stored and handed to scenarios.
    """

    envelope: EventEnvelope
    payload: dict[str, Any]
    #: The validated payload model (``CustomerUpdated``...), for the parts that apply it.
    model: BaseModel


def _scrub(message: str, value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return message
    text = str(value)
    if len(text) >= _SCRUB_MIN_LENGTH and text in message:
        return message.replace(text, "<value>")
    return message


def describe_validation_error(exc: ValidationError, *, prefix: str = "") -> EventRejected:
    """The first problem as (dotted field, reason); the reason says how many more there are."""
    errors = exc.errors(include_url=False)
    if not errors:
        return EventRejected(prefix or "event", "is not valid")
    first = errors[0]
    path = ".".join(str(part) for part in first["loc"])
    field = ".".join(part for part in (prefix, path) if part) or "event"
    reason = str(first.get("msg") or "is not valid")
    for known in _VALUE_ERROR_PREFIXES:
        if reason.startswith(known):
            reason = reason[len(known) :]
    reason = _scrub(reason, first.get("input"))
    if len(errors) > 1:
        more = len(errors) - 1
        reason += f" (and {more} more problem{'s' if more > 1 else ''})"
    return EventRejected(field, reason)


def check_event(
    raw: Mapping[str, Any] | EventEnvelope, event_types: Mapping[str, type[BaseModel]]
) -> CheckedEvent:
    """Validate ``raw``; raises ``EventRejected`` naming the field."""
    if isinstance(raw, EventEnvelope):
        envelope = raw
    else:
        try:
            envelope = EventEnvelope.model_validate(raw)
        except ValidationError as exc:
            raise describe_validation_error(exc) from None
        except (TypeError, ValueError, RecursionError) as exc:
            # A mapping pydantic cannot even walk (a custom __getitem__ that raises...).
            raise EventRejected("event", f"cannot be read ({type(exc).__name__})") from None
    model = event_types.get(envelope.type)
    if model is None:
        raise EventRejected(
            "type",
            f"unknown event type {envelope.type!r} (known: {', '.join(sorted(event_types))})",
        )
    try:
        payload = model.model_validate(envelope.payload)
    except ValidationError as exc:
        raise describe_validation_error(exc, prefix="payload") from None
    dumped = payload.model_dump(mode="json")
    return CheckedEvent(envelope.model_copy(update={"payload": dumped}), dumped, payload)


def event_reference(raw: Any) -> str:
    """The event's own id when one can be read, for the dead letter's ``reference``."""
    if isinstance(raw, EventEnvelope):
        return raw.id
    if isinstance(raw, Mapping):
        value = raw.get("id")
        if isinstance(value, str | int) and not isinstance(value, bool):
            return str(value)[:256]
    return ""
