"""Pulling a ContactSource brick: profiles, consents and attributes in, the cursor with its page."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import ClassVar

import pytest

import hub.cli.main
from contracts import (
    Brick,
    Capability,
    Channel,
    Consent,
    ConsentStatus,
    Contact,
    ContactPage,
    Identifier,
    IdentifierKind,
    Retryable,
)
from hub.consent import current_consents
from hub.contacts.attributes import read_attributes
from hub.contacts.pull import CONTACTS_STREAM, NotAContactSource, pull_contacts
from hub.erasure.forget import forget
from hub.events.cursors import read_cursor
from hub.plugins import build_plugin_host
from hub.runtime import open_runtime
from hub.sdk import hookimpl
from hub.storage.db import session_scope, upgrade
from hub.testing import make_installation

WHEN = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def _contact(email: str, **extra: object) -> Contact:
    return Contact.model_validate(
        {
            "identifiers": [{"kind": "email", "value": email}],
            "updated_at": WHEN,
            **extra,
        }
    )


class Crm(Brick):
    """A contact source serving scripted pages by cursor."""

    name: ClassVar[str] = "crm"
    version: ClassVar[str] = "1.0.0"
    description: ClassVar[str] = "Scripted contact source"
    capabilities: ClassVar[frozenset[Capability]] = frozenset({Capability.CONTACT_SOURCE})
    pages: ClassVar[dict[str | None, ContactPage]] = {}
    failures: ClassVar[list[Exception]] = []
    asked: ClassVar[list[str | None]] = []

    async def read_changes(self, cursor: str | None) -> ContactPage:
        Crm.asked.append(cursor)
        if Crm.failures:
            raise Crm.failures.pop(0)
        return Crm.pages[cursor]


class Plugin:
    @hookimpl
    def hub_register_bricks(self, register) -> None:
        register(Crm)


def _host():
    return build_plugin_host(extra_plugins=[("crm-plugin", Plugin())])


@pytest.fixture
def crm(tmp_path, database_url):
    consent = Consent(
        channel=Channel.EMAIL, status=ConsentStatus.GRANTED, source="crm", recorded_at=WHEN
    )
    Crm.pages = {
        None: ContactPage(
            records=[
                _contact("ada@example.com", consents=[consent], first_name="Ada"),
                _contact("bob@example.com", attributes={"interests": ["cycling", "tea"]}),
            ],
            next_cursor="c1",
            has_more=True,
        ),
        "c1": ContactPage(
            records=[
                _contact("ada@example.com", attributes={"loyalty_tier": "gold"}),
                _contact("eve@example.com", attributes={"Bad Name": 1}),
            ],
            next_cursor="c2",
        ),
        "c2": ContactPage(records=[], next_cursor="c2"),
    }
    Crm.failures, Crm.asked = [], []
    inst = make_installation(
        tmp_path / "h", database_url=database_url, bricks="[bricks.crm]\n", migrate=False
    )
    runtime = open_runtime(inst.config, host=_host())
    upgrade(runtime.engine)
    yield inst, runtime
    asyncio.run(runtime.aclose())


def _pull(runtime, **kwargs):
    async def no_sleep(_seconds: float) -> None:
        return None

    return asyncio.run(pull_contacts(runtime, "crm", sleep=no_sleep, **kwargs))


def _customer(runtime, email: str) -> str:
    with session_scope(runtime.engine) as session:
        found = runtime.identity.find(session, Identifier(kind=IdentifierKind.EMAIL, value=email))
    assert found
    return found


def test_pull_stores_profiles_consents_attributes_and_dead_letters(crm):
    _, runtime = crm
    report = _pull(runtime)
    assert (report.pages, report.created, report.updated, report.unchanged) == (2, 2, 1, 0)
    assert [(r.index, r.field) for r in report.rejected] == [(3, "attributes.Bad Name")]
    assert report.rejected[0].dead_letter_id
    ada, bob = _customer(runtime, "ada@example.com"), _customer(runtime, "bob@example.com")
    with session_scope(runtime.engine) as session:
        attributes = read_attributes(session, runtime.vault, [ada, bob])
        consents = current_consents(session, ada)
        assert read_cursor(session, "crm", CONTACTS_STREAM) == "c2"
    assert attributes == {ada: {"loyalty_tier": "gold"}, bob: {"interests": ["cycling", "tea"]}}
    assert [c.status for c in consents.values()] == ["granted"]
    assert report.changed_customers == [ada, bob, ada]


def test_a_second_pull_resumes_at_the_cursor_and_changes_nothing(crm):
    _, runtime = crm
    _pull(runtime)
    again = _pull(runtime)
    assert (again.pages, again.read, Crm.asked) == (1, 0, [None, "c1", "c2"])


def test_a_failing_brick_keeps_pages_already_stored(crm):
    _, runtime = crm
    _pull(runtime, max_pages=1)
    Crm.failures = [Retryable("down")] * 10
    with pytest.raises(Retryable):
        _pull(runtime)
    Crm.failures = []
    resumed = _pull(runtime)
    assert Crm.asked[-1] == "c1"
    assert (resumed.updated, len(resumed.rejected)) == (1, 1)


def test_only_a_contact_source_can_be_pulled(crm):
    _, runtime = crm
    with pytest.raises(NotAContactSource, match="nope"):
        asyncio.run(pull_contacts(runtime, "nope"))


def test_cli_pull_json_and_exit_code(crm, run_cli, monkeypatch):
    inst, _ = crm
    monkeypatch.setattr(hub.cli.main, "build_plugin_host", lambda **_: _host())
    result = run_cli("-c", str(inst.config), "contacts", "pull", "--from", "nope")
    assert result.code == 2 and "--from" in result.err
    result = run_cli("-c", str(inst.config), "contacts", "pull", "--from", "crm", "--json")
    assert result.code == 2, result.err
    summary = json.loads(result.out)
    assert (summary["created"], summary["updated"], summary["read"]) == (2, 1, 4)
    assert summary["rejected"][0]["field"] == "attributes.Bad Name"
    assert "contact #3: attributes.Bad Name" in result.err
    result = run_cli("-c", str(inst.config), "contacts", "pull", "--from", "crm")
    assert result.code == 0 and "0 created, 0 updated" in result.out


def test_a_forgotten_person_pulled_again_is_counted_as_suppressed(crm):
    _, runtime = crm
    _pull(runtime)
    asyncio.run(forget(runtime, _customer(runtime, "bob@example.com"), reason="art. 17"))
    Crm.pages["c2"] = ContactPage(records=[_contact("bob@example.com")], next_cursor="c3")
    report = _pull(runtime)
    assert (report.suppressed, report.created, report.read) == (1, 0, 1)
