"""pytest plugin (entry point ``pytest11: hub``): fixtures for brick and core tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from hub.logs import isolated_secrets
from hub.plugins import PluginHost, build_plugin_host
from hub.testing.installation import Installation, make_installation


@pytest.fixture(autouse=True)
def _hub_secrets_per_test() -> Iterator[None]:
    """Each test's installation registers its fresh keys for log redaction; forget them after
    the test, or every later log line is scrubbed against thousands of dead secrets."""
    with isolated_secrets():
        yield


@pytest.fixture
def hub_plugin_host() -> PluginHost:
    """An isolated plugin host with every installed entry point loaded."""
    return build_plugin_host()


@pytest.fixture
def hub_installation(tmp_path: Path) -> Installation:
    """A migrated SQLite installation with fresh keys and the outbox brick enabled."""
    return make_installation(
        tmp_path / "hub",
        bricks='[bricks.outbox]\nallowed_fields = ["email", "phone", "first_name"]\n',
    )
