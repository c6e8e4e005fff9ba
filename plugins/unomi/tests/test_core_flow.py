"""The brick driven by the hub's own commands, against the in-memory Unomi on loopback.

A customer known by email (with a profiling consent) logs in on the site; ``hub identity pull
--from unomi`` links Unomi's profile id (her site cookie) to her; ``hub audiences push`` then
flags that Unomi profile and aliases it under the brick's pseudonym, and nothing Unomi receives
carries her email or the hub's id. The commands run as a subprocess (the CLI is the contract
here: a brick's tests do not import the core), the vendor is a local HTTP server.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from hub.testing import HUB_ID_PATTERN, make_installation
from plugins.unomi.keyset import format_time
from plugins.unomi.tests.support import (
    PASSWORD,
    PEER_KEY,
    SCOPE,
    USER,
    FakeUnomi,
    login_event,
    profile,
)

EMAIL = "ada.lovelace@example.org"
COOKIE = "7f3c1e2a-5b6d-4e8f-9a0b-1c2d3e4f5a6b"
HUB = Path(sys.executable).with_name("hub")


class _Handler(BaseHTTPRequestHandler):
    fake: FakeUnomi

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        request = httpx.Request(
            self.command,
            f"http://{self.headers['Host']}{self.path}",
            headers=list(self.headers.items()),
            content=self.rfile.read(length) if length else b"",
        )
        response = self.fake.dispatch(request)
        self.send_response(response.status_code)
        for name, value in response.headers.items():
            if name.lower() not in ("content-length", "transfer-encoding", "connection"):
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.content)))
        self.end_headers()
        self.wfile.write(response.content)

    do_GET = do_POST = do_DELETE = _answer

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the test reads the fake's records, not the server log."""


@pytest.fixture
def unomi() -> Iterator[tuple[FakeUnomi, str]]:
    fake = FakeUnomi(profiles={COOKIE: profile(COOKIE)})
    handler = type("Handler", (_Handler,), {"fake": fake})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def hub(config: Path, *args: str) -> dict[str, Any]:
    if not HUB.exists():
        pytest.skip(f"the hub command is not installed next to {sys.executable}")
    done = subprocess.run(
        [str(HUB), "--config", str(config), *args, "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, f"hub {' '.join(args)} exited {done.returncode}: {done.stderr}"
    return json.loads(done.stdout)


def test_a_login_links_the_cookie_and_the_audience_reaches_that_profile(
    tmp_path: Path, unomi: tuple[FakeUnomi, str]
) -> None:
    fake, base_url = unomi
    now = datetime.now(UTC).replace(microsecond=0)
    keys = tmp_path / "secrets"
    keys.mkdir()
    (keys / "password").write_text(PASSWORD)
    (keys / "peer").write_text(PEER_KEY)
    installation = make_installation(
        tmp_path / "hub",
        extra='[audiences.newsletter-fans]\ndescription = "Everyone who allowed profiling"\n',
        bricks=(
            "[bricks.unomi]\n"
            "enabled = true\n"
            'purposes = ["profiling"]\n'
            f'base_url = "{base_url}"\n'
            f'username = "{USER}"\n'
            f'password = {{file = "{(keys / "password").as_posix()}"}}\n'
            f'auth_key = {{file = "{(keys / "peer").as_posix()}"}}\n'
            f'scope = "{SCOPE}"\n'
        ),
    )
    consent = {
        "channel": "email",
        "purpose": "profiling",
        "status": "granted",
        "source": "crm",
        "recorded_at": (now - timedelta(days=2)).isoformat(),
    }
    event = {
        "id": "crm-ada-1",
        "type": "customer.updated",
        "source": "crm",
        "occurred_at": (now - timedelta(days=2)).isoformat(),
        "identifiers": [{"kind": "email", "value": EMAIL}],
        "payload": {
            "contact": {
                "identifiers": [{"kind": "email", "value": EMAIL}],
                "consents": [consent],
            }
        },
    }
    events_file = tmp_path / "crm.jsonl"
    events_file.write_text(json.dumps(event) + "\n")
    hub(installation.config, "events", "ingest", str(events_file))

    fake.events = [
        login_event(
            "login-1", format_time(now - timedelta(hours=1)), profile_id=COOKIE, email=EMAIL
        ),
        login_event("view-1", format_time(now - timedelta(hours=1)), event_type="view"),
    ]
    pulled = hub(installation.config, "identity", "pull", "--from", "unomi")
    # One link (the login; the page view is not a verifying event): the cookie is attached.
    assert (pulled["links"], pulled["linked"], pulled["rejected"]) == (1, 1, [])

    pushed = hub(installation.config, "audiences", "push", "newsletter-fans", "--to", "unomi")
    assert pushed["members"] == 1
    assert pushed["with_cookies"] == 1
    assert fake.flag(COOKIE, "hubAudiences", "newsletter-fans") is True
    pseudonyms = [alias for alias, owner in fake.aliases.items() if owner == COOKIE]
    assert len(pseudonyms) == 1 and pseudonyms[0].startswith("ps_")

    for request in fake.requests:
        text = (str(request.url) + request.content.decode()).lower()
        assert EMAIL not in text
        assert not HUB_ID_PATTERN.search(text)
        assert "cus_" not in text

    fake.requests.clear()
    hub(installation.config, "audiences", "push", "newsletter-fans", "--to", "unomi")
    assert fake.calls("POST", "/cxs/eventcollector") == []  # the same membership changes nothing
