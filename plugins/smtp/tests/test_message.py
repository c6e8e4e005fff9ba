"""What the brick writes into a message, checked without a server."""

from __future__ import annotations

from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import default as default_policy
from pathlib import Path

import pytest

from contracts import ContactView, MessageKind, PayloadRejected
from plugins.smtp import SmtpBrick
from plugins.smtp.message import build_message
from plugins.smtp.templates import TemplateStore
from plugins.smtp.tests.support import EMAIL, PSEUDONYM, base_settings, request, view

Settings = SmtpBrick.Settings


def _build(templates: Path, req=None, **overrides: object) -> EmailMessage:
    settings = Settings(**base_settings(templates, **overrides))
    outgoing = build_message(req or request(), settings, TemplateStore(templates))
    assert outgoing.message["Message-ID"] == outgoing.message_id
    # Parse what would go on the wire, as the receiving server would.
    return BytesParser(policy=default_policy).parsebytes(outgoing.message.as_bytes())


def _text(message: EmailMessage) -> str:
    return message.get_body(("plain",)).get_content()


def test_marketing_message_headers(templates: Path) -> None:
    message = _build(templates)
    assert message["From"] == "Demo Shop <shop@example.org>"
    assert message["To"] == f"Ada Lovelace <{EMAIL}>"
    assert message["Subject"] == "Welcome, Ada!"
    assert message["Date"]
    assert message["Message-ID"].endswith("@example.org>")
    assert message["List-Unsubscribe"] == (
        f"<https://shop.example.org/unsubscribe/{PSEUDONYM}>, "
        f"<mailto:unsubscribe@example.org?subject=unsubscribe%20{PSEUDONYM}>"
    )
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message["X-Hub-Pseudonym"] == PSEUDONYM
    assert message["X-Hub-Request-Id"] == "req-smtp-0001"
    assert message["Reply-To"] is None


def test_transactional_mail_has_no_list_unsubscribe(templates: Path) -> None:
    message = _build(templates, request(kind=MessageKind.TRANSACTIONAL))
    assert message["List-Unsubscribe"] is None
    assert message["List-Unsubscribe-Post"] is None
    assert message["X-Hub-Pseudonym"] == PSEUDONYM


def test_mailto_only_unsubscribe_is_not_one_click(templates: Path) -> None:
    req = request(template="receipt", variables={"order": "1"})
    message = _build(templates, req, list_unsubscribe_url=None)
    assert message["List-Unsubscribe"].startswith("<mailto:unsubscribe@example.org?")
    assert message["List-Unsubscribe-Post"] is None


def test_a_long_unsubscribe_link_stays_a_readable_uri(templates: Path) -> None:
    url = "https://shop.example.org/" + "a" * 300 + "/{pseudonym}?list=marketing"
    settings = Settings(**base_settings(templates, list_unsubscribe_url=url))
    outgoing = build_message(request(), settings, TemplateStore(templates))
    raw = outgoing.message.as_bytes()
    assert b"=?utf-8?" not in raw  # not turned into encoded words
    assert all(len(line) <= 998 for line in raw.split(b"\n"))
    parsed = BytesParser(policy=default_policy).parsebytes(raw)
    assert url.replace("{pseudonym}", PSEUDONYM) in parsed["List-Unsubscribe"]


def test_reply_to_and_message_id_domain(templates: Path) -> None:
    message = _build(templates, reply_to="help@example.org", message_id_domain="mx.example.net")
    assert message["Reply-To"] == "help@example.org"
    assert message["Message-ID"].endswith("@mx.example.net>")


def test_text_and_html_alternatives_with_escaped_values(templates: Path) -> None:
    req = request(view(first_name="<Ada & co>"), variables={"code": "<b>42</b>"})
    message = _build(templates, req)
    assert message.get_content_type() == "multipart/alternative"
    assert "Hello <Ada & co> Lovelace" in _text(message)
    html = message.get_body(("html",)).get_content()
    assert "&lt;Ada &amp; co&gt;" in html and "&lt;b&gt;42&lt;/b&gt;" in html
    assert f"unsubscribe/{PSEUDONYM}" in _text(message)  # ${unsubscribe_url}


def test_text_only_template_is_a_single_part(templates: Path) -> None:
    message = _build(templates, request(template="receipt", variables={"order": "A-1"}))
    assert message.get_content_type() == "text/plain"
    assert message["Subject"] == "Order A-1 confirmed"
    assert message.get_content() == "Order A-1 is on its way.\n"


def test_non_ascii_is_encoded_for_any_server(templates: Path) -> None:
    req = request(view(first_name="Zoé", last_name="Ørsted"), variables={"code": "€5"})
    settings = Settings(**base_settings(templates))
    raw = build_message(req, settings, TemplateStore(templates)).message.as_bytes()
    assert raw.isascii()
    parsed = BytesParser(policy=default_policy).parsebytes(raw)
    assert parsed["Subject"] == "Welcome, Zoé!"
    assert parsed["To"].addresses[0].display_name == "Zoé Ørsted"
    assert "€5" in _text(parsed)


def test_names_come_from_the_view_only(templates: Path) -> None:
    """A caller cannot slip in a name the brick is not allowed to have."""
    req = request(
        view(first_name=None, last_name=None),
        template="receipt",
        variables={"order": "7", "first_name": "Forged"},
    )
    message = _build(templates, req)
    assert message["To"] == EMAIL
    assert "Forged" not in message.as_string()


def test_a_missing_name_is_a_missing_variable(templates: Path) -> None:
    with pytest.raises(PayloadRejected) as caught:
        _build(templates, request(view(first_name=None)))
    assert caught.value.field == "variables.first_name"


def test_a_missing_variable_is_named(templates: Path) -> None:
    with pytest.raises(PayloadRejected) as caught:
        _build(templates, request(variables={}))
    assert caught.value.field == "variables.code"
    assert "code" in caught.value.message


def test_unsubscribe_url_variable_needs_the_setting(templates: Path) -> None:
    with pytest.raises(PayloadRejected) as caught:
        _build(templates, list_unsubscribe_url=None)
    assert caught.value.field == "variables.unsubscribe_url"


@pytest.mark.parametrize("name", ["missing", "../secrets", ".hidden", "a/b", "x" * 200])
def test_unknown_or_unsafe_template_names_are_rejected(templates: Path, name: str) -> None:
    (templates.parent / "secrets.txt").write_text("Subject: leaked\n\nsecret\n")
    with pytest.raises(PayloadRejected) as caught:
        _build(templates, request(template=name))
    assert caught.value.field == "template"


def test_template_without_subject_line_is_rejected(templates: Path) -> None:
    (templates / "bad.txt").write_text("Hello\n")
    with pytest.raises(PayloadRejected, match="Subject") as caught:
        _build(templates, request(template="bad"))
    assert caught.value.field == "template"


def test_invalid_placeholder_is_rejected(templates: Path) -> None:
    (templates / "bad.txt").write_text("Subject: hi\n\nCosts $5\n")
    with pytest.raises(PayloadRejected, match="placeholder"):
        _build(templates, request(template="bad"))


def test_line_breaks_cannot_add_headers(templates: Path) -> None:
    (templates / "sub.txt").write_text("Subject: About ${topic}\n\nbody\n")
    req = request(template="sub", variables={"topic": "x\r\nBcc: victim@example.org"})
    message = _build(templates, req)
    assert message["Bcc"] is None
    assert message["Subject"] == "About x Bcc: victim@example.org"


def test_a_view_without_email_is_rejected(templates: Path) -> None:
    with pytest.raises(PayloadRejected) as caught:
        _build(templates, request(ContactView(pseudonym=PSEUDONYM, first_name="Ada")))
    assert caught.value.field == "email"


def test_no_field_absent_from_the_view_and_no_stray_data(templates: Path) -> None:
    req = request(view(locale="fr-FR", time_zone="Europe/Paris", phone="+33612345678"))
    raw = _build(templates, req).as_string()
    for value in ("fr-FR", "Europe/Paris", "+33612345678", "idem-req-smtp-0001"):
        assert value not in raw


def test_values_are_not_templates_themselves(templates: Path) -> None:
    (templates / "price.txt").write_text("Subject: $$${amount} off\n\nPay $$${amount} (${note})\n")
    req = request(template="price", variables={"amount": "5", "note": "${pseudonym}"})
    message = _build(templates, req)
    assert message["Subject"] == "$5 off"
    assert _text(message).strip() == "Pay $5 (${pseudonym})"  # substituted once, never again
