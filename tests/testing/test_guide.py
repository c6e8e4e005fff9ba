"""docs/writing-a-brick.md is backed by the kit: its example brick passes the conformance suite.

Every code block starting with ``# file: <path>`` is written to a scratch project and run, the
golden snapshot shown in the guide must be the one the kit writes, and every check of the kit
classes must be documented, so the guide cannot drift from the kit.
"""

from __future__ import annotations

import importlib.util
import inspect
import json
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from hub.plugins import build_plugin_host
from hub.testing import BrickConformance, HttpBrickConformance, WebhookConformance

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "writing-a-brick.md"
_BLOCK = re.compile(r"```python\n# file: (?P<path>\S+)\n(?P<code>.*?)```", re.S)
_GOLDEN = re.compile(r"```json\n(?P<json>\{.*?\})\n```", re.S)
#: Checks that read the installed ``hub`` entry points: the scratch project is not installed.
_NEEDS_INSTALL = {"test_registered_through_entry_point", "test_listed_by_hub_plugins_list"}


def _load(name: str, path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The guide's files in a scratch folder, its package importable."""
    text = GUIDE.read_text(encoding="utf-8")
    blocks = list(_BLOCK.finditer(text))
    assert {m["path"] for m in blocks} >= {
        "acme_hub/__init__.py",
        "acme_hub/brick.py",
        "tests/test_conformance.py",
    }
    for match in blocks:
        target = tmp_path / match["path"]
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(match["code"], encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.delenv("HUB_UPDATE_GOLDEN", raising=False)
    yield tmp_path
    for name in [
        n for n in sys.modules if n == "acme_hub" or n.startswith(("acme_hub.", "guide_"))
    ]:
        del sys.modules[name]


def test_the_guide_brick_passes_the_kit(project: Path, tmp_path_factory) -> None:
    module = _load("guide_conformance", project / "tests" / "test_conformance.py")
    suite = module.TestAcmeMail()
    ran = []
    for name in sorted(n for n in dir(suite) if n.startswith("test_") and n not in _NEEDS_INSTALL):
        check = getattr(suite, name)
        needs_path = "tmp_path" in inspect.signature(check).parameters
        try:
            check(tmp_path_factory.mktemp("e2e")) if needs_path else check()
        except pytest.skip.Exception:
            assert name == "test_http_vendor_spec", f"{name} skipped for the guide's brick"
        ran.append(name)
    assert "test_core_end_to_end_send" in ran and "test_webhook_fuzzed_bodies_never_crash" in ran
    import acme_hub

    host = build_plugin_host(load_entry_points=False, extra_plugins=[("acme", acme_hub)])
    assert host.bricks()["acme"].cls is acme_hub.AcmeMail


def test_the_guide_shows_the_golden_file_the_kit_writes(project: Path) -> None:
    module = _load("guide_golden", project / "tests" / "test_conformance.py")
    module.TestAcmeMail().test_http_golden_snapshots()
    written = json.loads((project / "tests" / "golden" / "send_email.json").read_text())
    shown = json.loads(_GOLDEN.search(GUIDE.read_text(encoding="utf-8"))["json"])
    assert shown == written


def test_the_guide_brick_specific_tests_pass(project: Path, tmp_path: Path) -> None:
    module = _load("guide_own_tests", project / "tests" / "test_acme.py")
    tests = [getattr(module, n) for n in dir(module) if n.startswith("test_")]
    assert len(tests) >= 2
    for test in tests:
        test(tmp_path) if "tmp_path" in inspect.signature(test).parameters else test()


def test_every_check_of_the_kit_is_documented() -> None:
    text = GUIDE.read_text(encoding="utf-8")
    for kit in (BrickConformance, HttpBrickConformance, WebhookConformance):
        for name in (n for n in vars(kit) if n.startswith("test_")):
            assert f"`{name}`" in text, f"docs/writing-a-brick.md does not document {name}"
