"""Architecture guards that import-linter cannot express on its own."""

from __future__ import annotations

import pkgutil
import tomllib
from pathlib import Path

import hub

ROOT = Path(__file__).resolve().parents[1]


def test_bricks_are_forbidden_every_core_module_but_sdk_and_testing():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    [contract] = [c for c in config["tool"]["importlinter"]["contracts"]
                  if c.get("source_modules") == ["plugins"] and c["type"] == "forbidden"]
    core = {f"hub.{m.name}" for m in pkgutil.iter_modules(hub.__path__)}
    assert set(contract["forbidden_modules"]) == core - {"hub.sdk", "hub.testing"}, (
        "a new hub module must be added to the bricks' forbidden list in pyproject.toml"
    )


def test_modules_stay_small():
    for package in ("contracts", "hub", "plugins"):
        for path in (ROOT / package).rglob("*.py"):
            if "tests" in path.parts or "versions" in path.parts:
                continue
            lines = len(path.read_text().splitlines())
            assert lines <= 400, f"{path.relative_to(ROOT)} has {lines} lines: split it"
