"""Adding and removing a brick never changes the core: a third-party distribution
(tests/plugin_fixtures/acme_sink_dist) is pip-installed into a folder of its own, found
through the ``hub`` entry-point group, used (send, sync), decommissioned with its data erased,
then uninstalled; the hub still starts, validates its config and runs.

Each phase runs in a fresh interpreter (the installed folder on ``PYTHONPATH``, or not), all
its commands in one process (tests/erasure/cli_plan.py) to keep the wall time low.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from hub.testing import make_installation

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = ROOT / "tests" / "plugin_fixtures" / "acme_sink_dist"
PLAN = ROOT / "tests" / "erasure" / "cli_plan.py"
BRICKS = """
[scenarios.welcome]
[bricks.outbox]
allowed_fields = ["email"]
"""
ACME = """
[bricks.acme_sink]
allowed_fields = ["email", "first_name"]
list_name = "vip"
"""
PEOPLE = "email,first_name,consent_email\nada@example.org,Ada,yes\nbob@example.org,Bob,yes\n"


def _install(tmp_path: Path) -> Path:
    """``pip install --target``, offline, from a copy (a build must not write into the repo)."""
    source, target = tmp_path / "src", tmp_path / "site"
    shutil.copytree(FIXTURE, source)
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-index", "--no-deps",
         "--no-build-isolation", "--disable-pip-version-check", "--target", str(target),
         str(source)],
        check=True, capture_output=True, timeout=120,
    )
    return target


def _run(tmp_path: Path, steps: list[dict[str, Any]], site: Path | None) -> list[dict[str, Any]]:
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps(steps), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    env.pop("PYTHONPATH", None)
    if site is not None:
        env["PYTHONPATH"] = str(site)
    done = subprocess.run(
        [sys.executable, str(PLAN), str(plan)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)


def _ok(results: list[dict[str, Any]]) -> None:
    for result in results:
        assert result["code"] == 0, result


def test_a_third_party_brick_comes_and_goes_without_a_core_change(tmp_path: Path) -> None:
    hub = make_installation(tmp_path / "hub", bricks=BRICKS + ACME, migrate=False)
    config = ["--config", str(hub.config)]
    people = tmp_path / "people.csv"
    people.write_text(PEOPLE, encoding="utf-8")
    site = _install(tmp_path)
    installed = _run(tmp_path, [
        {"args": [*config, "db", "upgrade"]},
        {"args": [*config, "config", "validate"]},
        {"args": [*config, "contacts", "import", str(people)]},
        {"args": [*config, "contacts", "show", "--email", "ada@example.org", "--json"],
         "save": "ada"},
        {"args": [*config, "send", "--customer", "{ada}", "--channel", "email", "--scenario",
                  "welcome", "--template", "hello", "--brick", "acme_sink"]},
        {"args": [*config, "contacts", "sync", "--from", "hub", "--to", "acme_sink"]},
        {"args": [*config, "bricks", "decommission", "acme_sink", "--erase-remote",
                  "--reason", "contract ended", "--json"]},
        {"args": [*config, "bricks", "list", "--json"]},
    ], site)
    _ok(installed)
    vendor = json.loads((tmp_path / "hub" / "data" / "acme_sink.json").read_text())
    assert vendor["held"] == {} and len(vendor["sent"]) == 1
    assert len(vendor["erased"]) == 2  # Ada and Bob, each under acme_sink's own pseudonym
    erased = json.loads(installed[6]["out"])
    assert erased["erased"] == 2 and erased["complete"]
    listed = {row["name"]: row for row in json.loads(installed[7]["out"])}
    assert listed["acme_sink"]["status"] == "decommissioned"
    assert listed["acme_sink"]["installed"]

    # Uninstalled: the folder leaves the path, its section leaves the config. No code changes.
    shutil.rmtree(site)
    hub.config.write_text(hub.config.read_text().replace(ACME, ""), encoding="utf-8")
    removed = _run(tmp_path, [
        {"args": [*config, "config", "validate"]},
        {"args": [*config, "bricks", "list", "--json"]},
        {"args": [*config, "contacts", "show", "--email", "ada@example.org", "--json"],
         "save": "ada"},
        {"args": [*config, "send", "--customer", "{ada}", "--channel", "email", "--scenario",
                  "welcome", "--template", "hello", "--json"]},
        {"args": [*config, "contacts", "forget", "{ada}", "--json"]},
        {"args": [*config, "contacts", "import", str(people), "--json"]},
    ], None)
    _ok(removed)
    listed = {row["name"]: row for row in json.loads(removed[1]["out"])}
    assert listed["acme_sink"] == {
        **listed["acme_sink"], "installed": False, "status": "decommissioned"
    }
    assert json.loads(removed[3]["out"])["brick"] == "outbox"
    steps = {s["brick"]: s["status"] for s in json.loads(removed[4]["out"])["steps"]}
    assert steps == {"outbox": "not_applicable"}  # acme_sink confirmed its erase already
    assert json.loads(removed[5]["out"])["suppressed"] == 1
    assert not (ROOT / "tests" / "plugin_fixtures" / "acme_sink_dist" / "build").exists()
