"""docs/scenarios.md's example set is valid config, with every step sendable by the outbox."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from contracts import BUILTIN_EVENT_TYPES, Channel, Purpose
from hub.pressure.rules import ScenarioSettings
from hub.scenarios.validation import flow_problems

DOC = Path(__file__).resolve().parents[2] / "docs" / "scenarios.md"


def test_the_documented_example_set_validates() -> None:
    blocks = re.findall(r"```toml\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)
    example = tomllib.loads(max(blocks, key=len))["scenarios"]
    scenarios = {name: ScenarioSettings.model_validate(body) for name, body in example.items()}
    assert set(scenarios) == {
        "cart_recovery",
        "welcome_series",
        "reactivation",
        "promotion",
        "order_confirmation",
    }
    everything = {channel: set(Purpose) for channel in Channel}
    assert flow_problems(scenarios, BUILTIN_EVENT_TYPES, everything) == []
    assert [len(s.steps) for s in scenarios.values()] == [2, 3, 1, 0, 1]
