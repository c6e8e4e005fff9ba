"""Settings of the Brevo brick, validated by the core from ``[bricks.brevo]`` in ``hub.toml``.

Everything vendor-account specific lives here rather than in code: template ids, list ids,
attribute names (older Brevo accounts use ``PRENOM``/``NOM`` or ``FIRST_NAME``...), the sender.
"""

from __future__ import annotations

import re

from pydantic import Field, SecretStr, field_validator, model_validator

from contracts import CustomerField
from hub.sdk.http import HttpBrickSettings

__all__ = ["DEFAULT_ATTRIBUTES", "BrevoSettings"]

#: Brevo's default contact attributes of a new account (``SMS`` holds the phone number).
DEFAULT_ATTRIBUTES: dict[CustomerField, str] = {
    CustomerField.FIRST_NAME: "FIRSTNAME",
    CustomerField.LAST_NAME: "LASTNAME",
    CustomerField.PHONE: "SMS",
}

#: Fields that may be stored as a Brevo attribute. Email is a first-class contact property and
#: push tokens mean nothing to Brevo, so neither can be mapped.
_MAPPABLE = frozenset(CustomerField) - {CustomerField.EMAIL, CustomerField.PUSH_TOKEN}
_ATTRIBUTE_NAME = r"^[A-Z][A-Z0-9_]{0,63}$"


class BrevoSettings(HttpBrickSettings):
    """Credentials, account ids and thresholds for one Brevo account."""

    base_url: str = "https://api.brevo.com/v3"
    """Root of Brevo's API v3 (override only for tests or a proxy)."""
    api_key: SecretStr
    """A Brevo API v3 key (``xkeysib-...``), sent as the ``api-key`` header."""
    templates: dict[str, int] = Field(default_factory=dict)
    """Hub template name -> Brevo template id, e.g. ``{"welcome-1" = 12}``."""
    sender_email: str | None = None
    """Sender address when the Brevo template does not carry one (a verified sender)."""
    sender_name: str | None = Field(default=None, max_length=70)
    """Display name sent with ``sender_email``."""
    sender_id: int | None = Field(default=None, gt=0)
    """Brevo sender id (dedicated IP pools); takes precedence over ``sender_email``."""
    list_ids: list[int] = Field(default_factory=list)
    """Brevo lists every synced contact is added to (needed for batch imports)."""
    attributes: dict[CustomerField, str] = Field(default_factory=lambda: dict(DEFAULT_ATTRIBUTES))
    """Customer field -> Brevo attribute name; a field not listed is never sent to Brevo."""
    import_threshold: int = Field(default=100, ge=1)
    """A contact batch larger than this goes through ``/contacts/import`` (needs ``list_ids``)."""
    webhook_token: SecretStr | None = None
    """Shared secret Brevo presents on webhook calls; unset, every webhook call is refused."""
    webhook_tolerance_seconds: int = Field(default=86_400, ge=60, le=7 * 86_400)
    """How old (or how far in the future) an event's ``ts_event`` may be before it is a replay.

    Brevo retries a failed call 10 min, 1 h, 2 h and 8 h later (about 11 h after the original)
    and batched webhooks wait up to 5 min, so the default of 24 h keeps every genuine retry.
    """

    @field_validator("templates")
    @classmethod
    def _positive_template_ids(cls, value: dict[str, int]) -> dict[str, int]:
        bad = sorted(name for name, template_id in value.items() if template_id <= 0)
        if bad:
            raise ValueError(f"template ids must be positive integers: {', '.join(bad)}")
        return value

    @field_validator("list_ids")
    @classmethod
    def _positive_list_ids(cls, value: list[int]) -> list[int]:
        if any(list_id <= 0 for list_id in value):
            raise ValueError("list ids must be positive integers")
        return list(dict.fromkeys(value))

    @field_validator("attributes")
    @classmethod
    def _valid_attributes(cls, value: dict[CustomerField, str]) -> dict[CustomerField, str]:
        for customer_field, name in value.items():
            if customer_field not in _MAPPABLE:
                raise ValueError(f"{customer_field.value} cannot be stored as a Brevo attribute")
            if not re.fullmatch(_ATTRIBUTE_NAME, name):
                raise ValueError(f"{name!r} is not a Brevo attribute name (upper case, A-Z0-9_)")
        if len(set(value.values())) != len(value):
            raise ValueError("two fields map to the same Brevo attribute")
        return value

    @field_validator("sender_email")
    @classmethod
    def _looks_like_address(cls, value: str | None) -> str | None:
        if value is not None and "@" not in value:
            raise ValueError("sender_email must be an email address")
        return value

    @model_validator(mode="after")
    def _name_needs_email(self) -> BrevoSettings:
        if self.sender_name is not None and self.sender_email is None:
            raise ValueError("sender_name needs sender_email")
        return self
