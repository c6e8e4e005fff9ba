"""``hub contacts export`` (art. 15/20): everything the hub holds on the person, as JSON, in a
file only its owner can read, and audited."""

from __future__ import annotations

import json
import stat
from pathlib import Path

from sqlmodel import select

from hub.storage.models import AuditEntry
from tests.erasure.conftest import Hub
from tests.erasure.test_forget import populate


def test_the_export_holds_everything_decrypted(hub: Hub, tmp_path: Path) -> None:
    ada_id = populate(hub)
    target = tmp_path / "ada.json"
    result = hub.cli("contacts", "export", ada_id, "--output", str(target))
    assert result.code == 0, result.err
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert result.out == ""  # the document went to the file only
    document = json.loads(target.read_text(encoding="utf-8"))
    assert document["customer_id"] == ada_id
    profile = document["profile"][ada_id]
    assert profile["email"] == "ada.lovelace@example.org"
    assert profile["phone"] == "+33612345678"
    assert profile["last_name"] == "Lovelace"
    assert document["attributes"][ada_id] == {"tier": "gold"}
    values = {i["kind"]: i["value"] for i in document["identifiers"]}
    assert values == {"email": "ada.lovelace@example.org", "phone": "+33612345678"}
    assert [c["status"] for c in document["consents"]] == ["granted"]
    [event] = document["events"]
    assert event["payload"]["items"][0]["name"] == "Ada's bike"
    assert sorted(s["brick"] for s in document["sends"]) == ["memo", "outbox"]
    assert len(document["pressure_ledger"]) == 2
    assert {r["action"] for r in document["audit"]} >= {"egress"}
    assert [h["sink"] for h in document["bricks"]["holdings"]] == ["memo"]
    assert sorted(p["brick"] for p in document["bricks"]["pseudonyms"]) == ["memo", "outbox"]
    with hub.session() as session:
        exports = session.exec(select(AuditEntry).where(AuditEntry.action == "export")).all()
    assert [(e.customer_id, "profile" in e.fields) for e in exports] == [(ada_id, True)]


def test_an_existing_file_is_made_private_and_stdout_works(hub: Hub, tmp_path: Path) -> None:
    ada_id = populate(hub)
    target = tmp_path / "open.json"
    target.write_text("old", encoding="utf-8")
    target.chmod(0o644)
    assert hub.cli("contacts", "export", ada_id, "-o", str(target)).code == 0
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    printed = hub.cli("contacts", "export", "--email", "ada.lovelace@example.org")
    assert printed.code == 0
    assert json.loads(printed.out)["customer_id"] == ada_id


def test_an_erased_person_exports_as_a_tombstone(hub: Hub) -> None:
    ada_id = populate(hub)
    assert hub.cli("contacts", "forget", ada_id).code == 0
    document = json.loads(hub.cli("contacts", "export", ada_id).out)
    assert document["customers"][0]["status"] == "erased"
    assert document["profile"] == {ada_id: {}}
    assert document["identifiers"] == [] and document["events"] == []
    assert [r["action"] for r in document["requests"]["requests"]] == ["erase"]
    assert hub.cli("contacts", "export", "cus_nobody").code == 2
