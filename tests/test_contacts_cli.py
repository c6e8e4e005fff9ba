"""``hub contacts import|show`` end to end through the CLI, on both backends."""

from __future__ import annotations

import json

from sqlmodel import select

from hub.dead_letters import list_dead_letters, open_payload
from hub.storage.db import session_scope
from hub.storage.models import AuditEntry

CSV = """email,phone,first_name,last_name,locale,time_zone,consent_email,consent_sms
ada@example.com,+33 6 12 34 56 78,Ada,Lovelace,fr-FR,Europe/Paris,yes,no
 ADA@Example.com ,,Ada,Lovelace,,,yes,
grace@example.org,,Grace,Hopper,en-US,America/New_York,maybe,
,,Nobody,Here,,,,
undefined,,Junk,Row,,,,
alan@example.net,12,Alan,Turing,,,,
"""


def _import(run_cli, installation, tmp_path, content=CSV, name="people.csv", *extra):
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    return run_cli("--config", str(installation.config), "contacts", "import", str(path),
                   "--json", *extra)


def test_import_reports_created_updated_rejected_with_lines(run_cli, installation, tmp_path):
    result = _import(run_cli, installation, tmp_path)
    assert result.code == 2  # rows were rejected: non-zero, the good ones are kept
    summary = json.loads(result.out)
    assert (summary["created"], summary["updated"], summary["unchanged"]) == (1, 0, 1)
    rejected = {(r["line"], r["field"]) for r in summary["rejected"]}
    assert rejected == {(4, "consent_email"), (5, "email"), (6, "email"), (7, "phone")}
    assert "line 7: phone: " in result.err
    for secret in ("grace@example.org", "alan@example.net", "Hopper"):
        assert secret not in result.err and secret not in result.out


def test_rejected_rows_are_dead_lettered_and_replayable(run_cli, installation, tmp_path):
    _import(run_cli, installation, tmp_path)
    runtime = installation.runtime()
    with session_scope(runtime.engine) as session:
        letters = list_dead_letters(session, kind="import_row")
        assert [(letter.reference, letter.field) for letter in letters] == [
            ("people.csv:4", "consent_email"),
            ("people.csv:5", "email"),
            ("people.csv:6", "email"),
            ("people.csv:7", "phone"),
        ]
        assert b"grace" not in letters[0].payload  # sealed at rest
        assert open_payload(runtime.vault, letters[0])["email"] == "grace@example.org"
        assert all("example" not in letter.reason for letter in letters)


def test_reimport_is_unchanged_and_jsonl_works(run_cli, installation, tmp_path):
    good = "email,first_name\nada@example.com,Ada\nbob@example.com,Bob\n"
    first = json.loads(_import(run_cli, installation, tmp_path, good).out)
    again = json.loads(_import(run_cli, installation, tmp_path, good).out)
    assert (first["created"], again["created"], again["unchanged"]) == (2, 0, 2)
    lines = "\n".join(
        [json.dumps({"email": "ADA@example.com", "first_name": "Ada Augusta"}),
         "{not json", json.dumps(["a list"]), json.dumps({"email": "c@example.com",
                                                          "colour": "red"})]
    )
    result = _import(run_cli, installation, tmp_path, lines, "more.jsonl")
    summary = json.loads(result.out)
    assert summary["updated"] == 1
    assert {(r["line"], r["field"]) for r in summary["rejected"]} == {
        (2, "line"), (3, "line"), (4, "colour")}


def test_import_refuses_unknown_columns_before_touching_anything(run_cli, installation, tmp_path):
    result = _import(run_cli, installation, tmp_path, "emial,first_name\na@example.com,A\n")
    assert result.code == 2
    assert "unknown column(s) 'emial'" in result.err
    result = _import(run_cli, installation, tmp_path, "x", "people.xlsx")
    assert "unsupported format" in result.err


def test_show_masks_by_default_and_reveal_is_audited(run_cli, installation, tmp_path):
    _import(run_cli, installation, tmp_path)
    config = str(installation.config)
    shown = run_cli("--config", config, "contacts", "show", "--email", "Ada@example.com",
                    "--json")
    assert shown.code == 0
    data = json.loads(shown.out)
    assert data["revealed"] is False
    assert data["fields"]["email"] == "a***@e***.com"
    assert data["fields"]["phone"].startswith("+33") and "12345" not in data["fields"]["phone"]
    assert "Lovelace" not in shown.out and "ada@example.com" not in shown.out
    assert {(c["channel"], c["status"]) for c in data["consents"]} == {
        ("email", "granted"), ("sms", "denied")}
    assert [i["kind"] for i in data["identifiers"]] == ["email", "phone"]

    by_phone = run_cli("--config", config, "contacts", "show", "--phone", "06 12 34 56 78",
                       "--json")
    assert json.loads(by_phone.out)["customer_id"] == data["customer_id"]
    human = run_cli("--config", config, "contacts", "show", data["customer_id"])
    assert data["customer_id"] in human.out and "a***@e***.com" in human.out

    runtime = installation.runtime()
    with session_scope(runtime.engine) as session:
        assert session.exec(select(AuditEntry).where(AuditEntry.action == "reveal")).all() == []
    revealed = run_cli("--config", config, "contacts", "show", data["customer_id"], "--reveal",
                       "--json")
    assert json.loads(revealed.out)["fields"]["email"] == "ada@example.com"
    with session_scope(runtime.engine) as session:
        audit = session.exec(select(AuditEntry).where(AuditEntry.action == "reveal")).one()
    assert audit.customer_id == data["customer_id"]
    assert audit.fields == "email,first_name,last_name,locale,phone,time_zone"
    assert audit.actor


def test_show_errors(run_cli, installation):
    config = str(installation.config)
    missing = run_cli("--config", config, "contacts", "show", "--email", "nobody@example.com")
    assert missing.code == 2
    assert "no customer with this email" in missing.err
    both = run_cli("--config", config, "contacts", "show", "cus_x", "--email", "a@example.com")
    assert both.code == 2
    assert "exactly one" in both.err
    junk = run_cli("--config", config, "contacts", "show", "--email", "null")
    assert junk.code == 2
    assert "email: placeholder" in junk.err


def test_usage_errors_exit_2_naming_the_option(run_cli, installation):
    result = run_cli("--config", str(installation.config), "contacts", "show", "--bogus")
    assert result.code == 2
    assert "No such option: --bogus" in result.err
    missing = run_cli("--config", str(installation.config), "contacts", "import")
    assert missing.code == 2
    assert "Missing argument" in missing.err
