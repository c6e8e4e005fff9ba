"""Opt-outs reach Brevo: a view's ``opted_out`` channels become Brevo's unsubscribe flags.

The core puts a channel in ``ContactView.opted_out`` when the person's marketing consent there
is denied (an unsubscribe or complaint reported by another brick, a hard bounce...). Brevo must
learn it, or a campaign started from Brevo's own tool would still reach them.
"""

from __future__ import annotations

import asyncio

import respx

from contracts import Channel
from hub.testing.vendor_specs import load_vendor_spec
from plugins.brevo.payloads import blacklist_flags, contact_body
from plugins.brevo.tests.helpers import BASE, PSEUDONYM, make_brick, sent_json, view


def test_email_opt_out_sets_email_blacklisted() -> None:
    contact = view(opted_out=frozenset({Channel.EMAIL}))
    with respx.mock(base_url=BASE, assert_all_mocked=True) as mock:
        route = mock.post("/contacts").respond(204)
        asyncio.run(make_brick().upsert([contact]))
    body = sent_json(route)
    assert body["emailBlacklisted"] is True
    assert "smsBlacklisted" not in body
    assert body["ext_id"] == PSEUDONYM and body["updateEnabled"] is True


def test_no_opt_out_never_sends_a_flag_that_would_resubscribe() -> None:
    """``false`` would lift an unsubscribe made in Brevo itself: the flag is absent instead."""
    body = contact_body(view(), make_brick().settings)
    assert "emailBlacklisted" not in body and "smsBlacklisted" not in body


def test_sms_opt_out_needs_the_phone_mapped() -> None:
    contact = view(phone="+33612345678", opted_out=frozenset({Channel.SMS, Channel.EMAIL}))
    mapped = make_brick().settings  # the default attributes map phone to SMS
    assert blacklist_flags(contact, mapped) == {"emailBlacklisted": True, "smsBlacklisted": True}
    unmapped = make_brick(attributes={"first_name": "FIRSTNAME"}).settings
    assert blacklist_flags(contact, unmapped) == {"emailBlacklisted": True}


def test_push_opt_out_means_nothing_to_brevo() -> None:
    contact = view(opted_out=frozenset({Channel.PUSH}))
    assert blacklist_flags(contact, make_brick().settings) == {}


def test_flagged_body_conforms_to_create_contact() -> None:
    spec = load_vendor_spec("brevo_v3.yml")
    contact = view(phone="+33612345678", opted_out=frozenset({Channel.EMAIL, Channel.SMS}))
    with respx.mock(base_url=BASE, assert_all_mocked=True) as mock:
        route = mock.post("/contacts").respond(201, json={"id": 4})
        asyncio.run(make_brick().upsert([contact]))
    spec.validate_request(route.calls.last.request, label="createContact with opt-outs")


def test_import_batch_sends_opted_out_contacts_one_by_one() -> None:
    """Import rows cannot carry the flags, so those contacts leave the import job."""
    contacts = [view(f"ps_brevobatch{i:012d}xx", email=f"u{i}@example.org") for i in range(5)]
    contacts[2] = contacts[2].model_copy(update={"opted_out": frozenset({Channel.EMAIL})})
    with respx.mock(base_url=BASE, assert_all_mocked=True) as mock:
        bulk = mock.post("/contacts/import").respond(202, json={"processId": 9})
        single = mock.post("/contacts").respond(201, json={"id": 1})
        results = asyncio.run(make_brick(import_threshold=3).upsert(contacts))
    assert [r.pseudonym for r in results] == [c.pseudonym for c in contacts]
    assert single.call_count == 1 and sent_json(single)["emailBlacklisted"] is True
    assert results[2].created
    rows = sent_json(bulk)["jsonBody"]
    assert [row["attributes"]["EXT_ID"] for row in rows] == [
        c.pseudonym for i, c in enumerate(contacts) if i != 2
    ]
