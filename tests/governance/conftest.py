"""A crafted governance history, on each backend: bricks of every kind, audit rows, what a
sink holds, consents (with a statement after the report's instant), decommissions.

The bricks are small fakes defined here, so the numbers depend on nothing a bundled brick
might change; ``ConfiguredBrick`` is built the way ``configure_bricks`` builds it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import ClassVar

import pytest
from sqlalchemy import insert
from sqlalchemy.engine import Engine

from contracts import Brick, Capability, Channel, CustomerField, Purpose
from hub.config import ConfiguredBrick, HubSettings, load_settings
from hub.storage.db import create_db_engine, normalise_url, upgrade
from hub.storage.models import (
    AuditEntry,
    BrickDecommission,
    ConsentEntry,
    Customer,
    SinkContact,
    SourceCursor,
    table,
)

AT = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)


class CrmSink(Brick):
    name: ClassVar[str] = "crm_sink"
    version: ClassVar[str] = "2.0.0"
    description: ClassVar[str] = "A contact sink (test fake)"
    capabilities = frozenset({Capability.CONTACT_SINK, Capability.SENDER})
    channels = frozenset({Channel.EMAIL})
    fields = frozenset({CustomerField.EMAIL, CustomerField.FIRST_NAME, CustomerField.LOCALE})
    purposes = frozenset({Purpose.MARKETING, Purpose.TRANSACTIONAL})


class SmsGateway(Brick):
    name: ClassVar[str] = "sms_gw"
    version: ClassVar[str] = "1.0.0"
    description: ClassVar[str] = "SMS and push sender (test fake)"
    capabilities = frozenset({Capability.SENDER})
    channels = frozenset({Channel.SMS, Channel.PUSH})
    fields = frozenset({CustomerField.PHONE, CustomerField.PUSH_TOKEN})
    purposes = frozenset({Purpose.MARKETING})


class Dmp(Brick):
    name: ClassVar[str] = "dmp"
    version: ClassVar[str] = "1.0.0"
    description: ClassVar[str] = "Audience sink without channels (test fake)"
    capabilities = frozenset({Capability.AUDIENCE_SINK})
    purposes = frozenset({Purpose.PROFILING})


class Receipts(Brick):
    name: ClassVar[str] = "receipts"
    version: ClassVar[str] = "1.0.0"
    description: ClassVar[str] = "Transactional email only (test fake)"
    capabilities = frozenset({Capability.SENDER})
    channels = frozenset({Channel.EMAIL})
    fields = frozenset({CustomerField.EMAIL})
    purposes = frozenset({Purpose.TRANSACTIONAL})


class Shop(Brick):
    name: ClassVar[str] = "shop"
    version: ClassVar[str] = "1.0.0"
    description: ClassVar[str] = "Event source (test fake)"
    capabilities = frozenset({Capability.EVENT_SOURCE})


class IdleMail(Brick):
    name: ClassVar[str] = "idle_mail"
    version: ClassVar[str] = "1.0.0"
    description: ClassVar[str] = "Enabled, never used (test fake)"
    capabilities = frozenset({Capability.SENDER})
    channels = frozenset({Channel.EMAIL})
    fields = frozenset({CustomerField.EMAIL})


class OffMail(IdleMail):
    name: ClassVar[str] = "off_mail"


class Retired(IdleMail):
    name: ClassVar[str] = "retired"


def configured(cls: type[Brick], status: str = "enabled", **overrides: object) -> ConfiguredBrick:
    enabled = status == "enabled"
    return ConfiguredBrick(
        name=cls.name,
        cls=cls,
        plugin=f"{cls.name}-plugin",
        status=status,
        settings=None,
        allowed_fields=(
            overrides.get("allowed_fields", cls.fields) if enabled else frozenset()  # type: ignore[arg-type]
        ),
        purposes=cls.purposes if enabled else frozenset(),
    )


BRICKS = {
    b.name: b
    for b in (
        configured(CrmSink, allowed_fields=frozenset({CustomerField.EMAIL, CustomerField.LOCALE})),
        configured(SmsGateway),
        configured(Dmp),
        configured(Receipts),
        configured(Shop),
        configured(IdleMail),
        configured(OffMail, "disabled"),
        configured(Retired),
    )
}

POLICY_TOML = """
[pressure]
default_time_zone = "Europe/Paris"
[[pressure.caps]]
name = "weekly"
limit = 3
window = "7d"
[[pressure.quiet_hours]]
start = "21:00"
end = "08:00"
[scenarios.welcome]
[bricks.off_mail]
enabled = false
allowed_fields = ["email"]
"""


@pytest.fixture
def settings(tmp_path: Path) -> HubSettings:
    path = tmp_path / "hub.toml"
    path.write_text(POLICY_TOML, encoding="utf-8")
    return load_settings(path)


@pytest.fixture
def engine(database_url: str, tmp_path: Path) -> Iterator[Engine]:
    built = create_db_engine(normalise_url(database_url, tmp_path))
    upgrade(built)
    yield built
    built.dispose()


def audit(n: int, at: datetime, brick: str | None, customer: str | None, **kw: str) -> dict:
    return {
        "at": at,
        "action": kw.get("action", "egress"),
        "actor": "test",
        "customer_id": customer,
        "brick": brick,
        "pseudonym": f"ps_{brick}_{customer}" if brick and customer else None,
        "fields": kw.get("fields", "email"),
        "purpose": kw.get("purpose", "marketing"),
        "request_id": f"req-{n}",
    }


def consent(customer: str, channel: str, purpose: str, status: str, at: datetime) -> dict:
    return {
        "customer_id": customer,
        "channel": channel,
        "purpose": purpose,
        "status": status,
        "source": "test",
        "recorded_at": at,
        "stored_at": at,
    }


def decommission(brick: str, at: datetime, reinstated: datetime | None = None) -> dict:
    return {
        "brick": brick,
        "actor": "test",
        "reason": None,
        "erase_remote": False,
        "status": "done",
        "at": at,
        "reinstated_at": reinstated,
    }


def fill_history(engine: Engine) -> None:
    """The history the report tests read; the expected numbers are worked out beside it."""
    customers = [f"cus_{i}" for i in range(1, 8)]
    audits = [
        # sms_gw: c1 x3, c2 x1, c5 x2 -> 3 distinct; 5 rows in the window, 1 before, 1 after AT
        audit(1, AT - timedelta(hours=1), "sms_gw", "cus_1"),
        audit(2, AT - timedelta(hours=2), "sms_gw", "cus_1"),
        audit(3, AT - DAY, "sms_gw", "cus_2"),
        audit(4, AT - 29 * DAY, "sms_gw", "cus_5"),  # 2026-10-22: first day of the window
        audit(5, AT - 31 * DAY, "sms_gw", "cus_5"),  # before the window, counted in all
        audit(6, AT - 3 * DAY, "sms_gw", "cus_1"),
        audit(7, AT + DAY, "sms_gw", "cus_6"),  # after AT: ignored everywhere
        # dmp: c1, c2
        audit(8, AT - 2 * DAY, "dmp", "cus_1", purpose="profiling", fields="audience"),
        audit(9, AT - 2 * DAY, "dmp", "cus_2", purpose="profiling", fields="audience"),
        # crm_sink: one transfer, one erase, one consent revocation (not transfers)
        audit(10, AT - 5 * DAY, "crm_sink", "cus_1"),
        audit(11, AT - 4 * DAY, "crm_sink", "cus_4", action="erase", fields=""),
        audit(12, AT - 4 * DAY, "crm_sink", "cus_3", action="consent_revoked"),
        # receipts: transactional only
        audit(13, AT - 6 * DAY, "receipts", "cus_2", purpose="transactional"),
        # old_esp: no longer installed, decommissioned
        audit(14, AT - 40 * DAY, "old_esp", "cus_1"),
        audit(15, AT - 39 * DAY, "old_esp", "cus_2"),
        # no brick: a reveal
        audit(16, AT - DAY, None, "cus_1", action="reveal", fields="email,phone"),
    ]
    sinks = [
        {
            "sink": "crm_sink",
            "customer_id": c,
            "pseudonym": f"ps_{c}",
            "state": s,
            "fields": "email",
            "updated_at": AT - 3 * DAY,
        }
        for c, s in [
            ("cus_1", "present"),
            ("cus_2", "present"),
            ("cus_3", "unsubscribed"),
            ("cus_4", "erased"),
        ]
    ]
    consents = [
        # crm_sink (email/marketing): c1 granted (a denial after AT is not yet current),
        # c2 granted then denied, c3 denied, c4 granted but erased there -> 1 of 3 covered
        consent("cus_1", "email", "marketing", "granted", AT - 10 * DAY),
        consent("cus_1", "email", "marketing", "denied", AT + DAY),
        consent("cus_2", "email", "marketing", "granted", AT - 10 * DAY),
        consent("cus_2", "email", "marketing", "denied", AT - 2 * DAY),
        consent("cus_3", "email", "marketing", "denied", AT - 10 * DAY),
        consent("cus_4", "email", "marketing", "granted", AT - 10 * DAY),
        # sms_gw (sms or push / marketing): c1 via sms, c2 via push, c5 none -> 2 of 3
        consent("cus_1", "sms", "marketing", "granted", AT - 10 * DAY),
        consent("cus_2", "push", "marketing", "granted", AT - 10 * DAY),
        consent("cus_5", "email", "marketing", "granted", AT - 10 * DAY),
        # dmp (profiling, any channel): c1 on email -> 1 of 2
        consent("cus_1", "email", "profiling", "granted", AT - 10 * DAY),
        consent("cus_2", "sms", "profiling", "denied", AT - 10 * DAY),
    ]
    decommissions = [
        decommission("old_esp", AT - 30 * DAY),
        decommission("retired", AT - 5 * DAY),
        # decommissioned once, reinstated: in service again
        decommission("dmp", AT - 60 * DAY, reinstated=AT - 50 * DAY),
    ]
    with engine.begin() as conn:
        conn.execute(
            insert(table(Customer)),
            [{"id": c, "status": "active", "created_at": AT, "updated_at": AT} for c in customers],
        )
        conn.execute(insert(table(AuditEntry)), audits)
        conn.execute(insert(table(SinkContact)), sinks)
        conn.execute(insert(table(ConsentEntry)), consents)
        conn.execute(insert(table(BrickDecommission)), decommissions)
        conn.execute(
            insert(table(SourceCursor)), [{"brick": "shop", "stream": "events", "updated_at": AT}]
        )


# -- through the CLI: two real people, real sends, a reveal -------------------------------------
CSV = (
    "email,phone,first_name,last_name,consent_email,consent_sms\n"
    "ada@example.com,+33 6 12 34 56 78,Ada,Lovelace,yes,yes\n"
    "grace@example.org,+33 7 98 76 54 32,Grace,Hopper,yes,no\n"
)
#: Every personal value of the two people, in the spellings they could take.
PII = (
    "ada@example.com", "grace@example.org", "+33612345678", "+33798765432", "6 12 34 56 78",
    "612345678", "798765432", "Ada", "Lovelace", "Grace", "Hopper",
)


def hub(run_cli, installation, *args):
    return run_cli("--config", str(installation.config), *args)


def assert_no_pii(*outputs: str) -> None:
    for output in outputs:
        for value in PII:
            assert value not in output, f"{value!r} printed"


@pytest.fixture
def people(run_cli, installation, tmp_path):
    """Two imported people, three messages sent through the outbox, one reveal."""
    path = tmp_path / "people.csv"
    path.write_text(CSV, encoding="utf-8")
    assert hub(run_cli, installation, "contacts", "import", str(path)).code == 0
    ids = {}
    for name, email in (("ada", "ada@example.com"), ("grace", "grace@example.org")):
        shown = hub(run_cli, installation, "contacts", "show", "--email", email, "--json")
        ids[name] = json.loads(shown.out)["customer_id"]
    sends = [("ada", "email"), ("ada", "sms"), ("grace", "email")]
    for index, (name, channel) in enumerate(sends):
        result = hub(run_cli, installation, "send", "--customer", ids[name], "--channel",
                     channel, "--scenario", "order_confirmation", "--template", f"t{index}")
        assert result.code == 0, result.err
    revealed = hub(run_cli, installation, "contacts", "show", ids["grace"], "--reveal")
    assert revealed.code == 0
    return installation, ids
