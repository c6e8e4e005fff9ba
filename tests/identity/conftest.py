"""An installation on each backend, event builders, and a scripted identity link source."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar

import pytest
from sqlmodel import select

from contracts import (
    Brick,
    Capability,
    Contact,
    Identifier,
    IdentifierKind,
    IdentityLink,
    IdentityLinkPage,
    LinkEvidence,
)
from hub.contacts.apply import apply_contact
from hub.events.intake import IntakeReport, ingest_events
from hub.plugins import PluginHost, build_plugin_host
from hub.runtime import Runtime, open_runtime
from hub.sdk import hookimpl
from hub.storage.db import session_scope, upgrade
from hub.storage.models import CustomerEvent, DeadLetter
from hub.testing import make_installation
from tests.conftest import OUTBOX

#: A cap of 2 marketing emails a week: one contact in each of two histories fills it.
POLICY = """
[pressure]
default_time_zone = "UTC"
[[pressure.caps]]
name = "weekly"
limit = 2
window = "7d"
[scenarios.promo]
[scenarios.welcome]
"""
NOW = datetime.now(UTC).replace(microsecond=0)


def when(offset: timedelta = timedelta(0)) -> str:
    return (NOW - timedelta(hours=1) + offset).isoformat()


def email(value: str, *, verified: bool = False) -> dict[str, Any]:
    return {"kind": "email", "value": value, "verified": verified}


def cookie(value: str, kind: str = "site_cookie", namespace: str = "web") -> dict[str, Any]:
    return {"kind": kind, "value": value, "namespace": namespace}


def page_view(event_id: str, *identifiers: dict[str, Any], url: str = "https://shop.example/a",
              at: str | None = None) -> dict[str, Any]:
    return {
        "id": event_id,
        "type": "page.viewed",
        "source": "site",
        "occurred_at": at or when(),
        "identifiers": list(identifiers),
        "payload": {"url": url, "title": "A page"},
    }


def login(event_id: str, *identifiers: dict[str, Any], at: str | None = None) -> dict[str, Any]:
    return {
        "id": event_id,
        "type": "customer.logged_in",
        "source": "site",
        "occurred_at": at or when(),
        "identifiers": list(identifiers),
        "payload": {"method": "password"},
    }


class Dmp(Brick):
    """An identity link source serving scripted pages by cursor."""

    name: ClassVar[str] = "dmp"
    version: ClassVar[str] = "1.0.0"
    description: ClassVar[str] = "Scripted identity link source"
    capabilities: ClassVar[frozenset[Capability]] = frozenset({Capability.IDENTITY_LINK_SOURCE})
    pages: ClassVar[dict[str | None, IdentityLinkPage]] = {}
    failures: ClassVar[list[Exception]] = []
    asked: ClassVar[list[str | None]] = []

    async def read_links(self, cursor: str | None) -> IdentityLinkPage:
        Dmp.asked.append(cursor)
        if Dmp.failures:
            raise Dmp.failures.pop(0)
        return Dmp.pages[cursor]


class DmpPlugin:
    @hookimpl
    def hub_register_bricks(self, register) -> None:
        register(Dmp)


def dmp_host(**kwargs: Any) -> PluginHost:
    return build_plugin_host(extra_plugins=[("dmp-plugin", DmpPlugin())], **kwargs)


def link(*identifiers: Identifier, evidence: str = "login", ref: str | None = None,
         observed_at: datetime | None = None) -> IdentityLink:
    return IdentityLink(
        identifiers=list(identifiers),
        evidence=LinkEvidence(evidence),
        observed_at=observed_at or NOW - timedelta(minutes=5),
        source_event_id=ref,
    )


def ident(kind: str, value: str, *, verified: bool = False, namespace: str = "") -> Identifier:
    return Identifier(kind=IdentifierKind(kind), value=value, verified=verified,
                      namespace=namespace)


@dataclass
class Hub:
    runtime: Runtime
    config: Path

    def ingest(self, *events: dict[str, Any], source: str = "api") -> IntakeReport:
        return ingest_events(self.runtime, list(events), source=source)

    def customer(self, address: str, *, verified: bool = True) -> str:
        contact = Contact(identifiers=[Identifier(kind=IdentifierKind.EMAIL, value=address,
                                                  verified=verified)])
        with session_scope(self.runtime.engine) as session:
            return apply_contact(session, self.runtime.identity, contact,
                                 source="crm").customer_id

    def events_of(self, customer_id: str) -> list[str]:
        with session_scope(self.runtime.engine) as session:
            rows = session.exec(
                select(CustomerEvent)
                .where(CustomerEvent.customer_id == customer_id)
                .order_by(CustomerEvent.source_event_id)
            )
            return [row.source_event_id for row in rows]

    def letters(self) -> list[DeadLetter]:
        with session_scope(self.runtime.engine) as session:
            return list(session.exec(select(DeadLetter).order_by(DeadLetter.id)))


@pytest.fixture
def hub(tmp_path: Path, database_url: str) -> Iterator[Hub]:
    """A migrated installation (SQLite and PostgreSQL) with the scripted DMP brick enabled."""
    Dmp.pages, Dmp.failures, Dmp.asked = {}, [], []
    installation = make_installation(
        tmp_path / "hub",
        database_url=database_url,
        extra=POLICY + '[sending]\nbackoff_initial = "1s"\nmax_attempts = 2\n',
        bricks=OUTBOX + "[bricks.dmp]\n",
        migrate=False,
    )
    runtime = open_runtime(installation.config, host=dmp_host())
    upgrade(runtime.engine)
    yield Hub(runtime, installation.config)
    asyncio.run(runtime.aclose())
