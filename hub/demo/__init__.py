"""``hub demo``: the whole core, offline, on the embedded default (SQLite + outbox brick)."""

from hub.demo.runner import DemoReport, run_demo

__all__ = ["DemoReport", "run_demo"]
