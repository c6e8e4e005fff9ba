"""An identity link refused at pull time (a configured placeholder cookie) is kept as an
``identity_link`` dead letter; once the placeholder is allowed, ``hub events replay`` applies
it exactly as the pull would have, without a second letter, on both backends."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from contracts import Identifier, IdentifierKind, IdentityLinkPage
from hub.identity.links import pull_links
from hub.runtime import open_runtime
from hub.storage.db import session_scope
from tests.identity.conftest import Dmp, dmp_host, ident, link

PLACEHOLDER = "ck-legacy-0000"


def _junk(config: Path, values: list[str]) -> None:
    """Set ``[identity] junk_values`` in the installation's config file."""
    lines = [
        line for line in config.read_text().splitlines() if not line.startswith("junk_values")
    ]
    at = lines.index("[identity]") + 1
    lines.insert(at, f"junk_values = {json.dumps(values)}")
    config.write_text("\n".join(lines) + "\n")


def _replay(run_cli, config: Path, letter_id: int):
    result = run_cli("-c", str(config), "events", "replay", str(letter_id), "--json")
    return result, json.loads(result.out) if result.out else None


def test_a_refused_link_is_applied_once_its_placeholder_is_allowed(hub, run_cli, monkeypatch):
    monkeypatch.setattr("hub.cli.main.build_plugin_host", dmp_host)
    ann = hub.customer("ann@example.com")
    _junk(hub.config, [PLACEHOLDER])
    runtime = open_runtime(hub.config, host=dmp_host())
    Dmp.pages = {
        None: IdentityLinkPage(
            links=[
                link(
                    ident("site_cookie", PLACEHOLDER),
                    ident("email", "ann@example.com", verified=True),
                    ref="ev-1",
                )
            ],
            next_cursor="c1",
        )
    }
    report = asyncio.run(pull_links(runtime, "dmp"))
    [refused] = report.rejected
    assert refused.field == "links.0.identifiers.0.value"
    letter_id = refused.dead_letter_id
    assert letter_id is not None

    listed = run_cli("-c", str(hub.config), "events", "dead-letters", "--kind", "identity_link",
                     "--json")
    assert [row["id"] for row in json.loads(listed.out)] == [letter_id]

    # Not fixed yet: still refused, same letter with the reason, no second letter.
    still, answer = _replay(run_cli, hub.config, letter_id)
    assert still.code == 2
    assert answer["status"] == "pending" and answer["outcome"] == "rejected"
    assert answer["field"] == "identifiers.0.value" and "placeholder" in answer["reason"]
    assert "identifiers.0.value" in still.err

    _junk(hub.config, [])
    done, answer = _replay(run_cli, hub.config, letter_id)
    assert done.code == 0, done.err
    assert answer["kind"] == "identity_link" and answer["outcome"] == "linked"
    assert answer["linked"] == 1 and answer["merged"] == 0

    cookie = Identifier(kind=IdentifierKind.SITE_COOKIE, value=PLACEHOLDER)
    fixed = open_runtime(hub.config, host=dmp_host())
    with session_scope(fixed.engine) as session:
        assert fixed.identity.find(session, cookie) == ann
    assert [(letter.id, letter.status) for letter in hub.letters()] == [(letter_id, "replayed")]

    again, _ = _replay(run_cli, hub.config, letter_id)
    assert again.code == 2 and "already replayed" in again.err
    asyncio.run(runtime.aclose())
    asyncio.run(fixed.aclose())
