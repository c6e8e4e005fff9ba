"""Settings are checked when the config loads, so mistakes surface before the first send."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from plugins.smtp import SmtpBrick
from plugins.smtp.tests.support import base_settings

Settings = SmtpBrick.Settings


def _errors(**overrides: object) -> str:
    with pytest.raises(ValidationError) as caught:
        Settings(**base_settings(Path("templates"), **overrides))
    return str(caught.value)


def test_defaults_submission_port_with_starttls_and_verification() -> None:
    settings = Settings(
        host="smtp.example.org", from_address="Shop@Example.ORG", templates_dir="tpl"
    )
    assert (settings.port, settings.security, settings.verify_tls) == (587, "starttls", True)
    assert settings.username is None and settings.password is None
    assert settings.from_address == "Shop@example.org"  # domain normalised
    assert settings.id_domain == "example.org"  # Message-ID domain defaults to the sender's


def test_message_id_domain_can_be_set() -> None:
    settings = Settings(**base_settings(Path("t"), message_id_domain="mail.example.org"))
    assert settings.id_domain == "mail.example.org"
    assert "host name" in _errors(message_id_domain="not a domain")


def test_password_is_secret_and_needs_a_username() -> None:
    settings = Settings(
        **base_settings(Path("t"), security="starttls", username="u", password="hunter22")
    )
    assert "hunter22" not in repr(settings)
    assert "both username and password" in _errors(security="starttls", username="u")
    assert "both username and password" in _errors(security="starttls", password="p")


def test_credentials_never_travel_in_clear_text() -> None:
    assert "clear text" in _errors(security="none", username="u", password="p")


@pytest.mark.parametrize("field", ["from_address", "reply_to", "list_unsubscribe_mailto"])
def test_addresses_are_validated(field: str) -> None:
    assert "not a valid email address" in _errors(**{field: "not-an-address"})


def test_security_is_one_of_three() -> None:
    assert "starttls" in _errors(security="tls")


@pytest.mark.parametrize(
    "url",
    [
        "http://shop.example.org/u/{pseudonym}",  # RFC 8058 wants HTTPS
        "https://shop.example.org/unsubscribe",  # no placeholder: cannot tell who
        "https://shop.example.org/u/{pseudonym}/{pseudonym}",
        "https://shop.example.org/u/{pseudonym}>",
        "https://shop.example.org/é/{pseudonym}",
        "https://shop.example.org/u/{pseudonym}\r\nBcc: x@example.org",
    ],
)
def test_unsubscribe_url_must_be_a_one_click_template(url: str) -> None:
    _errors(list_unsubscribe_url=url)


def test_header_values_fit_on_one_line() -> None:
    assert "one line" in _errors(from_name="Shop\r\nBcc: victim@example.org")


def test_ca_file_and_no_verification_contradict() -> None:
    assert "ca_file" in _errors(security="starttls", verify_tls=False, ca_file="/etc/ca.pem")


def test_unknown_keys_are_refused() -> None:
    assert "extra" in _errors(colour="blue").lower()


def test_relative_paths_are_read_from_the_data_dir(tmp_path: Path) -> None:
    from contracts import BrickContext

    settings = Settings(**base_settings(Path("tpl"), security="ssl", ca_file="ca.pem"))
    brick = SmtpBrick(settings, BrickContext(name="smtp", data_dir=tmp_path))
    assert brick.templates_dir == tmp_path / "tpl"
    assert brick.ca_file == tmp_path / "ca.pem"
    absolute = Settings(**base_settings(tmp_path / "abs"))
    assert SmtpBrick(absolute, BrickContext(name="smtp", data_dir=Path("/x"))).templates_dir == (
        tmp_path / "abs"
    )
