"""Merges follow the person (pressure, events, pseudonyms) and unmerges put back exactly."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlmodel import select

from contracts import Channel, Consent, ConsentStatus, DecisionOutcome, MessageKind
from hub.consent import current_consents, record_consents
from hub.events.store import read_events
from hub.identity.merges import MergeError, merge_customers, unmerge
from hub.storage.db import session_scope
from hub.storage.models import (
    AuditEntry,
    ConsentEntry,
    Customer,
    CustomerEvent,
    IdentifierEntry,
    IdentityMerge,
    LedgerEntry,
)
from tests.identity.conftest import NOW, email, login


def _merge(hub, survivor: str, absorbed: str) -> int:
    with session_scope(hub.runtime.engine) as session:
        return merge_customers(
            session, hub.runtime.vault, survivor, absorbed, evidence="login", source="test"
        ).id


def _unmerge(hub, merge_id: int, **kwargs) -> IdentityMerge:
    with session_scope(hub.runtime.engine) as session:
        return unmerge(session, hub.runtime.vault, merge_id, **kwargs)


def _rows(hub, model, customer_id: str) -> list:
    with session_scope(hub.runtime.engine) as session:
        return list(session.exec(select(model).where(model.customer_id == customer_id)))


def _send(hub, customer_id: str, at) -> DecisionOutcome:
    reservation = hub.runtime.ledger.reserve(
        customer_id, Channel.EMAIL, "promo", kind=MessageKind.MARKETING, at=at, commit=True
    )
    return reservation.decision.outcome


def test_after_a_merge_the_survivors_cap_counts_both_histories(hub):
    ann, also_ann = hub.customer("ann@example.com"), hub.customer("ann.work@example.com")
    at = NOW - timedelta(days=1)
    assert _send(hub, ann, at) is DecisionOutcome.ALLOWED
    assert _send(hub, also_ann, at + timedelta(hours=1)) is DecisionOutcome.ALLOWED
    # Apart, each has one contact of the two the weekly cap allows.
    assert hub.runtime.ledger.check(ann, Channel.EMAIL, "promo").outcome is DecisionOutcome.ALLOWED
    merge_id = _merge(hub, ann, also_ann)
    assert len(_rows(hub, LedgerEntry, ann)) == 2 and _rows(hub, LedgerEntry, also_ann) == []
    decision = hub.runtime.ledger.check(ann, Channel.EMAIL, "promo")
    assert decision.outcome is not DecisionOutcome.ALLOWED and decision.rule == "weekly"
    # Undone: each history is its own again, and so is each cap.
    _unmerge(hub, merge_id, reason="two people after all")
    assert len(_rows(hub, LedgerEntry, ann)) == 1 and len(_rows(hub, LedgerEntry, also_ann)) == 1
    assert hub.runtime.ledger.check(ann, Channel.EMAIL, "promo").outcome is DecisionOutcome.ALLOWED


def test_events_move_resealed_and_pseudonyms_of_the_absorbed_reach_the_survivor(hub):
    ann = hub.customer("ann@example.com")
    old = hub.ingest(login("old", email("old@example.com", verified=True))).stored[0].customer_id
    with session_scope(hub.runtime.engine) as session:
        pseudonym = hub.runtime.identity.pseudonym_for(session, "outbox", old)
    merge_id = _merge(hub, ann, old)
    with session_scope(hub.runtime.engine) as session:
        [row] = session.exec(select(CustomerEvent).where(CustomerEvent.customer_id == ann))
        [stored] = read_events(session, hub.runtime.vault, [row.id])
        assert stored.payload == {"method": "password"}  # re-sealed under the survivor's key
        assert hub.runtime.identity.customer_for_pseudonym(session, "outbox", pseudonym) == ann
    by_pseudonym = hub.ingest(
        {**login("via-ps", email("x@example.com")), "source": "outbox", "identifiers": [],
         "pseudonym": pseudonym}
    )
    assert by_pseudonym.stored[0].customer_id == ann
    _unmerge(hub, merge_id)
    with session_scope(hub.runtime.engine) as session:
        assert hub.runtime.identity.customer_for_pseudonym(session, "outbox", pseudonym) == old
        [row] = session.exec(select(CustomerEvent).where(CustomerEvent.source_event_id == "old"))
        assert row.customer_id == old
        [back] = read_events(session, hub.runtime.vault, [row.id])
        assert back.payload == {"method": "password"}


def test_unmerge_moves_back_exactly_the_recorded_rows(hub):
    ann, other = hub.customer("ann@example.com"), hub.customer("other@example.com")
    granted = Consent(channel=Channel.EMAIL, status=ConsentStatus.GRANTED, source="form",
                      recorded_at=NOW - timedelta(days=3))
    with session_scope(hub.runtime.engine) as session:
        record_consents(session, other, [granted])
    hub.runtime.ledger.record(other, Channel.EMAIL, "promo", at=NOW - timedelta(days=2))
    before = {m: sorted(r.id if hasattr(r, "id") else r.digest for r in _rows(hub, m, other))
              for m in (ConsentEntry, LedgerEntry)}
    [digest] = [r.digest for r in _rows(hub, IdentifierEntry, other)]
    merge_id = _merge(hub, ann, other)
    with session_scope(hub.runtime.engine) as session:
        assert current_consents(session, ann)  # consents moved with the person
    # Rows written for the survivor after the merge stay with the survivor.
    newer = hub.runtime.ledger.record(ann, Channel.EMAIL, "promo", at=NOW - timedelta(hours=1))
    undone = _unmerge(hub, merge_id)
    assert sorted(r.id for r in _rows(hub, ConsentEntry, other)) == before[ConsentEntry]
    assert sorted(r.id for r in _rows(hub, LedgerEntry, other)) == before[LedgerEntry]
    assert newer in [r.id for r in _rows(hub, LedgerEntry, ann)]
    assert [r.digest for r in _rows(hub, IdentifierEntry, other)] == [digest]
    assert json.loads(undone.moved)["identifiers"] == [digest]
    with session_scope(hub.runtime.engine) as session:
        customer = session.get(Customer, other)
        assert (customer.status, customer.merged_into) == ("active", None)
        log = session.exec(select(IdentityMerge).order_by(IdentityMerge.id)).all()
        audit = session.exec(select(AuditEntry).where(AuditEntry.action.startswith("identity_")))
        actions = sorted((a.action, a.customer_id) for a in audit)
    assert [(e.action, e.refers_to, e.reason) for e in log] == [
        ("merge", None, None), ("unmerge", merge_id, None)
    ]
    assert actions == sorted([("identity_merge", ann), ("identity_merge", other),
                              ("identity_unmerge", ann), ("identity_unmerge", other)])


def test_unmerge_refuses_twice_unknown_and_a_merge_a_later_one_depends_on(hub):
    a, b, c = (hub.customer(f"{n}@example.com") for n in ("a", "b", "c"))
    first = _merge(hub, a, b)
    second = _merge(hub, c, a)  # a, holding b's rows, goes into c
    with pytest.raises(MergeError, match=f"undo merge #{second} first"):
        _unmerge(hub, first)
    _unmerge(hub, second)
    _unmerge(hub, first)
    with pytest.raises(MergeError, match="already undone"):
        _unmerge(hub, first)
    with pytest.raises(MergeError, match="no merge #999"):
        _unmerge(hub, 999)
    with pytest.raises(MergeError, match="not a merge"):
        _unmerge(hub, second + 1)
    with pytest.raises(MergeError, match="not active"):
        _merge(hub, a, a.replace("cus_", "cus_x"))
    assert {r.customer_id for r in _rows(hub, IdentifierEntry, b)} == {b}
