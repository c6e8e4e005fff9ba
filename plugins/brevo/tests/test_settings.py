"""Settings validation: what a mistyped [bricks.brevo] section is refused for."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from contracts import Brick, CustomerField
from plugins.brevo import BrevoBrick, hub_register_bricks
from plugins.brevo.settings import DEFAULT_ATTRIBUTES
from plugins.brevo.tests.helpers import SETTINGS


def build(**overrides: Any) -> Any:
    return BrevoBrick.Settings(**{**SETTINGS, **overrides})


def test_defaults() -> None:
    settings = BrevoBrick.Settings(api_key="xkeysib-1")
    assert settings.base_url == "https://api.brevo.com/v3"
    assert settings.attributes == DEFAULT_ATTRIBUTES
    assert settings.webhook_token is None
    assert settings.webhook_tolerance_seconds == 86_400
    assert settings.list_ids == [] and settings.templates == {}


def test_registers_itself() -> None:
    registered: list[type[Brick]] = []
    hub_register_bricks(registered.append)
    assert registered == [BrevoBrick]


def test_secrets_are_masked() -> None:
    text = repr(build()) + build().model_dump_json()
    assert "xkeysib-test" not in text and SETTINGS["webhook_token"] not in text


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"templates": {"welcome-1": 0}}, "template ids must be positive"),
        ({"list_ids": [3, -1]}, "list ids must be positive"),
        ({"attributes": {"email": "EMAIL"}}, "cannot be stored"),
        ({"attributes": {"push_token": "TOKEN"}}, "cannot be stored"),
        ({"attributes": {"first_name": "firstname"}}, "not a Brevo attribute name"),
        ({"attributes": {"first_name": "NAME", "last_name": "NAME"}}, "same Brevo attribute"),
        ({"sender_email": "not-an-address"}, "email address"),
        ({"sender_email": None, "sender_name": "Shop"}, "sender_name needs sender_email"),
        ({"sender_name": "x" * 71}, "70"),
        ({"webhook_tolerance_seconds": 10}, "greater than or equal"),
        ({"import_threshold": 0}, "greater than or equal"),
        ({"base_url": "ftp://api.brevo.com"}, "https://"),
        ({"colour": "blue"}, "Extra inputs"),
    ],
)
def test_invalid_settings_are_refused(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        build(**overrides)


def test_duplicate_list_ids_are_collapsed_and_attributes_can_be_extended() -> None:
    settings = build(list_ids=[3, 3, 5], attributes={"locale": "LANGUAGE", "phone": "SMS"})
    assert settings.list_ids == [3, 5]
    assert settings.attributes == {CustomerField.LOCALE: "LANGUAGE", CustomerField.PHONE: "SMS"}
