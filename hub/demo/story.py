"""The demo's week: customer moments (sign-up, carts, orders) and one campaign, in time order.

The week is fixed (Monday 30 November 2026, 00:00 UTC): outside daylight-saving time on both
sides of the Atlantic, so the quiet hours and local calendar days fall the same way on every
run and the demo's output never changes with the date it runs on. Customers are named by the
email they were imported with; the hub resolves them through its keyed digests.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

__all__ = ["CAMPAIGN_AT", "DEMO_MONDAY", "WEEK", "campaign_channels", "week_events"]

DEMO_MONDAY = datetime(2026, 11, 30, tzinfo=UTC)
WEEK = timedelta(days=7)
#: When the spring-sale campaign goes out (hand sends: not triggered by a customer moment).
CAMPAIGN_AT = timedelta(days=2, hours=12)  # Wednesday 12:00 UTC


def _cart(cart: str, total: str) -> dict[str, Any]:
    return {
        "cart_id": cart,
        "cart_url": f"https://shop.example/cart/{cart}",
        "items": [{"sku": "BIKE-HELMET", "quantity": "1", "unit_price": total}],
        "total": total,
        "currency": "EUR",
        "updated_at": "{at}",
    }


def _event(
    number: int, kind: str, email: str, at: datetime, payload: dict[str, Any]
) -> dict[str, Any]:
    stamp = at.isoformat()
    body = {k: (stamp if v == "{at}" else v) for k, v in payload.items()}
    return {
        "id": f"demo-{number:03d}",
        "type": kind,
        "source": "demo-shop",
        "occurred_at": stamp,
        "identifiers": [{"kind": "email", "value": email}],
        "payload": body,
    }


def week_events(monday: datetime) -> list[dict[str, Any]]:
    """What the shop reports during the week."""

    def at(days: int, hours: int, minutes: int = 0) -> datetime:
        return monday + timedelta(days=days, hours=hours, minutes=minutes)

    consent = {
        "channel": "email",
        "status": "granted",
        "source": "demo-shop:signup-form",
        "recorded_at": at(0, 9).isoformat(),
    }
    return [
        # Monday: a new customer signs up for the newsletter -> the welcome series.
        _event(
            1,
            "customer.signed_up",
            "ines.garcia@example.es",
            at(0, 9),
            {"method": "newsletter", "consents": [consent]},
        ),
        # Camille (Paris; email and SMS consent) leaves a cart and never orders.
        _event(
            2,
            "cart.abandoned",
            "camille.martin@example.com",
            at(0, 18, 30),
            _cart("C-1001", "59.90"),
        ),
        # Tuesday: Léa leaves a cart, then orders 40 minutes later -> the SMS step is cancelled.
        _event(
            3,
            "cart.abandoned",
            "lea.bernard@example.org",
            at(1, 10),
            _cart("C-1002", "34.00"),
        ),
        _event(
            4,
            "order.placed",
            "lea.bernard@example.org",
            at(1, 10, 40),
            {
                "order_id": "O-5001",
                "cart_id": "C-1002",
                "total": "34.00",
                "currency": "EUR",
                "items": [{"sku": "BIKE-HELMET", "quantity": "1", "unit_price": "34.00"}],
            },
        ),
        # Wednesday 03:00 UTC is Tuesday evening in Los Angeles: Noah leaves a cart.
        _event(
            5,
            "cart.abandoned",
            "noah.smith@example.com",
            at(2, 3),
            _cart("C-1003", "120.00"),
        ),
        # Thursday: Amelia (no email consent) leaves a cart: the email reminder is refused.
        _event(
            6,
            "cart.abandoned",
            "amelia.jones@example.co.uk",
            at(3, 20, 30),
            _cart("C-1004", "15.50"),
        ),
        # Friday: Camille comes back and orders -> a transactional confirmation.
        _event(
            7,
            "order.placed",
            "camille.martin@example.com",
            at(4, 11),
            {
                "order_id": "O-5002",
                "total": "59.90",
                "currency": "EUR",
                "items": [{"sku": "BIKE-HELMET", "quantity": "1", "unit_price": "59.90"}],
            },
        ),
    ]


def campaign_channels() -> list[str]:
    """The spring sale goes by email and by SMS to everyone; consent and pressure decide."""
    return ["email", "sms"]
