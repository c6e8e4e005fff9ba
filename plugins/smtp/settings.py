"""Settings of the SMTP brick: which server, how to secure the session, what the mail says.

Everything is checked when the config loads (``hub config validate``), so a typo in an address
or a forgotten ``{pseudonym}`` placeholder fails before the first message instead of at 3 a.m.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from email_validator import EmailNotValidError, validate_email
from pydantic import Field, SecretStr, field_validator, model_validator

from contracts import BrickSettings

__all__ = ["PSEUDONYM_PLACEHOLDER", "SmtpSettings"]

#: Where the recipient's pseudonym goes in ``list_unsubscribe_url``.
PSEUDONYM_PLACEHOLDER = "{pseudonym}"

_HOSTNAME = re.compile(
    r"^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$"
)


def _address(value: str) -> str:
    """A syntactically valid address, normalised; deliverability is the server's business."""
    try:
        return validate_email(value, check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise ValueError(f"not a valid email address: {exc}") from None


def _one_line(value: str) -> str:
    # A line break in a header value would let the value start a header of its own.
    if "\r" in value or "\n" in value:
        raise ValueError("must fit on one line")
    return value


class SmtpSettings(BrickSettings):
    """How to reach the mail server and how to address the messages."""

    host: str = Field(min_length=1, max_length=253)
    """Name or IP address of the SMTP server (the submission server of your mail provider)."""
    port: int = Field(default=587, ge=1, le=65535)
    """587 for submission with STARTTLS, 465 for implicit TLS (``security = "ssl"``), 25 relay."""
    security: Literal["starttls", "ssl", "none"] = "starttls"
    """``starttls``: plain connect then upgrade (refused if the server does not offer it);
    ``ssl``: TLS from the first byte; ``none``: no encryption (a local relay only)."""
    username: str | None = Field(default=None, min_length=1, max_length=512)
    """Login for SMTP AUTH; leave unset for a server that relays without authentication."""
    password: SecretStr | None = None
    """Password for SMTP AUTH (env or file reference); set together with ``username``."""
    timeout_seconds: float = Field(default=30.0, gt=0, le=300)
    """Socket timeout for connecting and for each command of the SMTP dialogue."""
    ehlo_hostname: str | None = None
    """The name announced in EHLO; default: this machine's fully qualified domain name."""
    verify_tls: bool = True
    """Verify the server's certificate and host name. Turn off only for a test server."""
    ca_file: Path | None = None
    """PEM bundle of the authorities to trust instead of the system's (private CA)."""

    from_address: str
    """Envelope sender and ``From`` address; the server must allow you to send as it."""
    from_name: str | None = Field(default=None, max_length=256)
    """Display name shown next to ``from_address`` (e.g. ``Demo Shop``)."""
    reply_to: str | None = None
    """Where replies go, when not to ``from_address``."""
    templates_dir: Path
    """Folder of ``<template>.txt`` (and optional ``<template>.html``) files; a relative path
    is resolved against the installation's ``data_dir``."""
    list_unsubscribe_url: str | None = Field(default=None, max_length=900)
    """HTTPS one-click unsubscribe endpoint for marketing mail, with ``{pseudonym}`` in it."""
    list_unsubscribe_mailto: str | None = None
    """Mailbox that processes unsubscribe requests by email (the subject names the pseudonym)."""
    message_id_domain: str | None = None
    """Right-hand side of generated Message-IDs; default: the domain of ``from_address``."""

    @field_validator("from_address", "reply_to")
    @classmethod
    def _valid_address(cls, value: str | None) -> str | None:
        return None if value is None else _address(value)

    @field_validator("list_unsubscribe_mailto")
    @classmethod
    def _ascii_address(cls, value: str | None) -> str | None:
        # It goes into a URI inside a header: it must be plain ASCII (IDN domains in punycode).
        if value is None:
            return None
        _address(value)
        ascii_form = validate_email(value, check_deliverability=False).ascii_email
        if ascii_form is None:
            raise ValueError("must have an ASCII local part (it is written into a mailto: URI)")
        return ascii_form

    @field_validator("host", "username", "from_name")
    @classmethod
    def _single_line(cls, value: str | None) -> str | None:
        return None if value is None else _one_line(value)

    @field_validator("ehlo_hostname", "message_id_domain")
    @classmethod
    def _hostname(cls, value: str | None) -> str | None:
        if value is not None and not _HOSTNAME.fullmatch(value):
            raise ValueError("must be a host name such as mail.example.org")
        return value

    @field_validator("list_unsubscribe_url")
    @classmethod
    def _unsubscribe_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not value.isascii() or not value.isprintable():
            raise ValueError("must be printable ASCII (percent-encode anything else)")
        if not value.startswith("https://"):
            # RFC 8058: the one-click POST target must be HTTPS.
            raise ValueError("must start with https:// (RFC 8058 one-click unsubscribe)")
        if value.count(PSEUDONYM_PLACEHOLDER) != 1 or " " in value or ">" in value:
            raise ValueError(
                "must contain {pseudonym} exactly once and no spaces or '>', "
                "e.g. https://shop.example/unsubscribe/{pseudonym}"
            )
        return value

    @model_validator(mode="after")
    def _credentials(self) -> SmtpSettings:
        if (self.username is None) != (self.password is None):
            raise ValueError("set both username and password, or neither")
        if self.username is not None and self.security == "none":
            raise ValueError(
                'username/password with security = "none" would travel in clear text: '
                'use "starttls" or "ssl"'
            )
        if self.ca_file is not None and not self.verify_tls:
            raise ValueError("ca_file is pointless with verify_tls = false: pick one")
        return self

    @property
    def id_domain(self) -> str:
        """Domain of generated Message-IDs."""
        return self.message_id_domain or self.from_address.rpartition("@")[2]
