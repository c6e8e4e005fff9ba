"""Core-owned reliability of a send: retries, idempotency, in-doubt sends and dead letters."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import ClassVar

import pytest
from sqlalchemy import select

from contracts import (
    AuthFailed,
    Brick,
    Capability,
    Channel,
    Consent,
    ConsentStatus,
    Contact,
    CustomerField,
    Identifier,
    IdentifierKind,
    PayloadRejected,
    Purpose,
    RateLimited,
    RecipientOptedOut,
    Retryable,
    SendRequest,
    SendResult,
    SendStatus,
)
from hub.consent import record_consents
from hub.contacts.apply import apply_contact
from hub.dead_letters import list_dead_letters, open_payload
from hub.plugins import build_plugin_host
from hub.runtime import open_runtime
from hub.sdk import hookimpl
from hub.sending import send_message
from hub.storage.db import session_scope, upgrade
from hub.storage.models import LedgerEntry, SendRecord
from hub.storage.types import utcnow
from hub.testing import make_installation
from tests.conftest import SCENARIOS


class Scripted(Brick):
    """A Sender whose next answers the test scripts: an exception or "ok"."""

    name: ClassVar[str] = "scripted"
    version: ClassVar[str] = "1.0.0"
    description: ClassVar[str] = "Scripted sender for reliability tests"
    capabilities: ClassVar[frozenset[Capability]] = frozenset({Capability.SENDER})
    channels: ClassVar[frozenset[Channel]] = frozenset({Channel.EMAIL})
    fields: ClassVar[frozenset[CustomerField]] = frozenset({CustomerField.EMAIL})
    purposes: ClassVar[frozenset[Purpose]] = frozenset({Purpose.MARKETING, Purpose.TRANSACTIONAL})
    script: ClassVar[list[Exception | str]] = []
    received: ClassVar[list[SendRequest]] = []

    async def send(self, request: SendRequest) -> SendResult:
        Scripted.received.append(request)
        step = Scripted.script.pop(0) if Scripted.script else "ok"
        if isinstance(step, Exception):
            raise step
        return SendResult(
            request_id=request.request_id, status=SendStatus.ACCEPTED,
            vendor_message_id=f"vm-{len(Scripted.received)}",
        )

    async def send_batch(self, requests: Sequence[SendRequest]) -> list[SendResult]:
        return [await self.send(r) for r in requests]


class Plugin:
    @hookimpl
    def hub_register_bricks(self, register) -> None:
        register(Scripted)


CONFIG = SCENARIOS + '[sending]\nmax_attempts = 3\nbackoff_initial = "1s"\n'


@pytest.fixture
def setup(tmp_path, database_url):
    Scripted.script, Scripted.received = [], []
    inst = make_installation(
        tmp_path / "h", database_url=database_url, extra=CONFIG,
        bricks='[bricks.outbox]\nenabled = false\n'
               '[bricks.scripted]\nallowed_fields = ["email"]\n',
        migrate=False,
    )
    runtime = open_runtime(inst.config, host=build_plugin_host(extra_plugins=[("s", Plugin())]))
    upgrade(runtime.engine)
    contact = Contact(
        identifiers=[Identifier(kind=IdentifierKind.EMAIL, value="ada@example.com")],
        consents=[Consent(channel=Channel.EMAIL, status=ConsentStatus.GRANTED, source="t",
                          recorded_at=utcnow())],
    )
    with session_scope(runtime.engine) as session:
        customer = apply_contact(session, runtime.identity, contact, source="t").customer_id
    return runtime, customer


def _send(runtime, customer, key=None, sleeps=None):
    async def sleep(seconds: float) -> None:
        if sleeps is not None:
            sleeps.append(seconds)

    return asyncio.run(send_message(runtime, customer_id=customer, channel=Channel.EMAIL,
                                    scenario="welcome", template="t1", idempotency_key=key,
                                    sleep=sleep))


def _rows(runtime, model):
    with runtime.engine.connect() as connection:
        return connection.execute(select(model.__table__)).mappings().all()


def test_transient_failures_are_retried_by_the_core(setup):
    runtime, customer = setup
    Scripted.script = [Retryable("HTTP 503"), RateLimited(retry_after=4)]
    sleeps: list[float] = []
    outcome = _send(runtime, customer, sleeps=sleeps)
    assert outcome.status == "sent"
    assert len(Scripted.received) == 3
    assert {r.idempotency_key for r in Scripted.received} == {Scripted.received[0].idempotency_key}
    assert 4 <= sleeps[1] <= 4.5
    [row] = _rows(runtime, SendRecord)
    assert row["status"] == "accepted"
    assert row["vendor_message_id"] == "vm-3"
    assert [r["status"] for r in _rows(runtime, LedgerEntry)] == ["sent"]


def test_failure_after_retries_is_dead_lettered_and_frees_the_slot(setup):
    runtime, customer = setup
    Scripted.script = [Retryable("HTTP 500")] * 3
    outcome = _send(runtime, customer, key="order-42-confirmation")
    assert outcome.status == "failed"
    assert outcome.result.error.retryable
    assert len(Scripted.received) == 3
    assert [r["status"] for r in _rows(runtime, LedgerEntry)] == ["released"]
    with session_scope(runtime.engine) as session:
        [letter] = list_dead_letters(session, kind="send")
        payload = open_payload(runtime.vault, letter)
    assert letter.id == outcome.dead_letter_id
    assert letter.source == "scripted"
    assert "HTTP 500" in letter.reason
    assert payload["customer_id"] == customer
    assert payload["idempotency_key"] == "order-42-confirmation"
    # The same key may be tried again after a failure: a new attempt, a new ledger decision.
    again = _send(runtime, customer, key="order-42-confirmation")
    assert again.status == "sent"
    assert again.request_id == outcome.request_id
    [row] = _rows(runtime, SendRecord)
    assert (row["status"], row["attempts"]) == ("accepted", 2)


@pytest.mark.parametrize("error", [AuthFailed("HTTP 401"), PayloadRejected("bad", field="email")])
def test_permanent_errors_are_not_retried(setup, error):
    runtime, customer = setup
    Scripted.script = [error]
    outcome = _send(runtime, customer)
    assert outcome.status == "failed"
    assert outcome.result.status is SendStatus.REJECTED
    assert len(Scripted.received) == 1
    with session_scope(runtime.engine) as session:
        [letter] = list_dead_letters(session, kind="send")
    assert letter.field == (error.field if isinstance(error, PayloadRejected) else None)


def test_the_same_key_is_never_delivered_twice(setup):
    runtime, customer = setup
    first = _send(runtime, customer, key="welcome-ada-1")
    second = _send(runtime, customer, key="welcome-ada-1")
    assert (first.status, second.status) == ("sent", "sent")
    assert second.duplicate and not first.duplicate
    assert second.result.vendor_message_id == first.result.vendor_message_id
    assert len(Scripted.received) == 1
    assert len(_rows(runtime, LedgerEntry)) == 1


def test_an_interrupted_send_is_in_doubt_not_resent(setup):
    runtime, customer = setup
    _send(runtime, customer, key="welcome-ada-2")
    with runtime.engine.begin() as connection:  # as if the process died mid-call
        connection.execute(SendRecord.__table__.update().values(status="pending"))
    outcome = _send(runtime, customer, key="welcome-ada-2")
    assert outcome.status == "in_doubt"
    assert outcome.decision.rule == "idempotency"
    assert len(Scripted.received) == 1


def test_refusals_are_recorded_and_may_be_retried(setup):
    runtime, _ = setup
    contact = Contact(identifiers=[Identifier(kind=IdentifierKind.EMAIL, value="bob@example.com")])
    with session_scope(runtime.engine) as session:
        bob = apply_contact(session, runtime.identity, contact, source="t").customer_id
    refused = _send(runtime, bob, key="welcome-bob")
    assert refused.status == "refused"
    assert refused.decision.rule == "consent"
    assert Scripted.received == []
    [row] = _rows(runtime, SendRecord)
    assert (row["status"], row["error_code"]) == ("refused", "consent")
    granted = Consent(channel=Channel.EMAIL, status=ConsentStatus.GRANTED, source="t",
                      recorded_at=utcnow())
    with session_scope(runtime.engine) as session:
        record_consents(session, bob, [granted])
    assert _send(runtime, bob, key="welcome-bob").status == "sent"
    [row] = _rows(runtime, SendRecord)
    assert (row["status"], row["attempts"]) == ("accepted", 2)


def test_an_opt_out_at_the_vendor_denies_marketing_on_that_channel(setup):
    runtime, customer = setup
    Scripted.script = [RecipientOptedOut("recipient replied STOP", vendor_code="21610")]
    outcome = _send(runtime, customer)
    assert outcome.status == "failed"
    assert outcome.result.error.code == "21610"
    assert len(Scripted.received) == 1  # never retried
    refused = _send(runtime, customer)
    assert refused.status == "refused"
    assert refused.decision.rule == "consent"
    assert "scripted:opt-out" in refused.decision.reason
    assert len(Scripted.received) == 1
