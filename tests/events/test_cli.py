"""``hub events ingest|dead-letters|replay`` end to end through the CLI."""

from __future__ import annotations

import json

from hub.dead_letters import store_dead_letter
from hub.storage.db import session_scope
from tests.events.conftest import event


def _write(path, lines):
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_ingest_reports_accepted_duplicates_and_rejected_lines(installation, run_cli, tmp_path):
    cookie_only = event("anon", email=None, identifiers=[{"kind": "site_cookie", "value": "ck-99"}])
    file = _write(
        tmp_path / "events.jsonl",
        [
            json.dumps(event("e1")),
            json.dumps(event("e1")),
            "{not json",
            "",
            json.dumps(event("e2", payload={"cart_id": "c"})),
            json.dumps(cookie_only),
        ],
    )
    result = run_cli("-c", str(installation.config), "events", "ingest", str(file))
    assert result.code == 2
    assert "1 accepted, 1 duplicates, 3 rejected" in result.out
    err = [line for line in result.err.splitlines() if line.startswith("line ")]
    assert err[0].startswith("line 3: invalid JSON")
    assert err[1].startswith("line 5: payload.items: Field required (and 3 more problems)")
    assert err[2].startswith("line 6: identifiers: no customer is known")
    assert "ck-99" not in result.err

    again = run_cli("-c", str(installation.config), "events", "ingest", str(file), "--json")
    summary = json.loads(again.out)
    assert (summary["accepted"], summary["duplicates"]) == (0, 2)
    assert [r["line"] for r in summary["rejected"]] == [3, 5, 6]
    assert summary["source"] == "file:events.jsonl"

    clean = _write(tmp_path / "clean.jsonl", [json.dumps(event("e3"))])
    ok = run_cli("-c", str(installation.config), "events", "ingest", str(clean), "--source", "api")
    assert ok.code == 0 and "1 accepted" in ok.out


def test_ingest_refuses_an_unusable_file(installation, run_cli, tmp_path):
    missing = run_cli("-c", str(installation.config), "events", "ingest", str(tmp_path / "x.jsonl"))
    assert missing.code == 2 and "FILE" in missing.err
    csv = _write(tmp_path / "x.csv", ["id,type"])
    assert run_cli("-c", str(installation.config), "events", "ingest", str(csv)).code == 2


def test_dead_letters_list_and_replay_after_the_fix(installation, run_cli, tmp_path):
    cookie = [{"kind": "site_cookie", "value": "ck-1234"}]
    file = _write(
        tmp_path / "events.jsonl",
        [json.dumps(event("anon", email=None, identifiers=cookie)), "[1, 2]"],
    )
    config = str(installation.config)
    assert run_cli("-c", config, "events", "ingest", str(file)).code == 2

    listed = run_cli("-c", config, "events", "dead-letters", "--json")
    letters = json.loads(listed.out)
    assert [(d["reference"], d["field"]) for d in letters] == [
        ("events.jsonl:2", None),
        ("anon", "identifiers"),
    ]
    assert set(letters[0]) == {
        "id",
        "kind",
        "source",
        "reference",
        "field",
        "reason",
        "status",
        "created_at",
    }
    assert "ck-1234" not in listed.out
    text = run_cli("-c", config, "events", "dead-letters")
    assert "anon: identifiers: no customer is known" in text.out
    anon_id = letters[1]["id"]

    still = run_cli("-c", config, "events", "replay", str(anon_id))
    assert still.code == 2 and "still pending" in still.out and "identifiers:" in still.err

    # The fix: a verified login links the cookie; the hub replays the parked event by itself.
    login = {"kind": "email", "value": "ada@example.com", "verified": True}
    link = event("login", identifiers=[*cookie, login], email=None)
    assert (
        run_cli(
            "-c",
            config,
            "events",
            "ingest",
            str(_write(tmp_path / "link.jsonl", [json.dumps(link)])),
        ).code
        == 0
    )
    pending = json.loads(run_cli("-c", config, "events", "dead-letters", "--json").out)
    assert [d["id"] for d in pending] == [letters[0]["id"]]
    everything = json.loads(run_cli("-c", config, "events", "dead-letters", "--all", "--json").out)
    assert {d["status"] for d in everything} == {"pending", "replayed"}

    twice = run_cli("-c", config, "events", "replay", str(anon_id))
    assert twice.code == 2 and "already replayed" in twice.err
    unknown = run_cli("-c", config, "events", "replay", "9999")
    assert unknown.code == 2 and "ID: no dead letter #9999" in unknown.err
    bad_line = run_cli("-c", config, "events", "replay", str(letters[0]["id"]))
    assert bad_line.code == 2 and "event:" in bad_line.err


def test_dead_letters_of_every_kind_are_listed_filtered_and_replayed(installation, run_cli):
    """Webhook and propagation letters sit beside event letters; a replay whose brick is not
    configured keeps the letter pending with the reason (exit 2)."""
    runtime = installation.runtime()
    with session_scope(runtime.ready_engine()) as session:
        letters = [
            store_dead_letter(
                session,
                runtime.vault,
                kind=kind,
                source=source,
                reference=reference,
                reason=reason,
                payload=payload,
            ).id
            for kind, source, reference, reason, payload in [
                ("event", "api", "e-9", "type: unknown event type", {"id": "e-9"}),
                ("webhook", "acme", "/webhooks/acme", "body: unreadable", _WEBHOOK),
                (
                    "propagation",
                    "acme_crm",
                    "cus_x",
                    "Permanent: down",
                    {"brick": "acme_crm", "customer_id": "cus_x"},
                ),
                ("import_row", "contacts.csv", "line 2", "email: invalid", {}),
            ]
        ]
    runtime.engine.dispose()
    config = str(installation.config)
    listed = json.loads(run_cli("-c", config, "events", "dead-letters", "--json").out)
    assert [row["kind"] for row in listed] == ["event", "webhook", "propagation"]
    only = run_cli("-c", config, "events", "dead-letters", "--kind", "webhook")
    assert only.code == 0 and f"#{letters[1]} webhook [pending]" in only.out
    assert "propagation" not in only.out
    bad = run_cli("-c", config, "events", "dead-letters", "--kind", "import_row")
    assert bad.code == 2 and "--kind: must be one of event, webhook, propagation" in bad.err

    webhook = run_cli("-c", config, "events", "replay", str(letters[1]), "--json")
    assert webhook.code == 2
    body = json.loads(webhook.out)
    assert (body["kind"], body["status"], body["field"]) == ("webhook", "pending", "brick")
    assert "brick 'acme' is not an enabled webhook receiver" in webhook.err
    sink = run_cli("-c", config, "events", "replay", str(letters[2]))
    assert sink.code == 2 and "still pending" in sink.out
    assert "'acme_crm' is not an enabled contact sink" in sink.err
    other = run_cli("-c", config, "events", "replay", str(letters[3]))
    assert other.code == 2 and "is of kind 'import_row'" in other.err
    after = json.loads(run_cli("-c", config, "events", "dead-letters", "--json").out)
    assert [row["reason"] for row in after][1:] == [
        "brick 'acme' is not an enabled webhook receiver",
        "brick 'acme_crm' is not an enabled contact sink",
    ]


_WEBHOOK = {"brick": "acme", "content_type": "application/json", "body_base64": "e30="}
