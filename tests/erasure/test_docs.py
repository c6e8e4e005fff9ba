"""docs/privacy-rights.md stays true to the CLI: every command and option it shows exists."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[2] / "docs" / "privacy-rights.md"
COMMANDS = {
    ("contacts", "forget"): ["--email", "--phone", "--reason", "--json", "--resume", "--object",
                             "--withdraw"],
    ("contacts", "export"): ["--email", "--phone", "--output"],
    ("bricks", "decommission"): ["--erase-remote", "--reason", "--json"],
    ("bricks", "reinstate"): [],
    ("bricks", "list"): [],
}


@pytest.mark.parametrize("command", sorted(COMMANDS), ids=" ".join)
def test_each_documented_command_and_option_exists(command: tuple[str, ...], run_cli) -> None:
    text = DOC.read_text(encoding="utf-8")
    assert f"hub {' '.join(command)}" in text
    shown = run_cli(*command, "--help")
    assert shown.code == 0
    for option in COMMANDS[command]:
        assert option in shown.out, option
        assert re.search(rf"hub {' '.join(command)}[^\n`]*{option}", text), option
