"""Settings are checked at load time: SIDs, the single sender, templates, the callback URL."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from plugins.twilio import TwilioBrick
from plugins.twilio.settings import ContentTemplate
from plugins.twilio.tests.support import AUTH_TOKEN, CONTENT_SID, SERVICE_SID, settings


def test_defaults() -> None:
    loaded = settings(base_url="https://api.twilio.com")
    assert TwilioBrick.Settings.model_fields["base_url"].default == "https://api.twilio.com"
    assert loaded.status_callback is True
    assert loaded.webhook_url is None
    assert AUTH_TOKEN not in repr(loaded)
    assert isinstance(loaded.templates["content-mapped"], ContentTemplate)
    assert loaded.templates["content"] == CONTENT_SID


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"from_number": None}, "exactly one"),
        ({"messaging_service_sid": SERVICE_SID}, "exactly one"),
        ({"account_sid": "AC123"}, "Account SID"),
        ({"from_number": None, "messaging_service_sid": "MG1"}, "Messaging Service SID"),
        ({"from_number": "0612345678"}, "E.164"),
        ({"from_number": "+0612345678"}, "E.164"),
        ({"from_number": "MYBRANDNAME12"}, "alphanumeric"),
        ({"templates": {}}, "at least 1"),
        ({"templates": {"t": "Save $5 today"}}, "placeholder"),
        ({"templates": {"t": "x" * 1601}}, "1600"),
        ({"templates": {"t": {"content_sid": "HX1"}}}, "Content Template SID"),
        ({"templates": {"t": {"content_sid": CONTENT_SID, "variables": {"a b": "x"}}}}, "1-16"),
        (
            {"templates": {"t": {"content_sid": CONTENT_SID, "variables": {"1": "$"}}}},
            "placeholder",
        ),
        ({"templates": {"t": {"content_sid": CONTENT_SID, "colour": "red"}}}, "Extra inputs"),
        ({"webhook_url": "hub.example.org/webhooks/twilio"}, "absolute"),
        ({"webhook_url": "https://my_hub.example.org/webhooks/twilio"}, "'_'"),
        ({"colour": "red"}, "Extra inputs"),
    ],
)
def test_invalid_settings_are_refused(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        settings(**overrides)


@pytest.mark.parametrize("sender", ["+14155552345", "DemoShop", "Demo Shop 1"])
def test_valid_senders(sender: str) -> None:
    assert settings(from_number=sender).from_number == sender


def test_a_literal_dollar_is_written_twice() -> None:
    assert settings(templates={"t": "Save $$5 today"}).templates["t"] == "Save $$5 today"
