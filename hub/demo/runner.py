"""The offline demo: a fresh installation, an import with bad rows, governed sends.

It uses only public core paths (config loader, key checks, migrations, importer, consent,
minimised views, the outbox brick through its entry point), so it doubles as a smoke test of
the embedded default on a machine with nothing but Python.
"""

from __future__ import annotations

import asyncio
import shutil
from dataclasses import dataclass, field
from importlib.resources import as_file, files
from pathlib import Path
from typing import Any

from sqlmodel import col, select

from contracts import Channel
from hub.cli.keys_cmd import write_key_files
from hub.contacts.importer import ImportReport, import_contacts
from hub.runtime import Runtime, open_runtime
from hub.sending import send_message
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
# channel; transactional messages are exempt (but counted).
[pressure]
default_time_zone = "Europe/Paris"

[[pressure.caps]]
name = "marketing-daily"
calendar = "day"
limit = 1

[scenarios.welcome]
priority = 40

[scenarios.spring_sale]
priority = 20

[scenarios.order_confirmation]
kind = "transactional"
priority = 90

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
    sends: list[dict[str, Any]] = field(default_factory=list)
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


async def _sends(runtime: Runtime) -> list[dict[str, Any]]:
    with session_scope(runtime.ready_engine()) as session:
        customers = list(session.exec(select(Customer.id).order_by(col(Customer.created_at))))
    rows = []
    plan = [
        (Channel.EMAIL, "welcome", "welcome-1"),
        (Channel.SMS, "spring_sale", "sale-sms"),
        (Channel.EMAIL, "order_confirmation", "order-confirmed"),
    ]
    for customer_id in customers:
        for channel, scenario, template in plan:
            outcome = await send_message(
                runtime,
                customer_id=customer_id,
                channel=channel,
                scenario=scenario,
                template=template,
                variables={"brand": "Demo Shop"},
            )
            error = outcome.result.error if outcome.result else None
            until = outcome.decision.until
            rows.append(
                {
                    "customer_id": customer_id,
                    "channel": channel.value,
                    "kind": runtime.ledger.policy.scenario(scenario).kind.value,
                    "scenario": scenario,
                    "status": outcome.status,
                    "reason": error.message if error else outcome.decision.reason,
                    "until": until.isoformat() if until else None,
                }
            )
    return rows


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
        report.sends = asyncio.run(_sends(runtime))
        settings = runtime.bricks["outbox"].settings
        report.outbox = Path(runtime.settings.data_dir) / settings.path  # type: ignore[union-attr]
        report.plaintext_hits = _plaintext_hits(
            runtime, ["camille.martin@example.com", "+33612345601", "Bernard", "lea.bernard"]
        )
        asyncio.run(runtime.aclose())
        return report
    finally:
        runtime.engine.dispose()
