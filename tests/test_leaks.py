"""Seeded secrets and personal data never reach logs, reprs, config output or tracebacks.

Everything here runs the real CLI and the real logging pipeline (``main`` configures the
production processors on stderr, which pytest captures), at debug level.
"""

from __future__ import annotations

import json

import pytest

from hub.identity.keys import generate_key
from hub.testing import make_installation

PII = ["grace.hopper@example.org", "+33612345699", "Hopper", "612345699"]


@pytest.fixture
def seeded(tmp_path, monkeypatch):
    keys = {name: generate_key() for name in ("PEPPER", "MASTER_KEY", "PSEUDONYM_KEY")}
    inst = make_installation(
        tmp_path / "hub",
        bricks='[bricks.outbox]\nallowed_fields = ["email"]\n',
        extra='[logging]\nlevel = "debug"\nformat = "json"\n',
        migrate=False,
    )
    for name, value in keys.items():
        monkeypatch.setenv(f"HUB_SECURITY__{name}", value)
    db_password = "pw-Zq8vRt5sLm"
    monkeypatch.setenv("HUB_DATABASE_URL", f"sqlite:///{tmp_path}/hub.db?pw={db_password}&uri=true")
    csv = tmp_path / "people.csv"
    csv.write_text(
        "email,phone,last_name,consent_email\n"
        "grace.hopper@example.org,+33 6 12 34 56 99,Hopper,yes\n"
        "grace.hopper@example.org,+33 6 12 34 56 99,Hopper,perhaps\n"
    )
    monkeypatch.chdir(tmp_path)
    return inst, [*keys.values(), db_password], csv


def test_cli_output_and_logs_never_carry_secrets_or_pii(seeded, run_cli):
    inst, secrets, csv = seeded
    config = str(inst.config)
    outputs = [
        run_cli("--config", config, "db", "upgrade"),
        run_cli("--config", config, "contacts", "import", str(csv)),
        run_cli("--config", config, "contacts", "import", str(csv), "--json"),
        run_cli("--config", config, "contacts", "show", "--email", PII[0]),
        run_cli("--config", config, "contacts", "show", "--email", PII[0], "--json"),
        run_cli("--config", config, "config", "show"),
        run_cli("--config", config, "config", "show", "--json"),
        run_cli("--config", config, "config", "validate", "--json"),
        run_cli("--config", config, "plugins", "list", "--json"),
    ]
    assert [o.code for o in outputs] == [0, 2, 2, 0, 0, 0, 0, 0, 0]
    text = "\n".join(o.out + o.err for o in outputs)
    assert "consent_email" in text  # the rejected row is reported...
    for value in [*secrets, *PII]:
        assert value not in text  # ...without any value


def test_internal_errors_print_no_traceback_and_log_it_redacted(seeded, run_cli, monkeypatch):
    inst, secrets, csv = seeded
    run_cli("--config", str(inst.config), "db", "upgrade")

    def explode(*args, **kwargs):
        raise RuntimeError(f"boom for {PII[0]} with key {secrets[0]}")

    monkeypatch.setattr("hub.cli.contacts_cmd.import_contacts", explode)
    result = run_cli("--config", str(inst.config), "contacts", "import", str(csv))
    assert result.code == 1
    assert "internal error (RuntimeError)" in result.err
    logged = [json.loads(line) for line in result.err.splitlines() if line.startswith("{")]
    assert any("Traceback" in entry.get("exception", "") for entry in logged)
    for value in [*secrets, PII[0]]:
        assert value not in result.err


def test_reprs_hide_secrets_and_pii(seeded, run_cli):
    inst, secrets, _ = seeded
    from contracts import Contact, ContactView, Identifier, IdentifierKind
    from hub.runtime import open_runtime

    runtime = open_runtime(inst.config)
    contact = Contact(identifiers=[Identifier(kind=IdentifierKind.EMAIL, value=PII[0])],
                      last_name="Hopper")
    view = ContactView(pseudonym="ps_" + "a" * 32, email=PII[0], phone=PII[1])
    texts = [repr(runtime.settings), str(runtime.settings), repr(runtime.keys),
             repr(runtime.vault), repr(runtime.identity), repr(runtime), repr(contact),
             repr(view), str(view)]
    for value in [*secrets, *PII]:
        for text in texts:
            assert value not in text
