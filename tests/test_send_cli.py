"""``hub send`` end to end: exit codes 0 / 2 / 3 / 4, JSON output, errors naming the option."""

from __future__ import annotations

import json

import pytest

from hub.testing import make_installation
from tests.conftest import SCENARIOS

CSV = "email,first_name,consent_email\nada@example.com,Ada,yes\nbob@example.com,Bob,no\n"


@pytest.fixture
def people(run_cli, installation, tmp_path):
    path = tmp_path / "people.csv"
    path.write_text(CSV, encoding="utf-8")
    assert run_cli("--config", str(installation.config), "contacts", "import", str(path)).code == 0
    ids = {}
    for email in ("ada@example.com", "bob@example.com"):
        shown = run_cli("--config", str(installation.config), "contacts", "show", "--email",
                        email, "--json")
        ids[email.split("@")[0]] = json.loads(shown.out)["customer_id"]
    return installation, ids


def _send(run_cli, installation, *args):
    return run_cli("--config", str(installation.config), "send", *args)


def test_sent_with_variables_and_json(run_cli, people):
    installation, ids = people
    result = _send(run_cli, installation, "--customer", ids["ada"], "--channel", "email",
                   "--scenario", "welcome", "--template", "welcome-1", "--var", "code=01234",
                   "--var", "brand=Demo", "--json")
    assert result.code == 0, result.err
    data = json.loads(result.out)
    assert (data["status"], data["brick"], data["decision"]) == ("sent", "outbox", "allowed")
    line = json.loads((installation.root / "data" / "outbox.jsonl").read_text().splitlines()[0])
    assert line["variables"] == {"code": "01234", "brand": "Demo"}
    assert ids["ada"] not in json.dumps(line)


def test_idempotency_key_makes_a_repeat_harmless(run_cli, people):
    installation, ids = people
    args = ("--customer", ids["ada"], "--channel", "email", "--scenario", "welcome",
            "--template", "welcome-1", "--idempotency-key", "welcome-ada-0001")
    first = _send(run_cli, installation, *args)
    second = _send(run_cli, installation, *args)
    assert (first.code, second.code) == (0, 0)
    assert "already sent under this key" in second.out
    lines = (installation.root / "data" / "outbox.jsonl").read_text().splitlines()
    assert len(lines) == 1


def test_refused_by_consent_exits_3_with_the_reason(run_cli, people):
    installation, ids = people
    result = _send(run_cli, installation, "--customer", ids["bob"], "--channel", "email",
                   "--scenario", "welcome", "--template", "welcome-1")
    assert result.code == 3
    assert result.out.startswith("refused via outbox: [consent]")


def test_transactional_needs_no_opt_in(run_cli, people):
    installation, ids = people
    result = _send(run_cli, installation, "--customer", ids["bob"], "--channel", "email",
                   "--scenario", "order_confirmation", "--template", "order-1", "--json")
    assert result.code == 0, result.err
    assert json.loads(result.out)["status"] == "sent"


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (("--channel", "fax"), "--channel"),
        (("--kind", "spam"), "--kind"),
        (("--scenario", "nope"), "--scenario"),
        (("--var", "novalue"), "--var"),
        (("--brick", "ghost"), "--brick"),
        (("--idempotency-key", "short"), "--idempotency-key"),
        (("--customer", "c_unknown"), "--customer"),
    ],
)
def test_bad_input_exits_2_naming_the_option(run_cli, people, args, named):
    installation, ids = people
    base = {"--customer": ids["ada"], "--channel": "email", "--scenario": "welcome",
            "--template": "welcome-1"}
    base.update(dict(zip(args[::2], args[1::2], strict=True)))
    flat = [item for pair in base.items() for item in pair]
    result = _send(run_cli, installation, *flat)
    assert result.code == 2
    assert named in result.err


def test_failure_at_the_brick_exits_4_and_is_dead_lettered(run_cli, tmp_path):
    # The outbox may not receive email addresses here, so it refuses every email message.
    inst = make_installation(tmp_path / "h", extra=SCENARIOS,
                             bricks='[bricks.outbox]\nallowed_fields = ["first_name"]\n')
    path = tmp_path / "p.csv"
    path.write_text(CSV, encoding="utf-8")
    run_cli("--config", str(inst.config), "contacts", "import", str(path))
    shown = run_cli("--config", str(inst.config), "contacts", "show", "--email",
                    "ada@example.com", "--json")
    customer = json.loads(shown.out)["customer_id"]
    result = _send(run_cli, inst, "--customer", customer, "--channel", "email", "--scenario",
                   "welcome", "--template", "welcome-1", "--json")
    assert result.code == 4
    data = json.loads(result.out)
    assert data["status"] == "failed"
    assert data["error"]["code"] == "PayloadRejected"
    assert data["dead_letter_id"] >= 1
    assert "ada@example.com" not in result.out + result.err
