"""Turn a ``SendRequest`` into an RFC 5322 message: headers, text and optional HTML part.

What leaves the hub is exactly what this module writes: the recipient's address and, when the
view carries them, their names; the brick's pseudonym (so a bounce or an unsubscribe can be
mapped back) and the request id. Never the hub's customer id, which the brick never sees.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from email.errors import HeaderDefect, HeaderParseError
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import default as default_policy
from email.utils import format_datetime, make_msgid
from urllib.parse import quote

from contracts import ContactView, MessageKind, PayloadRejected, SendRequest
from plugins.smtp.settings import PSEUDONYM_PLACEHOLDER, SmtpSettings
from plugins.smtp.templates import TemplateStore

__all__ = ["PSEUDONYM_HEADER", "REQUEST_ID_HEADER", "Outgoing", "build_message"]

#: Carries the brick's pseudonym of the recipient: bounces and replies quote the original
#: headers, so the hub can tell whose address failed without the vendor knowing who it is.
PSEUDONYM_HEADER = "X-Hub-Pseudonym"
REQUEST_ID_HEADER = "X-Hub-Request-Id"

#: Headers set with ``set_raw`` are written exactly as given. The default policy would turn a
#: long ``List-Unsubscribe`` value (a URL has no space to fold at) into RFC 2047 encoded words,
#: which no mail client reads as a link; parsed headers (Subject, To...) are still folded.
#: 7-bit transfer encodings keep non-ASCII bodies deliverable by servers without 8BITMIME.
_POLICY = default_policy.clone(refold_source="none", cte_type="7bit")


@dataclass(frozen=True)
class Outgoing:
    """A message ready for the SMTP session, with its envelope."""

    message: EmailMessage
    sender: str
    recipient: str
    message_id: str


def build_message(request: SendRequest, settings: SmtpSettings, store: TemplateStore) -> Outgoing:
    """Render the template for this recipient and assemble the message.

    Raises ``PayloadRejected`` (``field="email"``) when the view carries no usable address, and
    the template store's ``PayloadRejected`` for a missing template or variable.
    """
    view = request.recipient
    if not view.email:
        raise PayloadRejected(
            "recipient view has no email: allow the 'email' field for this brick", field="email"
        )
    to = _recipient(view)
    rendered = store.render(request.template, _variables(request, settings))
    message = EmailMessage(policy=_POLICY)
    message["From"] = Address(settings.from_name or "", addr_spec=settings.from_address)
    message["To"] = to
    if settings.reply_to:
        message["Reply-To"] = Address(addr_spec=settings.reply_to)
    message["Subject"] = rendered.subject
    message["Date"] = format_datetime(datetime.now(UTC))
    message_id = make_msgid(domain=settings.id_domain)
    message["Message-ID"] = message_id
    if request.kind is MessageKind.MARKETING:
        _list_unsubscribe(message, settings, view.pseudonym)
    message[REQUEST_ID_HEADER] = request.request_id
    message[PSEUDONYM_HEADER] = view.pseudonym
    message.set_content(rendered.text)
    if rendered.html is not None:
        message.add_alternative(rendered.html, subtype="html")
    return Outgoing(message, settings.from_address, view.email, message_id)


def unsubscribe_url(settings: SmtpSettings, pseudonym: str) -> str | None:
    """The one-click link for this recipient, or ``None`` when none is configured."""
    if settings.list_unsubscribe_url is None:
        return None
    return settings.list_unsubscribe_url.replace(PSEUDONYM_PLACEHOLDER, quote(pseudonym, safe=""))


def _variables(request: SendRequest, settings: SmtpSettings) -> dict[str, str]:
    """Template values: the request's variables, then what the view says about the person.

    Names come from the view (never from the caller) so a template cannot greet someone with a
    name the brick is not allowed to have; absent fields stay absent and fail loudly.
    """
    values = {key: str(value) for key, value in request.variables.items()}
    view = request.recipient
    for field in ("first_name", "last_name"):
        values.pop(field, None)
        if getattr(view, field):
            values[field] = getattr(view, field)
    values["pseudonym"] = view.pseudonym
    link = unsubscribe_url(settings, view.pseudonym)
    if link is not None:
        values["unsubscribe_url"] = link
    return values


def _recipient(view: ContactView) -> Address:
    """``To`` with the person's name when the view carries one."""
    assert view.email is not None
    name = " ".join(part for part in (view.first_name, view.last_name) if part)
    name = " ".join(name.split())  # no line breaks in a header
    username, at, domain = view.email.rpartition("@")
    if not at or not username or not domain:
        raise PayloadRejected("recipient email is not an address", field="email")
    try:
        return Address(display_name=name, username=username, domain=domain)
    except (HeaderDefect, HeaderParseError, ValueError, IndexError):
        raise PayloadRejected(
            "recipient email cannot be written in a header", field="email"
        ) from None


def _list_unsubscribe(message: EmailMessage, settings: SmtpSettings, pseudonym: str) -> None:
    """RFC 2369 ``List-Unsubscribe`` and, for an HTTPS link, RFC 8058 one-click."""
    targets: list[str] = []
    link = unsubscribe_url(settings, pseudonym)
    if link is not None:
        targets.append(f"<{link}>")
    if settings.list_unsubscribe_mailto is not None:
        subject = quote(f"unsubscribe {pseudonym}", safe="")
        targets.append(f"<mailto:{settings.list_unsubscribe_mailto}?subject={subject}>")
    if targets:
        # One URI per line: folding at the comma keeps each line short and each URI whole.
        message.set_raw("List-Unsubscribe", ",\n ".join(targets))
    if link is not None:
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
