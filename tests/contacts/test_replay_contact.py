"""A contact refused at pull time (a configured placeholder email) is kept as a ``contact``
dead letter; once the placeholder is allowed, ``hub events replay`` stores it exactly as the
pull would have (profile, consents), without a second letter, on both backends."""

from __future__ import annotations

import asyncio
import json
import re

from contracts import (
    Channel,
    Consent,
    ConsentStatus,
    ContactPage,
    CustomerField,
    Identifier,
    IdentifierKind,
    MessageKind,
)
from hub.consent import may_contact
from hub.contacts.pull import pull_contacts
from hub.runtime import open_runtime
from hub.storage.db import session_scope, upgrade
from hub.testing import make_installation
from tests.contacts.test_pull import WHEN, Crm, _contact, _host
from tests.identity.test_replay_link import _junk

PLACEHOLDER = "noreply@shop.example"


def test_a_refused_contact_is_stored_once_its_placeholder_is_allowed(
    tmp_path, database_url, run_cli, monkeypatch
):
    monkeypatch.setattr("hub.cli.main.build_plugin_host", lambda **_: _host())
    inst = make_installation(
        tmp_path / "h", database_url=database_url, bricks="[bricks.crm]\n", migrate=False
    )
    consent = Consent(
        channel=Channel.EMAIL, status=ConsentStatus.GRANTED, source="crm", recorded_at=WHEN
    )
    Crm.pages = {
        None: ContactPage(
            records=[
                _contact("ok@example.com"),
                _contact(PLACEHOLDER, consents=[consent], first_name="Zoe"),
            ],
            next_cursor="c1",
        )
    }
    _junk(inst.config, [PLACEHOLDER])
    runtime = open_runtime(inst.config, host=_host())
    upgrade(runtime.engine)
    report = asyncio.run(pull_contacts(runtime, "crm"))
    assert report.created == 1
    [refused] = report.rejected
    letter_id = refused.dead_letter_id

    def replay(*extra: str):
        return run_cli("-c", str(inst.config), "events", "replay", str(letter_id), *extra)

    still = replay("--json")
    assert still.code == 2
    answer = json.loads(still.out)
    assert (answer["kind"], answer["status"], answer["outcome"]) == ("contact", "pending",
                                                                    "rejected")
    assert answer["field"] == "email" and "placeholder" in answer["reason"]

    _junk(inst.config, [])
    done = replay()
    assert done.code == 0, done.err
    match = re.fullmatch(r"dead letter #\d+ replayed: contact created \(customer (\S+)\)\n",
                         done.out)
    assert match, done.out
    fixed = open_runtime(inst.config, host=_host())
    with session_scope(fixed.engine) as session:
        customer = fixed.identity.find(
            session, Identifier(kind=IdentifierKind.EMAIL, value=PLACEHOLDER)
        )
        assert customer == match[1]
        profile = fixed.identity.read_profiles(session, [customer], [CustomerField.FIRST_NAME])
        assert profile[customer] == {CustomerField.FIRST_NAME: "Zoe"}
        assert may_contact(session, customer, Channel.EMAIL, MessageKind.MARKETING).allowed

    listed = run_cli("-c", str(inst.config), "events", "dead-letters", "--all", "--json")
    assert [(row["id"], row["kind"], row["status"]) for row in json.loads(listed.out)] == [
        (letter_id, "contact", "replayed")
    ]
    again = replay()
    assert again.code == 2 and "already replayed" in again.err
    asyncio.run(runtime.aclose())
    asyncio.run(fixed.aclose())
