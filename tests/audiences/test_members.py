"""Audience membership: RFM on stored orders, attribute conditions, consent, active only."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError
from sqlalchemy import update

from hub.audiences.members import compute_members
from hub.audiences.model import AttributeCondition, AudienceSettings, OrderCriteria
from hub.config.model import HubSettings
from hub.storage.db import session_scope
from hub.storage.models import Customer
from tests.audiences.conftest import NOW, PEOPLE, customer_of


def _members(runtime, name):
    with session_scope(runtime.engine) as session:
        return compute_members(
            session, runtime.vault, name, runtime.settings.audiences[name], at=NOW
        )


def test_big_spenders_interested_in_cycling(shop):
    _, runtime = shop
    found = _members(runtime, "big-spenders-cycling")
    assert found.members == [customer_of(runtime, "big.cyclist@example.com")]
    # shy (no statement) and revoked (denied) match every criterion but lack consent
    assert found.without_consent == 2


def test_an_audience_without_criteria_holds_every_consented_active_customer(shop):
    _, runtime = shop
    granted = sorted(customer_of(runtime, e) for e, (_, _, c) in PEOPLE.items() if c == "granted")
    assert _members(runtime, "everyone-consented").members == granted


def test_customers_no_longer_active_are_never_members(shop):
    _, runtime = shop
    big = customer_of(runtime, "big.cyclist@example.com")
    with session_scope(runtime.engine) as session:
        session.execute(update(Customer).where(Customer.id == big).values(status="erased"))
    assert _members(runtime, "big-spenders-cycling").members == []
    assert big not in _members(runtime, "everyone-consented").members


def test_the_evaluation_instant_moves_the_windows(shop):
    _, runtime = shop
    stale = customer_of(runtime, "stale.cyclist@example.com")
    old = customer_of(runtime, "old.cyclist@example.com")
    audience = AudienceSettings(
        orders=OrderCriteria(min_count=2, min_total=500, currency="EUR"),
        attributes={"interests": AttributeCondition(contains="cycling")},
    )
    with session_scope(runtime.engine) as session:
        now = compute_members(session, runtime.vault, "x", audience, at=NOW)
        before = compute_members(session, runtime.vault, "x", audience, at=NOW.replace(year=2025))
    assert stale in now.members and old not in now.members
    # A year earlier the old cyclist's orders were recent and the stale one's not placed yet.
    assert before.members == [old]


@pytest.mark.parametrize(
    ("condition", "value", "expected"),
    [
        ({"contains": "cycling"}, ["cycling", "tea"], True),
        ({"contains": "cycling"}, ["running"], False),
        ({"contains": "CYCL"}, "Road cycling", True),
        ({"any_of": ["gold", "platinum"]}, "gold", True),
        ({"any_of": ["gold", "platinum"]}, ["silver", "gold"], True),
        ({"any_of": ["gold"]}, "silver", False),
        ({"equals": "gold"}, "gold", True),
        ({"min": 18, "max": 30}, 25, True),
        ({"min": 18}, "25", False),
        ({"min": 18}, True, False),
        ({"exists": True}, None, False),
        ({"exists": False}, None, True),
        ({"equals": "x"}, None, False),
    ],
    ids=lambda v: str(v),
)
def test_attribute_conditions(condition, value, expected):
    assert AttributeCondition(**condition).matches(value) is expected


@given(st.integers(-1000, 1000), st.integers(-1000, 1000), st.integers(-1000, 1000))
def test_numeric_range_is_inclusive(low, high, value):
    if low > high:
        with pytest.raises(ValidationError):
            AttributeCondition(min=low, max=high)
        return
    assert AttributeCondition(min=low, max=high).matches(value) is (low <= value <= high)


@pytest.mark.parametrize(
    ("audiences", "message"),
    [
        ({"Big": {}}, "not a valid audience name"),
        ({"a": {"orders": {"min_total": 5}}}, "min_total needs currency"),
        ({"a": {"orders": {"min_count": 0}}}, "greater than or equal to 1"),
        ({"a": {"orders": {"within": "30d", "last_within": "90d"}}}, "last_within cannot"),
        ({"a": {"attributes": {"x": {}}}}, "give at least one of"),
        ({"a": {"orders": {"currency": "euro", "min_total": 1}}}, "ISO 4217"),
        ({"a": {"purpose": "selling"}}, "purpose"),
        ({"a": {"colour": "red"}}, "colour"),
    ],
    ids=[
        "name",
        "currency-needed",
        "count",
        "recency",
        "empty-condition",
        "iso",
        "purpose",
        "unknown-key",
    ],
)
def test_bad_definitions_are_refused_with_their_path(audiences, message):
    with pytest.raises(ValidationError) as caught:
        HubSettings(audiences=audiences)
    text = str(caught.value)
    assert "audiences" in text and message in text
