"""Settings validation: every mistake is refused with a message naming the problem."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from plugins.unomi import UnomiBrick
from plugins.unomi.tests.support import SETTINGS, settings


def error_of(**overrides: Any) -> str:
    with pytest.raises(ValidationError) as caught:
        settings(**overrides)
    return str(caught.value)


def test_defaults_follow_unomis_documented_login_event() -> None:
    built = settings()
    assert built.auth_header == "X-Unomi-Peer"
    assert built.link_events == {"login": "login"}
    assert built.email_paths == ["target.properties.email"]
    assert built.site_cookie_namespace == "unomi"
    assert built.audience_property == "hubAudiences"
    assert (built.page_size, built.batch_size) == (100, 50)


def test_secrets_never_show() -> None:
    built = settings()
    text = repr(built) + str(built) + built.model_dump_json()
    assert SETTINGS["password"] not in text
    assert SETTINGS["auth_key"] not in text


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"link_events": {"pageView": "anonymous"}}, "'anonymous' proves nothing"),
        ({"link_events": {"login": "guess"}}, "evidence must be one of"),
        ({"link_events": {}}, "at least one event type"),
        ({"link_events": {"log in": "login"}}, "not Unomi event type names: log in"),
        ({"email_paths": ["target..email"]}, "dotted names"),
        ({"email_paths": ["target.properties.e mail"]}, "dotted names"),
        ({"partner_cookie_paths": {"Ad Partner": ["x.y"]}}, "partner namespace"),
        ({"partner_cookie_paths": {"adpartner": []}}, "at least one event property path"),
        ({"audience_property": "hub.audiences"}, "one profile property name"),
        ({"audience_property": "1st"}, "one profile property name"),
        ({"scope": "demo shop"}, "Unomi's id pattern"),
        ({"scope": "x" * 61}, "Unomi's id pattern"),
        ({"alias_client_id": "hub/1"}, "Unomi's id pattern"),
        ({"site_cookie_namespace": "Unomi"}, "lower-case"),
        ({"shop_namespace": "Pre Sta"}, "must be empty or"),
        ({"auth_header": "X Unomi Peer"}, "HTTP header name"),
        ({"username": "kar:af"}, "without ':'"),
        ({"base_url": "unomi:8181"}, "must start with https://"),
        ({"page_size": 0}, "greater than or equal to 1"),
        ({"page_size": 1001}, "less than or equal to 1000"),
        ({"batch_size": 501}, "less than or equal to 500"),
        ({"settle_seconds": -1}, "greater than or equal to 0"),
        ({"colour": "blue"}, "Extra inputs are not permitted"),
    ],
    ids=lambda value: str(value)[:40],
)
def test_bad_values_are_refused(overrides: dict[str, Any], expected: str) -> None:
    assert expected in error_of(**overrides)


def test_a_cookie_alone_links_nothing() -> None:
    message = error_of(email_paths=[], shop_customer_id_paths=[], crm_id_paths=[])
    assert "a cookie alone links nothing" in message


def test_required_credentials() -> None:
    values = {k: v for k, v in SETTINGS.items() if k not in ("password", "auth_key", "scope")}
    with pytest.raises(ValidationError) as caught:
        UnomiBrick.Settings.model_validate(values)
    missing = {error["loc"][0] for error in caught.value.errors()}
    assert missing == {"password", "auth_key", "scope"}


def test_paths_and_events_are_normalised() -> None:
    built = settings(
        email_paths=["target.properties.email", "target.properties.email", "properties.mail"],
        link_events={"orderPlaced": "purchase", "login": "login"},
        partner_cookie_paths={"zeta": ["a.b"], "alpha": ["c.d", "c.d"]},
    )
    assert built.email_paths == ["target.properties.email", "properties.mail"]
    assert list(built.link_events) == ["login", "orderPlaced"]
    assert built.partner_cookie_paths == {"alpha": ["c.d"], "zeta": ["a.b"]}
