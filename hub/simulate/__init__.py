"""``hub simulate``: the live engine on a virtual clock, in a scratch installation, sending
nothing (test and learn before going live). See docs/simulate.md."""

from hub.simulate.engine import DEFAULT_TICK, replay, simulate
from hub.simulate.inputs import SimulationInputError, TimedEvent, read_event_file
from hub.simulate.report import InputProblem, SimulatedDecision, SimulationReport

__all__ = [
    "DEFAULT_TICK",
    "InputProblem",
    "SimulatedDecision",
    "SimulationInputError",
    "SimulationReport",
    "TimedEvent",
    "read_event_file",
    "replay",
    "simulate",
]
