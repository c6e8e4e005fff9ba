"""Migrations on both backends: they build exactly the models, and upgrading twice is a no-op."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text
from sqlmodel import select

from hub.storage.db import (
    DatabaseNotReady,
    create_db_engine,
    current_revision,
    head_revision,
    normalise_url,
    require_current_schema,
    session_scope,
    upgrade,
)
from hub.storage.models import AuditEntry, metadata


def test_migrations_match_the_models(database_url):
    engine = create_db_engine(database_url)
    upgrade(engine)
    with engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), metadata)
    engine.dispose()
    assert diff == [], "models changed without a migration: add one under migrations/versions"


def test_upgrade_is_idempotent_and_reports_revisions(database_url):
    engine = create_db_engine(database_url)
    with pytest.raises(DatabaseNotReady, match="hub db upgrade"):
        require_current_schema(engine)
    assert upgrade(engine) == (None, head_revision())
    assert upgrade(engine) == (head_revision(), head_revision())
    require_current_schema(engine)
    assert current_revision(engine) == head_revision()
    engine.dispose()


def test_timestamps_come_back_aware_in_utc(database_url):
    engine = create_db_engine(database_url)
    upgrade(engine)
    paris = timezone(timedelta(hours=1))
    with session_scope(engine) as session:
        session.add(AuditEntry(action="test", actor="t", at=datetime(2026, 3, 1, 12, tzinfo=paris)))
    with session_scope(engine) as session:
        entry = session.exec(select(AuditEntry)).one()
    assert entry.at == datetime(2026, 3, 1, 11, tzinfo=UTC)
    assert entry.at.tzinfo is not None
    naive = AuditEntry(action="test", actor="t", at=datetime(2026, 3, 1, 12))
    with session_scope(engine) as session:
        session.add(naive)
        with pytest.raises(Exception, match="timezone-aware"):
            session.flush()
        session.rollback()
    engine.dispose()


def test_url_normalisation(tmp_path):
    assert normalise_url("", tmp_path) == f"sqlite:///{(tmp_path / 'hub.db').resolve()}"
    assert normalise_url("postgres://u@h/db", tmp_path) == "postgresql+psycopg://u@h/db"
    assert normalise_url("postgresql://u@h/db", tmp_path) == "postgresql+psycopg://u@h/db"
    assert normalise_url("postgresql+psycopg://u@h/db", tmp_path) == "postgresql+psycopg://u@h/db"


def test_db_cli(run_cli, tmp_path, database_url):
    from hub.testing import make_installation

    inst = make_installation(tmp_path / "x", database_url=database_url, migrate=False)
    status = run_cli("--config", str(inst.config), "db", "status", "--json")
    assert status.code == 0
    assert '"up_to_date": false' in status.out
    blocked = run_cli("--config", str(inst.config), "contacts", "show", "--email", "a@b.co")
    assert blocked.code == 2
    assert "hub db upgrade" in blocked.err
    done = run_cli("--config", str(inst.config), "db", "upgrade")
    assert done.code == 0
    assert "upgraded" in done.out
    again = run_cli("--config", str(inst.config), "db", "upgrade")
    assert "already at" in again.out


def test_a_running_process_notices_a_schema_change_within_the_recheck_delay(
    sqlite_installation, monkeypatch
):
    """``ready_engine`` runs before every unit of work, so it re-reads the revision only every
    few seconds; a schema moved under a running server is still refused after that delay."""
    import hub.runtime

    now = [1000.0]
    monkeypatch.setattr(hub.runtime.time, "monotonic", lambda: now[0])
    runtime = sqlite_installation.runtime()
    runtime.ready_engine()
    with runtime.engine.begin() as connection:  # as a newer hub's `hub db upgrade` would
        connection.execute(text("UPDATE alembic_version SET version_num = 'from_the_future'"))
    runtime.ready_engine()  # within the delay: the earlier check still holds
    now[0] += hub.runtime.SCHEMA_RECHECK_SECONDS
    with pytest.raises(DatabaseNotReady, match="from_the_future"):
        runtime.ready_engine()
    runtime.engine.dispose()
