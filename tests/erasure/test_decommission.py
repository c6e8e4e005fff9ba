"""``hub bricks decommission|reinstate|list``: a decommissioned brick gets no data whatever
config says, ``--erase-remote`` erases what it holds customer by customer (resumable), and the
brick comes back with ``reinstate``."""

from __future__ import annotations

import json

import pytest
from sqlmodel import select

from hub.storage.models import AuditEntry, BrickDecommission, SinkContact
from tests.erasure.conftest import ADA, Hub, Memo, people_csv
from tests.erasure.test_forget import BOB, customer_id_of

CAROL = {"email": "carol@example.org", "first_name": "Carol", "consent_email": "yes"}


@pytest.fixture
def synced(hub: Hub) -> list[str]:
    """Ada, Bob and Carol imported and synced to memo."""
    rows = [{**ADA, "consent_email": "yes"}, {**BOB, "consent_email": "yes"}, CAROL]
    assert hub.cli("contacts", "import", str(hub.write("p.csv", people_csv(*rows)))).code == 0
    assert hub.cli("contacts", "sync", "--from", "hub", "--to", "memo").code == 0
    assert len(Memo.held) == 3
    return [customer_id_of(hub, r["email"]) for r in rows]


def brick_status(hub: Hub, name: str) -> dict:
    rows = json.loads(hub.cli("bricks", "list", "--json").out)
    return {r["name"]: r for r in rows}[name]


def test_list_shows_configuration_status_and_capabilities(hub: Hub) -> None:
    memo = brick_status(hub, "memo")
    assert memo["status"] == "enabled" and memo["configured"] and memo["installed"]
    assert memo["capabilities"] == ["contact_sink", "sender"] and memo["channels"] == ["email"]
    assert brick_status(hub, "brevo")["status"] == "disabled"
    text = hub.cli("bricks", "list").out
    assert "memo: enabled, configured; contact_sink, sender [email]" in text


def test_a_decommissioned_brick_gets_nothing_and_sends_fall_back(
    hub: Hub, synced: list[str]
) -> None:
    ada = synced[0]
    running = hub.runtime()  # a long-running process, started before
    running.ready_engine()
    assert running.bricks["memo"].enabled
    result = hub.cli("bricks", "decommission", "memo", "--reason", "contract ended")
    assert result.code == 0, result.err
    assert "no data flows to it any more" in result.out
    assert brick_status(hub, "memo")["status"] == "decommissioned"
    running.ready_engine()  # its next unit of work sees it
    assert running.bricks["memo"].status == "decommissioned"
    with pytest.raises(KeyError, match="'memo' is decommissioned"):
        running.brick("memo")
    sent = json.loads(hub.cli("send", "--customer", ada, "--channel", "email", "--scenario",
                              "welcome", "--template", "t", "--json").out)
    assert sent["brick"] == "outbox" and sent["status"] == "sent"
    named = hub.cli("send", "--customer", ada, "--channel", "email", "--scenario", "welcome",
                    "--template", "t", "--brick", "memo")
    assert named.code == 2 and "brick 'memo' is decommissioned" in named.err
    synced_again = hub.cli("contacts", "sync", "--from", "hub", "--to", "memo")
    assert synced_again.code == 2 and "decommissioned" in synced_again.err
    assert Memo.sent == []
    assert hub.cli("bricks", "reinstate", "memo").code == 0
    running.ready_engine()
    assert running.bricks["memo"].enabled
    assert hub.cli("send", "--customer", ada, "--channel", "email", "--scenario", "welcome",
                   "--template", "t", "--brick", "memo").code == 0
    assert len(Memo.sent) == 1
    again = hub.cli("bricks", "reinstate", "memo")
    assert again.code == 2 and "not decommissioned" in again.err


def test_erase_remote_erases_every_customer_and_resumes(hub: Hub, synced: list[str]) -> None:
    Memo.failures = 1  # the first erase call fails
    result = hub.cli("bricks", "decommission", "memo", "--erase-remote", "--json")
    assert result.code == 4
    report = json.loads(result.out)
    assert report["erased"] == 2 and report["failed"] == 1
    assert sorted(c["customer_id"] for c in report["customers"]) == sorted(synced)
    [failed] = [c for c in report["customers"] if c["status"] == "failed"]
    assert "memo is down" in failed["error"]
    resumed = hub.cli("bricks", "decommission", "memo", "--erase-remote", "--json")
    assert resumed.code == 0
    again = json.loads(resumed.out)
    assert again["already"] is True
    assert [c["customer_id"] for c in again["customers"]] == [failed["customer_id"]]
    assert Memo.held == {} and len(Memo.erase_calls) == 4
    with hub.session() as session:
        states = {s.customer_id: s.state for s in session.exec(select(SinkContact))}
        [row] = session.exec(select(BrickDecommission)).all()
        erase_audit = session.exec(select(AuditEntry).where(AuditEntry.action == "erase")).all()
    assert states == dict.fromkeys(synced, "erased")
    assert row.status == "erased" and row.erase_remote
    assert len(erase_audit) == 4
    third = json.loads(hub.cli("bricks", "decommission", "memo", "--erase-remote", "--json").out)
    assert third["customers"] == []  # nothing left at the brick
    # The customers stay in the hub: only the brick lost them.
    assert json.loads(hub.cli("contacts", "show", synced[0], "--json").out)["status"] == "active"


def test_forget_still_reaches_a_decommissioned_brick(hub: Hub, synced: list[str]) -> None:
    assert hub.cli("bricks", "decommission", "memo").code == 0
    report = json.loads(hub.cli("contacts", "forget", synced[1], "--json").out)
    assert {s["brick"]: s["status"] for s in report["steps"]} == {"memo": "done"}
    assert len(Memo.held) == 2


def test_refusals_exit_2(hub: Hub) -> None:
    unknown = hub.cli("bricks", "decommission", "nope")
    assert unknown.code == 2 and "no brick named 'nope'" in unknown.err
    sender = hub.cli("bricks", "decommission", "outbox", "--erase-remote")
    assert sender.code == 2 and "has no erase call" in sender.err
    disabled = hub.cli("bricks", "decommission", "brevo", "--erase-remote")
    assert disabled.code == 2 and "enable it" in disabled.err
    with hub.session() as session:
        assert session.exec(select(BrickDecommission)).all() == []
