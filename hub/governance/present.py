"""Display strings shared by the terminal and the HTML report, so both say the same thing."""

from __future__ import annotations

from datetime import UTC, datetime

from hub.governance.report import BrickReport

__all__ = [
    "MEASURES",
    "UNKNOWN",
    "coverage_text",
    "fields_text",
    "holds_text",
    "instant",
    "known",
    "listing",
    "transfers_text",
]

#: What each ``held_measure`` means, in the words the report prints next to the number.
MEASURES = {
    "sink_contacts": "contacts the brick confirmed holding, present or unsubscribed there",
    "audit_log": "distinct customers it received data about, per the egress audit log",
    "none": "nothing leaves the hub towards this brick",
}


UNKNOWN = "unknown (brick not installed)"


def instant(value: datetime | None) -> str:
    return "never" if value is None else value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def listing(values: list[str]) -> str:
    return ", ".join(values) if values else "none"


def holds_text(brick: BrickReport) -> str:
    if brick.held_measure == "none":
        return MEASURES["none"]
    text = f"{brick.held} ({MEASURES[brick.held_measure]})"
    if brick.held_measure == "sink_contacts" and brick.held_states:
        states = brick.held_states
        present, unsubscribed = states.get("present", 0), states.get("unsubscribed", 0)
        text += f": {present} present, {unsubscribed} unsubscribed"
        others = {s: n for s, n in states.items() if s not in ("present", "unsubscribed")}
        if others:
            listed = ", ".join(f"{n} {state}" for state, n in others.items())
            text += f"; not counted: {listed}"
    return text


def fields_text(brick: BrickReport) -> str:
    """What may leave towards the brick now; a switched-off brick receives nothing at all."""
    if not brick.installed:
        return UNKNOWN
    allowed = listing(brick.allowed_fields)
    if brick.receives_data:
        return f"{allowed} (plus its pseudonym)"
    return f"nothing while {brick.status} (config allows: {allowed})"


def known(brick: BrickReport, values: list[str]) -> str:
    """A list read from the brick's class: unknown once the brick is no longer installed."""
    return listing(values) if brick.installed else UNKNOWN


def coverage_text(brick: BrickReport) -> str:
    if brick.held_measure == "none":
        return "not applicable (holds no customer data)"
    if not brick.installed:
        return UNKNOWN
    if not brick.consent_purposes:
        return "not applicable (no purpose that needs consent: " + listing(brick.purposes) + ")"
    purposes, channels = " and ".join(brick.consent_purposes), " or ".join(brick.consent_channels)
    needs = f"{purposes} granted on {channels}"
    share = brick.coverage
    if share is None:
        return f"no customer held (needs {needs})"
    per_channel = ""
    if len(brick.covered_by_channel) > 1:
        per_channel = "; per channel: " + ", ".join(
            f"{channel} {count}" for channel, count in brick.covered_by_channel.items()
        )
    return f"{share:.0%} ({brick.covered} of {brick.held} customers; needs {needs}){per_channel}"


def transfers_text(brick: BrickReport, days: int) -> str:
    return f"{brick.transfers_window} in the last {days} days, {brick.transfers_total} in all"
