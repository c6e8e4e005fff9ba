"""``hub governance report``: what each brick may receive, holds, received, and under which
consent, plus the pressure policy in words. Built from config and a few GROUP BY queries.

Each number says where it comes from (``held_measure``), because a sender keeps no contact
list the hub could know about: for contact sinks the hub's own record of what the sink
confirmed (``sink_contacts``), for senders and audience sinks the distinct customers the
egress audit log says they received data about.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine

from contracts import Capability, Channel, Purpose
from hub.config import ConfiguredBrick, HubSettings
from hub.governance import facts
from hub.governance.policy_words import PolicyLine, describe_policy
from hub.pressure.policy import Policy

__all__ = ["WINDOW_DAYS", "BrickReport", "GovernanceReport", "build_report"]

#: Transfers per day are shown for this many UTC days, ending with the report's day.
WINDOW_DAYS = 30
#: Purposes whose processing needs the person's consent (a transactional message does not).
CONSENT_PURPOSES = frozenset({Purpose.MARKETING, Purpose.PROFILING, Purpose.ANALYTICS})
_RECEIVING = frozenset({Capability.SENDER, Capability.AUDIENCE_SINK, Capability.CONTACT_SINK})


@dataclass
class BrickReport:
    name: str
    status: str  # enabled | disabled | decommissioned | not installed
    installed: bool
    description: str = ""
    version: str = ""
    plugin: str = ""
    capabilities: list[str] = field(default_factory=list)
    channels: list[str] = field(default_factory=list)
    allowed_fields: list[str] = field(default_factory=list)
    purposes: list[str] = field(default_factory=list)
    #: ``sink_contacts`` (what the sink confirmed holding), ``audit_log`` (distinct customers
    #: it received data about) or ``none`` (nothing ever leaves the hub towards it).
    held_measure: str = "none"
    held: int = 0
    held_states: dict[str, int] = field(default_factory=dict)
    last_transfer: datetime | None = None
    transfers_total: int = 0
    daily: list[tuple[str, int]] = field(default_factory=list)
    actions: dict[str, int] = field(default_factory=dict)
    consent_purposes: list[str] = field(default_factory=list)
    consent_channels: list[str] = field(default_factory=list)
    covered: int | None = None
    covered_by_channel: dict[str, int] = field(default_factory=dict)
    never_used: bool = False
    decommissioned_at: datetime | None = None

    @property
    def receives_data(self) -> bool:
        return self.status == "enabled"

    @property
    def transfers_window(self) -> int:
        return sum(count for _, count in self.daily)

    @property
    def coverage(self) -> float | None:
        if self.covered is None or not self.held:
            return None
        return self.covered / self.held

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "status": self.status,
            "installed": self.installed,
            "receives_data": self.receives_data,
            "description": self.description,
            "version": self.version,
            "plugin": self.plugin,
            "capabilities": self.capabilities,
            "channels": self.channels,
            "allowed_fields": self.allowed_fields,
            "purposes": self.purposes,
            "holds": {
                "measure": self.held_measure,
                "customers": self.held,
                "states": self.held_states,
            },
            "last_transfer": self.last_transfer.isoformat() if self.last_transfer else None,
            "transfers_total": self.transfers_total,
            "transfers_last_days": self.transfers_window,
            "transfers_per_day": dict(self.daily),
            "audit_actions": self.actions,
            "consent_coverage": {
                "purposes": self.consent_purposes,
                "channels": self.consent_channels,
                "customers": self.held,
                "covered": self.covered,
                "share": self.coverage,
                "covered_by_channel": self.covered_by_channel,
            },
            "never_used": self.never_used,
            "decommissioned_at": (
                self.decommissioned_at.isoformat() if self.decommissioned_at else None
            ),
        }


@dataclass
class GovernanceReport:
    generated_at: datetime
    at: datetime
    config_path: str | None
    rule_set_version: str
    window_start: str
    bricks: list[BrickReport]
    #: Installed bricks with no config section and no history: listed by name only.
    unconfigured: list[str]
    policy: list[PolicyLine]

    @property
    def never_used(self) -> list[str]:
        return [b.name for b in self.bricks if b.never_used]

    def counts(self) -> dict[str, int]:
        statuses = [b.status for b in self.bricks]
        return {
            "bricks": len(self.bricks),
            "enabled": statuses.count("enabled"),
            "disabled": statuses.count("disabled"),
            "decommissioned": statuses.count("decommissioned"),
            "not_installed": statuses.count("not installed"),
            "transfers_last_days": sum(b.transfers_window for b in self.bricks),
        }

    def as_json(self) -> dict[str, Any]:
        return {
            "generated_at": self.generated_at.isoformat(),
            "at": self.at.isoformat(),
            "config_path": self.config_path,
            "rule_set_version": self.rule_set_version,
            "window_days": WINDOW_DAYS,
            "window_start": self.window_start,
            "summary": {
                **self.counts(),
                "never_used": self.never_used,
                "installed_not_configured": self.unconfigured,
            },
            "bricks": [b.as_json() for b in self.bricks],
            "policy": [line.as_json() for line in self.policy],
        }


def _governance(brick: ConfiguredBrick, settings: HubSettings) -> tuple[list[str], list[str]]:
    """Allowed fields and purposes: as enforced when enabled, else as the section writes them
    (what the brick would receive if switched back on)."""
    cls = brick.cls
    if brick.enabled:
        fields = sorted(f.value for f in brick.allowed_fields)
        return fields, sorted(p.value for p in brick.purposes)
    section = settings.bricks.get(brick.name)
    if section is None:
        return [], sorted(p.value for p in cls.purposes)
    purposes = set(section.purposes) if section.purposes is not None else set(cls.purposes)
    return (
        sorted(f.value for f in set(section.allowed_fields) & cls.fields),
        sorted(p.value for p in purposes & cls.purposes),
    )


def _describe(report: BrickReport, brick: ConfiguredBrick, settings: HubSettings) -> None:
    cls = brick.cls
    report.description = str(getattr(cls, "description", ""))
    report.version = str(getattr(cls, "version", ""))
    report.plugin = brick.plugin
    report.capabilities = sorted(c.value for c in cls.capabilities)
    report.channels = sorted(c.value for c in cls.channels)
    report.allowed_fields, report.purposes = _governance(brick, settings)


def build_report(
    engine: Engine,
    bricks: Mapping[str, ConfiguredBrick],
    settings: HubSettings,
    *,
    at: datetime | None = None,
    generated_at: datetime | None = None,
    config_path: Path | None = None,
) -> GovernanceReport:
    """The report as of ``at`` (default now): audit rows, consents and decommissions after
    ``at`` are ignored; ``sink_contacts`` has no history, so it is always the current state."""
    generated = generated_at or datetime.now(UTC)
    at = (at or generated).astimezone(UTC)
    first_day = at.date() - timedelta(days=WINDOW_DAYS - 1)
    since = datetime.combine(first_day, time(0), tzinfo=UTC)
    days = [(first_day + timedelta(days=i)).isoformat() for i in range(WINDOW_DAYS)]
    with engine.connect() as conn:
        facts.prefer_set_plans(conn)
        totals = facts.action_totals(conn, at)
        daily = facts.daily_transfers(conn, since, at)
        sinks = facts.sink_states(conn)
        retired = facts.decommissions(conn, at)
        polled = facts.polled_bricks(conn)
        # Installed bricks nobody configured and nothing ever reached are only named: a long
        # list of "disabled, never used" would bury the bricks that matter.
        relevant = {n for n, b in bricks.items() if b.enabled or n in settings.bricks}
        names = sorted(relevant | set(totals) | set(sinks) | set(retired))
        unconfigured = sorted(set(bricks) - set(names))
        reports: list[BrickReport] = []
        plans: list[facts.HoldingPlan] = []
        for name in names:
            configured = bricks.get(name)
            status = configured.status if configured is not None else "not installed"
            if name in retired:
                status = "decommissioned"
            report = BrickReport(name, status, configured is not None)
            if configured is not None:
                _describe(report, configured, settings)
            if name in retired:
                report.decommissioned_at = retired[name].at
            by_action = totals.get(name, {})
            report.actions = {a: t.count for a, t in sorted(by_action.items())}
            transfer = by_action.get(facts.TRANSFER)
            if transfer is not None:
                report.transfers_total, report.last_transfer = transfer.count, transfer.last_at
            report.daily = [(day, daily.get(name, {}).get(day, 0)) for day in days]
            plan = _plan(report, configured, sinks.get(name))
            if plan is not None:
                plans.append(plan)
            report.never_used = status == "enabled" and not by_action and name not in polled
            reports.append(report)
        held = facts.holdings(conn, plans, at)
    for report in reports:
        if report.name in held:
            found = held[report.name]
            if report.held_measure == "audit_log":  # sink counts come from sink_states
                report.held = found.held
            report.covered, report.covered_by_channel = found.covered, found.covered_by_channel
    policy = Policy(settings.pressure, settings.scenarios)
    return GovernanceReport(
        generated_at=generated,
        at=at,
        config_path=str(config_path) if config_path is not None else None,
        rule_set_version=policy.version,
        window_start=days[0],
        bricks=reports,
        unconfigured=unconfigured,
        policy=describe_policy(settings.pressure, settings.scenarios),
    )


def _plan(
    report: BrickReport, configured: ConfiguredBrick | None, sink_states: dict[str, int] | None
) -> facts.HoldingPlan | None:
    """Which measure applies to the brick, and which consent covers what it holds."""
    capabilities = configured.cls.capabilities if configured is not None else frozenset()
    if sink_states is not None or Capability.CONTACT_SINK in capabilities:
        report.held_measure = "sink_contacts"
        report.held_states = dict(sorted((sink_states or {}).items()))
        report.held = sum(report.held_states.get(s, 0) for s in facts.HELD_STATES)
    elif capabilities & _RECEIVING or report.transfers_total:
        report.held_measure = "audit_log"
    else:
        return None
    if configured is None:  # not installed: its channels and purposes are unknown
        return facts.HoldingPlan(report.name, report.held_measure)
    purposes = [p.value for p in Purpose if p.value in report.purposes and p in CONSENT_PURPOSES]
    channels = [c.value for c in Channel if c in configured.cls.channels] or [
        c.value for c in Channel
    ]
    report.consent_purposes, report.consent_channels = purposes, channels
    return facts.HoldingPlan(report.name, report.held_measure, tuple(channels), tuple(purposes))
