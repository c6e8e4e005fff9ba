"""Unomi events -> identity links: what links, what is skipped, what refuses the page."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from contracts import IdentifierKind, IdentityLink, LinkEvidence, PayloadRejected
from plugins.unomi.links import link_for, parse_event, value_at
from plugins.unomi.tests.support import EMAIL, login_event, settings

COOKIE = "0b8825a6-efb8-41a6-bea5-d745b33c94cb"
AT = "2026-01-15T10:00:00.000Z"


def link(raw: dict[str, Any], **overrides: Any) -> IdentityLink | None:
    return link_for(parse_event(raw, 0), settings(**overrides))


def ids(result: IdentityLink | None) -> list[tuple[str, str, str, bool]]:
    assert result is not None
    return [(i.kind.value, i.namespace, i.value, i.verified) for i in result.identifiers]


def test_login_with_email_links_the_cookie_to_a_verified_email() -> None:
    result = link(login_event("ev-1", AT, email=EMAIL))
    assert ids(result) == [("site_cookie", "unomi", COOKIE, False), ("email", "", EMAIL, True)]
    assert result is not None
    assert result.evidence is LinkEvidence.LOGIN
    assert result.observed_at == datetime(2026, 1, 15, 10, tzinfo=UTC)
    assert result.source_event_id == "ev-1"


def test_purchase_with_shop_id() -> None:
    raw = login_event("ev-2", AT, event_type="orderPlaced")
    raw["properties"] = {"order": {"customerId": 1042, "total": 99.5}}
    result = link(
        raw,
        link_events={"orderPlaced": "purchase"},
        shop_customer_id_paths=["properties.order.customerId"],
        shop_namespace="prestashop",
    )
    assert ids(result) == [
        ("site_cookie", "unomi", COOKIE, False),
        ("shop_customer_id", "prestashop", "1042", True),
    ]
    assert result is not None and result.evidence is LinkEvidence.PURCHASE


def test_newsletter_click_with_crm_id_and_partner_cookies() -> None:
    raw = login_event(
        "ev-3", AT, event_type="emailClick", crmId="CRM-77", partners=["pc-1", "pc-2", "pc-1"]
    )
    raw["properties"] = {"dmp": "pc-3"}
    result = link(
        raw,
        link_events={"emailClick": "newsletter_click"},
        crm_namespace="salesforce",
        partner_cookie_paths={"adnet": ["target.properties.partners", "properties.dmp"]},
    )
    assert ids(result) == [
        ("site_cookie", "unomi", COOKIE, False),
        ("crm_id", "salesforce", "CRM-77", True),
        ("partner_cookie", "adnet", "pc-1", False),
        ("partner_cookie", "adnet", "pc-2", False),
        ("partner_cookie", "adnet", "pc-3", False),
    ]
    assert result is not None and result.evidence is LinkEvidence.NEWSLETTER_CLICK


def test_first_path_with_a_value_wins() -> None:
    raw = login_event("ev-4", AT, email="   ", mail=EMAIL)
    result = link(raw, email_paths=["target.properties.email", "target.properties.mail"])
    assert ("email", "", EMAIL, True) in ids(result)


def test_an_event_with_only_the_cookie_is_skipped() -> None:
    assert link(login_event("ev-5", AT)) is None
    assert link(login_event("ev-6", AT, email="", customerId=" ", crmId=None)) is None


def test_an_event_without_profile_id_is_skipped() -> None:
    # Unomi removes profileId from events of visitors browsing anonymously.
    assert link(login_event("ev-7", AT, profile_id=None, email=EMAIL)) is None
    assert link(login_event("ev-8", AT, profile_id="  ", email=EMAIL)) is None


def test_an_unconfigured_event_type_never_links() -> None:
    assert link(login_event("ev-9", AT, event_type="view", email=EMAIL)) is None


@pytest.mark.parametrize(
    "junk",
    [True, {"value": EMAIL}, ["", "  "], "", "x" * 513, 3.5],
    ids=["bool", "object", "empty-list", "empty", "too-long", "float"],
)
def test_unusable_values_are_not_sent(junk: Any) -> None:
    result = link(login_event("ev-10", AT, email=junk, customerId="C-1"))
    assert ids(result) == [
        ("site_cookie", "unomi", COOKIE, False),
        ("shop_customer_id", "", "C-1", True),
    ]


def test_values_are_trimmed_and_duplicates_dropped() -> None:
    raw = login_event("ev-11", AT, email=f"  {EMAIL} ", partners=["p-1", " p-1 "])
    result = link(raw, partner_cookie_paths={"adnet": ["target.properties.partners"]})
    assert ids(result) == [
        ("site_cookie", "unomi", COOKIE, False),
        ("email", "", EMAIL, True),
        ("partner_cookie", "adnet", "p-1", False),
    ]


@pytest.mark.parametrize(
    ("stamp", "expected"),
    [
        ("2026-01-15T10:00:00Z", datetime(2026, 1, 15, 10, tzinfo=UTC)),
        ("2026-01-15T11:00:00.123+01:00", datetime(2026, 1, 15, 10, 0, 0, 123000, tzinfo=UTC)),
        ("2026-01-15T10:00:00.123456Z", datetime(2026, 1, 15, 10, 0, 0, 123000, tzinfo=UTC)),
        ("2026-01-15T10:00:00", datetime(2026, 1, 15, 10, tzinfo=UTC)),
        (1768471200000, datetime(2026, 1, 15, 10, tzinfo=UTC)),
    ],
    ids=["zulu", "offset-millis", "micros-truncated", "naive-utc", "epoch-millis"],
)
def test_timestamps_unomi_may_write(stamp: Any, expected: datetime) -> None:
    assert parse_event(login_event("ev", stamp), 0).at == expected


@pytest.mark.parametrize(
    "stamp",
    [None, "", "yesterday", "2026-13-45T99:00:00Z", True, {"t": 1}, [AT], 10**20],
    ids=["missing", "empty", "word", "impossible", "bool", "object", "list", "overflow"],
)
def test_bad_timestamps_refuse_the_page_naming_the_field(stamp: Any) -> None:
    raw = login_event("ev-12", AT, email=EMAIL)
    if stamp is None:
        del raw["timeStamp"]
    else:
        raw["timeStamp"] = stamp
    with pytest.raises(PayloadRejected) as caught:
        parse_event(raw, 7)
    assert caught.value.field == "list.7.timeStamp"
    assert "event 7" in caught.value.message
    assert EMAIL not in caught.value.message


@pytest.mark.parametrize("item_id", [None, "", "   ", 42, "x" * 257], ids=str)
def test_events_need_an_item_id(item_id: Any) -> None:
    raw = login_event("ev", AT)
    raw["itemId"] = item_id
    with pytest.raises(PayloadRejected) as caught:
        parse_event(raw, 2)
    assert caught.value.field == "list.2.itemId"


def test_a_non_object_event_is_refused() -> None:
    with pytest.raises(PayloadRejected) as caught:
        parse_event(["not", "an", "event"], 3)
    assert caught.value.field == "list.3"


def test_value_at_walks_objects_only() -> None:
    data = {"a": {"b": {"c": 1}}, "l": [{"x": 1}]}
    assert value_at(data, "a.b.c") == 1
    assert value_at(data, "a.b.missing") is None
    assert value_at(data, "l.x") is None
    assert value_at(data, "a.b.c.d") is None


def test_identifier_kinds_cover_what_the_brief_reads() -> None:
    raw = login_event("ev-13", AT, email=EMAIL, customerId="S-1", crmId="C-1", partners="pc")
    result = link(raw, partner_cookie_paths={"adnet": ["target.properties.partners"]})
    assert result is not None
    assert [i.kind for i in result.identifiers] == [
        IdentifierKind.SITE_COOKIE,
        IdentifierKind.EMAIL,
        IdentifierKind.SHOP_CUSTOMER_ID,
        IdentifierKind.CRM_ID,
        IdentifierKind.PARTNER_COOKIE,
    ]
