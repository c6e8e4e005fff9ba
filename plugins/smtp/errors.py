"""SMTP replies and socket failures, mapped to the contract's error tree.

The core decides what to do next from the error's type alone, so the mapping follows RFC 5321's
reply classes: 4xx is "try again later" (``Retryable``; 421 "service closing" is the server
shedding load, hence ``RateLimited``), 5xx is "not like this". A 5xx about the recipient is the
message's problem (``PayloadRejected(field="email")``), a 5xx about credentials is the operator's
(``AuthFailed``), and anything else permanent stays ``Permanent``. Server texts often quote the
address they refused: they pass through ``scrub`` and the address itself is never formatted in.
"""

from __future__ import annotations

import re
import smtplib
import ssl
from typing import Literal

from contracts import AuthFailed, BrickError, PayloadRejected, Permanent, RateLimited, Retryable
from hub.sdk.http import scrub

__all__ = ["Stage", "map_error"]

#: Where in the dialogue the error happened: opening the session or delivering one message.
Stage = Literal["session", "message"]

_ENHANCED = re.compile(r"^\s*([245]\.\d{1,3}\.\d{1,3})\s*")
#: Replies that mean "authenticate first" or "these credentials will not do" (RFC 4954).
_AUTH_CODES = frozenset({530, 534, 535, 538})
#: 552 exceeded storage / message too big, 554 transaction failed (content refused) on DATA.
_CONTENT_CODES = frozenset({552, 554})


def _decode(reply: bytes | str) -> str:
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)


def _describe(code: int, reply: bytes | str) -> str:
    """``SMTP 550 5.1.1: <scrubbed text>``: codes kept apart so ``scrub`` cannot eat them."""
    text = _decode(reply)
    enhanced = _ENHANCED.match(text)
    status = f" {enhanced.group(1)}" if enhanced else ""
    rest = text[enhanced.end() :] if enhanced else text
    rest = " ".join(rest.split())
    return f"SMTP {code}{status}: {scrub(rest)}" if rest else f"SMTP {code}{status}"


def _for_reply(code: int, reply: bytes | str, *, where: str) -> BrickError:
    """The error a reply code means at one step (``where``: ``rcpt``, ``data``, ``mail``...)."""
    message = _describe(code, reply)
    vendor_code = str(code)
    if code == 421:
        return RateLimited(message, retry_after=None, vendor_code=vendor_code)
    if 400 <= code < 500:
        return Retryable(message, vendor_code=vendor_code)
    if code in _AUTH_CODES:
        return AuthFailed(message, vendor_code=vendor_code)
    if where == "rcpt" and 500 <= code < 600:
        return PayloadRejected(message, field="email", vendor_code=vendor_code)
    if where in ("data", "mail") and code in _CONTENT_CODES:
        return PayloadRejected(message, vendor_code=vendor_code)
    return Permanent(message, vendor_code=vendor_code)


def map_error(exc: BaseException, stage: Stage) -> BrickError:
    """The contract error for an exception raised by ``smtplib`` or the socket beneath it."""
    if isinstance(exc, BrickError):
        return exc
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return AuthFailed(_describe(exc.smtp_code, exc.smtp_error), vendor_code=str(exc.smtp_code))
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        # One recipient per message: its (code, reply) is the only entry; never the key.
        code, reply = next(iter(exc.recipients.values()), (554, b"recipient refused"))
        return _for_reply(code, reply, where="rcpt")
    if isinstance(exc, smtplib.SMTPSenderRefused):
        return _for_reply(exc.smtp_code, exc.smtp_error, where="mail")
    if isinstance(exc, smtplib.SMTPDataError):
        return _for_reply(exc.smtp_code, exc.smtp_error, where="data")
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        if stage == "message":
            # smtplib raises it when an address needs SMTPUTF8 and the server lacks it.
            return PayloadRejected(
                "the address needs SMTPUTF8, which the server does not offer", field="email"
            )
        return Permanent(f"server lacks a required extension: {scrub(str(exc))}")
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        # smtplib reports a read timeout as a disconnection; the original is the context.
        if isinstance(exc.__context__, TimeoutError):
            return Retryable("timed out waiting for the SMTP server")
        return Retryable("the SMTP server closed the connection")
    if isinstance(exc, smtplib.SMTPResponseException):
        # Connect/HELO/STARTTLS/AUTH replies and the rest.
        return _for_reply(exc.smtp_code, exc.smtp_error, where=stage)
    if isinstance(exc, ssl.SSLCertVerificationError):
        return Permanent(
            f"TLS certificate of the SMTP server not trusted ({exc.verify_message}): "
            "fix the certificate, or set ca_file"
        )
    if isinstance(exc, ssl.SSLError):
        return Retryable(f"TLS handshake with the SMTP server failed ({exc.reason or 'ssl error'})")
    if isinstance(exc, TimeoutError):
        return Retryable("timed out talking to the SMTP server")
    if isinstance(exc, ConnectionRefusedError):
        return Retryable("connection to the SMTP server refused")
    if isinstance(exc, OSError):
        return Retryable(f"cannot reach the SMTP server ({type(exc).__name__})")
    if isinstance(exc, smtplib.SMTPException):
        # e.g. "No suitable authentication method found": a configuration matter.
        return Permanent(f"SMTP failure: {scrub(str(exc))}")
    return Permanent(f"unexpected SMTP failure ({type(exc).__name__})")
