"""``hub simulate``: the report (text and JSON), exit codes naming the option, and proof that
the real installation is never touched."""

from __future__ import annotations

import hashlib
import json
import tempfile
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, inspect, select, table

from hub.storage.db import normalise_url
from hub.testing import Installation, make_installation
from tests.simulate import story


@pytest.fixture
def home(tmp_path: Path, database_url: str) -> Installation:
    return make_installation(
        tmp_path / "hub", bricks=story.BRICKS, database_url=database_url, extra=story.CONFIG
    )


def _args(home: Installation, inputs: tuple[Path, Path], *extra: str) -> list[str]:
    events, contacts = inputs
    return [
        "--config", str(home.config), "simulate", "--events", str(events),
        "--from", story.START.isoformat(), "--to", story.END.isoformat(),
        "--contacts", str(contacts), *extra,
    ]  # fmt: skip


def _snapshot(home: Installation, database_url: str) -> dict[str, object]:
    """Row counts of every table, and the SQLite file's bytes."""
    engine = create_engine(normalise_url(database_url, home.root))
    try:
        with engine.connect() as connection:
            names = inspect(connection).get_table_names()
            counts: dict[str, object] = {
                name: connection.execute(select(func.count()).select_from(table(name))).scalar()
                for name in names
            }
    finally:
        engine.dispose()
    if database_url.startswith("sqlite"):
        path = Path(database_url.removeprefix("sqlite:///"))
        counts["file"] = hashlib.sha256(path.read_bytes()).hexdigest()
    return counts


def test_the_real_installation_is_never_touched(
    home, database_url, tmp_path, run_cli, monkeypatch
) -> None:
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    inputs = story.write_inputs(tmp_path / "inputs")
    before = _snapshot(home, database_url)
    assert before["customers"] == 0 and before["jobs"] == 0
    result = run_cli(*_args(home, inputs, "--json"))
    assert result.code == 0, result.err
    report = json.loads(result.out)
    assert report["messages_recorded"] == report["totals"]["outcomes"]["sent"] > 0
    assert _snapshot(home, database_url) == before
    data = home.root / "data"
    assert not (data / "outbox.jsonl").exists()
    # The scratch installation lived in a temporary directory, removed afterwards.
    assert list(scratch.iterdir()) == []


def test_the_configured_database_is_never_opened(tmp_path: Path, run_cli) -> None:
    """A database that does not even exist (and keys that cannot be read) do not matter."""
    home = make_installation(
        tmp_path / "hub",
        bricks=story.BRICKS,
        database_url="postgresql://nobody@127.0.0.1:9/nowhere",
        extra=story.CONFIG,
        migrate=False,
    )
    for key in (home.root / "keys").glob("p*"):
        key.unlink()  # pepper and pseudonym_key: the real hub would refuse to start
    result = run_cli(*_args(home, story.write_inputs(tmp_path / "inputs"), "--json"))
    assert result.code == 0, result.err
    assert json.loads(result.out)["totals"]["outcomes"]["sent"] > 0


def test_the_report_in_json_and_text(tmp_path, run_cli) -> None:
    home = make_installation(tmp_path / "flows", bricks=story.BRICKS, extra=story.CONFIG)
    inputs = story.write_inputs(tmp_path / "inputs")
    result = run_cli(*_args(home, inputs, "--json"))
    assert result.code == 0, result.err
    report = json.loads(result.out)
    assert report["events"] == {
        "read": 10,
        "accepted": 7,
        "duplicates": 1,
        "skipped_outside_window": 1,
        "rejected": [
            {
                "line": 9,
                "field": "payload.currency",
                "reason": "must be a three-letter ISO 4217 code such as EUR",
            }
        ],
    }
    assert report["contacts"] == {"created": 3, "updated": 0, "unchanged": 0, "rejected": []}
    decisions = report["decisions"]
    assert [d["at"] for d in decisions] == sorted(d["at"] for d in decisions)
    first = decisions[0]
    assert set(first) == {
        "at", "customer_id", "scenario", "step", "channel", "outcome", "rule", "reason",
        "until", "trigger_event", "attempts",
    }  # fmt: skip
    assert (first["scenario"], first["outcome"], first["trigger_event"]) == (
        "welcome_series",
        "sent",
        "shop/s-ada",
    )
    deferred = [d for d in decisions if d["outcome"] == "deferred"]
    assert deferred and all(d["until"] > d["at"] and d["rule"] for d in deferred)
    totals = report["totals"]
    assert sum(totals["outcomes"].values()) == len(decisions)
    assert sum(sum(c.values()) for c in totals["scenarios"].values()) == len(decisions)
    assert totals["rules"]["consent"] == sum(1 for d in decisions if d["rule"] == "consent")
    assert "line 9: payload.currency" in result.err
    assert "job finished" not in result.err  # the worker's info lines would repeat the report

    text = run_cli(*_args(home, inputs))
    assert text.code == 0, text.err
    assert "nothing was sent" in text.out
    assert "welcome_series#0  email  sent" in text.out
    assert "deferred [breathing-space] until " in text.out
    assert "rule consent: " in text.out


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"--from": "2026-03-02"}, "--from: '2026-03-02' has no UTC offset"),
        ({"--to": "yesterday"}, "--to: 'yesterday' is not an ISO 8601 date-time"),
        ({"--to": "2026-03-01T00:00:00Z"}, "--to: must be after --from"),
        ({"--events": "missing.jsonl"}, "--events: cannot read"),
        ({"--events": "broken.jsonl"}, "--events: line 2: not JSON"),
        ({"--events": "list.jsonl"}, "--events: line 1: not a JSON object"),
        ({"--contacts": "missing.csv"}, "--contacts: no such file"),
        ({"--contacts": "contacts.txt"}, "--contacts: "),
    ],
)
def test_unusable_input_exits_2_naming_the_option(
    tmp_path: Path, run_cli, change: dict[str, str], expected: str
) -> None:
    home = make_installation(tmp_path / "hub", bricks=story.BRICKS, extra=story.CONFIG)
    inputs = story.write_inputs(tmp_path)
    (tmp_path / "broken.jsonl").write_text('{"id": "a"}\n{nope\n', encoding="utf-8")
    (tmp_path / "list.jsonl").write_text("[1, 2]\n", encoding="utf-8")
    (tmp_path / "contacts.txt").write_text("email\nada@example.com\n", encoding="utf-8")
    args = _args(home, inputs)
    for option, value in change.items():
        index = args.index(option) + 1
        args[index] = str(tmp_path / value) if value.endswith((".jsonl", ".csv", ".txt")) else value
    result = run_cli(*args)
    assert result.code == 2, (result.out, result.err)
    assert expected in result.err
