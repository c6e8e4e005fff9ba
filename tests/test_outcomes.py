"""Outcomes: stored against the send, once per vendor event; opt-outs revoke consent and reach
every other contact sink that holds the person (both backends)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlmodel import col, select

from contracts import Channel, MessageKind, Outcome, OutcomeType, Purpose
from hub.consent import current_consents, may_contact
from hub.dead_letters import list_dead_letters, open_payload
from hub.egress import build_view
from hub.outcomes import record_outcomes
from hub.runtime import Runtime
from hub.send_records import SendState, claim_send, finish_send
from hub.storage.db import session_scope
from hub.storage.models import AuditEntry, OutcomeRecord
from hub.storage.types import utcnow
from tests.server.fakes import FakeSink, Hub, add_customer, make_hub


async def _no_wait(_: float) -> None:
    return None


@pytest.fixture
def hub(tmp_path: Path, database_url: str) -> Iterator[Hub]:
    made = make_hub(tmp_path / "hub", database_url)
    yield made
    asyncio.run(made.runtime.aclose())


def _sent(runtime: Runtime, customer_id: str, message_id: str, brick: str = "fake_hook") -> str:
    """A send through ``brick`` the vendor knows as ``message_id``; returns its request id."""
    request_id = f"req-{message_id}"
    claim_send(
        runtime.engine,
        request_id=request_id,
        idempotency_key=f"key-{message_id}",
        brick=brick,
        customer_id=customer_id,
        channel="email",
        scenario="welcome",
        kind="marketing",
        template="welcome-1",
    )
    finish_send(runtime.engine, request_id, SendState.ACCEPTED, vendor_message_id=message_id)
    return request_id


def _holds(runtime: Runtime, brick: str, customer_id: str) -> str:
    """Make ``brick`` hold the person (as a sync would), returning its pseudonym."""
    with session_scope(runtime.engine) as session:
        return runtime.identity.pseudonym_for(session, brick, customer_id)


def _outcome(kind: OutcomeType, **fields: object) -> Outcome:
    values: dict[str, object] = {
        "type": kind,
        "channel": Channel.EMAIL,
        "vendor_status": kind.value,
        "occurred_at": utcnow(),
    }
    values.update(fields)
    return Outcome.model_validate(values)


def _rows(runtime: Runtime) -> list[OutcomeRecord]:
    with session_scope(runtime.engine) as session:
        return list(session.exec(select(OutcomeRecord).order_by(col(OutcomeRecord.id))))


def _may_market(runtime: Runtime, customer_id: str, channel: Channel) -> bool:
    with session_scope(runtime.engine) as session:
        return may_contact(session, customer_id, channel, MessageKind.MARKETING).allowed


def test_unsubscribe_revokes_consent_audits_and_propagates(hub: Hub) -> None:
    runtime = hub.runtime
    customer = add_customer(runtime)
    request_id = _sent(runtime, customer, "vm-1")
    sink_pseudonym = _holds(runtime, "fake_sink", customer)
    outcome = _outcome(OutcomeType.UNSUBSCRIBED, vendor_message_id="vm-1", vendor_event_id="e1")

    report = record_outcomes(runtime, "fake_hook", [outcome], sleep=_no_wait)

    assert (report.stored, report.duplicates, report.unmatched) == (1, 0, 0)
    assert report.by_type == {"unsubscribed": 1}
    [row] = _rows(runtime)
    assert (row.customer_id, row.request_id, row.type) == (customer, request_id, "unsubscribed")
    assert not _may_market(runtime, customer, Channel.EMAIL)
    assert _may_market(runtime, customer, Channel.SMS), "only the reported channel is revoked"
    with session_scope(runtime.engine) as session:
        entry = current_consents(session, customer)[(Channel.EMAIL, Purpose.MARKETING)]
        assert (entry.status, entry.source) == ("denied", "fake_hook:unsubscribed")
        audit = session.exec(select(AuditEntry).where(AuditEntry.action == "consent_revoked")).one()
    assert (audit.customer_id, audit.brick) == (customer, "fake_hook")
    assert (audit.fields, audit.request_id) == ("consent.email", request_id)
    # The sink learnt it, through its own minimised view (no phone: not allowed to it).
    [view] = FakeSink.views
    assert view.pseudonym == sink_pseudonym and view.opted_out == frozenset({Channel.EMAIL})
    assert view.email == "ada@example.org" and view.phone is None
    [revocation] = report.revocations
    assert revocation.propagated_to == ("fake_sink",) and not revocation.failed
    assert [(brick, o.type) for brick, o in hub.observer.outcomes] == [
        ("fake_hook", OutcomeType.UNSUBSCRIBED)
    ]


def test_a_retried_webhook_is_stored_once_and_propagated_once(hub: Hub) -> None:
    runtime = hub.runtime
    customer = add_customer(runtime)
    _sent(runtime, customer, "vm-2")
    _holds(runtime, "fake_sink", customer)
    outcome = _outcome(OutcomeType.COMPLAINED, vendor_message_id="vm-2", vendor_event_id="e2")

    first = record_outcomes(runtime, "fake_hook", [outcome, outcome], sleep=_no_wait)
    again = record_outcomes(runtime, "fake_hook", [outcome], sleep=_no_wait)

    assert (first.stored, first.duplicates) == (1, 1)
    assert (again.stored, again.duplicates, again.revocations) == (0, 1, [])
    assert len(_rows(runtime)) == 1 and len(FakeSink.views) == 1
    assert len(hub.observer.outcomes) == 1, "observers hear only of stored outcomes"


def test_outcomes_without_a_vendor_event_id_keep_a_row_per_call(hub: Hub) -> None:
    customer = add_customer(hub.runtime)
    _sent(hub.runtime, customer, "vm-3")
    opened = _outcome(OutcomeType.OPENED, vendor_message_id="vm-3")
    record_outcomes(hub.runtime, "fake_hook", [opened])
    report = record_outcomes(hub.runtime, "fake_hook", [opened])
    assert (report.stored, report.duplicates) == (1, 0)
    assert len(_rows(hub.runtime)) == 2


def test_the_same_event_id_from_two_bricks_is_two_outcomes(hub: Hub) -> None:
    opened = _outcome(OutcomeType.OPENED, vendor_event_id="shared-id")
    assert record_outcomes(hub.runtime, "fake_hook", [opened]).stored == 1
    assert record_outcomes(hub.runtime, "outbox", [opened]).stored == 1


def test_matches_by_pseudonym_when_the_message_id_is_unknown(hub: Hub) -> None:
    runtime = hub.runtime
    customer = add_customer(runtime)
    pseudonym = _holds(runtime, "fake_hook", customer)
    bounced = _outcome(
        OutcomeType.BOUNCED_HARD, channel=Channel.SMS, pseudonym=pseudonym, vendor_message_id="x"
    )
    report = record_outcomes(runtime, "fake_hook", [bounced], sleep=_no_wait)
    assert (report.stored, report.unmatched) == (1, 0)
    [row] = _rows(runtime)
    assert row.customer_id == customer and row.request_id is None
    assert not _may_market(runtime, customer, Channel.SMS)
    assert _may_market(runtime, customer, Channel.EMAIL)


def test_unmatched_outcomes_are_stored_and_counted_never_dropped(hub: Hub) -> None:
    runtime = hub.runtime
    customer = add_customer(runtime)
    strangers = [
        _outcome(OutcomeType.UNSUBSCRIBED, vendor_message_id="nobody", vendor_event_id="u1"),
        _outcome(OutcomeType.COMPLAINED, pseudonym="ps_unknown_to_the_hub_0001"),
        _outcome(OutcomeType.DELIVERED),
    ]
    report = record_outcomes(runtime, "fake_hook", strangers)
    assert (report.stored, report.unmatched, report.revocations) == (3, 3, [])
    assert [row.customer_id for row in _rows(runtime)] == [None, None, None]
    assert _may_market(runtime, customer, Channel.EMAIL)


def test_a_pseudonym_of_another_brick_does_not_match(hub: Hub) -> None:
    """Pseudonyms are per brick: fake_sink's pseudonym reported by fake_hook names nobody."""
    customer = add_customer(hub.runtime)
    foreign = _holds(hub.runtime, "fake_sink", customer)
    report = record_outcomes(
        hub.runtime, "fake_hook", [_outcome(OutcomeType.UNSUBSCRIBED, pseudonym=foreign)]
    )
    assert report.unmatched == 1 and _may_market(hub.runtime, customer, Channel.EMAIL)


def test_delivery_outcomes_leave_consent_alone(hub: Hub) -> None:
    runtime = hub.runtime
    customer = add_customer(runtime)
    _sent(runtime, customer, "vm-4")
    _holds(runtime, "fake_sink", customer)
    kinds = [OutcomeType.DELIVERED, OutcomeType.CLICKED, OutcomeType.BOUNCED_SOFT]
    outcomes = [_outcome(kind, vendor_message_id="vm-4") for kind in kinds]
    report = record_outcomes(runtime, "fake_hook", outcomes)
    assert report.stored == 3 and report.revocations == []
    assert _may_market(runtime, customer, Channel.EMAIL) and FakeSink.views == []


def test_an_already_denied_channel_is_not_revoked_or_propagated_again(hub: Hub) -> None:
    runtime = hub.runtime
    customer = add_customer(runtime)
    _sent(runtime, customer, "vm-5")
    _holds(runtime, "fake_sink", customer)
    first = _outcome(OutcomeType.UNSUBSCRIBED, vendor_message_id="vm-5", vendor_event_id="a")
    second = _outcome(OutcomeType.COMPLAINED, vendor_message_id="vm-5", vendor_event_id="b")
    record_outcomes(runtime, "fake_hook", [first], sleep=_no_wait)
    report = record_outcomes(runtime, "fake_hook", [second], sleep=_no_wait)
    assert report.stored == 1 and report.revocations == []
    assert len(FakeSink.views) == 1
    with session_scope(runtime.engine) as session:
        audits = session.exec(select(AuditEntry).where(AuditEntry.action == "consent_revoked"))
        assert len(list(audits)) == 1


def test_sinks_that_never_held_the_person_are_not_told(hub: Hub) -> None:
    customer = add_customer(hub.runtime)
    _sent(hub.runtime, customer, "vm-6")
    outcome = _outcome(OutcomeType.UNSUBSCRIBED, vendor_message_id="vm-6")
    report = record_outcomes(hub.runtime, "fake_hook", [outcome])
    assert report.revocations[0].propagated_to == () and FakeSink.views == []
    assert not _may_market(hub.runtime, customer, Channel.EMAIL)


def test_the_reporting_brick_is_not_told_what_it_reported(hub: Hub) -> None:
    customer = add_customer(hub.runtime)
    _sent(hub.runtime, customer, "vm-7", brick="fake_sink")
    outcome = _outcome(OutcomeType.UNSUBSCRIBED, vendor_message_id="vm-7")
    report = record_outcomes(hub.runtime, "fake_sink", [outcome])
    assert report.unmatched == 0 and FakeSink.views == []


@pytest.mark.parametrize("mode", ["raise", "refuse"])
def test_a_failed_propagation_is_dead_lettered_and_consent_stands(hub: Hub, mode: str) -> None:
    runtime = hub.runtime
    customer = add_customer(runtime)
    _sent(runtime, customer, "vm-8")
    _holds(runtime, "fake_sink", customer)
    FakeSink.mode = mode
    outcome = _outcome(OutcomeType.BOUNCED_HARD, vendor_message_id="vm-8")

    report = record_outcomes(runtime, "fake_hook", [outcome], sleep=_no_wait)

    assert report.propagation_failures == 1
    assert not _may_market(runtime, customer, Channel.EMAIL)
    with session_scope(runtime.engine) as session:
        [letter] = list_dead_letters(session, kind="propagation")
    assert letter.source == "fake_sink" and letter.id == report.revocations[0].failed["fake_sink"]
    assert ("vendor refused" if mode == "raise" else "contact locked") in letter.reason
    assert "ada@example.org" not in letter.reason
    payload = open_payload(runtime.vault, letter)
    assert payload == {
        "customer_id": customer,
        "brick": "fake_sink",
        "channel": "email",
        "reported_by": "fake_hook",
        "outcome": "bounced_hard",
    }


def test_a_disabled_sink_is_never_told(tmp_path: Path, database_url: str) -> None:
    made = make_hub(tmp_path / "hub", database_url, sink_enabled=False)
    try:
        runtime = made.runtime
        customer = add_customer(runtime)
        _sent(runtime, customer, "vm-9")
        _holds(runtime, "fake_sink", customer)
        outcome = _outcome(OutcomeType.UNSUBSCRIBED, vendor_message_id="vm-9")
        report = record_outcomes(runtime, "fake_hook", [outcome])
        assert report.revocations[0].propagated_to == () and FakeSink.views == []
    finally:
        asyncio.run(made.runtime.aclose())


def test_a_consent_given_after_the_opt_out_still_wins(hub: Hub) -> None:
    """The denial is dated when the vendor saw it, so a later re-subscription is current."""
    runtime = hub.runtime
    customer = add_customer(runtime)  # consent granted an hour ago
    earlier = _outcome(
        OutcomeType.UNSUBSCRIBED,
        pseudonym=_holds(runtime, "fake_hook", customer),
        occurred_at=utcnow() - timedelta(days=1),
    )
    report = record_outcomes(runtime, "fake_hook", [earlier])
    assert report.stored == 1 and _may_market(runtime, customer, Channel.EMAIL)


def test_an_opt_out_dated_in_the_future_is_dated_now(hub: Hub) -> None:
    runtime = hub.runtime
    customer = add_customer(runtime)
    ahead = _outcome(
        OutcomeType.UNSUBSCRIBED,
        pseudonym=_holds(runtime, "fake_hook", customer),
        occurred_at=utcnow() + timedelta(days=3),
    )
    record_outcomes(runtime, "fake_hook", [ahead])
    with session_scope(runtime.engine) as session:
        entry = current_consents(session, customer)[(Channel.EMAIL, Purpose.MARKETING)]
    assert entry.status == "denied" and entry.recorded_at <= utcnow()


def test_views_built_later_carry_the_opt_out(hub: Hub) -> None:
    """A contact sync after the unsubscribe tells every sink, not only those told at once."""
    runtime = hub.runtime
    customer = add_customer(runtime)
    _sent(runtime, customer, "vm-10")
    record_outcomes(
        runtime, "fake_hook", [_outcome(OutcomeType.UNSUBSCRIBED, vendor_message_id="vm-10")]
    )
    with session_scope(runtime.engine) as session:
        sink_view = build_view(
            session,
            runtime.identity,
            runtime.bricks["fake_sink"],
            customer,
            purpose=Purpose.MARKETING,
            request_id="r",
        )
        sender_view = build_view(
            session,
            runtime.identity,
            runtime.bricks["outbox"],
            customer,
            purpose=Purpose.MARKETING,
            request_id="r",
        )
    assert sink_view.opted_out == frozenset({Channel.EMAIL})
    assert sender_view.opted_out == frozenset(), "a sender gets no consent history"


def test_called_from_a_running_event_loop(hub: Hub) -> None:
    """Async callers that forget the thread pool still work (the sink runs on its own loop)."""
    customer = add_customer(hub.runtime)
    _sent(hub.runtime, customer, "vm-11")
    _holds(hub.runtime, "fake_sink", customer)
    outcome = _outcome(OutcomeType.UNSUBSCRIBED, vendor_message_id="vm-11")

    async def inside() -> int:
        return record_outcomes(hub.runtime, "fake_hook", [outcome]).stored

    assert asyncio.run(inside()) == 1 and len(FakeSink.views) == 1
