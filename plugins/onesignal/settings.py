"""Settings of the OneSignal brick: which app, which key, and what each template name means.

A template name the core uses (``SendRequest.template``) maps either to a template kept in the
OneSignal dashboard (its UUID) or to content written inline in ``hub.toml``. Dashboard templates
are personalised by OneSignal itself from ``custom_data`` (Liquid ``{{ message.custom_data.x }}``);
OneSignal documents ``custom_data`` for template sends only, so inline content is rendered by the
brick (``$name`` placeholders) before it leaves the hub.
"""

from __future__ import annotations

from typing import Literal
from uuid import UUID

from pydantic import Field, SecretStr, field_validator

from contracts import BrickSettings
from hub.sdk.http import HttpBrickSettings

__all__ = ["LANGUAGES", "InlineTemplate", "OneSignalSettings", "SubscriptionType"]

#: Language codes OneSignal accepts as keys of ``contents`` / ``headings`` (its
#: ``LanguageStringMap``); ``en`` is the fallback every message must carry.
LANGUAGES: frozenset[str] = frozenset(
    [
        "en",
        "ar",
        "bs",
        "bg",
        "ca",
        "zh-Hans",
        "zh-Hant",
        "zh",
        "hr",
        "cs",
        "da",
        "nl",
        "et",
        "fi",
        "fr",
        "ka",
        "de",
        "el",
        "hi",
        "he",
        "hu",
        "id",
        "it",
        "ja",
        "ko",
        "lv",
        "lt",
        "ms",
        "nb",
        "pl",
        "fa",
        "pt",
        "pa",
        "ro",
        "ru",
        "sr",
        "sk",
        "es",
        "sv",
        "th",
        "tr",
        "uk",
        "vi",
    ]
)

#: Push subscription types of OneSignal's Users API, plus ``auto`` (guess from the token).
SubscriptionType = Literal[
    "auto",
    "iOSPush",
    "AndroidPush",
    "HuaweiPush",
    "FireOSPush",
    "macOSPush",
    "WindowsPush",
    "ChromePush",
    "FirefoxPush",
    "SafariPush",
]


def _check_languages(value: dict[str, str]) -> dict[str, str]:
    unknown = sorted(set(value) - LANGUAGES)
    if unknown:
        raise ValueError(f"unknown OneSignal language code(s): {', '.join(unknown)}")
    if any(not text for text in value.values()):
        raise ValueError("texts must not be empty")
    return value


class InlineTemplate(BrickSettings):
    """Message content written in config, one text per OneSignal language code.

    ``$name`` / ``${name}`` placeholders are replaced by the send's variables (``$$`` is a
    literal dollar); a placeholder without a variable rejects the send rather than showing
    ``$name`` to the person.
    """

    contents: dict[str, str]
    """The message body per language; must include ``en`` (OneSignal's fallback)."""
    headings: dict[str, str] = Field(default_factory=dict)
    """The title per language (optional); when given, must include ``en`` too."""
    url: str | None = None
    """Opened when the person taps the notification (optional; ``$name`` allowed)."""

    @field_validator("contents", "headings")
    @classmethod
    def _languages(cls, value: dict[str, str]) -> dict[str, str]:
        _check_languages(value)
        if value and "en" not in value:
            raise ValueError("must include 'en': OneSignal falls back to English")
        return value

    @field_validator("contents")
    @classmethod
    def _not_empty(cls, value: dict[str, str]) -> dict[str, str]:
        if not value:
            raise ValueError("needs at least the 'en' text")
        return value


class OneSignalSettings(HttpBrickSettings):
    """One OneSignal app, reached with its App API key."""

    base_url: str = "https://api.onesignal.com"
    """OneSignal's REST API root (override for tests or a proxy)."""
    app_id: UUID
    """The OneSignal App ID (Settings > Keys & IDs), a UUID."""
    api_key: SecretStr
    """The App API key, sent as ``Authorization: Key <key>``; never the Organization key."""
    templates: dict[str, UUID | InlineTemplate] = Field(default_factory=dict)
    """Template name -> OneSignal template UUID, or inline ``{contents, headings, url}``."""
    subscription_type: SubscriptionType = "auto"
    """Push subscription type given to OneSignal when the sink links a push token."""
    android_channel_id: UUID | None = None
    """OneSignal Android notification category to send under (optional)."""
    ttl_seconds: int | None = Field(default=None, ge=0, le=2_419_200)
    """How long an undelivered push is kept (OneSignal's default: 3 days; max 28 days)."""

    @field_validator("api_key")
    @classmethod
    def _key_present(cls, value: SecretStr) -> SecretStr:
        secret = value.get_secret_value()
        if not secret.strip() or any(c in secret for c in "\r\n"):
            raise ValueError("must be a non-empty App API key on one line")
        return value

    @field_validator("templates")
    @classmethod
    def _template_names(
        cls, value: dict[str, UUID | InlineTemplate]
    ) -> dict[str, UUID | InlineTemplate]:
        for name in value:
            if not name or len(name) > 256:
                raise ValueError("template names are 1 to 256 characters")
        return value
