"""The bundled bricks, as an operator sees them: `hub plugins list --json` after installation."""

from __future__ import annotations

import json

EXPECTED = {
    "brevo": ["contact_sink", "sender", "webhook_receiver"],
    "onesignal": ["contact_sink", "sender"],
    "outbox": ["sender"],
    "smtp": ["sender"],
    "twilio": ["sender", "webhook_receiver"],
}
CHANNELS = {
    "brevo": ["email"],
    "onesignal": ["push"],
    "smtp": ["email"],
    "twilio": ["sms"],
}


def test_plugins_list_shows_every_bundled_brick_with_its_capabilities(run_cli, tmp_path):
    config = tmp_path / "hub.toml"
    config.write_text(f'data_dir = "{tmp_path.as_posix()}"\n', encoding="utf-8")
    result = run_cli("--config", str(config), "plugins", "list", "--json")
    assert result.code == 0, result.err
    rows = {row["name"]: row for row in json.loads(result.out)}
    assert {name: rows[name]["capabilities"] for name in EXPECTED} == EXPECTED
    assert {name: rows[name]["channels"] for name in CHANNELS} == CHANNELS
    assert rows["brevo"]["supports_idempotency"] is True
    assert rows["twilio"]["supports_idempotency"] is False
