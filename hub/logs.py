"""Logging for the hub: one structlog pipeline that scrubs secrets and personal data.

The hub moves contacts (emails, phones, push tokens) between tools, holding API keys and DSNs,
so a careless ``log.info(...)`` is a data leak. Rather than trust every call site, every record
- ours *and* third-party libraries' stdlib :mod:`logging` ones - passes through :func:`redact`
just before rendering. It fails closed: when unsure, it over-redacts. A log line missing a
detail is an inconvenience; one holding a customer's phone number is an incident.
"""

from __future__ import annotations

import functools
import logging
import re
import sys
import threading
import urllib.parse
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any, TextIO

import structlog
from structlog.typing import EventDict, Processor, WrappedLogger

__all__ = (
    "build_processors", "configure_logging", "forget_secrets", "get_logger", "isolated_secrets",
    "redact", "register_secret",
)  # fmt: skip

REDACTED = "[redacted]"
PII = "[pii]"
SECRET = "[secret]"  # noqa: S105 - a marker, not a password
EMAIL = "[email]"
PHONE = "[phone]"

# Matched against the whole normalised key or its last ``_``-separated words, so that
# ``brevo_api_key``, ``X-Api-Key`` and ``apiKey`` are caught while ``zip`` or ``skip`` are not.
_SECRET_NAMES = frozenset({
    "password", "passwd", "pwd", "passphrase", "secret", "secret_key", "token", "api_key",
    "apikey", "access_key", "authorization", "pepper", "master_key", "private_key", "credential",
    "credentials", "cookie", "cookies", "signature", "dsn", "database_url", "pseudonym_key",
})  # fmt: skip
_PII_NAMES = frozenset({
    "email", "phone", "phone_number", "first_name", "last_name", "full_name", "push_token",
    "address", "ip", "ip_address",
})  # fmt: skip
# structlog's ProcessorFormatter bookkeeping: must reach the formatter untouched.
_PASSTHROUGH_KEYS = frozenset({"_record", "_from_structlog"})
_MIN_SECRET_LENGTH = 6
_MAX_DEPTH = 12

_CAMEL_RE = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_NON_ALNUM_RE = re.compile(r"[^a-z0-9]+")
_TRAILING_DIGITS_RE = re.compile(r"_?\d+$")  # x-hub-signature-256, email2

# Whitespace/quote-delimited tokens holding ``://``, matched from token starts only (linear).
_URL_TOKEN_RE = re.compile(r"(?<![^\s\"'<>`])[^\s\"'<>`]*://[^\s\"'<>`]*")
# Local part: RFC 5322 atext plus unicode word characters; matches start only where a run
# starts (linear). ``%40`` is a URL-encoded ``@``: httpx logs ``/contacts/alice%40x.com``.
# :func:`_mask_email` gives back a leading ``key='`` or URL path that atext swallowed.
_LOCAL = r"[\w!#$%&'*+/=?^`{|}~.\-]"
_EMAIL_RE = re.compile(rf"(?<!{_LOCAL}){_LOCAL}+(?:@|%40)[\w\-]++(?:\.[\w\-]++)+")
_QUOTE_LEAD_RE = re.compile(r"(?:[\w.\-]*=)?(['`])")
# A phone number: 9-15 digits, optional ``+`` (or ``%2B``), groups split by one space, dot,
# hyphen or parentheses. It may not start or end next to a letter, digit or id punctuation,
# so timestamps, UUIDs, hex ids and ``/orders/123456789`` never match (and a failed run is
# never rescanned from its middle: linear). Backtracking only shortens a run to a group
# boundary, so ``06 12 34 56 78 14:00`` still finds the phone. :func:`_mask_phone` checks
# the digit count and excludes decimals and IPv4 addresses.
_PHONE_RE = re.compile(
    r"""
    (?: (?<![\w%])%2[Bb]
      | (?<![\w+\-./#$%@])\+?
    )
    (?:\(\d{1,5}\)|\d+)
    (?: [ .\-\u00a0]?\(\d{1,5}\)
      | (?<=\))\d+
      | [ .\-\u00a0]\d+
    )*
    (?![\w+\-/:@%])
    """,
    re.VERBOSE,
)
_NOT_A_PHONE_RE = re.compile(r"\d+\.\d+|\d{1,3}(?:\.\d{1,3}){3}")  # decimals, IPv4

_secrets_lock = threading.Lock()
_secret_values: set[str] = set()
#: Compiled on the first log line after a registration, not at each registration: a process
#: that loads many configurations (a test run, a server reloading) would otherwise recompile
#: an ever longer pattern once per secret.
_secret_re: re.Pattern[str] | None = None
_secret_re_stale = False


def register_secret(value: str | bytes | None) -> None:
    """Remember an exact secret so it is replaced by ``[secret]`` wherever it appears.

    Key-name rules miss a secret inside free text (an exception message, a URL, a response
    body), so config loaders register every secret they read. Values under 6 characters are
    ignored: scrubbing ``"abc"`` from every line would wreck the logs and protect nothing.
    """
    global _secret_re_stale
    if value is None:
        return
    if isinstance(value, bytes):
        try:
            value = value.decode("utf-8")
        except UnicodeDecodeError:
            return  # cannot occur verbatim in a text log line
    if len(value) < _MIN_SECRET_LENGTH:
        return
    with _secrets_lock:
        # The URL-encoded form is what shows up in DSNs and query strings.
        _secret_values.update({value, urllib.parse.quote(value, safe="")})
        _secret_re_stale = True


def _secret_pattern() -> re.Pattern[str] | None:
    global _secret_re, _secret_re_stale
    if _secret_re_stale:
        with _secrets_lock:
            if _secret_re_stale:
                # Longest first, so a secret containing another one is replaced whole.
                ordered = sorted(_secret_values, key=len, reverse=True)
                _secret_re = re.compile("|".join(map(re.escape, ordered))) if ordered else None
                _secret_re_stale = False
    return _secret_re


def forget_secrets() -> None:
    """Drop every registered secret (tests need isolation between cases)."""
    global _secret_re, _secret_re_stale
    with _secrets_lock:
        _secret_values.clear()
        _secret_re, _secret_re_stale = None, False


@contextmanager
def isolated_secrets() -> Iterator[None]:
    """Forget, on exit, the secrets registered inside the block (those known before stay).

    Each test installation has fresh keys; without this, a test run accumulates thousands of
    secrets and every log line is matched against all of them.
    """
    global _secret_re_stale
    with _secrets_lock:
        before = set(_secret_values)
    try:
        yield
    finally:
        with _secrets_lock:
            if _secret_values != before:
                _secret_values.intersection_update(before)
                _secret_re_stale = True


@functools.lru_cache(maxsize=4096)
def _classify_key(key: str) -> str | None:
    """Return the marker replacing the value stored under *key*, or None to keep it."""
    norm = _NON_ALNUM_RE.sub("_", _CAMEL_RE.sub("_", key).lower()).strip("_")
    norm = _TRAILING_DIGITS_RE.sub("", norm)
    # PII first: ``push_token`` is personal data, not one of our credentials.
    for names, marker in ((_PII_NAMES, PII), (_SECRET_NAMES, REDACTED)):
        if any(norm == name or norm.endswith("_" + name) for name in names):
            return marker
    return None


def _mask_userinfo(match: re.Match[str]) -> str:
    """Hide the password of ``scheme://user:password@host``, or a password-less userinfo
    whole (it is then usually a token: git remotes, Sentry DSNs). It ends at the *last*
    ``@`` so an unencoded ``@`` or ``/`` cannot leak a tail; over-redacting is accepted."""
    token = match[0]
    at = token.rfind("@")
    sep = token.find("://")
    while sep != -1 and sep + 3 <= at:
        start = sep + 3
        colon = token.find(":", start, at)
        user = token[start : colon if colon != -1 else at]
        slash = token.find("/", colon, at) if colon != -1 else -1
        port = slash != -1 and token[colon + 1 : slash].isdigit()
        if port or any(char in user for char in "/?#"):
            pass  # this "@" is in a path or query (``host:8080/p?email=a@b.co``)
        elif colon != -1:
            return f"{token[:start]}{user}:{SECRET}{token[at:]}"
        else:
            return f"{token[:start]}{SECRET}{token[at:]}" if user else token
        sep = token.find("://", start)
    return token


def _mask_email(match: re.Match[str]) -> str:
    text = match[0]
    if text.startswith("/") or match.string[match.start() - 1 : match.start()] == ":":
        # the local part swallowed a URL path or query: keep it up to the address
        at = text.find("@") if "@" in text else text.rfind("%40")
        return text[: max(text.rfind(char, 0, at) for char in "/?&=") + 1] + EMAIL
    lead = _QUOTE_LEAD_RE.match(text)
    if lead and match.string.startswith(lead[1], match.end()):  # email='a@b.co'
        return lead[0] + EMAIL
    return EMAIL


def _mask_phone(match: re.Match[str]) -> str:
    text = match[0]
    if text[:3] in ("%2B", "%2b"):
        text = "+" + text[3:]
    digits = sum(char.isdigit() for char in text)
    if not 9 <= digits <= 15 or _NOT_A_PHONE_RE.fullmatch(text):
        return match[0]
    return PHONE


def _scrub_text(text: str) -> str:
    """Free-text rules; secrets first, so a secret looking like an email stays a secret."""
    pattern = _secret_pattern()
    if pattern is not None:
        text = pattern.sub(SECRET, text)
    if "@" in text and "://" in text:
        text = _URL_TOKEN_RE.sub(_mask_userinfo, text)
    if "@" in text or "%40" in text:
        text = _EMAIL_RE.sub(_mask_email, text)
    return _PHONE_RE.sub(_mask_phone, text)


def _scrub(value: Any, depth: int) -> Any:
    """Scrub any value. Other objects become their scrubbed ``repr`` (what the renderers
    would print anyway), so a model or an exception object cannot smuggle PII out."""
    if isinstance(value, str):
        return _scrub_text(value)
    if value is None or isinstance(value, bool | int | float):
        return value
    if depth >= _MAX_DEPTH:
        return "[too deep]"
    if isinstance(value, Mapping):
        return _scrub_mapping(value, depth + 1)
    if isinstance(value, list | tuple):
        items = [_scrub(item, depth + 1) for item in value]
        return items if isinstance(value, list) else tuple(items)
    if isinstance(value, set | frozenset):
        return type(value)(_scrub(item, depth + 1) for item in value)
    if isinstance(value, bytes | bytearray):
        return _scrub_text(bytes(value).decode("utf-8", errors="replace"))
    try:
        text = repr(value)
    except Exception:
        text = f"<unrepresentable {type(value).__name__}>"
    return _scrub_text(text)


def _scrub_mapping(mapping: Mapping[Any, Any], depth: int) -> dict[Any, Any]:
    scrubbed: dict[Any, Any] = {}
    for key, value in mapping.items():
        if key in _PASSTHROUGH_KEYS:
            scrubbed[key] = value
            continue
        marker = _classify_key(key) if isinstance(key, str) else None
        new_key = _scrub_text(key) if isinstance(key, str) else key
        if marker is not None and value is not None:
            # None stays None: "token was missing" is useful and reveals nothing.
            scrubbed[new_key] = marker
        else:
            scrubbed[new_key] = _scrub(value, depth)
    return scrubbed


def redact(logger: WrappedLogger, method_name: str, event_dict: EventDict) -> EventDict:
    """structlog processor removing secrets and PII from *event_dict* (see module docs).

    It must run after ``format_exc_info`` (tracebacks are text by then) and right before the
    renderer, so no processor can add unscrubbed data after it. If scrubbing itself fails the
    line is replaced rather than emitted raw: a logging bug must never become a leak.
    """
    try:
        return _scrub_mapping(event_dict, 0)
    except Exception as exc:
        return {
            "event": "log line dropped: redaction failed",
            "error": type(exc).__name__,
            "level": event_dict.get("level", method_name),
            **{key: event_dict[key] for key in _PASSTHROUGH_KEYS if key in event_dict},
        }


def build_processors(json_output: bool, *, colors: bool = False) -> list[Processor]:
    """The production chain, renderer last; exposed so tests exercise exactly this.

    Order matters: exceptions and stacks are rendered to text *before* :func:`redact` so
    traceback text is scrubbed too, and nothing but the renderer runs after it.
    """
    renderer: Processor = (
        structlog.processors.JSONRenderer()
        if json_output
        else structlog.dev.ConsoleRenderer(colors=colors)
    )
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.stdlib.PositionalArgumentsFormatter(),
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.StackInfoRenderer(),
        structlog.processors.format_exc_info,
        redact,
        renderer,
    ]


def configure_logging(
    *, level: str = "info", json_output: bool | None = None, stream: TextIO | None = None
) -> None:
    """Route structlog and stdlib logging through :func:`build_processors` to *stream*.

    ``json_output=None`` picks JSON for pipes and files (machines read those) and the
    console renderer for a terminal. Calling it again replaces the configuration: every
    handler on the root logger is removed, because a handler left behind would format
    records without redaction. Loggers that do not propagate to the root (e.g. uvicorn's
    default config) bypass this; run uvicorn with ``log_config=None``.
    """
    target = sys.stderr if stream is None else stream
    numeric_level = logging.getLevelName(level.upper())
    if not isinstance(numeric_level, int):
        raise ValueError(f"unknown log level: {level!r}")
    try:
        tty = bool(target.isatty())
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        tty = False
    if json_output is None:
        json_output = not tty
    *pre_chain, renderer = build_processors(json_output, colors=tty and not json_output)

    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,  # skip the work for disabled levels
            *pre_chain,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        context_class=dict,
        cache_logger_on_first_use=False,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=pre_chain,
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
    )
    handler = logging.StreamHandler(target)
    handler.setFormatter(formatter)

    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(numeric_level)
    logging.captureWarnings(True)  # warnings can quote data too


def get_logger(name: str | None = None) -> structlog.stdlib.BoundLogger:
    """Return a structlog logger named *name*, defaulting to the caller's module."""
    if name is None:
        name = sys._getframe(1).f_globals.get("__name__", "hub")
    return structlog.stdlib.get_logger(name)
