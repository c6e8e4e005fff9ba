"""Redaction tests that go through the real production chain.

Every test logs through ``configure_logging`` into a StringIO and inspects the rendered
output, because ``structlog.testing.capture_logs`` bypasses the processors and would prove
nothing about what actually reaches a log line.
"""

from __future__ import annotations

import io
import json
import logging
import re
import time
import warnings
from collections.abc import Iterator
from typing import Any

import pytest
import structlog
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hub.logs import (
    build_processors,
    configure_logging,
    forget_secrets,
    get_logger,
    isolated_secrets,
    redact,
    register_secret,
)

SECRET_VALUE = "s3cr3t-Value-9f8e7d"
EMAIL = "alice.martin+news@example.com"
PHONE = "+33612345678"


@pytest.fixture(autouse=True)
def _clean_logging() -> Iterator[None]:
    """Leave no secrets, context or handlers behind for other test modules."""
    forget_secrets()
    structlog.contextvars.clear_contextvars()
    root = logging.getLogger()
    saved_handlers, saved_level = list(root.handlers), root.level
    yield
    forget_secrets()
    structlog.contextvars.clear_contextvars()
    structlog.reset_defaults()
    logging.captureWarnings(False)
    root.handlers[:] = saved_handlers
    root.setLevel(saved_level)


@pytest.fixture
def stream() -> io.StringIO:
    out = io.StringIO()
    configure_logging(stream=out, json_output=True, level="debug")
    return out


def records(out: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.getvalue().splitlines() if line.strip()]


def only_record(out: io.StringIO) -> dict[str, Any]:
    [record] = records(out)
    return record


# --- key-name rules ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "key",
    [
        "password",
        "passwd",
        "secret",
        "client_secret",
        "token",
        "access_token",
        "api_key",
        "apikey",
        "brevo_api_key",
        "x-api-key",
        "X-Api-Key",
        "apiKey",
        "Authorization",
        "pepper",
        "master_key",
        "private_key",
        "credential",
        "credentials",
        "cookie",
        "Set-Cookie",
        "signature",
        "X-Hub-Signature-256",
        "dsn",
        "SENTRY_DSN",
        "database_url",
        "DATABASE_URL",
    ],
)
def test_secret_named_keys_are_redacted(stream: io.StringIO, key: str) -> None:
    get_logger("t").info("configured", **{key: "value-that-must-not-leak"})
    assert "value-that-must-not-leak" not in stream.getvalue()
    assert only_record(stream)[key] == "[redacted]"


@pytest.mark.parametrize(
    "key",
    [
        "email",
        "contact_email",
        "phone",
        "mobile_phone",
        "first_name",
        "firstName",
        "last_name",
        "full_name",
        "push_token",
        "address",
        "billing_address",
        "ip",
        "client_ip",
        "ip_address",
    ],
)
def test_pii_named_keys_are_marked(stream: io.StringIO, key: str) -> None:
    get_logger("t").info("contact synced", **{key: "Personal Value"})
    assert "Personal Value" not in stream.getvalue()
    assert only_record(stream)[key] == "[pii]"


def test_innocent_keys_that_merely_resemble_sensitive_ones_are_kept(stream: io.StringIO) -> None:
    fields = {"zip": "75001", "skip": "yes", "tokens_used": 12, "key": "cache-1", "ship": "x"}
    get_logger("t").info("kept", **fields)
    record = only_record(stream)
    assert {k: record[k] for k in fields} == fields


def test_sensitive_key_with_none_value_stays_none(stream: io.StringIO) -> None:
    get_logger("t").warning("missing credentials", api_key=None, email=None)
    record = only_record(stream)
    assert record["api_key"] is None
    assert record["email"] is None


def test_context_variables_are_redacted(stream: io.StringIO) -> None:
    structlog.contextvars.bind_contextvars(email=EMAIL, request_id="req-1")
    get_logger("t").info("handled")
    record = only_record(stream)
    assert record["email"] == "[pii]"
    assert record["request_id"] == "req-1"
    assert EMAIL not in stream.getvalue()


# --- nested structures and objects --------------------------------------------------------------


def test_nested_structures_are_redacted(stream: io.StringIO) -> None:
    payload = {
        "contact": {
            "email": EMAIL,
            "profile": [{"phone": PHONE}, ("reach me at bob@example.org",)],
        },
        "headers": {"Authorization": "Bearer abcdef123456", "Accept": "application/json"},
        "tags": {"carol@example.net"},
        "frozen": frozenset({"call +14155550132"}),
        "raw": b"from dave@example.com",
        "dave@example.com": 3,
    }
    get_logger("t").info("webhook received", payload=payload)
    out = stream.getvalue()
    for leaked in (EMAIL, PHONE, "bob@", "abcdef123456", "carol@", "+14155550132", "dave@"):
        assert leaked not in out
    got = only_record(stream)["payload"]
    assert got["contact"]["email"] == "[pii]"
    assert got["contact"]["profile"] == [{"phone": "[pii]"}, ["reach me at [email]"]]
    assert got["headers"] == {"Authorization": "[redacted]", "Accept": "application/json"}
    assert got["raw"] == "from [email]"
    assert got["[email]"] == 3


def test_arbitrary_objects_are_rendered_then_scrubbed(stream: io.StringIO) -> None:
    class Contact:
        def __repr__(self) -> str:
            return f"Contact(email={EMAIL!r}, phone={PHONE!r})"

    class Broken:
        def __repr__(self) -> str:
            raise RuntimeError("no repr")

    get_logger("t").info("objects", who=Contact(), error=ValueError(EMAIL), broken=Broken())
    record = only_record(stream)
    assert record["who"] == "Contact(email='[email]', phone='[phone]')"
    assert record["error"] == "ValueError('[email]')"
    assert "unrepresentable" in record["broken"]
    assert EMAIL not in stream.getvalue()


# --- free text --------------------------------------------------------------------------------


def test_registered_secret_is_scrubbed_from_free_text(stream: io.StringIO) -> None:
    register_secret(SECRET_VALUE)
    register_secret(b"bytes-secret-123")
    get_logger("t").info(
        f"calling with key={SECRET_VALUE}",
        detail=f"prefix{SECRET_VALUE}suffix",
        body=["bytes-secret-123"],
    )
    assert SECRET_VALUE not in stream.getvalue()
    assert "bytes-secret-123" not in stream.getvalue()
    record = only_record(stream)
    assert record["event"] == "calling with key=[secret]"
    assert record["detail"] == "prefix[secret]suffix"
    assert record["body"] == ["[secret]"]


def test_url_encoded_form_of_a_registered_secret_is_scrubbed(stream: io.StringIO) -> None:
    register_secret("p@ss word/123")
    get_logger("t").info("GET /callback?k=p%40ss%20word%2F123&x=1")
    assert only_record(stream)["event"] == "GET /callback?k=[secret]&x=1"


def test_short_or_empty_secrets_are_ignored(stream: io.StringIO) -> None:
    for value in (None, "", b"", "abc", "12345"):
        register_secret(value)
    get_logger("t").info("abc 12345 abcdef")
    assert only_record(stream)["event"] == "abc 12345 abcdef"


def test_forget_secrets_stops_scrubbing(stream: io.StringIO) -> None:
    register_secret(SECRET_VALUE)
    forget_secrets()
    get_logger("t").info(SECRET_VALUE)
    assert only_record(stream)["event"] == SECRET_VALUE


def test_isolated_secrets_forgets_only_what_the_block_registered(stream: io.StringIO) -> None:
    register_secret(SECRET_VALUE)
    with isolated_secrets():
        register_secret("inner-secret-0001")
        get_logger("t").info(f"{SECRET_VALUE} inner-secret-0001")
    get_logger("t").info(f"{SECRET_VALUE} inner-secret-0001")
    inside, after = (json.loads(line)["event"] for line in stream.getvalue().splitlines())
    assert inside == "[secret] [secret]"
    assert after == "[secret] inner-secret-0001"


def test_a_secret_registered_after_a_log_line_is_scrubbed_from_the_next(
    stream: io.StringIO,
) -> None:
    """The pattern is compiled lazily: a registration after it was built must still count."""
    register_secret(SECRET_VALUE)
    get_logger("t").info("first line")
    register_secret("later-secret-0002")
    get_logger("t").info(f"{SECRET_VALUE} later-secret-0002")
    assert json.loads(stream.getvalue().splitlines()[-1])["event"] == "[secret] [secret]"


def test_email_in_event_message(stream: io.StringIO) -> None:
    get_logger("t").info(f"sent welcome mail to {EMAIL}.")
    assert only_record(stream)["event"] == "sent welcome mail to [email]."


@pytest.mark.parametrize(
    "phone",
    [
        "+33612345678",
        "+33 6 12 34 56 78",
        "06 12 34 56 78",
        "06.12.34.56.78",
        "06-12-34-56-78",
        "0612345678",
        "(415) 555-0132",
        "415-555-0132",
        "415.555.0132",
        "+1 (415) 555-0132",
        "+33 (0)6 12 34 56 78",
    ],
)
def test_phone_in_event_message(stream: io.StringIO, phone: str) -> None:
    get_logger("t").info(f"SMS to {phone}, ok")
    assert only_record(stream)["event"] == "SMS to [phone], ok"


def test_phone_followed_by_a_time_is_still_found(stream: io.StringIO) -> None:
    get_logger("t").info("callback 06 12 34 56 78 14:30")
    assert only_record(stream)["event"] == "callback [phone] 14:30"


def test_phone_after_a_colon_or_equals_sign(stream: io.StringIO) -> None:
    get_logger("t").info("tel:+33612345678 phone=0612345678")
    assert only_record(stream)["event"] == "tel:[phone] phone=[phone]"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # what httpx logs for Brevo's GET /v3/contacts/{identifier}
        (
            'HTTP Request: GET https://api.brevo.com/v3/contacts/alice%40example.com "200 OK"',
            'HTTP Request: GET https://api.brevo.com/v3/contacts/[email] "200 OK"',
        ),
        (
            "GET https://api.brevo.com/v3/contacts/%2B33612345678?identifierType=phone_id",
            "GET https://api.brevo.com/v3/contacts/[phone]?identifierType=phone_id",
        ),
        (
            "GET /api/contacts?email=a%40b.com&page=2 200",
            "GET /api/contacts?email=[email]&page=2 200",
        ),
        (
            "https://hub.local:8443/unsubscribe?e=bob@x.org",
            "https://hub.local:8443/unsubscribe?e=[email]",
        ),
        ("{'to': 'bob@x.org', 'n': 1}", "{'to': '[email]', 'n': 1}"),
        ("Contact(email='bob@x.org')", "Contact(email='[email]')"),
        ('{"email":"bob@x.org"}', '{"email":"[email]"}'),
        ("mailto:bob@x.org", "mailto:[email]"),
        ("(mobile)0612345678", "(mobile)[phone]"),
        # no closing quote: the quote may belong to the address, so it goes too
        ("from x='alice@example.com now", "from [email] now"),
        # VERP bounce address: the original recipient hides in the local part
        ("bounce from bounce+alice=example.com@mailer.net", "bounce from [email]"),
    ],
)
def test_emails_and_phones_inside_urls_and_reprs(
    stream: io.StringIO, text: str, expected: str
) -> None:
    get_logger("t").info(text)
    assert only_record(stream)["event"] == expected


def test_positional_arguments_are_formatted_then_scrubbed(stream: io.StringIO) -> None:
    get_logger("t").info("sent %s to %s", "welcome", EMAIL)
    record = only_record(stream)
    assert record["event"] == "sent welcome to [email]"
    assert "positional_args" not in record


@pytest.mark.parametrize(
    "hostile",
    [
        "1-" * 50_000 + "1:",
        "(0)-" * 30_000 + "1:",
        "%2B1-" * 30_000 + "1x",
        "a://b:" * 30_000 + "@",
        "a://b/" * 30_000 + "@",
        "x='" * 50_000 + "a@b",
        "a" * 200_000 + " ",
        "a%40" * 50_000,
        "a" * 200_000 + " a://b@c",
        "//" + "a/" * 100_000 + "@x.co",
    ],
)
def test_scanning_hostile_input_stays_linear(stream: io.StringIO, hostile: str) -> None:
    # A quadratic regex takes minutes on these; the budget is generous for slow CI machines.
    started = time.perf_counter()
    get_logger("t").info("hostile", body=hostile)
    assert time.perf_counter() - started < 2.0
    assert only_record(stream)["event"] == "hostile"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "postgresql://hub:S3cretPw@db.internal:5432/hub",
            "postgresql://hub:[secret]@db.internal:5432/hub",
        ),
        ("redis://:hunter2hunter2@cache:6379/0", "redis://:[secret]@cache:6379/0"),
        # unencoded @ and / inside the password must not leak its tail
        ("postgresql://hub:p@ss/w0rd@db:5432/hub", "postgresql://hub:[secret]@db:5432/hub"),
        # a bare userinfo is a token (git remotes, Sentry DSNs)
        (
            "https://ghp_abc123def456@github.com/org/repo.git",
            "https://[secret]@github.com/org/repo.git",
        ),
        # the userinfo of an URL nested in another URL's query string
        (
            "https://hub.local/login?next=https://u:pw123456@idp.example/cb",
            "https://hub.local/login?next=https://u:[secret]@idp.example/cb",
        ),
        ("https://api.brevo.com:443/v3/contacts", "https://api.brevo.com:443/v3/contacts"),
    ],
)
def test_url_userinfo_password(stream: io.StringIO, url: str, expected: str) -> None:
    get_logger("t").info(f"connecting to {url} now")
    assert only_record(stream)["event"] == f"connecting to {expected} now"


@pytest.mark.parametrize(
    "text",
    [
        "at 2026-11-25T03:07:09+00:00",
        "at 2026-11-25T03:07:09.123456Z",
        "at 2026-11-25 03:07:09",
        "on 2026-11-25",
        "id 123e4567-e89b-12d3-a456-426614174000",
        "id 550e8400-e29b-41d4-a716-446655440000",
        "sha 9f86d081884c7d659a2feaa0c55ad015",
        "order 12345",
        "order #123456789012",
        "order ord_1234567890",
        "retry 3 of 10 in 30 seconds",
        "ratio 3.14159265358",
        "from 192.168.100.200",
        "version 1.2.3",
        "ts 2026-11-25T03:07:09+00:00 took 1234 ms",
        "path /contacts/1234567890123",
        "sent 42 mails",
        "sig=Zm9v%2B123456789",
    ],
)
def test_innocent_text_is_not_mangled(stream: io.StringIO, text: str) -> None:
    get_logger("t").info(text)
    assert only_record(stream)["event"] == text


def test_own_timestamp_field_is_a_proper_iso_timestamp(stream: io.StringIO) -> None:
    get_logger("t").info("tick")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z", only_record(stream)["timestamp"])


# --- exceptions -------------------------------------------------------------------------------


def test_exception_traceback_is_scrubbed(stream: io.StringIO) -> None:
    register_secret(SECRET_VALUE)
    log = get_logger("t")
    try:
        raise ValueError(f"rejected key {SECRET_VALUE} for {EMAIL}")
    except ValueError:
        log.exception("sync failed", contact_id="c-1")
    out = stream.getvalue()
    assert SECRET_VALUE not in out
    assert EMAIL not in out
    record = only_record(stream)
    assert record["level"] == "error"
    assert record["exception"].startswith("Traceback (most recent call last)")
    assert "ValueError: rejected key [secret] for [email]" in record["exception"]


def test_stack_info_is_rendered(stream: io.StringIO) -> None:
    get_logger("t").info("where am I", stack_info=True)
    assert "test_stack_info_is_rendered" in only_record(stream)["stack"]


# --- stdlib logging path ----------------------------------------------------------------------


def test_stdlib_logger_goes_through_the_same_chain(stream: io.StringIO) -> None:
    register_secret(SECRET_VALUE)
    third = logging.getLogger("thirdparty")
    third.warning("POST with key %s for %s / %s", SECRET_VALUE, EMAIL, PHONE)
    record = only_record(stream)
    assert record["event"] == "POST with key [secret] for [email] / [phone]"
    assert record["logger"] == "thirdparty"
    assert record["level"] == "warning"
    assert "timestamp" in record


def test_stdlib_exception_traceback_is_scrubbed(stream: io.StringIO) -> None:
    third = logging.getLogger("thirdparty.http")
    try:
        raise ConnectionError(f"postgresql://hub:{SECRET_VALUE}@db/hub unreachable, {EMAIL}")
    except ConnectionError:
        third.exception("cannot connect")
    out = stream.getvalue()
    assert SECRET_VALUE not in out
    assert EMAIL not in out
    record = only_record(stream)
    expected = "ConnectionError: postgresql://hub:[secret]@db/hub unreachable, [email]"
    assert expected in record["exception"]


def test_warnings_are_captured_and_scrubbed(stream: io.StringIO) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.warn(f"deprecated call for {EMAIL}", UserWarning, stacklevel=1)
    record = only_record(stream)
    assert record["logger"] == "py.warnings"
    assert "UserWarning: deprecated call for [email]" in record["event"]


def test_stdlib_logger_respects_the_level() -> None:
    out = io.StringIO()
    configure_logging(stream=out, json_output=True, level="warning")
    logging.getLogger("thirdparty").info("hidden")
    get_logger("t").info("hidden too")
    get_logger("t").warning("shown")
    assert [r["event"] for r in records(out)] == ["shown"]


# --- configuration ----------------------------------------------------------------------------


def test_reconfiguring_replaces_the_handler() -> None:
    first, second = io.StringIO(), io.StringIO()
    configure_logging(stream=first, json_output=True)
    configure_logging(stream=second, json_output=True)
    get_logger("t").info("once")
    logging.getLogger("thirdparty").info("twice")
    assert first.getvalue() == ""
    assert [r["event"] for r in records(second)] == ["once", "twice"]


def test_configure_removes_unredacted_handlers() -> None:
    leaky = io.StringIO()
    logging.getLogger().addHandler(logging.StreamHandler(leaky))
    configure_logging(stream=io.StringIO(), json_output=True)
    logging.getLogger("thirdparty").warning("for %s", EMAIL)
    assert leaky.getvalue() == ""


def test_unknown_level_is_rejected() -> None:
    with pytest.raises(ValueError, match="unknown log level"):
        configure_logging(stream=io.StringIO(), level="chatty")


def test_processor_order_renders_exceptions_before_redacting() -> None:
    chain = build_processors(json_output=True)
    assert chain.index(structlog.processors.format_exc_info) < chain.index(redact)
    assert chain.index(redact) == len(chain) - 2
    assert isinstance(chain[-1], structlog.processors.JSONRenderer)
    assert isinstance(build_processors(json_output=False)[-1], structlog.dev.ConsoleRenderer)


def test_json_is_chosen_for_a_non_tty_stream() -> None:
    out = io.StringIO()
    configure_logging(stream=out)
    get_logger("t").info("hello", password="pw-123456")
    assert only_record(out)["password"] == "[redacted]"


class _FakeTTY(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_console_renderer_is_chosen_for_a_tty_and_still_redacts() -> None:
    out = _FakeTTY()
    configure_logging(stream=out)
    get_logger("t").info(f"mail {EMAIL}", password="pw-123456")
    text = out.getvalue()
    with pytest.raises(json.JSONDecodeError):
        json.loads(text)
    assert "mail [email]" in text
    assert "[redacted]" in text
    assert EMAIL not in text
    assert "pw-123456" not in text


def test_console_renderer_redacts_every_path() -> None:
    out = io.StringIO()
    configure_logging(stream=out, json_output=False)
    register_secret(SECRET_VALUE)
    log = get_logger("t")
    log.info(f"key {SECRET_VALUE}", api_key="raw-api-key-1", contact={"phone": PHONE})
    logging.getLogger("thirdparty").error("call %s", "06 12 34 56 78")
    try:
        raise RuntimeError(f"boom for {EMAIL}")
    except RuntimeError:
        log.exception("failed")
    text = out.getvalue()
    for leaked in (SECRET_VALUE, "raw-api-key-1", PHONE, "06 12 34 56 78", EMAIL):
        assert leaked not in text
    for marker in ("key [secret]", "[redacted]", "[pii]", "call [phone]", "RuntimeError: boom"):
        assert marker in text


def test_redact_fails_closed() -> None:
    class Exploding(dict):
        def items(self) -> Any:
            raise RuntimeError("bug")

    result = redact(None, "info", Exploding(event=f"mail {EMAIL}"))
    assert result["event"] == "log line dropped: redaction failed"
    assert EMAIL not in repr(result)


# --- properties -------------------------------------------------------------------------------


@settings(max_examples=200, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(email=st.emails())
def test_generated_emails_never_reach_the_output(email: str) -> None:
    out = io.StringIO()
    configure_logging(stream=out, json_output=True)
    get_logger("t").info(f"contact {email} unsubscribed", note=f"({email})")
    assert email not in out.getvalue()
    record = only_record(out)
    if not email.startswith("/"):  # a leading "/" reads as an URL path, kept up to the address
        assert record["event"] == "contact [email] unsubscribed"
        assert record["note"] == "([email])"
    assert record["event"].endswith("[email] unsubscribed")


@settings(max_examples=200, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(phone=st.from_regex(r"\+[1-9][0-9]{8,13}", fullmatch=True))
def test_generated_e164_numbers_never_reach_the_output(phone: str) -> None:
    out = io.StringIO()
    configure_logging(stream=out, json_output=True)
    logging.getLogger("thirdparty").info("SMS to %s queued", phone)
    assert phone not in out.getvalue()
    assert only_record(out)["event"] == "SMS to [phone] queued"
