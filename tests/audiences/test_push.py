"""Pushing an audience: only consented members, keyed by pseudonym and matched cookies, audited."""

from __future__ import annotations

import asyncio
import json
from typing import ClassVar

import pytest
from sqlmodel import select

import hub.cli.main
from contracts import (
    Audience,
    AudienceMember,
    Brick,
    Capability,
    Purpose,
    Retryable,
)
from hub.audiences.push import AudienceError, push_audience
from hub.events.intake import ingest_events
from hub.plugins import build_plugin_host
from hub.runtime import open_runtime
from hub.sdk import hookimpl
from hub.storage.db import session_scope, upgrade
from hub.storage.models import AuditEntry, DeadLetter
from hub.testing import make_installation
from tests.audiences.conftest import AUDIENCES, NOW, PEOPLE, build_shop, customer_of


class Dmp(Brick):
    """Records what it was handed."""

    name: ClassVar[str] = "dmp"
    version: ClassVar[str] = "1.0.0"
    description: ClassVar[str] = "A recording DMP"
    capabilities: ClassVar[frozenset[Capability]] = frozenset({Capability.AUDIENCE_SINK})
    purposes: ClassVar[frozenset[Purpose]] = frozenset({Purpose.PROFILING, Purpose.ANALYTICS})
    pushed: ClassVar[list[tuple[Audience, list[AudienceMember]]]] = []
    failures: ClassVar[list[Exception]] = []

    async def push(self, audience: Audience, members) -> None:
        if Dmp.failures:
            raise Dmp.failures.pop(0)
        Dmp.pushed.append((audience, list(members)))


class Plugin:
    @hookimpl
    def hub_register_bricks(self, register) -> None:
        register(Dmp)


def _host():
    return build_plugin_host(extra_plugins=[("dmp-plugin", Plugin())])


@pytest.fixture
def dmp(tmp_path, database_url):
    Dmp.pushed, Dmp.failures = [], []
    inst = make_installation(
        tmp_path / "h",
        database_url=database_url,
        extra=AUDIENCES + '[sending]\nmax_attempts = 2\nbackoff_initial = "1s"\n',
        bricks='[bricks.dmp]\npurposes = ["profiling"]\n'
        '[bricks.outbox]\npurposes = ["marketing"]\n',
        migrate=False,
    )
    runtime = open_runtime(inst.config, host=_host())
    upgrade(runtime.engine)
    build_shop(runtime)
    yield inst, runtime
    asyncio.run(runtime.aclose())


async def _no_sleep(_seconds: float) -> None:
    return None


def _push(runtime, name="big-spenders-cycling", brick="dmp", **kwargs):
    return asyncio.run(push_audience(runtime, name, brick, at=NOW, sleep=_no_sleep, **kwargs))


def test_push_hands_pseudonyms_only_and_audits_each_member(dmp):
    _, runtime = dmp
    report = _push(runtime)
    big = customer_of(runtime, "big.cyclist@example.com")
    [(audience, members)] = Dmp.pushed
    assert (audience.name, audience.description) == (
        "big-spenders-cycling",
        "Big spenders interested in cycling",
    )
    assert [m.pseudonym for m in members] == [runtime.identity.keys.pseudonym("dmp", big)]
    assert (report.members, report.without_consent) == (1, 2)
    sent = json.dumps([m.model_dump() for m in members])
    assert "cus_" not in sent and "@" not in sent
    with session_scope(runtime.engine) as session:
        [row] = session.exec(select(AuditEntry).where(AuditEntry.brick == "dmp"))
        assert (row.customer_id, row.fields, row.purpose) == (big, "audience", "profiling")
        assert row.request_id == report.request_id


def test_dry_run_sends_and_records_nothing(dmp):
    _, runtime = dmp
    report = _push(runtime, "everyone-consented", dry_run=True)
    granted = sum(1 for _, _, consent in PEOPLE.values() if consent == "granted")
    assert (report.members, Dmp.pushed) == (granted, [])
    with session_scope(runtime.engine) as session:
        assert list(session.exec(select(AuditEntry).where(AuditEntry.brick == "dmp"))) == []


@pytest.mark.parametrize(
    ("name", "brick", "field", "reason"),
    [
        ("nope", "dmp", "audiences.nope", "no such audience"),
        ("big-spenders-cycling", "outbox", "--to", "not an audience sink"),
        ("big-spenders-cycling", "ghost", "--to", "not configured"),
    ],
    ids=["unknown-audience", "not-a-sink", "unknown-brick"],
)
def test_refusals_name_the_field(dmp, name, brick, field, reason):
    _, runtime = dmp
    with pytest.raises(AudienceError) as caught:
        _push(runtime, name, brick)
    assert caught.value.field == field and reason in caught.value.reason


def test_a_brick_not_configured_for_the_purpose_gets_nothing(tmp_path, database_url):
    inst = make_installation(
        tmp_path / "h",
        database_url=database_url,
        extra=AUDIENCES,
        bricks='[bricks.dmp]\npurposes = ["analytics"]\n',
        migrate=False,
    )
    runtime = open_runtime(inst.config, host=_host())
    upgrade(runtime.engine)
    try:
        with pytest.raises(AudienceError, match="profiling purpose"):
            _push(runtime)
    finally:
        asyncio.run(runtime.aclose())


def test_a_failing_dmp_is_dead_lettered_and_the_cli_exits_4(dmp, run_cli, monkeypatch):
    inst, runtime = dmp
    Dmp.failures = [Retryable("down")] * 20
    monkeypatch.setattr(hub.cli.main, "build_plugin_host", lambda **_: _host())
    result = run_cli(
        "-c",
        str(inst.config),
        "audiences",
        "push",
        "big-spenders-cycling",
        "--to",
        "dmp",
        "--at",
        NOW.isoformat(),
    )
    assert result.code == 4 and "--to" in result.err
    with session_scope(runtime.engine) as session:
        [letter] = session.exec(select(DeadLetter).where(DeadLetter.kind == "audience_push"))
        assert letter.reference.startswith("big-spenders-cycling:")
    Dmp.failures = []
    result = run_cli(
        "-c",
        str(inst.config),
        "audiences",
        "push",
        "big-spenders-cycling",
        "--to",
        "dmp",
        "--at",
        NOW.isoformat(),
        "--json",
    )
    assert result.code == 0, result.err
    assert json.loads(result.out)["members"] == 1


def test_cli_list_and_show(dmp, run_cli, monkeypatch):
    inst, _ = dmp
    monkeypatch.setattr(hub.cli.main, "build_plugin_host", lambda **_: _host())
    result = run_cli("-c", str(inst.config), "audiences", "list")
    assert result.code == 0
    assert "big-spenders-cycling: >= 2 order(s) in 365 days worth >= 500 EUR" in result.out
    result = run_cli(
        "-c",
        str(inst.config),
        "audiences",
        "show",
        "big-spenders-cycling",
        "--at",
        NOW.isoformat(),
        "--json",
    )
    assert result.code == 0
    assert (json.loads(result.out)["members"], json.loads(result.out)["without_consent"]) == (1, 2)
    result = run_cli("-c", str(inst.config), "audiences", "show", "nope")
    assert result.code == 2 and "audiences.nope" in result.err


def test_cookies_matched_on_a_verified_login_travel_with_the_member(dmp):
    _, runtime = dmp
    login = {
        "id": "login-1",
        "type": "customer.logged_in",
        "source": "site",
        "occurred_at": NOW.isoformat(),
        "identifiers": [
            {"kind": "email", "value": "big.cyclist@example.com", "verified": True},
            {"kind": "site_cookie", "value": "ck-7f3a9e", "namespace": "site"},
        ],
        "payload": {"method": "password"},
    }
    anonymous = {
        "id": "view-1",
        "type": "page.viewed",
        "source": "site",
        "occurred_at": NOW.isoformat(),
        "identifiers": [
            {"kind": "email", "value": "big.cyclist@example.com"},
            {"kind": "site_cookie", "value": "ck-unproven", "namespace": "site"},
        ],
        "payload": {"url": "https://shop.example.com/bikes"},
    }
    assert not ingest_events(runtime, [login, anonymous], source="site").rejected
    report = _push(runtime)
    [(_, [member])] = Dmp.pushed
    assert member.cookie_ids == ["ck-7f3a9e"]  # the unverified pairing links nothing
    assert report.with_cookies == 1
    Dmp.pushed.clear()
    Dmp.cookie_namespaces = frozenset({"unomi"})  # the sink knows only its tracker's cookies
    try:
        _push(runtime)
    finally:
        del Dmp.cookie_namespaces
    [(_, [member])] = Dmp.pushed
    assert member.cookie_ids == []
    with session_scope(runtime.engine) as session:
        rows = session.exec(
            select(AuditEntry).where(AuditEntry.brick == "dmp").order_by(AuditEntry.id)
        )
        assert [row.fields for row in rows] == ["audience,cookie_ids", "audience"]


def test_a_failed_push_is_replayed_with_todays_members_and_no_second_letter(
    dmp, run_cli, monkeypatch
):
    inst, _ = dmp
    Dmp.failures = [Retryable("down")] * 20
    monkeypatch.setattr(hub.cli.main, "build_plugin_host", lambda **_: _host())

    def cli(*args: str):
        return run_cli("-c", str(inst.config), *args)

    assert cli("audiences", "push", "big-spenders-cycling", "--to", "dmp").code == 4
    listed = cli("events", "dead-letters", "--kind", "audience_push", "--json")
    [letter] = json.loads(listed.out)

    still = cli("events", "replay", str(letter["id"]), "--json")
    assert still.code == 4  # the vendor still fails after the core's retries
    body = json.loads(still.out)
    assert (body["kind"], body["status"], body["outcome"], body["field"]) == (
        "audience_push", "pending", "failed", "brick"
    )
    assert "Retryable" in still.err and Dmp.pushed == []

    Dmp.failures = []
    today = json.loads(cli("audiences", "show", "big-spenders-cycling", "--json").out)["members"]
    done = cli("events", "replay", str(letter["id"]))
    assert done.code == 0, done.err
    assert f"audience big-spenders-cycling pushed to dmp, {today} member(s)" in done.out
    assert [len(members) for _, members in Dmp.pushed] == [today]
    after = cli("events", "dead-letters", "--all", "--kind", "audience_push", "--json")
    assert [(row["id"], row["status"]) for row in json.loads(after.out)] == [
        (letter["id"], "replayed")
    ]
