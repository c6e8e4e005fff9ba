"""100,000 contacts from a source brick to Brevo and OneSignal, with a Ctrl-C and a vendor
outage on the way: batching, consent filtering, resumption without duplicate or gap, and an
egress audit that matches the vendors' calls one to one with no personal data in it."""

from __future__ import annotations

from collections import Counter, defaultdict

import httpx
import pytest
from sqlalchemy import func, select

from hub.events.cursors import read_cursor
from hub.storage.db import session_scope
from hub.storage.models import AuditEntry, IdentifierEntry, SinkContact, table
from hub.sync.feed import SYNC_STREAM
from hub.sync.views import ViewMaker
from tests.sync.conftest import Crm, Vendors, contact

N = 100_000
BREVO_BATCH, ONESIGNAL_BATCH = 500, 100
PUSH_EVERY = 50
#: Brevo import calls confirmed before the Ctrl-C, OneSignal batches before the outage.
INTERRUPT_AT, OUTAGE_AFTER = 59, 10


def person(i: int):
    """80 % email marketing granted, 10 % denied, 10 % never asked; 2 % also push (the mocked
    OneSignal takes one call per contact: its cost is respx's, not the hub's)."""
    email = "granted" if i % 10 < 8 else ("denied" if i % 10 == 8 else "none")
    return contact(i, email=email, push=i % PUSH_EVERY == 0)


def _expected(hub) -> tuple[list[str], list[str]]:
    """The pseudonyms each sink must end up with (the consented people, nobody else), found
    through the hub's keyed digests of the source's emails."""
    identifiers = table(IdentifierEntry)
    with session_scope(hub.runtime.engine) as session:
        owner = dict(
            session.execute(select(identifiers.c.digest, identifiers.c.customer_id)).all()
        )
    keys, vault = hub.runtime.keys, hub.runtime.vault
    customer = [owner[keys.digest("email", "", f"person{i:06d}@example.org")] for i in range(N)]
    # ``ViewMaker.pseudonym`` is ``KeyRing.pseudonym`` with the key derived once (pinned in
    # test_views.py): 200,000 key derivations would cost seconds.
    brevo = ViewMaker(keys, vault, "brevo", []).pseudonym
    onesignal = ViewMaker(keys, vault, "onesignal", []).pseudonym
    return (
        [brevo(customer[i]) for i in range(N) if i % 10 < 8],
        [onesignal(customer[i]) for i in range(N) if i % PUSH_EVERY == 0],
    )


def _audit_groups(hub, sink: str) -> list[list[str]]:
    """Audit rows of the sink grouped by request id, in the order they were written."""
    audit = table(AuditEntry)
    groups: dict[str, list[str]] = defaultdict(list)
    with session_scope(hub.runtime.engine) as session:
        for request_id, pseudonym in session.execute(
            select(audit.c.request_id, audit.c.pseudonym)
            .where(audit.c.brick == sink, audit.c.action == "egress")
            .order_by(audit.c.id)
        ):
            groups[request_id].append(pseudonym)
    return list(groups.values())


def _check_audit_matches_calls(hub, vendors: Vendors, sink: str, batch: int) -> None:
    """Each request id is one upsert call. Either it delivered exactly the next contacts the
    vendor accepted, in order, or it is the one batch cut short (Ctrl-C, outage): audited
    before the call, as the vendor may hold any part of it, and re-sent under a new id."""
    delivered = vendors.delivered(sink)
    refused = {p for c in vendors.requests(sink) if c.status >= 300 for p in c.pseudonyms}
    position, cut_short = 0, []
    for group in _audit_groups(hub, sink):
        assert 0 < len(group) <= batch
        if delivered[position : position + len(group)] == group:
            position += len(group)
        else:
            cut_short.append(group)
    assert position == len(delivered), "every delivered contact has its audit row"
    assert len(cut_short) == 1
    assert refused <= set(cut_short[0]) <= set(delivered)


def _interrupt(index: int, pseudonyms: list[str]) -> httpx.Response | None:
    if index == INTERRUPT_AT:
        raise KeyboardInterrupt  # Ctrl-C while Brevo holds the request
    return None


def _outage(index: int, pseudonyms: list[str]) -> httpx.Response | None:
    if index >= OUTAGE_AFTER * ONESIGNAL_BATCH:
        return httpx.Response(500, json={"errors": ["Internal Server Error"]})
    return None


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_100k_contacts_two_crashes_then_complete(hub, vendors):
    Crm.serve(person, total=N)

    # Run 1: the whole source is pulled, then Ctrl-C during Brevo's 60th import.
    vendors.brevo_answer = _interrupt
    with pytest.raises(KeyboardInterrupt):
        hub.sync()
    assert len(vendors.delivered("brevo")) == INTERRUPT_AT * BREVO_BATCH
    assert vendors.requests("onesignal") == []

    # Run 2: nothing new at the source; Brevo resumes; OneSignal fails hard after 20 batches.
    vendors.brevo_answer, vendors.onesignal_answer = None, _outage
    second = hub.sync()
    assert second.pulled == 0 and second.exit_code == 4
    brevo, onesignal = second.sinks
    assert brevo.error is None and onesignal.error and "Retryable" in onesignal.error
    assert len(vendors.delivered("onesignal")) == OUTAGE_AFTER * ONESIGNAL_BATCH

    # Run 3: the vendor is back; everything left goes, once.
    vendors.onesignal_answer = None
    third = hub.sync()
    assert third.exit_code == 0, third.as_json()

    # No duplicate, no gap, consent filtering: every consented person exactly once per sink
    # across the three runs, and nobody else.
    brevo_sent, onesignal_sent = vendors.delivered("brevo"), vendors.delivered("onesignal")
    want_brevo, want_onesignal = _expected(hub)
    assert len(brevo_sent) == len(set(brevo_sent)) == len(want_brevo) == N * 8 // 10
    assert set(brevo_sent) == set(want_brevo)
    assert len(onesignal_sent) == len(set(onesignal_sent)) == len(want_onesignal) == N // PUSH_EVERY
    assert set(onesignal_sent) == set(want_onesignal)

    # Batching: Brevo one import job per 500 (no opted-out contact, so no single calls);
    # OneSignal one call per contact, in upsert batches of 100.
    imports = [c for c in vendors.requests("brevo") if c.status < 300]
    assert {c.path for c in imports} == {"/v3/contacts/import"}
    assert Counter(len(c.pseudonyms) for c in imports) == {BREVO_BATCH: N * 8 // 10 // 500}
    assert all(c.body["listIds"] == [3] for c in imports)
    failures = [c for c in vendors.requests("onesignal") if c.status >= 300]
    assert len(failures) == hub.runtime.settings.sending.max_attempts
    confirmed = [b.size for r in (second, third) for b in r.sinks[1].batches if b.confirmed]
    assert set(confirmed) == {ONESIGNAL_BATCH} and sum(confirmed) == N // PUSH_EVERY

    # The summaries agree: runs 2 and 3 created what run 1 had not confirmed.
    assert brevo.created + third.sinks[0].created == N * 8 // 10 - INTERRUPT_AT * BREVO_BATCH
    assert onesignal.created + third.sinks[1].created == N // PUSH_EVERY

    _check_audit_matches_calls(hub, vendors, "brevo", BREVO_BATCH)
    _check_audit_matches_calls(hub, vendors, "onesignal", ONESIGNAL_BATCH)
    sink_rows = table(SinkContact)
    with session_scope(hub.runtime.engine) as session:
        held = dict(
            session.execute(
                select(sink_rows.c.sink, func.count()).group_by(sink_rows.c.sink)
            ).all()
        )
        cursors = {s: read_cursor(session, s, SYNC_STREAM) for s in ("brevo", "onesignal")}
        audit_text = [
            " ".join(str(v) for v in row)
            for row in session.execute(select(table(AuditEntry))).all()
        ]
    assert held == {"brevo": N * 8 // 10, "onesignal": N // PUSH_EVERY}
    assert all(cursors.values())
    leaks = ("@", "example.org", "Ada", "Lovelace", "fcm-token", "APA91b")
    assert not [row for row in audit_text if any(word in row for word in leaks)]
