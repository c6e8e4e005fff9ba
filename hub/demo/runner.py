"""The offline demo: a fresh installation, an import with bad rows, then a week of customer
moments and a campaign replayed on a virtual clock through the live intake, scenario worker,
consent, pressure ledger and outbox brick.

It uses only public core paths (config loader, key checks, migrations, importer, event intake,
worker, send path, the outbox brick through its entry point), so it doubles as a smoke test of
the embedded default on a machine with nothing but Python.
"""

from __future__ import annotations

import asyncio
import shutil
from dataclasses import dataclass, field
from datetime import datetime
from importlib.resources import as_file, files
from pathlib import Path
from typing import Any

from sqlmodel import col, select

from contracts import Channel
from hub.cli.keys_cmd import write_key_files
from hub.cli.output import mask
from hub.contacts.importer import ImportReport, import_contacts
from hub.contacts.lookup import CustomerNotFound, find_customer
from hub.demo.story import CAMPAIGN_AT, DEMO_MONDAY, WEEK, campaign_channels, week_events
from hub.reports.centricity import centricity
from hub.reports.periods import Period
from hub.runtime import Runtime, open_runtime
from hub.sending import send_message
from hub.simulate import SimulatedDecision, replay
from hub.storage.db import session_scope, upgrade
from hub.storage.models import Customer

__all__ = ["DemoReport", "run_demo"]

_CONFIG = """\
# Written by `hub demo`: an embedded installation in this folder.
data_dir = "{dir}"

[security]
pepper = {{file = "{dir}/keys/pepper"}}
master_key = {{file = "{dir}/keys/master_key"}}
pseudonym_key = {{file = "{dir}/keys/pseudonym_key"}}

[identity]
default_region = "FR"

# Commercial pressure: at most one marketing message per local calendar day, whatever the
# channel, and none at night; transactional messages are exempt (but counted).
[pressure]
default_time_zone = "Europe/Paris"

[[pressure.caps]]
name = "marketing-daily"
calendar = "day"
limit = 1

[[pressure.quiet_hours]]
start = "21:00"
end = "08:00"

# Customer moments (docs/scenarios.md). Templates are names the outbox records.
[scenarios.cart_recovery]
trigger = "cart.abandoned"
cancel_if = ["order.placed"]
channels = ["email"]
variables = ["cart_url", "total", "currency"]
priority = 80
max_delay = "24h"
steps = [
  {{delay = "1h", template = "cart-reminder"}},
  {{delay = "24h", template = "cart-reminder-sms", channels = ["sms"]}},
]

[scenarios.welcome_series]
trigger = "customer.signed_up"
channels = ["email"]
priority = 60
steps = [{{delay = "0s", template = "welcome-1"}}, {{delay = "3d", template = "welcome-2"}}]

[scenarios.order_confirmation]
kind = "transactional"
trigger = "order.placed"
channels = ["email"]
priority = 100
steps = [{{delay = "0s", template = "order-confirmation"}}]

# A campaign, sent by hand (not triggered by a customer moment).
[scenarios.spring_sale]
priority = 20

[bricks.outbox]
enabled = true
allowed_fields = ["email", "phone", "first_name", "locale"]
path = "outbox.jsonl"
"""


@dataclass
class DemoReport:
    directory: Path
    first_import: ImportReport
    second_import: ImportReport
    week_start: datetime | None = None
    timeline: list[dict[str, Any]] = field(default_factory=list)
    events: dict[str, int] = field(default_factory=dict)
    centricity: dict[str, Any] = field(default_factory=dict)
    outbox: Path | None = None
    plaintext_hits: int = 0


def _prepare(directory: Path, fresh: bool) -> Path:
    if fresh and directory.exists():
        shutil.rmtree(directory)
    directory.mkdir(parents=True, exist_ok=True)
    if not (directory / "keys").exists():
        write_key_files(directory / "keys")
    config = directory / "hub.toml"
    config.write_text(_CONFIG.format(dir=directory.resolve().as_posix()), encoding="utf-8")
    return config


def _plaintext_hits(runtime: Runtime, needles: list[str]) -> int:
    """Scan the database file bytes for contact points: the vault must hide them all."""
    runtime.engine.dispose()  # closing the last connection checkpoints the WAL
    data = Path(runtime.settings.data_dir)
    blob = b"".join(p.read_bytes() for p in data.glob("hub.db*")).lower()
    return sum(blob.count(needle.lower().encode()) for needle in needles)


#: The people the demo talks about, shown masked (the hub itself only knows digests).
_PEOPLE = (
    "camille.martin@example.com",
    "lea.bernard@example.org",
    "hugo.petit@example.net",
    "noah.smith@example.com",
    "amelia.jones@example.co.uk",
    "ines.garcia@example.es",
)


def _names(runtime: Runtime) -> dict[str, str]:
    """Customer id -> masked email, found through the same keyed digests a lookup uses."""
    names: dict[str, str] = {}
    with session_scope(runtime.engine) as session:
        for email in _PEOPLE:
            try:
                customer_id = find_customer(session, runtime.identity, email=email)
            except CustomerNotFound:
                continue
            names[customer_id] = mask("email", email)
    return names


def _row(at: datetime, decision: SimulatedDecision) -> dict[str, Any]:
    return {
        "at": at.isoformat(),
        "customer_id": decision.customer_id,
        "scenario": decision.scenario,
        "step": decision.step,
        "channel": decision.channel,
        "outcome": decision.outcome,
        "reason": decision.reason,
        "until": decision.until.isoformat() if decision.until else None,
        "triggered": True,
    }


async def _campaign(runtime: Runtime, at: datetime) -> list[dict[str, Any]]:
    """The spring sale, by email and SMS to every customer, decided at ``at``."""
    with session_scope(runtime.engine) as session:
        customers = list(session.exec(select(Customer.id).order_by(col(Customer.created_at))))
    rows = []
    for customer_id in customers:
        for channel in campaign_channels():
            outcome = await send_message(
                runtime,
                customer_id=customer_id,
                channel=Channel(channel),
                scenario="spring_sale",
                template=f"spring-sale-{channel}",
                variables={"brand": "Demo Shop"},
                now=at,
            )
            error = outcome.result.error if outcome.result else None
            until = outcome.decision.until
            rows.append(
                {
                    "at": at.isoformat(),
                    "customer_id": customer_id,
                    "scenario": "spring_sale",
                    "step": 0,
                    "channel": channel,
                    "outcome": outcome.status,
                    "reason": error.message if error else outcome.decision.reason,
                    "until": until.isoformat() if until else None,
                    "triggered": False,
                }
            )
    return rows


def _play_week(runtime: Runtime, report: DemoReport) -> None:
    """Replay the week on a virtual clock through the live intake, worker and outbox."""
    monday = DEMO_MONDAY
    campaign = monday + CAMPAIGN_AT
    events = week_events(monday)
    before = [e for e in events if datetime.fromisoformat(e["occurred_at"]) < campaign]
    after = [e for e in events if datetime.fromisoformat(e["occurred_at"]) >= campaign]
    first = replay(runtime, before, start=monday, end=campaign)
    sale = asyncio.run(_campaign(runtime, campaign))
    second = replay(runtime, after, start=campaign, end=monday + WEEK)
    rows = [_row(d.at, d) for d in first.decisions] + sale
    rows += [_row(d.at, d) for d in second.decisions]
    names = _names(runtime)
    for row in rows:
        row["who"] = names.get(row["customer_id"], row["customer_id"][:12] + "…")
    report.week_start = monday
    report.timeline = rows
    report.events = {
        "accepted": first.events_accepted + second.events_accepted,
        "rejected": len(first.events_rejected) + len(second.events_rejected),
    }
    weekly = centricity(runtime.engine, Period.WEEK, since=monday, until=monday + WEEK)
    triggered = sum(r.triggered for r in weekly)
    total = sum(r.total for r in weekly)
    report.centricity = {
        "triggered": triggered,
        "total": total,
        "ratio": triggered / total if total else None,
    }


def run_demo(directory: Path, *, fresh: bool = True) -> DemoReport:
    config = _prepare(directory, fresh)
    runtime = open_runtime(config)
    try:
        upgrade(runtime.engine)
        sample = files("hub.demo") / "data" / "contacts.csv"
        with as_file(sample) as path:
            args = (runtime.engine, runtime.identity, runtime.vault, path)
            first = import_contacts(*args, source="demo:contacts.csv")
            second = import_contacts(*args, source="demo:contacts.csv")
        report = DemoReport(directory, first, second)
        _play_week(runtime, report)
        settings = runtime.bricks["outbox"].settings
        report.outbox = Path(runtime.settings.data_dir) / settings.path  # type: ignore[union-attr]
        report.plaintext_hits = _plaintext_hits(
            runtime, ["camille.martin@example.com", "+33612345601", "Bernard", "lea.bernard"]
        )
        asyncio.run(runtime.aclose())
        return report
    finally:
        runtime.engine.dispose()
