"""The governance report's numbers on a crafted history, on both backends."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import event, insert

from hub.governance import build_report
from hub.storage.models import AuditEntry, ConsentEntry, Customer, SinkContact, table
from tests.governance.conftest import AT, BRICKS, DAY, audit, consent, fill_history


@pytest.fixture
def report(engine, settings):
    fill_history(engine)
    return build_report(engine, BRICKS, settings, at=AT, generated_at=AT + DAY)


def _brick(report, name):
    [found] = [b for b in report.bricks if b.name == name]
    return found


def test_bricks_statuses_and_summary(report):
    assert [b.name for b in report.bricks] == [
        "crm_sink", "dmp", "idle_mail", "off_mail", "old_esp", "receipts", "retired", "shop",
        "sms_gw",
    ]
    assert {b.name: b.status for b in report.bricks} == {
        "crm_sink": "enabled", "dmp": "enabled", "idle_mail": "enabled", "off_mail": "disabled",
        "old_esp": "decommissioned", "receipts": "enabled", "retired": "decommissioned",
        "shop": "enabled", "sms_gw": "enabled",
    }
    assert report.counts() == {
        "bricks": 9, "enabled": 6, "disabled": 1, "decommissioned": 2, "not_installed": 0,
        "transfers_last_days": 9,
    }
    # Enabled, no audit row ever, never polled. The shop was polled; off_mail is disabled;
    # retired is decommissioned (whatever its config says).
    assert report.never_used == ["idle_mail"]
    assert report.window_start == "2026-10-22"
    assert report.unconfigured == []


def test_sender_measured_by_the_audit_log(report):
    sms = _brick(report, "sms_gw")
    assert (sms.held_measure, sms.held) == ("audit_log", 3)  # cus_6 came after --at
    assert sms.last_transfer == AT - timedelta(hours=1)
    assert (sms.transfers_total, sms.transfers_window) == (6, 5)
    days = dict(sms.daily)
    assert len(days) == 30
    assert {d: n for d, n in days.items() if n} == {
        "2026-10-22": 1, "2026-11-17": 1, "2026-11-19": 1, "2026-11-20": 2,
    }
    # Marketing on sms or push: cus_1 by SMS, cus_2 by push; cus_5 only on email.
    assert (sms.consent_purposes, sms.consent_channels) == (["marketing"], ["sms", "push"])
    assert (sms.covered, sms.covered_by_channel) == (2, {"sms": 1, "push": 1})
    assert sms.coverage == pytest.approx(2 / 3)


def test_contact_sink_measured_by_sink_contacts(report):
    crm = _brick(report, "crm_sink")
    assert crm.held_measure == "sink_contacts"
    assert crm.held_states == {"erased": 1, "present": 2, "unsubscribed": 1}
    assert crm.held == 3  # erased is not held
    assert crm.allowed_fields == ["email", "locale"]
    assert crm.purposes == ["marketing", "transactional"]
    assert crm.consent_purposes == ["marketing"]  # transactional needs no consent
    # cus_1 granted (its later denial is after --at), cus_2 denied since, cus_3 denied.
    assert (crm.covered, crm.coverage) == (1, pytest.approx(1 / 3))
    assert crm.actions == {"consent_revoked": 1, "egress": 1, "erase": 1}
    assert crm.transfers_total == 1 and crm.last_transfer == AT - 5 * DAY


def test_channel_less_brick_takes_consent_on_any_channel(report):
    dmp = _brick(report, "dmp")
    assert dmp.status == "enabled"  # decommissioned once, reinstated before --at
    assert dmp.held == 2
    assert dmp.consent_channels == ["email", "sms", "push"]
    assert (dmp.covered, dmp.covered_by_channel) == (1, {"email": 1, "sms": 0, "push": 0})


def test_no_consent_needed_no_holdings_and_history_only_bricks(report):
    receipts = _brick(report, "receipts")
    assert (receipts.held, receipts.consent_purposes, receipts.coverage) == (1, [], None)
    shop = _brick(report, "shop")
    assert (shop.held_measure, shop.never_used) == ("none", False)
    off = _brick(report, "off_mail")
    assert (off.receives_data, off.allowed_fields, off.never_used) == (False, ["email"], False)
    retired = _brick(report, "retired")
    assert (retired.receives_data, retired.decommissioned_at) == (False, AT - 5 * DAY)
    old = _brick(report, "old_esp")
    assert (old.installed, old.status, old.held, old.transfers_total) == (
        False, "decommissioned", 2, 2,
    )
    assert old.transfers_window == 0 and old.covered is None


def test_a_later_instant_sees_later_rows(engine, settings):
    fill_history(engine)
    later = build_report(engine, BRICKS, settings, at=AT + 2 * DAY)
    sms = _brick(later, "sms_gw")
    assert (sms.held, sms.transfers_total) == (4, 7)
    assert _brick(later, "crm_sink").covered == 0  # cus_1's denial is now current


def test_json_shape(report):
    data = report.as_json()
    assert data["summary"]["never_used"] == ["idle_mail"]
    sms = next(b for b in data["bricks"] if b["name"] == "sms_gw")
    assert sms["holds"] == {"measure": "audit_log", "customers": 3, "states": {}}
    assert sms["consent_coverage"]["share"] == pytest.approx(2 / 3)
    assert sms["transfers_per_day"]["2026-11-20"] == 2
    assert sms["last_transfer"] == "2026-11-20T11:00:00+00:00"
    assert data["at"] == AT.isoformat() and data["window_days"] == 30


def test_report_is_set_based_whatever_the_number_of_customers(engine, settings):
    """Thousands more customers, audit rows and consents: the same statements, no more (a
    per-customer loop would multiply them), and the numbers follow."""
    fill_history(engine)
    statements: list[str] = []

    def count(conn, cursor, statement, *args):
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        build_report(engine, BRICKS, settings, at=AT)
        small = len(statements)
        many = [f"cus_x{i}" for i in range(2000)]
        with engine.begin() as conn:
            conn.execute(
                insert(table(Customer)),
                [{"id": c, "status": "active", "created_at": AT, "updated_at": AT} for c in many],
            )
            conn.execute(
                insert(table(AuditEntry)),
                [audit(100 + i, AT - (i % 40) * DAY, "sms_gw", c) for i, c in enumerate(many)]
                + [audit(5000 + i, AT - DAY, "sms_gw", c) for i, c in enumerate(many[:1000])],
            )
            conn.execute(
                insert(table(SinkContact)),
                [
                    {"sink": "crm_sink", "customer_id": c, "pseudonym": f"ps_{c}",
                     "state": "present", "fields": "email", "updated_at": AT}
                    for c in many
                ],
            )
            conn.execute(
                insert(table(ConsentEntry)),
                [consent(c, "email", "marketing", "granted", AT - DAY) for c in many[::2]]
                + [consent(c, "sms", "marketing", "granted", AT - DAY) for c in many[::4]],
            )
        statements.clear()
        big = build_report(engine, BRICKS, settings, at=AT)
        assert len(statements) == small
    finally:
        event.remove(engine, "before_cursor_execute", count)
    sms = _brick(big, "sms_gw")
    assert sms.held == 3 + 2000
    assert sms.transfers_total == 6 + 3000
    assert sms.covered == 2 + 500
    crm = _brick(big, "crm_sink")
    assert (crm.held, crm.covered) == (3 + 2000, 1 + 1000)
