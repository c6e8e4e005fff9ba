"""A real SMTP server for the tests: aiosmtpd on 127.0.0.1, a free port, optional TLS and AUTH.

The handler records every accepted message and can be told to refuse some: a recipient whose
address contains a marker gets the reply configured for it at RCPT, a message whose body
contains a marker gets its reply at the end of DATA. The core's end-to-end test
(tests/plugins/test_smtp_end_to_end.py) uses the same server.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import socket
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.parser import Parser
from email.policy import default as default_policy
from pathlib import Path
from typing import Any, Literal

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

USERNAME = "hub-sender"
PASSWORD = "s3cret-smtp-password"


@dataclass
class Certificate:
    cert: Path
    key: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert, self.key)
        return context


def make_certificate(directory: Path) -> Certificate:
    """A self-signed certificate for localhost / 127.0.0.1 (also usable as its own CA file)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    paths = Certificate(directory / "cert.pem", directory / "key.pem")
    paths.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths.key.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return paths


def free_port() -> int:
    """A port nobody listens on right now (also what a 'connection refused' test dials)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Recorder:
    """aiosmtpd handler: keeps accepted envelopes, refuses on configured markers."""

    rcpt_replies: dict[str, str] = field(default_factory=dict)
    data_replies: dict[str, str] = field(default_factory=dict)
    envelopes: list[Any] = field(default_factory=list)
    peers: set[Any] = field(default_factory=set)
    logins: list[str] = field(default_factory=list)

    async def handle_EHLO(
        self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]
    ) -> list[str]:
        session.host_name = hostname
        self.peers.add(session.peer)  # one client address and port per TCP connection
        return responses

    @property
    def sessions(self) -> int:
        return len(self.peers)

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        for marker, reply in self.rcpt_replies.items():
            if marker in address:
                return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        for marker, reply in self.data_replies.items():
            if marker.encode() in envelope.content:
                return reply
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"

    def messages(self) -> list[EmailMessage]:
        # Decoded first: with SMTPUTF8, headers hold raw UTF-8 that BytesParser would mangle.
        parser = Parser(policy=default_policy)
        return [parser.parsestr(envelope.content.decode("utf-8")) for envelope in self.envelopes]

    def authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login.decode() == USERNAME
            and auth_data.password.decode() == PASSWORD
        )
        if ok:
            self.logins.append(auth_data.login.decode())
        # handled=False: aiosmtpd answers the failure itself (535).
        return AuthResult(success=ok, handled=False, auth_data=auth_data)


@dataclass
class Server:
    port: int
    handler: Recorder
    security: Literal["starttls", "ssl", "none"]


@contextmanager
def smtp_server(
    handler: Recorder,
    *,
    security: Literal["starttls", "ssl", "none"] = "starttls",
    certificate: Certificate | None = None,
    auth: bool = False,
    **options: Any,
) -> Iterator[Server]:
    """Run aiosmtpd in its thread for the duration of the block.

    ``starttls`` offers and requires STARTTLS; ``ssl`` speaks TLS from the first byte; with
    ``auth`` every MAIL needs a login (only over TLS, except under implicit TLS where aiosmtpd
    cannot tell, so it is allowed there). ``options`` go to aiosmtpd's ``SMTP`` as they are.
    """
    kwargs: dict[str, Any] = {"hostname": "127.0.0.1", "port": free_port()}
    if security != "none":
        if certificate is None:
            raise ValueError("TLS needs a certificate")
        if security == "starttls":
            kwargs.update(tls_context=certificate.server_context(), require_starttls=True)
        else:
            kwargs.update(ssl_context=certificate.server_context())
    if auth:
        kwargs.update(
            authenticator=handler.authenticate,
            auth_required=True,
            auth_require_tls=security == "starttls",
        )
    controller = Controller(handler, server_hostname="mx.test", **kwargs, **options)
    controller.start()
    try:
        yield Server(port=kwargs["port"], handler=handler, security=security)
    finally:
        controller.stop()
