"""Builders shared by the SMTP brick's tests: views, requests, templates, settings, bricks."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from contracts import BrickContext, Channel, ContactView, MessageKind, SendRequest
from plugins.smtp import SmtpBrick
from plugins.smtp.tests.server import PASSWORD, USERNAME, Certificate, Server

PSEUDONYM = "ps_smtptest0123456789abcdef"
EMAIL = "ada.smtp@example.org"

WELCOME_TXT = (
    "Subject: Welcome, ${first_name}!\n"
    "\n"
    "Hello ${first_name} ${last_name},\n"
    "your code is ${code}.\n"
    "Unsubscribe: ${unsubscribe_url}\n"
)
WELCOME_HTML = "<p>Hello <b>${first_name}</b>, your code is ${code}.</p>\n"
RECEIPT_TXT = "Subject: Order ${order} confirmed\n\nOrder ${order} is on its way.\n"


def write_templates(directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "welcome-1.txt").write_text(WELCOME_TXT, encoding="utf-8")
    (directory / "welcome-1.html").write_text(WELCOME_HTML, encoding="utf-8")
    (directory / "receipt.txt").write_text(RECEIPT_TXT, encoding="utf-8")
    return directory


def view(**fields: Any) -> ContactView:
    """A view with email and names; pass ``field=None`` to leave one out."""
    pseudonym = fields.pop("pseudonym", PSEUDONYM)
    values = {"email": EMAIL, "first_name": "Ada", "last_name": "Lovelace", **fields}
    return ContactView(pseudonym=pseudonym, **values)


def request(
    recipient: ContactView | None = None,
    *,
    template: str = "welcome-1",
    kind: MessageKind = MessageKind.MARKETING,
    variables: dict[str, Any] | None = None,
    request_id: str = "req-smtp-0001",
) -> SendRequest:
    return SendRequest(
        request_id=request_id,
        idempotency_key=f"idem-{request_id}",
        channel=Channel.EMAIL,
        kind=kind,
        scenario="welcome",
        template=template,
        variables={"code": "X42"} if variables is None else variables,
        recipient=recipient or view(),
        created_at=datetime(2026, 1, 15, 10, tzinfo=UTC),
    )


def base_settings(templates: Path, **overrides: Any) -> dict[str, Any]:
    return {
        "host": "127.0.0.1",
        "port": 2525,
        "security": "none",
        "from_address": "shop@example.org",
        "from_name": "Demo Shop",
        "templates_dir": str(templates),
        "list_unsubscribe_url": "https://shop.example.org/unsubscribe/{pseudonym}",
        "list_unsubscribe_mailto": "unsubscribe@example.org",
        "ehlo_hostname": "hub.example.org",
        "timeout_seconds": 5,
        **overrides,
    }


def settings_for(
    server: Server,
    templates: Path,
    certificate: Certificate | None = None,
    *,
    auth: bool = False,
    **overrides: Any,
) -> dict[str, Any]:
    """Settings that reach ``server``, trusting its certificate through ``ca_file``."""
    values = base_settings(templates, port=server.port, security=server.security)
    if certificate is not None and server.security != "none":
        values["ca_file"] = str(certificate.cert)
    if auth:
        values.update(username=USERNAME, password=PASSWORD)
    return {**values, **overrides}


def make_brick(settings: dict[str, Any], data_dir: Path) -> SmtpBrick:
    return SmtpBrick(SmtpBrick.Settings(**settings), BrickContext(name="smtp", data_dir=data_dir))
