#!/usr/bin/env python3
"""One entry point for people and CI: needs nothing but Python 3.11+.

    python3 dev.py demo      set up .venv (first run only) and run the offline demo
    python3 dev.py test      set up .venv and run the whole test suite (a worker per core)
    python3 dev.py lint      ruff + import-linter (architecture boundaries)
    python3 dev.py hub ...   any hub command inside the project's virtualenv

The virtualenv is rebuilt only when pyproject.toml changes (a stamp file keeps its hash), so
later runs start at once.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = Path(os.environ.get("HUB_VENV", ROOT / ".venv"))
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
STAMP = VENV / ".hub-installed"


def _run(*args: str | Path) -> int:
    return subprocess.call([str(a) for a in args], cwd=ROOT)


def ensure_venv() -> None:
    wanted = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if STAMP.exists() and STAMP.read_text() == wanted:
        return
    if not (BIN / "python").exists():
        print(f"creating virtualenv in {VENV}", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    print("installing the hub and its test tools (first run only)", flush=True)
    pip = [BIN / "python", "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    if _run(*pip, "-e", f"{ROOT}[test]") != 0:
        sys.exit("installation failed; see the pip output above")
    STAMP.write_text(wanted)


def main(argv: list[str]) -> int:
    if sys.version_info < (3, 11):  # noqa: UP036 - dev.py runs under any python3
        sys.exit("the hub needs Python 3.11 or newer")
    command, rest = (argv[0], argv[1:]) if argv else ("demo", [])
    ensure_venv()
    if command == "demo":
        return _run(BIN / "hub", "demo", *rest)
    if command == "test":
        # One pytest worker per core: the suite is mostly independent database tests.
        parallel = [] if any(a == "-n" or a.startswith("-n") for a in rest) else ["-n", "auto"]
        return _run(BIN / "python", "-m", "pytest", *parallel, *rest)
    if command == "lint":
        return _run(BIN / "ruff", "check", ".") or _run(BIN / "lint-imports")
    if command == "hub":
        return _run(BIN / "hub", *rest)
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
