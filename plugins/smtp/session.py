"""One SMTP session with ``smtplib``: connect, EHLO, STARTTLS, AUTH, messages, QUIT.

Blocking by nature: the brick runs it in a worker thread (``asyncio.to_thread``) so the event
loop keeps serving other sends. Every failure leaves as a contract error (see ``errors``).
"""

from __future__ import annotations

import smtplib
import ssl
from pathlib import Path

from contracts import Permanent
from plugins.smtp.errors import map_error
from plugins.smtp.message import Outgoing
from plugins.smtp.settings import SmtpSettings

__all__ = ["SmtpSession", "tls_context"]


def tls_context(settings: SmtpSettings, ca_file: Path | None) -> ssl.SSLContext:
    """The system's trust store (or ``ca_file``), modern protocol versions, host name checked.

    With ``verify_tls = false`` the session is still encrypted but anyone on the path can
    impersonate the server: meant for a test server with a self-signed certificate.
    """
    try:
        context = ssl.create_default_context(cafile=None if ca_file is None else str(ca_file))
    except (OSError, ssl.SSLError) as exc:
        raise Permanent(f"ca_file cannot be used as a CA bundle ({type(exc).__name__})") from None
    if not settings.verify_tls:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


class SmtpSession:
    """A connection to the configured server; ``open`` it, ``deliver``, then ``close``."""

    def __init__(self, settings: SmtpSettings, ca_file: Path | None) -> None:
        self.settings = settings
        self.ca_file = ca_file
        self._smtp: smtplib.SMTP | None = None
        #: What the session went through, for ``check()``'s report.
        self.steps: list[str] = []

    @property
    def alive(self) -> bool:
        """False once the server hung up (smtplib drops its socket on 421 and on I/O errors)."""
        return self._smtp is not None and self._smtp.sock is not None

    def open(self) -> None:
        """Connect and get ready to send; raises a contract error and leaves nothing open."""
        settings = self.settings
        try:
            if settings.security == "ssl":
                self._smtp = smtplib.SMTP_SSL(
                    settings.host,
                    settings.port,
                    local_hostname=settings.ehlo_hostname,
                    timeout=settings.timeout_seconds,
                    context=tls_context(settings, self.ca_file),
                )
                self.steps.append("implicit TLS")
            else:
                self._smtp = smtplib.SMTP(
                    settings.host,
                    settings.port,
                    local_hostname=settings.ehlo_hostname,
                    timeout=settings.timeout_seconds,
                )
            smtp = self._smtp
            smtp.ehlo_or_helo_if_needed()
            self.steps.append("EHLO")
            if settings.security == "starttls":
                # Refused (SMTPNotSupportedError) when the server does not offer STARTTLS: we
                # never fall back to clear text on our own.
                smtp.starttls(context=tls_context(settings, self.ca_file))
                smtp.ehlo()
                self.steps.append("STARTTLS")
            if settings.username is not None and settings.password is not None:
                smtp.login(settings.username, settings.password.get_secret_value())
                self.steps.append("AUTH")
        except Exception as exc:
            self.close()
            raise map_error(exc, "session") from None

    def deliver(self, outgoing: Outgoing) -> None:
        """MAIL FROM, RCPT TO, DATA for one message; raises the mapped error on refusal."""
        if self._smtp is None:
            raise RuntimeError("open() the session first")
        try:
            self._smtp.send_message(
                outgoing.message, from_addr=outgoing.sender, to_addrs=[outgoing.recipient]
            )
        except Exception as exc:
            # ``from None``: smtplib's exceptions carry the refused address in their args.
            raise map_error(exc, "message") from None

    def close(self) -> None:
        """QUIT politely; a server that already hung up is simply let go."""
        smtp, self._smtp = self._smtp, None
        if smtp is None:
            return
        try:
            if smtp.sock is not None:
                smtp.quit()
        except (smtplib.SMTPException, OSError):
            pass
        finally:
            smtp.close()
