"""Removing bundled bricks never breaks the core: the core suite runs green without them.

The run hides every bundled brick's entry point but the outbox's (as if their distributions
were uninstalled) and runs the core tests that load plugins, read config, send and run the
demo, in a fresh interpreter. One run without all of them, rather than one per brick: the
core imports no brick (import-linter), so what holds with none installed holds with any.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from hub.plugins import build_plugin_host
from tests.conftest import HIDDEN_BRICKS, UNINSTALLED_VARIABLE

ROOT = Path(__file__).resolve().parents[1]
#: Every bundled brick but the outbox, which the core tests send through.
REMOVED_BRICKS = ["brevo", "magento", "onesignal", "prestashop", "smtp", "twilio", "unomi"]
CORE_TESTS = [
    "tests/test_decommission.py::test_the_hidden_brick_is_really_gone",
    "tests/test_plugins.py",
    "tests/test_sending.py",
    "tests/test_send_cli.py",
    "tests/test_demo.py",
]


def test_the_hidden_brick_is_really_gone() -> None:
    if not HIDDEN_BRICKS:
        pytest.skip("runs inside the decommission runs only")
    bricks = build_plugin_host().bricks()
    assert not HIDDEN_BRICKS & set(bricks)
    assert "outbox" in bricks


def test_core_suite_is_green_without_the_bundled_bricks() -> None:
    bundled = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["entry-points"]["hub"]
    assert set(bundled) == {*REMOVED_BRICKS, "outbox"}, "a new bundled brick belongs in the list"
    env = {k: v for k, v in os.environ.items() if k != "HUB_TEST_DATABASE_URL"}
    env[UNINSTALLED_VARIABLE] = ",".join(REMOVED_BRICKS)
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", *CORE_TESTS],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert " passed" in result.stdout
