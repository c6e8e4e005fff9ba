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
    assert report["totals"] == {"sent": 9, "deferred": 2, "refused": 4}
    assert report["plaintext_contact_points_in_database"] == 0
    refused = [s for s in report["sends"] if s["status"] == "refused"]
    assert all(s["kind"] == "marketing" and "consent" in s["reason"] for s in refused)
    deferred = [s for s in report["sends"] if s["status"] == "deferred"]
    assert all(s["scenario"] == "spring_sale" and "marketing-daily" in s["reason"]
               and s["until"] for s in deferred)
    outbox = [json.loads(line) for line in (tmp_path / "demo" / "outbox.jsonl").read_text()
              .splitlines()]
    assert len(outbox) == 9
    for message in outbox:
        assert not any(value.startswith("cus_") for value in message["recipient"].values())
        assert set(message["recipient"]) <= {"pseudonym", "email", "phone", "first_name",
                                             "locale"}


def test_demo_human_output_and_rerun(run_cli, tmp_path):
    first = run_cli("demo", "--dir", str(tmp_path / "demo"))
    assert first.code == 0
    assert "Plaintext emails/phones/names found in the database file: 0" in first.out
    again = run_cli("demo", "--dir", str(tmp_path / "demo"))  # resets the folder
    assert again.code == 0
    assert "5 customers created" in again.out
