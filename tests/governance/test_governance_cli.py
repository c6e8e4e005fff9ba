"""``hub governance report``: text, JSON and HTML through the CLI; exit codes; no PII."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest

from tests.governance.conftest import assert_no_pii, hub


def _outbox(result) -> dict:
    assert result.code == 0, result.err
    data = json.loads(result.out)
    [outbox] = [b for b in data["bricks"] if b["name"] == "outbox"]
    return outbox


def test_fresh_installation_flags_the_unused_brick(run_cli, installation):
    result = hub(run_cli, installation, "governance", "report", "--json")
    outbox = _outbox(result)
    data = json.loads(result.out)
    assert data["summary"]["never_used"] == ["outbox"]
    assert data["config_path"] == str(installation.config)
    assert "outbox" not in data["summary"]["installed_not_configured"]
    assert outbox["status"] == "enabled" and outbox["never_used"] is True
    assert outbox["allowed_fields"] == ["email", "first_name", "locale", "phone"]
    assert (outbox["holds"]["measure"], outbox["holds"]["customers"]) == ("audit_log", 0)
    text = hub(run_cli, installation, "governance", "report")
    assert text.code == 0 and "enabled but never used: outbox" in text.out


def test_after_sends_every_output_has_numbers_and_no_pii(run_cli, people, tmp_path):
    installation, ids = people
    result = hub(run_cli, installation, "governance", "report", "--json")
    outbox = _outbox(result)
    assert outbox["never_used"] is False
    assert outbox["holds"] == {"measure": "audit_log", "customers": 2, "states": {}}
    assert outbox["transfers_total"] == 3 and outbox["transfers_last_days"] == 3
    assert outbox["last_transfer"] is not None
    # Both people have marketing consent on email (the channel outbox shares with them).
    coverage = outbox["consent_coverage"]
    assert (coverage["covered"], coverage["share"]) == (2, 1.0)
    assert coverage["covered_by_channel"] == {"email": 2, "sms": 1, "push": 0}
    assert outbox["audit_actions"] == {"egress": 3}  # the reveal concerns no brick

    text = hub(run_cli, installation, "governance", "report")
    assert "100% (2 of 2 customers; needs marketing granted on email or sms or push)" in text.out
    assert "pressure policy (rule set " in text.out

    page = tmp_path / "out" / "governance.html"
    page.parent.mkdir()
    written = hub(run_cli, installation, "governance", "report", "--html", str(page))
    assert written.code == 0 and written.out.strip() == f"wrote {page}"
    html = page.read_text(encoding="utf-8")
    root = ET.fromstring(html.removeprefix("<!DOCTYPE html>\n"))
    assert root.find(".//section[@id='brick-outbox']") is not None
    assert not list(tmp_path.joinpath("out").glob(".governance-*"))  # no temporary left
    for output in (result.out, text.out, html, written.out, written.err):
        assert_no_pii(output)
        assert ids["ada"] not in output  # customer ids are not listed either: only counts


def test_at_an_earlier_instant_nothing_was_sent_yet(run_cli, people):
    installation, _ = people
    earlier = hub(run_cli, installation, "governance", "report", "--json",
                  "--at", "2020-01-01T00:00:00+01:00")
    outbox = _outbox(earlier)
    assert outbox["transfers_total"] == 0 and outbox["holds"]["customers"] == 0
    assert json.loads(earlier.out)["at"] == "2019-12-31T23:00:00+00:00"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--at", "tomorrow"), "error: --at: 'tomorrow' is not an ISO 8601 date-time"),
        (("--at", "2026-11-20T10:00:00"), "error: --at: '2026-11-20T10:00:00' has no UTC offset"),
        (("--json", "--html", "x.html"), "error: --html: give either --json or --html"),
        (("--html", "/nonexistent-folder/x.html"), "error: --html: folder '/nonexistent-folder'"),
    ],
    ids=["at-text", "at-no-offset", "json-and-html", "missing-folder"],
)
def test_bad_options_exit_2_naming_the_option(run_cli, sqlite_installation, args, message):
    result = hub(run_cli, sqlite_installation, "governance", "report", *args)
    assert result.code == 2
    assert result.err.startswith(message)
    assert result.out == ""


def test_html_over_a_folder_is_refused(run_cli, sqlite_installation, tmp_path):
    result = hub(run_cli, sqlite_installation, "governance", "report", "--html", str(tmp_path))
    assert result.code == 2 and "--html" in result.err


def test_report_and_audit_need_no_key(run_cli, sqlite_installation):
    """They touch no personal data, so they run where the vault keys are not available; only
    a lookup by email or phone needs the pepper."""
    for key in (sqlite_installation.root / "keys").iterdir():
        if key.name != "database_url":
            key.unlink()
    result = hub(run_cli, sqlite_installation, "governance", "report", "--json")
    assert result.code == 0, result.err
    assert json.loads(result.out)["summary"]["never_used"] == ["outbox"]
    audit = hub(run_cli, sqlite_installation, "audit", "--customer", "cus_x")
    assert (audit.code, audit.out.strip()) == (0, "no audit rows match")
    lookup = hub(run_cli, sqlite_installation, "audit", "--email", "ada@example.com")
    assert lookup.code == 2 and "key error: security.pepper" in lookup.err
    assert "ada@example.com" not in lookup.err
