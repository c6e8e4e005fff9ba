"""Removing a bundled brick never breaks the core: the core suite runs green without each one.

Each run hides one brick's entry point (as if its distribution were uninstalled) and runs the
core tests that load plugins, read config, send and run the demo, in a fresh interpreter.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from hub.plugins import build_plugin_host
from tests.conftest import HIDDEN_BRICKS, UNINSTALLED_VARIABLE

ROOT = Path(__file__).resolve().parents[1]
CHANNEL_BRICKS = ["brevo", "onesignal", "smtp", "twilio"]
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


@pytest.mark.parametrize("brick", CHANNEL_BRICKS)
def test_core_suite_is_green_without(brick: str) -> None:
    env = {k: v for k, v in os.environ.items() if k != "HUB_TEST_DATABASE_URL"}
    env[UNINSTALLED_VARIABLE] = brick
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
