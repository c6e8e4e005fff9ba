"""Single sends against a real aiosmtpd server: TLS modes, AUTH, what arrives, error mapping."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path
from typing import Any

import pytest

from contracts import (
    AuthFailed,
    BrickError,
    Channel,
    PayloadRejected,
    Permanent,
    RateLimited,
    Retryable,
    SendStatus,
)
from plugins.smtp.tests.server import USERNAME, Certificate, Recorder, free_port, smtp_server
from plugins.smtp.tests.support import (
    EMAIL,
    PSEUDONYM,
    base_settings,
    make_brick,
    request,
    settings_for,
    view,
)

pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")


def _send(settings: dict[str, Any], tmp_path: Path, req: Any = None) -> Any:
    return asyncio.run(make_brick(settings, tmp_path).send(req or request()))


def _raises(kind: type[BrickError], settings: dict[str, Any], tmp_path: Path, req=None):
    with pytest.raises(kind) as caught:
        _send(settings, tmp_path, req)
    error = caught.value
    # Server replies quote the address: it must not survive into the error, nor its chain.
    assert EMAIL not in error.message and "ada.smtp" not in repr(error)
    assert error.__cause__ is None
    assert error.__context__ is None or error.__suppress_context__
    return error


@pytest.mark.parametrize("security", ["starttls", "ssl"])
def test_delivers_over_tls_with_auth(
    security: str, certificate: Certificate, templates: Path, tmp_path: Path
) -> None:
    handler = Recorder()
    with smtp_server(handler, security=security, certificate=certificate, auth=True) as server:
        result = _send(settings_for(server, templates, certificate, auth=True), tmp_path)
    assert result.status is SendStatus.ACCEPTED
    assert handler.logins == [USERNAME]
    [envelope] = handler.envelopes
    assert envelope.mail_from == "shop@example.org"
    assert envelope.rcpt_tos == [EMAIL]
    [message] = handler.messages()
    assert result.vendor_message_id == message["Message-ID"]


def test_received_message_headers_and_body(
    certificate: Certificate, templates: Path, tmp_path: Path
) -> None:
    handler = Recorder()
    recipient = view(locale="fr-FR", time_zone="Europe/Paris")
    with smtp_server(handler, certificate=certificate, auth=True) as server:
        _send(settings_for(server, templates, certificate, auth=True), tmp_path, request(recipient))
    [message] = handler.messages()
    assert message["From"] == "Demo Shop <shop@example.org>"
    assert message["To"] == f"Ada Lovelace <{EMAIL}>"
    assert message["Subject"] == "Welcome, Ada!"
    assert message["Message-ID"].startswith("<") and message["Message-ID"].endswith("@example.org>")
    assert message["List-Unsubscribe"] == (
        f"<https://shop.example.org/unsubscribe/{PSEUDONYM}>, "
        f"<mailto:unsubscribe@example.org?subject=unsubscribe%20{PSEUDONYM}>"
    )
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message["X-Hub-Pseudonym"] == PSEUDONYM
    assert message["X-Hub-Request-Id"] == "req-smtp-0001"
    assert message.get_content_type() == "multipart/alternative"
    assert "your code is X42." in message.get_body(("plain",)).get_content()
    assert "<b>Ada</b>" in message.get_body(("html",)).get_content()
    raw = handler.envelopes[0].content.decode()
    for absent in ("fr-FR", "Europe/Paris", "idem-req-smtp-0001"):
        assert absent not in raw  # fields of the view a message does not use stay home


def test_plain_relay_without_tls(templates: Path, tmp_path: Path) -> None:
    handler = Recorder()
    with smtp_server(handler, security="none") as server:
        result = _send(settings_for(server, templates), tmp_path)
    assert result.status is SendStatus.ACCEPTED
    assert len(handler.envelopes) == 1


def test_untrusted_certificate_is_refused(
    certificate: Certificate, templates: Path, tmp_path: Path
) -> None:
    handler = Recorder()
    with smtp_server(handler, certificate=certificate) as server:
        trusted_by_system_only = settings_for(server, templates)
        error = _raises(Permanent, trusted_by_system_only, tmp_path)
        assert "certificate" in error.message
        unverified = settings_for(server, templates, verify_tls=False)
        assert _send(unverified, tmp_path).status is SendStatus.ACCEPTED
    assert len(handler.envelopes) == 1


def test_starttls_is_never_skipped(templates: Path, tmp_path: Path) -> None:
    handler = Recorder()
    with smtp_server(handler, security="none") as server:
        settings = settings_for(server, templates, security="starttls")
        error = _raises(Permanent, settings, tmp_path)
    assert not isinstance(error, Retryable)
    assert "STARTTLS" in error.message
    assert handler.envelopes == []


def test_wrong_password_is_auth_failed(
    certificate: Certificate, templates: Path, tmp_path: Path
) -> None:
    with smtp_server(Recorder(), certificate=certificate, auth=True) as server:
        settings = settings_for(server, templates, certificate, auth=True, password="wrong-pw")
        error = _raises(AuthFailed, settings, tmp_path)
    assert error.vendor_code == "535"
    assert "wrong-pw" not in error.message


def test_server_demanding_auth_is_auth_failed(
    certificate: Certificate, templates: Path, tmp_path: Path
) -> None:
    with smtp_server(Recorder(), certificate=certificate, auth=True) as server:
        error = _raises(AuthFailed, settings_for(server, templates, certificate), tmp_path)
    assert error.vendor_code == "530"


def test_connection_refused_is_retryable(templates: Path, tmp_path: Path) -> None:
    settings = base_settings(templates, port=free_port())
    error = _raises(Retryable, settings, tmp_path)
    assert not isinstance(error, RateLimited)
    assert "refused" in error.message


def test_silent_server_times_out_as_retryable(templates: Path, tmp_path: Path) -> None:
    with socket.socket() as silent:  # accepts connections (backlog) but never greets
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        settings = base_settings(templates, port=silent.getsockname()[1], timeout_seconds=0.3)
        error = _raises(Retryable, settings, tmp_path)
    assert "timed out" in error.message


@pytest.mark.parametrize(
    ("reply", "kind", "field"),
    [
        ("550 5.1.1 <{email}>: Recipient address rejected: User unknown", PayloadRejected, "email"),
        ("553 5.1.3 <{email}> bad destination mailbox", PayloadRejected, "email"),
        ("450 4.2.1 <{email}>: mailbox busy", Retryable, None),
        ("451 4.3.0 try again later", Retryable, None),
        ("452 4.5.3 too many recipients", Retryable, None),
        ("421 4.7.0 too many messages, closing", RateLimited, None),
    ],
)
def test_recipient_refusals(
    reply: str,
    kind: type[BrickError],
    field: str | None,
    certificate: Certificate,
    templates: Path,
    tmp_path: Path,
) -> None:
    handler = Recorder(rcpt_replies={"ada.smtp": reply.format(email=EMAIL)})
    with smtp_server(handler, certificate=certificate) as server:
        error = _raises(kind, settings_for(server, templates, certificate), tmp_path)
    assert type(error) is kind
    assert error.vendor_code == reply[:3]
    assert error.message.startswith(f"SMTP {reply[:3]} {reply[4:9]}")
    if isinstance(error, PayloadRejected):
        assert error.field == field
    if isinstance(error, RateLimited):
        assert error.retry_after is None
    assert handler.envelopes == []


@pytest.mark.parametrize(
    ("reply", "kind"),
    [
        ("554 5.7.1 message refused as spam", PayloadRejected),
        ("552 5.3.4 message size exceeds fixed limit", PayloadRejected),
        ("550 5.7.1 sending policy violation", Permanent),
        ("451 4.7.1 greylisted, come back later", Retryable),
    ],
)
def test_data_refusals(
    reply: str, kind: type[BrickError], certificate: Certificate, templates: Path, tmp_path: Path
) -> None:
    handler = Recorder(data_replies={"REFUSE-ME": reply})
    req = request(variables={"code": "REFUSE-ME"})
    with smtp_server(handler, certificate=certificate) as server:
        error = _raises(kind, settings_for(server, templates, certificate), tmp_path, req)
    assert type(error) is kind
    assert error.vendor_code == reply[:3]
    if isinstance(error, PayloadRejected):
        assert error.field is None


def test_local_rejections_never_connect(templates: Path, tmp_path: Path) -> None:
    settings = base_settings(templates, port=free_port())  # nobody listens: must not matter
    missing = _raises(PayloadRejected, settings, tmp_path, request(template="nope"))
    assert missing.field == "template"
    sms = request().model_copy(update={"channel": Channel.SMS})
    assert _raises(PayloadRejected, settings, tmp_path, sms).field == "channel"


@pytest.mark.parametrize("smtputf8", [True, False])
def test_international_addresses_need_smtputf8(
    smtputf8: bool, certificate: Certificate, templates: Path, tmp_path: Path
) -> None:
    handler = Recorder()
    req = request(view(email="zoé@exämple.org", first_name="Zoé"))
    with smtp_server(handler, certificate=certificate, enable_SMTPUTF8=smtputf8) as server:
        settings = settings_for(server, templates, certificate)
        if smtputf8:
            assert _send(settings, tmp_path, req).status is SendStatus.ACCEPTED
            assert handler.envelopes[0].rcpt_tos == ["zoé@exämple.org"]
            assert handler.messages()[0]["To"].addresses[0].display_name == "Zoé Lovelace"
        else:
            error = _raises(PayloadRejected, settings, tmp_path, req)
            assert error.field == "email" and "SMTPUTF8" in error.message
            assert "zoé" not in error.message
