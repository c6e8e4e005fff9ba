"""Request bodies, answer reading and settings of the OneSignal brick (no HTTP)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import httpx
import pytest
from pydantic import ValidationError

from contracts import Channel, ContactView, MessageKind, PayloadRejected, SendRequest
from plugins.onesignal.payloads import (
    describe,
    idempotency_uuid,
    language_for,
    notification_body,
    read_notification,
    subscription_type_for,
    user_body,
)
from plugins.onesignal.settings import InlineTemplate, OneSignalSettings

APP_ID = "8250eaf6-1a58-489e-b136-7c74a864b434"
TEMPLATE_ID = "be4a8044-bbd6-11e4-a581-000c2940e62c"
PSEUDONYM = "ps_payloads_0123456789"
TOKEN = "fcm-token:APA91bHun4MxP5egoKMwt2KZFBaFUH-1RYqx"


def settings(**overrides: object) -> OneSignalSettings:
    values: dict[str, object] = {
        "app_id": APP_ID,
        "api_key": "os_v2_app_secretvalue",
        "templates": {
            "welcome": TEMPLATE_ID,
            "shipped": {
                "contents": {"en": "Order $order shipped", "fr": "Commande $order expédiée"},
                "headings": {"en": "Good news"},
                "url": "https://shop.example/orders/${order}",
            },
        },
    }
    values.update(overrides)
    return OneSignalSettings.model_validate(values)


def send_request(template: str = "welcome", **variables: str | int | float | bool) -> SendRequest:
    return SendRequest(
        request_id="req-payloads-0001",
        idempotency_key="a" * 64,
        channel=Channel.PUSH,
        kind=MessageKind.TRANSACTIONAL,
        scenario="order-shipped",
        template=template,
        variables=variables,
        recipient=ContactView(pseudonym=PSEUDONYM, push_token=TOKEN, locale="fr-FR"),
        created_at=datetime(2026, 1, 15, tzinfo=UTC),
    )


@pytest.mark.parametrize(
    ("locale", "language"),
    [
        ("fr-FR", "fr"),
        ("fr_FR.UTF-8", "fr"),
        ("EN", "en"),
        ("zh-TW", "zh-Hant"),
        ("zh-Hant-HK", "zh-Hant"),
        ("zh-CN", "zh-Hans"),
        ("zh", "zh-Hans"),
        ("no-NO", "nb"),
        ("iw", "he"),
        ("pt-BR", "pt"),
        ("tlh", None),
        ("", None),
        (None, None),
    ],
)
def test_language_for(locale: str | None, language: str | None) -> None:
    assert language_for(locale) == language


def test_subscription_type_from_token_shape() -> None:
    assert subscription_type_for("ab" * 32, "auto") == "iOSPush"
    assert subscription_type_for(TOKEN, "auto") == "AndroidPush"
    assert subscription_type_for(TOKEN, "HuaweiPush") == "HuaweiPush"
    with pytest.raises(PayloadRejected) as caught:
        subscription_type_for("https://fcm.googleapis.com/fcm/send/abc", "auto")
    assert caught.value.field == "push_token"
    assert "fcm.googleapis" not in caught.value.message


def test_idempotency_uuid_is_a_stable_v3_uuid_per_key() -> None:
    first = idempotency_uuid("a" * 64)
    assert first == idempotency_uuid("a" * 64)
    assert uuid.UUID(first).version == 3
    assert idempotency_uuid("b" * 64) != first


def test_template_id_body_targets_the_pseudonym_only() -> None:
    body = notification_body(send_request("welcome", coupon="HELLO10", n=3), settings())
    assert body == {
        "app_id": APP_ID,
        "include_aliases": {"external_id": [PSEUDONYM]},
        "target_channel": "push",
        "idempotency_key": idempotency_uuid("a" * 64),
        "name": "order-shipped",
        "template_id": TEMPLATE_ID,
        "custom_data": {"coupon": "HELLO10", "n": 3},
    }
    assert TOKEN not in repr(body)


def test_template_id_without_variables_sends_no_custom_data() -> None:
    assert "custom_data" not in notification_body(send_request("welcome"), settings())


def test_inline_template_is_rendered_per_language() -> None:
    body = notification_body(send_request("shipped", order=42), settings())
    assert body["contents"] == {"en": "Order 42 shipped", "fr": "Commande 42 expédiée"}
    assert body["headings"] == {"en": "Good news"}
    assert body["url"] == "https://shop.example/orders/42"
    assert "template_id" not in body and "custom_data" not in body


def test_inline_template_missing_variable_is_rejected() -> None:
    with pytest.raises(PayloadRejected, match="'order'") as caught:
        notification_body(send_request("shipped"), settings())
    assert caught.value.field == "variables"


def test_unknown_template_is_rejected() -> None:
    with pytest.raises(PayloadRejected, match=r"bricks\.onesignal\.templates"):
        notification_body(send_request("nope"), settings())


def test_custom_data_over_onesignal_limit_is_rejected() -> None:
    with pytest.raises(PayloadRejected, match="2048"):
        notification_body(send_request("welcome", blob="x" * 2100), settings())


def test_optional_push_settings_are_sent() -> None:
    channel = "2f5e0b2c-9c5d-4a4e-8f39-3c1a52e1b0aa"
    body = notification_body(
        send_request("welcome"), settings(android_channel_id=channel, ttl_seconds=3600)
    )
    assert body["android_channel_id"] == channel
    assert body["ttl"] == 3600


def test_user_body_with_and_without_push_token() -> None:
    full = ContactView(pseudonym=PSEUDONYM, push_token=TOKEN, locale="de-AT")
    assert user_body(full, settings()) == {
        "identity": {"external_id": PSEUDONYM},
        "properties": {"language": "de"},
        "subscriptions": [{"type": "AndroidPush", "token": TOKEN}],
    }
    bare = ContactView(pseudonym=PSEUDONYM)
    assert user_body(bare, settings()) == {"identity": {"external_id": PSEUDONYM}}
    ios = ContactView(pseudonym=PSEUDONYM, push_token="cd" * 32)
    configured = user_body(ios, settings(subscription_type="macOSPush"))
    assert configured["subscriptions"][0]["type"] == "macOSPush"


def _ok(body: object) -> httpx.Response:
    return httpx.Response(200, json=body)


def test_read_notification_returns_the_id() -> None:
    answer = {"id": "b98881cc-1e94-4366-bbd9-db8f3429292b", "external_id": None}
    assert read_notification(_ok(answer)) == answer["id"]


def test_empty_id_means_not_sent() -> None:
    answer = {"id": "", "errors": ["All included players are not subscribed"]}
    with pytest.raises(PayloadRejected, match="not subscribed") as caught:
        read_notification(_ok(answer))
    assert caught.value.vendor_code == "not_subscribed"


def test_empty_id_with_other_reason() -> None:
    with pytest.raises(PayloadRejected, match="Template not found") as caught:
        read_notification(_ok({"id": "", "errors": ["Template not found"]}))
    assert caught.value.vendor_code == "not_created"
    with pytest.raises(PayloadRejected, match="no reason given"):
        read_notification(_ok({"id": ""}))


def test_invalid_aliases_means_this_person_gets_nothing() -> None:
    answer = {
        "id": "b98881cc-1e94-4366-bbd9-db8f3429292b",
        "errors": {"invalid_aliases": {"external_id": [PSEUDONYM]}},
    }
    with pytest.raises(PayloadRejected) as caught:
        read_notification(_ok(answer))
    assert caught.value.vendor_code == "invalid_aliases"
    assert PSEUDONYM not in caught.value.message


def test_read_notification_refuses_non_json() -> None:
    with pytest.raises(PayloadRejected):
        read_notification(httpx.Response(200, text="<html>"))
    with pytest.raises(PayloadRejected):
        read_notification(_ok(["not", "an", "object"]))


def test_describe_reads_onesignal_error_shapes() -> None:
    strings = httpx.Response(400, json={"errors": ["Message Notifications must have English"]})
    assert describe(strings) == ("Message Notifications must have English", None, None)
    objects = httpx.Response(
        409, json={"errors": [{"code": "user-2", "title": "Alias conflict", "meta": {}}]}
    )
    assert describe(objects) == ("Alias conflict", "user-2", None)
    leaky = httpx.Response(400, json={"errors": ["bad email ada@example.com"]})
    assert "ada@example.com" not in describe(leaky)[0]
    assert describe(httpx.Response(502, text="bad gateway"))[0] == "Bad Gateway"
    other = httpx.Response(500, json={"message": "down for +33612345678"})
    assert describe(other)[0] == "down for <phone>"


def test_settings_validation() -> None:
    with pytest.raises(ValidationError, match="must include 'en'"):
        settings(templates={"x": {"contents": {"fr": "Bonjour"}}})
    with pytest.raises(ValidationError, match="unknown OneSignal language"):
        settings(templates={"x": {"contents": {"en": "Hi", "xx": "?"}}})
    with pytest.raises(ValidationError):
        settings(templates={"x": "not-a-uuid"})
    with pytest.raises(ValidationError):
        settings(colour="blue")
    with pytest.raises(ValidationError):
        settings(api_key="   ")
    with pytest.raises(ValidationError):
        settings(ttl_seconds=2_419_201)
    parsed = settings()
    assert isinstance(parsed.templates["shipped"], InlineTemplate)
    assert parsed.base_url == "https://api.onesignal.com"
    assert "os_v2_app_secretvalue" not in repr(parsed)
