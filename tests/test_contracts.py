"""The contracts package: standalone, strict models, a pinned public surface."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from pydantic import ValidationError

import contracts
from contracts import (
    BUILTIN_EVENT_TYPES,
    CartAbandoned,
    ContactView,
    EventEnvelope,
    Identifier,
    IdentifierKind,
    RateLimited,
    Retryable,
    SendError,
    SendResult,
    SendStatus,
)

NOW = datetime(2026, 11, 25, 10, tzinfo=UTC)


def test_contracts_import_no_core_and_no_brick():
    code = (
        "import sys, contracts; "
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('hub', 'plugins')); "
        "print(','.join(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_public_surface_is_pinned():
    assert sorted(contracts.__all__) == sorted(set(contracts.__all__))
    for name in contracts.__all__:
        assert hasattr(contracts, name), name
    # Removing or renaming a name breaks every brick: it needs a deprecation, not an edit.
    for name in ("Brick", "BrickSettings", "Sender", "ContactSink", "ContactSource", "EventSource",
                 "WebhookReceiver", "AudienceSink", "IdentityLinkSource", "RateLimited",
                 "Retryable", "Permanent", "AuthFailed", "PayloadRejected", "EventEnvelope",
                 "SendRequest", "SendResult", "Outcome", "OutcomeType", "Consent", "Contact",
                 "ContactView", "Identifier", "Audience", "AudienceMember"):
        assert name in contracts.__all__


def _event(**overrides):
    data = {
        "id": "evt-1",
        "type": "cart.abandoned",
        "source": "magento",
        "occurred_at": NOW,
        "identifiers": [Identifier(kind=IdentifierKind.EMAIL, value="a@example.com")],
    }
    return EventEnvelope(**{**data, **overrides})


def test_event_envelope_rules():
    assert _event().type == "cart.abandoned"
    with pytest.raises(ValidationError, match="either identifiers or a pseudonym"):
        _event(identifiers=[])
    with pytest.raises(ValidationError, match="either identifiers or a pseudonym"):
        _event(pseudonym="ps_" + "a" * 30)
    with pytest.raises(ValidationError, match=r"namespace\.name"):
        _event(type="CartAbandoned")
    with pytest.raises(ValidationError, match="time zone offset"):
        _event(occurred_at=datetime(2026, 1, 1))
    with pytest.raises(ValidationError, match="Extra inputs"):
        EventEnvelope(**{**_event().model_dump(), "unexpected": 1})


def test_builtin_payloads_validate():
    assert set(BUILTIN_EVENT_TYPES) == {"cart.abandoned", "order.placed", "customer.signed_up",
                                        "customer.updated", "customer.logged_in", "page.viewed"}
    cart = CartAbandoned(cart_id="c1", items=[{"sku": "A", "quantity": 1, "unit_price": "9.90"}],
                         total="9.90", currency="EUR", updated_at=NOW)
    assert cart.total == Decimal("9.90")
    with pytest.raises(ValidationError, match="ISO 4217"):
        CartAbandoned(cart_id="c1", items=[{"sku": "A", "quantity": 1, "unit_price": 1}],
                      total=1, currency="euro", updated_at=NOW)
    with pytest.raises(ValidationError):
        CartAbandoned(cart_id="c1", items=[], total=1, currency="EUR", updated_at=NOW)


def test_send_result_status_and_error_agree():
    SendResult(request_id="r" * 8, status=SendStatus.ACCEPTED, vendor_message_id="m1")
    with pytest.raises(ValidationError):
        SendResult(request_id="r" * 8, status=SendStatus.FAILED)
    with pytest.raises(ValidationError):
        SendResult(request_id="r" * 8, status=SendStatus.ACCEPTED,
                   error=SendError(code="x", message="y"))


def test_pii_is_kept_out_of_reprs():
    view = ContactView(pseudonym="ps_" + "b" * 30, email="ada@example.com", phone="+33612345678")
    ident = Identifier(kind=IdentifierKind.EMAIL, value="ada@example.com")
    for text in (repr(view), str(view), repr(ident)):
        assert "ada@example.com" not in text and "+3361" not in text
    assert [f.value for f in view.fields_present()] == ["email", "phone"]


def test_opted_out_channels_serialise_sorted_and_only_when_present():
    from contracts import Channel

    plain = ContactView(pseudonym="ps_" + "c" * 30)
    assert "opted_out" not in plain.model_dump() and "opted_out" not in plain.model_dump_json()
    view = ContactView(pseudonym="ps_" + "c" * 30, opted_out=["sms", "email"])
    assert view.opted_out == frozenset({Channel.EMAIL, Channel.SMS})
    assert view.model_dump(mode="json")["opted_out"] == ["email", "sms"]
    assert ContactView.model_validate_json(view.model_dump_json()) == view
    with pytest.raises(ValidationError):
        ContactView(pseudonym="ps_" + "c" * 30, opted_out=["fax"])


def test_error_tree():
    assert issubclass(RateLimited, Retryable)
    assert RateLimited(retry_after=3).retry_after == 3
    with pytest.raises(ValueError):
        RateLimited(retry_after=-1)
    assert "vendor_code='21610'" in repr(contracts.PayloadRejected("stop", vendor_code="21610"))
