"""Settings of the Twilio brick: credentials, the sender, the message templates, the callback.

Everything that can be checked without calling Twilio is checked here, when ``hub config
validate`` loads the file, so a typo in a SID or a broken placeholder fails at start-up with the
setting's dotted path instead of at 3 a.m. on the first send.
"""

from __future__ import annotations

import re
from string import Template
from typing import Annotated

from pydantic import Field, SecretStr, field_validator, model_validator

from contracts import BrickSettings
from hub.sdk.http import HttpBrickSettings

__all__ = [
    "BODY_MAX_CHARS",
    "CONTENT_SID",
    "ContentTemplate",
    "TwilioSettings",
    "template_names",
]

#: Twilio's documented limit for ``Body`` (longer bodies are refused with error 21617).
BODY_MAX_CHARS = 1600
#: Content Template SIDs as the spec writes them (``ContentSid`` pattern).
CONTENT_SID = re.compile(r"^HX[0-9a-fA-F]{32}$")
_ACCOUNT_SID = re.compile(r"^AC[0-9a-fA-F]{32}$")
_SERVICE_SID = re.compile(r"^MG[0-9a-fA-F]{32}$")
_E164 = re.compile(r"^\+[1-9][0-9]{1,14}$")
#: Alphanumeric sender IDs: up to 11 letters, digits or spaces, at least one letter.
_ALPHA_SENDER = re.compile(r"^(?=.*[A-Za-z])[A-Za-z0-9 ]{1,11}$")
#: Content variable keys: Twilio allows up to 16 characters and no spaces.
_CONTENT_VARIABLE = re.compile(r"^[A-Za-z0-9_]{1,16}$")


def template_names(text: str) -> list[str]:
    """The ``$name`` / ``${name}`` placeholders of a template text, in order of appearance.

    Raises ``ValueError`` for a text ``string.Template`` cannot substitute (a lone ``$``): write
    ``$$`` for a literal dollar sign.
    """
    template = Template(text)
    if not template.is_valid():
        raise ValueError("invalid placeholder: use $name or ${name}, and $$ for a literal '$'")
    return template.get_identifiers()


class ContentTemplate(BrickSettings):
    """A Twilio Content Template and how to fill its variables.

    Each value of ``variables`` is itself a template text (``"${first_name}"``), so the operator
    decides exactly which data reaches Twilio; without ``variables`` the send request's own
    variables are passed through unchanged, and no customer field is sent.
    """

    content_sid: str
    """The Content Template SID (``HX`` + 32 hex digits), from the Content Template Builder."""
    variables: dict[str, str] | None = None
    """Content variable name (``"1"``, ``"name"``) -> text with ``$name`` placeholders."""

    @field_validator("content_sid")
    @classmethod
    def _content_sid(cls, value: str) -> str:
        if not CONTENT_SID.match(value):
            raise ValueError("must be a Content Template SID: 'HX' followed by 32 hex digits")
        return value

    @field_validator("variables")
    @classmethod
    def _variables(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        if value is None:
            return None
        if len(value) > 100:
            raise ValueError("Twilio accepts at most 100 content variables")
        for key, text in value.items():
            if not _CONTENT_VARIABLE.match(key):
                raise ValueError(f"variable {key!r}: 1-16 letters, digits or '_' (Twilio's rule)")
            try:
                template_names(text)
            except ValueError as exc:
                raise ValueError(f"variable {key!r}: {exc}") from None
        return value


#: A template is a message body text, a bare Content SID, or a Content Template with variables.
TemplateSpec = Annotated[str, Field(min_length=1)] | ContentTemplate


class TwilioSettings(HttpBrickSettings):
    """``[bricks.twilio]``: exactly one of ``from_number`` / ``messaging_service_sid``."""

    base_url: str = "https://api.twilio.com"
    """Root of the Twilio REST API (override only for a test server)."""
    account_sid: str
    """The Account SID (``AC`` + 32 hex digits): the Basic-auth user and part of every path."""
    auth_token: SecretStr
    """The account's primary Auth Token: Basic-auth password and the key of callback signatures."""
    from_number: str | None = None
    """Sender: a Twilio phone number in E.164 (``+14155552345``) or an alphanumeric sender ID."""
    messaging_service_sid: str | None = None
    """Sender: a Messaging Service SID (``MG`` + 32 hex digits); Twilio picks the number."""
    templates: dict[str, TemplateSpec] = Field(min_length=1)
    """Template name -> body text (``$name`` placeholders), Content SID, or Content Template."""
    status_callback: bool = True
    """Ask Twilio to report delivery (``StatusCallback``) to the hub's webhook URL."""
    webhook_url: str | None = None
    """The exact URL Twilio calls back; default ``{public_base_url}/webhooks/{brick name}``."""

    @field_validator("account_sid")
    @classmethod
    def _account_sid(cls, value: str) -> str:
        if not _ACCOUNT_SID.match(value):
            raise ValueError("must be an Account SID: 'AC' followed by 32 hex digits")
        return value

    @field_validator("from_number")
    @classmethod
    def _from_number(cls, value: str | None) -> str | None:
        if value is not None and not (_E164.match(value) or _ALPHA_SENDER.match(value)):
            raise ValueError(
                "must be an E.164 number (+ and up to 15 digits) or an alphanumeric sender ID "
                "(1-11 letters, digits or spaces)"
            )
        return value

    @field_validator("messaging_service_sid")
    @classmethod
    def _service_sid(cls, value: str | None) -> str | None:
        if value is not None and not _SERVICE_SID.match(value):
            raise ValueError("must be a Messaging Service SID: 'MG' followed by 32 hex digits")
        return value

    @field_validator("templates")
    @classmethod
    def _templates(cls, value: dict[str, TemplateSpec]) -> dict[str, TemplateSpec]:
        for name, spec in value.items():
            if isinstance(spec, str) and not CONTENT_SID.match(spec):
                if len(spec) > BODY_MAX_CHARS:
                    raise ValueError(f"template {name!r}: longer than {BODY_MAX_CHARS} characters")
                try:
                    template_names(spec)
                except ValueError as exc:
                    raise ValueError(f"template {name!r}: {exc}") from None
        return value

    @field_validator("webhook_url")
    @classmethod
    def _webhook_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("https://", "http://")):
            raise ValueError("must be an absolute http(s) URL, exactly as Twilio will call it")
        if value is not None and "_" in value.split("/", 3)[2]:
            raise ValueError("Twilio refuses callback host names containing '_'")
        return value

    @model_validator(mode="after")
    def _one_sender(self) -> TwilioSettings:
        if (self.from_number is None) == (self.messaging_service_sid is None):
            raise ValueError("set exactly one of 'from_number' and 'messaging_service_sid'")
        return self
