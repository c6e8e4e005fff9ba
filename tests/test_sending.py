"""Sending through the core: consent, minimised view, egress audit, observer hooks."""

from __future__ import annotations

import asyncio
import json

import pytest
from sqlmodel import select

from contracts import (
    Channel,
    Consent,
    ConsentStatus,
    Contact,
    Identifier,
    IdentifierKind,
    MessageKind,
    Purpose,
)
from hub.contacts.apply import apply_contact
from hub.egress import BrickNotEnabled, build_view
from hub.plugins import build_plugin_host
from hub.runtime import open_runtime
from hub.sdk import hookimpl
from hub.sending import NoBrickForChannel, send_message
from hub.storage.db import session_scope
from hub.storage.models import AuditEntry
from hub.storage.types import utcnow
from tests.conftest import SCENARIOS


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[str, object]] = []

    @hookimpl
    def hub_send_decided(self, request, decision) -> None:
        self.calls.append(("decided", decision.outcome.value))

    @hookimpl
    def hub_send_completed(self, brick, request, result) -> None:
        self.calls.append(("completed", result.status.value))


def _runtime(installation, recorder=None):
    extra = [("recorder", recorder)] if recorder else []
    return open_runtime(installation.config, host=build_plugin_host(extra_plugins=extra))


def _customer(runtime, email_consent: ConsentStatus | None) -> str:
    consents = []
    if email_consent:
        consents.append(Consent(channel=Channel.EMAIL, status=email_consent, source="test",
                                recorded_at=utcnow()))
    contact = Contact(
        identifiers=[Identifier(kind=IdentifierKind.EMAIL, value="ada@example.com"),
                     Identifier(kind=IdentifierKind.PHONE, value="+33612345678")],
        first_name="Ada", last_name="Lovelace", locale="fr-FR", consents=consents,
    )
    with session_scope(runtime.engine) as session:
        return apply_contact(session, runtime.identity, contact, source="test").customer_id


def _send(runtime, customer_id, channel=Channel.EMAIL, kind=MessageKind.MARKETING):
    scenario = "welcome" if kind is MessageKind.MARKETING else "order_confirmation"
    return asyncio.run(send_message(runtime, customer_id=customer_id, channel=channel,
                                    scenario=scenario, template="welcome-1",
                                    variables={"n": 1}))


def _outbox(installation) -> list[dict]:
    path = installation.root / "data" / "outbox.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_marketing_with_consent_is_sent_with_a_minimised_view(installation):
    recorder = Recorder()
    runtime = _runtime(installation, recorder)
    customer = _customer(runtime, ConsentStatus.GRANTED)
    outcome = _send(runtime, customer)
    assert outcome.status == "sent"
    [line] = _outbox(installation)
    assert line["recipient"] == {
        "pseudonym": runtime.keys.pseudonym("outbox", customer),
        "email": "ada@example.com",  # the email channel's contact point only: no phone
        "first_name": "Ada",  # allowed; last_name is not in allowed_fields
        "locale": "fr-FR",
    }
    assert customer not in json.dumps(line)  # the hub id never leaves the core
    assert recorder.calls == [("decided", "allowed"), ("completed", "accepted")]
    with session_scope(runtime.engine) as session:
        [audit] = session.exec(select(AuditEntry).where(AuditEntry.action == "egress")).all()
    assert (audit.brick, audit.fields, audit.purpose) == ("outbox", "email,first_name,locale",
                                                          "marketing")
    assert audit.pseudonym == line["recipient"]["pseudonym"]
    assert audit.request_id == line["request_id"]


@pytest.mark.parametrize("consent", [None, ConsentStatus.DENIED])
def test_marketing_without_consent_is_refused_and_nothing_leaves(installation, consent):
    recorder = Recorder()
    runtime = _runtime(installation, recorder)
    customer = _customer(runtime, consent)
    outcome = _send(runtime, customer)
    assert outcome.status == "refused"
    assert outcome.decision.rule == "consent"
    assert _outbox(installation) == []
    assert recorder.calls == [("decided", "denied")]
    with session_scope(runtime.engine) as session:
        assert session.exec(select(AuditEntry)).all() == []


def test_transactional_needs_no_marketing_consent(installation):
    runtime = _runtime(installation)
    customer = _customer(runtime, ConsentStatus.DENIED)
    assert _send(runtime, customer, Channel.SMS, MessageKind.TRANSACTIONAL).status == "sent"
    [line] = _outbox(installation)
    assert line["recipient"]["phone"] == "+33612345678"
    assert "email" not in line["recipient"]


def test_brick_rejection_is_reported_not_raised(tmp_path, database_url):
    from hub.testing import make_installation

    inst = make_installation(tmp_path / "h", database_url=database_url, extra=SCENARIOS,
                             bricks='[bricks.outbox]\nallowed_fields = ["first_name"]\n')
    runtime = open_runtime(inst.config)
    customer = _customer(runtime, None)
    outcome = _send(runtime, customer, Channel.EMAIL, MessageKind.TRANSACTIONAL)
    assert outcome.status == "failed"
    assert outcome.result.error.code == "PayloadRejected"
    assert "email" in outcome.result.error.message


def test_disabled_brick_gets_nothing(tmp_path):
    from hub.testing import make_installation

    inst = make_installation(tmp_path / "h", bricks="[bricks.outbox]\nenabled = false\n",
                             extra=SCENARIOS)
    runtime = open_runtime(inst.config)
    customer = _customer(runtime, ConsentStatus.GRANTED)
    with pytest.raises(NoBrickForChannel):
        _send(runtime, customer)
    with session_scope(runtime.engine) as session, pytest.raises(BrickNotEnabled):
        build_view(session, runtime.identity, runtime.bricks["outbox"], customer,
                   purpose=Purpose.MARKETING, request_id="r1")


def test_a_brick_is_used_only_for_its_configured_purposes(tmp_path):
    from hub.testing import make_installation

    inst = make_installation(
        tmp_path / "h",
        extra=SCENARIOS,
        bricks='[bricks.outbox]\nallowed_fields = ["email"]\npurposes = ["transactional"]\n',
    )
    runtime = open_runtime(inst.config)
    customer = _customer(runtime, ConsentStatus.GRANTED)
    with pytest.raises(NoBrickForChannel, match="marketing messages on email"):
        _send(runtime, customer)
    assert _send(runtime, customer, Channel.EMAIL, MessageKind.TRANSACTIONAL).status == "sent"


CAPPED = SCENARIOS + '[[pressure.caps]]\nname = "one-a-week"\nwindow = "7d"\nlimit = 1\n'


def test_pressure_refusal_sends_nothing_and_failures_free_the_slot(tmp_path, database_url):
    from hub.testing import make_installation

    inst = make_installation(tmp_path / "h", database_url=database_url, extra=CAPPED,
                             bricks='[bricks.outbox]\nallowed_fields = ["first_name"]\n')
    runtime = open_runtime(inst.config)
    customer = _customer(runtime, ConsentStatus.GRANTED)
    failed = _send(runtime, customer)  # no email allowed for the brick: rejected at the brick
    assert failed.status == "failed"
    again = _send(runtime, customer)  # the failed send released its reservation
    assert again.status == "failed"
    assert again.decision.outcome == "allowed"

    ok = make_installation(tmp_path / "ok", database_url=database_url, extra=CAPPED,
                           bricks=OUTBOX_EMAIL)
    runtime = open_runtime(ok.config)
    customer = _customer(runtime, ConsentStatus.GRANTED)
    assert _send(runtime, customer).status == "sent"
    second = _send(runtime, customer)
    assert second.status == "refused"
    assert second.decision.rule == "one-a-week"
    assert "limit 1" in second.decision.reason
    assert len(_outbox(ok)) == 1
    assert _send(runtime, customer, Channel.EMAIL, MessageKind.TRANSACTIONAL).status == "sent"


OUTBOX_EMAIL = '[bricks.outbox]\nallowed_fields = ["email"]\n'


def test_a_send_at_a_given_instant_is_decided_and_stamped_at_it(installation):
    """``now``: the ledger reserves at that instant (years from the real time), and the sends
    rows and the request carry it."""
    from datetime import UTC, datetime, timedelta

    from hub.storage.models import LedgerEntry, SendRecord

    class Stamps:
        def __init__(self) -> None:
            self.created: list[datetime] = []

        @hookimpl
        def hub_send_completed(self, brick, request, result) -> None:
            self.created.append(request.created_at)

    stamps = Stamps()
    runtime = _runtime(installation, stamps)
    customer = _customer(runtime, ConsentStatus.GRANTED)
    first = datetime(2031, 5, 4, 9, 0, tzinfo=UTC)

    def send_at(moment):
        return asyncio.run(send_message(runtime, customer_id=customer, channel=Channel.EMAIL,
                                        scenario="order_confirmation", template="t",
                                        kind=MessageKind.TRANSACTIONAL, now=moment))

    sent = send_at(first)
    assert sent.status == "sent"
    assert stamps.created == [first]
    later = send_at(first + timedelta(hours=2))
    assert later.status == "sent"
    with session_scope(runtime.engine) as session:
        sends = sorted(r.created_at for r in session.exec(select(SendRecord)))
        at = sorted(r.at for r in session.exec(select(LedgerEntry)))
    assert sends == [first, first + timedelta(hours=2)]
    assert at == [first, first + timedelta(hours=2)]
