"""``hub contacts sync``: output, exit codes 0/2/4/130, errors naming the option, the hook."""

from __future__ import annotations

import json

import httpx
import pytest
from sqlalchemy import select

import hub.cli.main
from contracts import Retryable
from hub.storage.db import session_scope
from hub.storage.models import BrickDecommission, DeadLetter, SinkContact, table
from tests.sync.conftest import SUMMARIES, Crm, contact, plugin_host

KINDS = ("granted", "granted", "denied", "none")


@pytest.fixture(autouse=True)
def _host(monkeypatch):
    monkeypatch.setattr(hub.cli.main, "build_plugin_host", lambda **_: plugin_host())


def _people(count: int = 8) -> list:
    return [contact(i, email=KINDS[i % 4], push=i % 4 == 0) for i in range(count)]


def _sync(run_cli, hub, *args: str):
    return run_cli("-c", str(hub.config), "contacts", "sync", *args)


def test_json_summary_progress_on_stderr_and_the_hook(run_cli, hub, vendors):
    Crm.serve(_people())
    result = _sync(run_cli, hub, "--from", "crm", "--to", "brevo,onesignal", "--json")
    assert result.code == 0, result.err
    summary = json.loads(result.out)
    assert summary["source"]["read"] == 8 and summary["exit_code"] == 0
    brevo, onesignal = summary["sinks"]
    assert (brevo["sink"], brevo["read"], brevo["created"], brevo["skipped_by_consent"]) == (
        "brevo", 8, 4, 4
    )
    assert (onesignal["created"], onesignal["batch_size"], onesignal["calls"]) == (2, 100, 1)
    # Not a terminal: plain progress lines on stderr, nothing on stdout but the JSON.
    assert "brevo: 8 changed customer(s) to examine" in result.err
    assert "brevo: done" in result.err
    [observed] = SUMMARIES
    assert observed.source == "crm" and [s.created for s in observed.sinks] == [4, 2]
    assert not observed.dry_run


def test_text_output_and_a_dry_run(run_cli, hub, vendors):
    Crm.serve(_people())
    result = _sync(run_cli, hub, "--from", "crm", "--to", "brevo", "--dry-run")
    assert result.code == 0, result.err
    assert "source crm: 8 read (8 created" in result.out
    assert "brevo: 8 read, 4 created, 0 updated" in result.out
    assert "dry run: nothing was written and no sink was called" in result.out
    assert "p***@e***.org" in result.out and "example.org" not in result.out
    assert vendors.calls == [] and SUMMARIES == []
    result = _sync(run_cli, hub, "--from", "hub", "--to", "brevo")
    # The dry run stored no customer: the hub has nobody to push.
    assert result.code == 0 and "brevo: 0 read" in result.out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--from", "crm", "--to", "nope"), "--to: no brick named 'nope'"),
        (("--from", "crm", "--to", "crm"), "--to: brick 'crm' is not a contact sink"),
        (("--from", "brevo", "--to", "brevo"), "--from: brick 'brevo' is not a contact source"),
        (("--from", "crm", "--to", ","), "--to: name at least one contact sink"),
        (("--from", "crm", "--to", "brevo,brevo"), "--to: brevo named twice"),
    ],
    ids=["unknown-sink", "not-a-sink", "not-a-source", "no-sink", "twice"],
)
def test_bad_options_exit_2_naming_the_option(run_cli, hub, vendors, args, message):
    Crm.serve(_people())
    result = _sync(run_cli, hub, *args)
    assert result.code == 2 and message in result.err
    assert vendors.calls == [] and Crm.fail_at == {}


def test_a_decommissioned_sink_receives_nothing(run_cli, hub, vendors):
    Crm.serve(_people())
    with session_scope(hub.runtime.engine) as session:
        session.add(BrickDecommission(brick="onesignal", actor="test", status="done"))
    result = _sync(run_cli, hub, "--from", "crm", "--to", "brevo,onesignal")
    # Refused by the runtime (status "decommissioned") or by the sync's own check of
    # ``brick_decommissions``, whichever comes first: exit 2 naming the option and the brick.
    assert result.code == 2 and "--to: brick 'onesignal'" in result.err
    assert "decommissioned" in result.err
    assert vendors.calls == []


def test_a_refused_contact_is_dead_lettered_and_exits_2(run_cli, hub, vendors):
    Crm.serve(_people())

    def refuse_first(index: int, pseudonyms: list[str]) -> httpx.Response | None:
        if index == 0:
            return httpx.Response(
                400,
                json={"code": "invalid_parameter",
                      "message": "Invalid email address person000000@example.org"},
            )
        return None

    vendors.brevo_answer = refuse_first
    result = _sync(run_cli, hub, "--from", "crm", "--to", "brevo", "--json")
    assert result.code == 2, result.err
    [refused] = json.loads(result.out)["sinks"][0]["rejected"]
    assert refused["pseudonym"] == vendors.calls[0].pseudonyms[0]
    assert f"brevo rejected {refused['pseudonym']}" in result.err
    assert "example.org" not in result.err + result.out
    letters = table(DeadLetter)
    rows = table(SinkContact)
    with session_scope(hub.runtime.engine) as session:
        kinds = session.execute(select(letters.c.kind, letters.c.source)).all()
        held = session.execute(select(rows.c.pseudonym)).scalars().all()
    assert kinds == [("sync", "brevo")]
    assert refused["pseudonym"] not in held and len(held) == 3


def test_a_failing_sink_exits_4_the_others_go_on_and_the_next_run_resumes(
    run_cli, make_hub, vendors
):
    hub = make_hub(extra="[sending]\nmax_attempts = 1\n")
    Crm.serve(_people())
    vendors.brevo_answer = lambda index, pseudonyms: httpx.Response(503)
    result = _sync(run_cli, hub, "--from", "crm", "--to", "brevo,onesignal")
    assert result.code == 4
    assert "error: sink 'brevo' failed after retries: Retryable" in result.err
    assert "onesignal: 8 read, 2 created" in result.out
    vendors.brevo_answer = None
    result = _sync(run_cli, hub, "--from", "crm", "--to", "brevo,onesignal")
    assert result.code == 0, result.err
    # Within the settle window (60 s) OneSignal's people are read again, found unchanged.
    assert "brevo: 8 read, 4 created" in result.out
    assert "onesignal: 8 read, 0 created, 0 updated, 0 unsubscribed, 2 unchanged" in result.out


def test_a_failing_source_exits_4_after_pushing_what_was_stored(run_cli, make_hub, vendors):
    hub = make_hub(extra="[sending]\nmax_attempts = 1\n")
    Crm.serve(_people(12))
    Crm.page = 8
    try:
        Crm.fail_at = {8: Retryable("CRM down")}
        result = _sync(run_cli, hub, "--from", "crm", "--to", "brevo")
        assert result.code == 4
        assert "error: source 'crm' failed after retries" in result.err
        assert "brevo: 8 read, 4 created" in result.out
        result = _sync(run_cli, hub, "--from", "crm", "--to", "brevo")
        assert result.code == 0 and "source crm: 4 read" in result.out
        assert "brevo: 12 read, 2 created, 0 updated, 0 unsubscribed, 4 unchanged" in result.out
    finally:
        Crm.page = 1000


def test_ctrl_c_keeps_what_was_confirmed(run_cli, hub, vendors):
    Crm.serve(_people())

    def interrupt(index: int, pseudonyms: list[str]) -> httpx.Response | None:
        raise KeyboardInterrupt

    vendors.onesignal_answer = interrupt
    result = _sync(run_cli, hub, "--from", "crm", "--to", "brevo,onesignal")
    assert result.code == 130
    assert "interrupted: batches the sinks confirmed are kept" in result.err
    vendors.onesignal_answer = None
    result = _sync(run_cli, hub, "--from", "crm", "--to", "brevo,onesignal")
    assert result.code == 0
    assert "brevo: 8 read, 0 created, 0 updated, 0 unsubscribed, 4 unchanged" in result.out
    assert "onesignal: 8 read, 2 created" in result.out
    assert len(vendors.delivered("brevo")) == 4  # Brevo was not sent anything twice


def test_a_terminal_gets_progress_bars(run_cli, hub, vendors, monkeypatch):
    import io

    from rich.console import Console

    import hub.cli.contacts_sync_cmd as command

    screen = io.StringIO()
    monkeypatch.setattr(command, "stderr", Console(file=screen, force_terminal=True, width=100))
    Crm.serve(_people())
    result = _sync(run_cli, hub, "--from", "crm", "--to", "brevo,onesignal")
    assert result.code == 0, result.err
    drawn = screen.getvalue()
    assert "syncing to brevo" in drawn and "syncing to onesignal" in drawn
    assert "changed customer(s) to examine" not in drawn  # no plain lines on a terminal
