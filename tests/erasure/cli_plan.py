"""Run a plan of ``hub`` commands in one interpreter, for tests that need a fresh process
(another ``sys.path``, other installed distributions) without paying its start-up per command.

``python tests/erasure/cli_plan.py PLAN.json`` where the plan is a list of
``{"args": [...], "save": NAME}``: each command's arguments may use ``{NAME}`` for a value
saved before (``save`` keeps ``customer_id`` from the command's JSON output). Prints a JSON
list of ``{"args", "code", "out", "err"}``.
"""

from __future__ import annotations

import contextlib
import io
import json
import sys
from pathlib import Path

from hub.cli.main import main


def run(plan: list[dict]) -> list[dict]:
    saved: dict[str, str] = {}
    results = []
    for step in plan:
        args = [arg.format(**saved) for arg in step["args"]]
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(args)
        if step.get("save"):
            saved[step["save"]] = json.loads(out.getvalue())["customer_id"]
        results.append({"args": args, "code": code, "out": out.getvalue(), "err": err.getvalue()})
    return results


if __name__ == "__main__":
    sys.stdout.write(json.dumps(run(json.loads(Path(sys.argv[1]).read_text()))))
