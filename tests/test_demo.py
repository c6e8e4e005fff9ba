"""The README's first command: the offline demo on the embedded default."""

from __future__ import annotations

import json


def test_demo_runs_offline_and_explains_itself(run_cli, tmp_path):
    result = run_cli("demo", "--dir", str(tmp_path / "demo"), "--json")
    assert result.code == 0, result.err
    report = json.loads(result.out)
    assert report["import"]["created"] == 5
    assert report["import"]["updated"] == 1  # same email, other case and spaces
    assert {(r["line"], r["field"]) for r in report["import"]["rejected"]} == {
        (8, "email"), (9, "email"), (10, "time_zone")}
    assert report["reimport"] == {"created": 0, "unchanged": 6}
    assert report["totals"] == {"sent": 13, "cancelled": 2, "deferred": 3, "refused": 6}
    assert report["events"] == {"accepted": 7, "rejected": 0}
    assert report["plaintext_contact_points_in_database"] == 0
    timeline = report["timeline"]
    # Léa ordered 40 minutes after leaving her cart: both reminders cancelled, order confirmed.
    lea = [r for r in timeline if r["who"].startswith("l***")]
    assert [(r["scenario"], r["outcome"]) for r in lea if r["triggered"]] == [
        ("cart_recovery", "cancelled"), ("cart_recovery", "cancelled"),
        ("order_confirmation", "sent")]
    assert all("order.placed" in r["reason"] for r in lea if r["outcome"] == "cancelled")
    # Refusals are consent; deferrals are pressure, each with the instant it may go.
    refused = [r for r in timeline if r["outcome"] == "refused"]
    assert all("consent" in r["reason"] for r in refused)
    deferred = [r for r in timeline if r["outcome"] == "deferred"]
    assert all(r["until"] and ("marketing-daily" in r["reason"] or "quiet-hours" in r["reason"])
               for r in deferred)
    # The sign-up's address reached the profile: the welcome emails went out.
    assert [r["outcome"] for r in timeline if r["scenario"] == "welcome_series"] == [
        "sent", "sent"]
    assert report["centricity"]["triggered"] == 9 and report["centricity"]["total"] == 13
    outbox = [json.loads(line) for line in (tmp_path / "demo" / "outbox.jsonl").read_text()
              .splitlines()]
    assert len(outbox) == 13
    cart = next(m for m in outbox if m["scenario"] == "cart_recovery")
    assert set(cart["variables"]) == {"cart_url", "total", "currency"}
    for message in outbox:
        assert not any(value.startswith("cus_") for value in message["recipient"].values())
        assert set(message["recipient"]) <= {"pseudonym", "email", "phone", "first_name",
                                             "locale"}


def test_demo_human_output_and_rerun(run_cli, tmp_path):
    first = run_cli("demo", "--dir", str(tmp_path / "demo"))
    assert first.code == 0
    assert "Plaintext emails/phones/names found in the database file: 0" in first.out
    assert "customer-centricity: 9/13" in first.out
    assert '"level"' not in first.err  # the story is not drowned in log lines
    again = run_cli("demo", "--dir", str(tmp_path / "demo"))  # resets the folder
    assert again.code == 0
    assert "5 customers created" in again.out
