"""End to end: the core sends an email through the SMTP brick to a real local aiosmtpd server.

Config with a file-referenced password, STARTTLS with the test CA, AUTH, consent, the pressure
ledger, the minimised view and the brick's own pseudonym: the received message must carry the
allowed fields only, the pseudonym (never the hub's customer id) and the standard headers.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlmodel import select

from contracts import (
    Channel,
    Consent,
    ConsentStatus,
    Contact,
    Identifier,
    IdentifierKind,
)
from hub.contacts.apply import apply_contact
from hub.runtime import Runtime, open_runtime
from hub.sending import SendOutcome, send_message
from hub.storage.db import session_scope
from hub.storage.models import AuditEntry
from hub.storage.types import utcnow
from hub.testing import make_installation
from plugins.smtp.tests.server import (
    PASSWORD,
    USERNAME,
    Certificate,
    Recorder,
    Server,
    make_certificate,
    smtp_server,
)

pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")

EMAIL = "ada@example.com"
SCENARIOS = (
    "[scenarios.welcome]\n"
    'kind = "marketing"\n'
    "[scenarios.order_confirmation]\n"
    'kind = "transactional"\n'
)
WELCOME = "Subject: Welcome, ${first_name}\n\nHi ${first_name}, here is ${coupon}.\n"
WELCOME_HTML = "<p>Hi ${first_name}, here is <b>${coupon}</b>.</p>\n"
RECEIPT = "Subject: Order ${order}\n\nOrder ${order} confirmed.\n"


@dataclass
class Hub:
    runtime: Runtime
    server: Server
    root: Path

    def customer(self, consent: ConsentStatus | None = ConsentStatus.GRANTED) -> str:
        consents = (
            [Consent(channel=Channel.EMAIL, status=consent, source="test", recorded_at=utcnow())]
            if consent
            else []
        )
        contact = Contact(
            identifiers=[
                Identifier(kind=IdentifierKind.EMAIL, value=EMAIL),
                Identifier(kind=IdentifierKind.PHONE, value="+33612345678"),
            ],
            first_name="Ada",
            last_name="Lovelace",
            locale="fr-FR",
            time_zone="Europe/Paris",
            consents=consents,
        )
        with session_scope(self.runtime.ready_engine()) as session:
            return apply_contact(session, self.runtime.identity, contact, source="test").customer_id

    def send(
        self,
        customer_id: str,
        scenario: str,
        template: str,
        idempotency_key: str | None = None,
        **variables: str,
    ) -> SendOutcome:
        async def run() -> SendOutcome:
            try:
                return await send_message(
                    self.runtime,
                    customer_id=customer_id,
                    channel=Channel.EMAIL,
                    scenario=scenario,
                    template=template,
                    variables=dict(variables),
                    idempotency_key=idempotency_key,
                )
            finally:
                await self.runtime.aclose()  # closes the brick; the next send builds it anew

        return asyncio.run(run())


def _bricks_toml(server: Server, certificate: Certificate, root: Path) -> str:
    templates = root / "templates"
    templates.mkdir(parents=True)
    (templates / "welcome-1.txt").write_text(WELCOME, encoding="utf-8")
    (templates / "welcome-1.html").write_text(WELCOME_HTML, encoding="utf-8")
    (templates / "receipt.txt").write_text(RECEIPT, encoding="utf-8")
    password = root / "smtp_password"
    password.write_text(PASSWORD, encoding="utf-8")
    password.chmod(0o600)
    settings = {
        "host": "127.0.0.1",
        "port": server.port,
        "security": "starttls",
        "ca_file": certificate.cert.as_posix(),
        "username": USERNAME,
        "from_address": "shop@example.org",
        "from_name": "Demo Shop",
        "templates_dir": templates.as_posix(),
        "list_unsubscribe_url": "https://shop.example.org/unsubscribe/{pseudonym}",
        "ehlo_hostname": "hub.example.org",
        "timeout_seconds": 5,
    }
    lines = ["[bricks.smtp]", 'allowed_fields = ["email", "first_name"]']
    lines += [f"{key} = {json.dumps(value)}" for key, value in settings.items()]
    lines.append(f'password = {{file = "{password.as_posix()}"}}')  # inline would be refused
    return "\n".join(lines) + "\n"


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[Hub]:
    certificate = make_certificate(tmp_path / "tls")
    handler = Recorder(rcpt_replies={"nobody@": "550 5.1.1 <nobody@example.com> unknown"})
    with smtp_server(handler, certificate=certificate, auth=True) as server:
        installation = make_installation(
            tmp_path / "hub", bricks=_bricks_toml(server, certificate, tmp_path), extra=SCENARIOS
        )
        yield Hub(open_runtime(installation.config), server, tmp_path)


def test_marketing_email_reaches_the_server_with_pseudonym_and_allowed_fields_only(
    hub: Hub,
) -> None:
    customer_id = hub.customer()
    outcome = hub.send(customer_id, "welcome", "welcome-1", coupon="WELCOME10")
    assert outcome.status == "sent", outcome
    assert outcome.brick == "smtp"
    pseudonym = hub.runtime.keys.pseudonym("smtp", customer_id)
    assert pseudonym != customer_id

    handler = hub.server.handler
    assert handler.logins == [USERNAME]  # AUTH with the file-referenced password, over TLS
    [envelope] = handler.envelopes
    assert (envelope.mail_from, envelope.rcpt_tos) == ("shop@example.org", [EMAIL])
    [message] = handler.messages()
    assert message["From"] == "Demo Shop <shop@example.org>"
    assert message["To"] == f"Ada <{EMAIL}>"  # last_name is not allowed for this brick
    assert message["Subject"] == "Welcome, Ada"
    assert message["Message-ID"] == outcome.result.vendor_message_id
    assert message["Message-ID"].endswith("@example.org>")
    assert message["Date"]
    assert message["List-Unsubscribe"] == f"<https://shop.example.org/unsubscribe/{pseudonym}>"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message["X-Hub-Pseudonym"] == pseudonym
    assert message["X-Hub-Request-Id"] == outcome.result.request_id
    assert message.get_body(("plain",)).get_content().strip() == "Hi Ada, here is WELCOME10."
    assert "<b>WELCOME10</b>" in message.get_body(("html",)).get_content()

    raw = envelope.content.decode()
    assert customer_id not in raw  # the hub id never leaves the core
    for not_allowed in ("Lovelace", "+33612345678", "fr-FR", "Europe/Paris"):
        assert not_allowed not in raw

    with session_scope(hub.runtime.ready_engine()) as session:
        [audit] = session.exec(select(AuditEntry).where(AuditEntry.action == "egress")).all()
    assert (audit.brick, audit.pseudonym, audit.fields) == ("smtp", pseudonym, "email,first_name")


def test_transactional_email_needs_no_consent_and_has_no_unsubscribe_header(hub: Hub) -> None:
    customer_id = hub.customer(consent=ConsentStatus.DENIED)
    outcome = hub.send(customer_id, "order_confirmation", "receipt", order="A-17")
    assert outcome.status == "sent"
    [message] = hub.server.handler.messages()
    assert message["Subject"] == "Order A-17"
    assert message["List-Unsubscribe"] is None
    assert message["X-Hub-Pseudonym"] == hub.runtime.keys.pseudonym("smtp", customer_id)


def test_marketing_without_consent_never_reaches_the_server(hub: Hub) -> None:
    outcome = hub.send(hub.customer(consent=None), "welcome", "welcome-1", coupon="X")
    assert outcome.status == "refused"
    assert hub.server.handler.envelopes == []
    assert hub.server.handler.sessions == 0


def test_a_missing_variable_is_reported_by_the_core_and_nothing_is_sent(hub: Hub) -> None:
    outcome = hub.send(hub.customer(), "welcome", "welcome-1")  # no coupon
    assert outcome.status == "failed"
    assert outcome.result.error.code == "PayloadRejected"
    assert "coupon" in outcome.result.error.message
    assert hub.server.handler.sessions == 0


def test_the_core_deduplicates_what_smtp_cannot(hub: Hub) -> None:
    """SMTP has no idempotency key: a repeated send under one key never reaches the server."""
    customer_id = hub.customer()
    key = "order-A-17-confirmation"
    first = hub.send(customer_id, "order_confirmation", "receipt", key, order="A-17")
    again = hub.send(customer_id, "order_confirmation", "receipt", key, order="A-17")
    assert (first.status, again.status, again.duplicate) == ("sent", "sent", True)
    assert again.result.vendor_message_id == first.result.vendor_message_id
    assert len(hub.server.handler.envelopes) == 1
