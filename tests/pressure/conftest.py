"""Fixtures for pressure tests: an installation with a given policy, customers, a ledger."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import update

from contracts import Contact, Identifier, IdentifierKind
from hub.contacts.apply import apply_contact
from hub.pressure.ledger import Ledger
from hub.pressure.policy import Policy
from hub.runtime import Runtime
from hub.storage.db import session_scope
from hub.storage.models import Customer
from hub.testing import make_installation


@dataclass
class PressureHub:
    runtime: Runtime
    ledger: Ledger
    config: Path

    def customer(self, email: str = "p@example.com", time_zone: str | None = None) -> str:
        """Create (or find) a customer; ``time_zone`` is stored on the customer row."""
        contact = Contact(
            identifiers=[Identifier(kind=IdentifierKind.EMAIL, value=email)],
            time_zone=time_zone,
        )
        with session_scope(self.runtime.engine) as session:
            customer_id = apply_contact(
                session, self.runtime.identity, contact, source="test"
            ).customer_id
            if time_zone is None:
                session.execute(
                    update(Customer).where(Customer.id == customer_id).values(time_zone=None)
                )
        return customer_id


@pytest.fixture
def pressure_hub(tmp_path: Path, database_url: str) -> Callable[[str], PressureHub]:
    """``pressure_hub(toml)``: a migrated installation (SQLite and PostgreSQL) whose config
    holds ``toml`` (``[pressure]`` and ``[scenarios.*]`` sections), with its ledger."""
    counter = iter(range(1000))

    def build(toml: str) -> PressureHub:
        root = tmp_path / f"hub{next(counter)}"
        installation = make_installation(root, extra=toml, database_url=database_url)
        runtime = installation.runtime()
        policy = Policy(runtime.settings.pressure, runtime.settings.scenarios)
        return PressureHub(runtime, Ledger(runtime.engine, policy), installation.config)

    return build
