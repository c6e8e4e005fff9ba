"""``hub identity pull|show|merges|unmerge``: output, masking and exit codes."""

from __future__ import annotations

import json

import pytest

from contracts import Contact, Identifier, IdentifierKind, IdentityLinkPage, Permanent
from hub.contacts.apply import apply_contact
from hub.storage.db import session_scope
from tests.identity.conftest import Dmp, cookie, dmp_host, email, ident, link, login


@pytest.fixture(autouse=True)
def _dmp_installed(monkeypatch):
    """The CLI builds its own plugin host: give it the scripted DMP brick."""
    monkeypatch.setattr("hub.cli.main.build_plugin_host", dmp_host)


def _cli(run_cli, hub, *args):
    return run_cli("-c", str(hub.config), "identity", *args)


def test_pull_reports_and_exits_by_outcome(hub, run_cli):
    hub.customer("ann@example.com")
    Dmp.pages = {
        None: IdentityLinkPage(
            links=[link(ident("site_cookie", "ck-1"), ident("email", "ann@example.com",
                                                             verified=True)),
                   link(ident("site_cookie", "ck-2"), ident("email", "ann@example.com"),
                        evidence="anonymous")],
            next_cursor="c1",
            has_more=True,
        ),
        "c1": IdentityLinkPage(
            links=[link(ident("site_cookie", "undefined"), ident("email", "ann@example.com",
                                                                  verified=True), ref="ev-9")],
            next_cursor="c2",
        ),
    }
    not_links = _cli(run_cli, hub, "pull", "--from", "outbox")
    assert not_links.code == 2 and "--from" in not_links.err
    assert "not an identity link source" in not_links.err
    first = _cli(run_cli, hub, "pull", "--from", "dmp", "--max-pages", "1")
    assert first.code == 0, first.err
    assert first.out.startswith("1 page(s), 2 link(s) from dmp: 1 linked, 0 refreshed, 0 merged")
    assert "1 skipped (1 anonymous)" in first.out and "(more pages waiting)" in first.out
    second = _cli(run_cli, hub, "pull", "--from", "dmp", "--json")
    assert second.code == 2
    body = json.loads(second.out)
    assert (body["pages"], body["links"], body["linked"]) == (1, 1, 0)
    [rejected] = body["rejected"]
    # Links are counted per run: the refused one is the first of this run.
    assert rejected["field"] == "links.0.identifiers.0.value" and rejected["dead_letter"]
    assert "link #0: links.0.identifiers.0.value: site_cookie: placeholder" in second.err
    Dmp.failures = [Permanent("refused")]
    failing = _cli(run_cli, hub, "pull", "--from", "dmp")
    assert failing.code == 4 and "Permanent" in failing.err


def test_show_masks_identifiers_and_lists_merges(hub, run_cli):
    ann = hub.ingest(
        login("e1", cookie("ck-1"), email("ada.lovelace@example.com", verified=True))
    ).stored[0].customer_id
    address = Identifier(kind=IdentifierKind.EMAIL, value="ada.lovelace@example.com")
    with session_scope(hub.runtime.engine) as session:  # the profile email, in the vault
        apply_contact(session, hub.runtime.identity, Contact(identifiers=[address]), source="crm")
    other = hub.ingest(
        login("e2", {"kind": "crm_id", "value": "crm-77", "verified": True})
    ).stored[0].customer_id
    hub.ingest(login("e3", email("ada.lovelace@example.com", verified=True),
                     {"kind": "crm_id", "value": "crm-77", "verified": True}))

    text = _cli(run_cli, hub, "show", ann)
    assert text.code == 0, text.err
    assert text.out.startswith(f"{ann}: active\n")
    assert "email a***@e***.com: verified, source site" in text.out
    assert "site_cookie [web] #" in text.out and ", live" in text.out
    assert f"merge: {other} into {ann}" in text.out and "1 customer_events" in text.out
    for output in (text.out, _cli(run_cli, hub, "show", ann, "--json").out):
        assert "ada.lovelace" not in output and "ck-1" not in output and "crm-77" not in output
    body = json.loads(_cli(run_cli, hub, "show", ann, "--json").out)
    kinds = sorted((i["kind"], i["value"][:1]) for i in body["identifiers"])
    assert kinds == [("crm_id", "#"), ("email", "a"), ("site_cookie", "#")]
    assert all(i["live"] for i in body["identifiers"])
    absorbed = json.loads(_cli(run_cli, hub, "show", other, "--json").out)
    assert (absorbed["status"], absorbed["merged_into"], absorbed["identifiers"]) == (
        "merged", ann, [])
    missing = _cli(run_cli, hub, "show", "cus_nobody")
    assert missing.code == 2 and "ID: no customer cus_nobody" in missing.err

    log = json.loads(_cli(run_cli, hub, "merges", "--json").out)
    assert [(m["action"], m["survivor"], m["absorbed"]) for m in log] == [("merge", ann, other)]
    assert log[0]["moved"]["identifiers"] == 1 and log[0]["evidence"] == "event customer.logged_in"
    assert _cli(run_cli, hub, "merges", "--customer", "cus_nobody").out == "no merges\n"

    undone = _cli(run_cli, hub, "unmerge", str(log[0]["id"]), "--reason", "shared CRM id")
    assert undone.code == 0, undone.err
    assert f"merge #{log[0]['id']} undone" in undone.out
    assert f"{other} is active again" in undone.out
    twice = _cli(run_cli, hub, "unmerge", str(log[0]["id"]), "--json")
    assert twice.code == 2 and "already undone" in twice.err
    unknown = _cli(run_cli, hub, "unmerge", "4242")
    assert unknown.code == 2 and "MERGE_ID: no merge #4242" in unknown.err
    after = _cli(run_cli, hub, "merges", "--customer", other)
    assert "[undone by #" in after.out and "unmerge of #" in after.out
    assert "reason: shared CRM id" in after.out
