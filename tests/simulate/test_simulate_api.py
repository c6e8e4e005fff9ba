"""``simulate()`` as the demo calls it: event dicts in, a report out; the contacts file is the
state at the start; the scratch installation can be kept for inspection."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select

from hub.config import load_settings
from hub.scenarios.jobs import JOBS
from hub.simulate import SimulationInputError, simulate
from hub.testing import make_installation
from tests.simulate import story


@pytest.fixture
def settings(tmp_path: Path):
    home = make_installation(tmp_path / "hub", bricks=story.BRICKS, extra=story.CONFIG)
    return load_settings(home.config)


def test_contacts_are_the_state_at_the_start(settings, tmp_path: Path) -> None:
    """A consent the file does not date counts from --from, so a later withdrawal wins."""
    contacts = tmp_path / "contacts.csv"
    contacts.write_text(
        "email,consent_email,time_zone\nada@example.com,yes,Europe/Paris\n", encoding="utf-8"
    )
    t0 = story.T0
    events = [
        story.signed_up("ada@example.com", "s-ada", t0),
        story.withdraws_email("ada@example.com", "u-ada", t0 + timedelta(hours=1)),
    ]
    report = simulate(
        settings, events, start=story.START, end=t0 + timedelta(days=8), contacts=contacts
    )
    welcome = [(d.step, d.outcome, d.rule) for d in report.decisions]
    assert welcome == [(0, "sent", None), (1, "refused", "consent"), (2, "refused", "consent")]


def test_the_scratch_installation_can_be_kept(settings, tmp_path: Path) -> None:
    events = [story.signed_up("ada@example.com", "s-ada", story.T0)]
    kept = tmp_path / "kept"
    report = simulate(
        settings, events, start=story.START, end=story.T0 + timedelta(days=1), workdir=kept
    )
    assert [d.outcome for d in report.decisions] == ["refused"]  # no consent at all
    engine = create_engine(f"sqlite:///{kept / 'simulation.db'}")
    try:
        with engine.connect() as connection:
            jobs = connection.execute(select(func.count()).select_from(JOBS)).scalar()
    finally:
        engine.dispose()
    assert jobs == 3  # the welcome series: step 0 refused, steps 1 and 2 still scheduled


def test_the_window_and_the_clock(settings) -> None:
    with pytest.raises(SimulationInputError, match="--from: needs a UTC offset"):
        simulate(settings, [], start=story.T0.replace(tzinfo=None), end=story.END)
    with pytest.raises(SimulationInputError, match="--to: must be after --from"):
        simulate(settings, [], start=story.END, end=story.START)
    # Instants only move forward; events at the window's edges: --from in, --to out.
    events = [
        story.signed_up("ada@example.com", "s-1", story.START),
        story.signed_up("bob@example.com", "s-2", story.END),
    ]
    report = simulate(settings, events, start=story.START, end=story.END)
    assert report.events_accepted == 1 and report.events_skipped == 1
    assert report.instants == sorted(report.instants)
    assert report.instants[0] == story.START
    assert all(story.START <= moment < story.END for moment in report.instants)
