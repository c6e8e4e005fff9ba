"""Shared fixtures: every storage test runs on SQLite and, when configured, PostgreSQL.

PostgreSQL tests read ``HUB_TEST_DATABASE_URL`` and skip when it is unset (``.ci/run`` sets
it, so CI always runs them). Each test gets its own schema, dropped afterwards.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from importlib.metadata import EntryPoint
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from hub.cli.main import main
from hub.storage.db import normalise_url
from hub.testing import Installation, make_installation

PG_URL_VARIABLE = "HUB_TEST_DATABASE_URL"
#: Entry-point names hidden from the plugin host, as if their distribution were uninstalled
#: (the decommission test runs the core suite this way, one bundled brick at a time).
UNINSTALLED_VARIABLE = "HUB_TEST_UNINSTALLED"
OUTBOX = '[bricks.outbox]\nallowed_fields = ["email", "phone", "first_name", "locale"]\n'
#: Scenarios the core tests send under (every send names a declared scenario).
SCENARIOS = '[scenarios.welcome]\n[scenarios.order_confirmation]\nkind = "transactional"\n'


#: Read once at import: some tests clear every HUB_* variable while they run.
HIDDEN_BRICKS = frozenset(
    name for name in os.environ.get(UNINSTALLED_VARIABLE, "").split(",") if name
)


def _hide_uninstalled_entry_points(hidden: frozenset[str]) -> None:
    if not hidden:
        return
    import hub.plugins

    real = hub.plugins.entry_points

    def entry_points(**selection: str) -> list[EntryPoint]:
        return [ep for ep in real(**selection) if ep.name not in hidden]

    hub.plugins.entry_points = entry_points  # type: ignore[assignment]


_hide_uninstalled_entry_points(HIDDEN_BRICKS)


def _postgres_schema_url() -> Iterator[str]:
    base = os.environ.get(PG_URL_VARIABLE)
    if not base:
        pytest.skip(f"{PG_URL_VARIABLE} is not set")
    url = normalise_url(base, Path("."))
    schema = f"hubtest_{uuid.uuid4().hex[:12]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    separator = "&" if "?" in url else "?"
    try:
        yield f"{url}{separator}options=-csearch_path%3D{schema}"
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database on each backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'hub.db'}"
    else:
        yield from _postgres_schema_url()


@pytest.fixture
def installation(tmp_path: Path, database_url: str) -> Installation:
    """A migrated installation (both backends) with the outbox brick enabled."""
    return make_installation(
        tmp_path / "hub", bricks=OUTBOX, database_url=database_url, extra=SCENARIOS
    )


@pytest.fixture
def sqlite_installation(tmp_path: Path) -> Installation:
    """The embedded default only, for tests about files on disk."""
    return make_installation(tmp_path / "hub", bricks=OUTBOX, extra=SCENARIOS)


@dataclass
class CliResult:
    code: int
    out: str
    err: str


@pytest.fixture
def run_cli(capsys: pytest.CaptureFixture[str]):
    """Run ``hub`` in-process, returning exit code, stdout and stderr."""

    def run(*args: str) -> CliResult:
        capsys.readouterr()
        code = main(list(args))
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    return run


#: Tests that each take tens of seconds. pytest-xdist hands tests out in collection order, so
#: when these come last (most sit in late folders) one worker runs them alone while the other
#: idles; started first, they overlap with everything else. The sort is stable and the same on
#: every worker, as xdist requires.
_LONG_RUNNING = (
    "tests/sync/test_sync_100k.py",
    "tests/server/test_fuzz.py",
    "tests/pressure/test_ledger_state_machine.py",
    "tests/pressure/test_concurrency.py",
    "tests/test_decommission.py",
    "tests/worker/test_two_workers.py",
    "tests/erasure/test_third_party.py",
    "plugins/unomi/tests/test_core_flow.py",
)


#: Test databases live in RAM when the machine has room there: SQLite's WAL checkpoints fsync,
#: and on a disk those waits added ~15 % to the suite's wall time. ``--basetemp`` overrides.
_RAM_DISK, _RAM_NEEDED = Path("/dev/shm"), 4 * 1024**3
_RAM_BASETEMP = pytest.StashKey[str]()


def pytest_configure(config: pytest.Config) -> None:
    if config.option.basetemp or hasattr(config, "workerinput"):
        return  # chosen by the user, or a pytest-xdist worker (it gets the controller's)
    if not (_RAM_DISK.is_dir() and os.access(_RAM_DISK, os.W_OK)):
        return
    if shutil.disk_usage(_RAM_DISK).free < _RAM_NEEDED:
        return
    config.option.basetemp = tempfile.mkdtemp(prefix="hub-tests-", dir=_RAM_DISK)
    config.stash[_RAM_BASETEMP] = config.option.basetemp


def pytest_unconfigure(config: pytest.Config) -> None:
    made = config.stash.get(_RAM_BASETEMP, None)
    if made:
        shutil.rmtree(made, ignore_errors=True)  # RAM is not a place to keep old runs


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=lambda item: not item.nodeid.startswith(_LONG_RUNNING))
