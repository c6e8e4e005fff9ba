"""A hub with a scripted contact source (``crm``) and the Brevo and OneSignal sinks, whose APIs
are respx mocks shaped like the vendors' documented answers (plugins/*/tests, vendor specs).

The mocks record every call, successful or not, with the pseudonyms it carried, so a test can
compare what reached each vendor with the egress audit and ``sink_contacts``.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar

import httpx
import pytest
import respx

from contracts import Brick, Capability, Contact, ContactPage
from hub.plugins import PluginHost, build_plugin_host
from hub.runtime import Runtime, open_runtime
from hub.sdk import hookimpl
from hub.storage.db import upgrade
from hub.sync.engine import sync_contacts
from hub.sync.report import SyncReport
from hub.testing import make_installation

BREVO = "https://api.brevo.test/v3"
ONESIGNAL = "https://onesignal.test"
APP_ID = "8250eaf6-1a58-489e-b136-7c74a864b434"
WHEN = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
PAGE = 1000


def contact(i: int, *, email: str = "granted", push: bool = False, **extra: Any) -> Contact:
    """Person ``i``: email consent ``granted`` | ``denied`` | ``none``; push consent and a push
    token when ``push``."""
    consents = []
    if email != "none":
        consents.append(
            {"channel": "email", "status": email, "source": "crm", "recorded_at": WHEN}
        )
    data: dict[str, Any] = {
        "identifiers": [{"kind": "email", "value": f"person{i:06d}@example.org"}],
        "first_name": f"Ada{i}",
        "last_name": "Lovelace",
        "locale": "fr-FR",
    }
    if push:
        consents.append(
            {"channel": "push", "status": "granted", "source": "crm", "recorded_at": WHEN}
        )
        data["push_token"] = f"fcm-token:APA91b{i:08d}"
    return Contact.model_validate({**data, "consents": consents, **extra})


class Crm(Brick):
    """A contact source serving ``records`` by pages of ``page`` (cursor = offset)."""

    name: ClassVar[str] = "crm"
    version: ClassVar[str] = "1.0.0"
    description: ClassVar[str] = "Scripted contact source"
    capabilities: ClassVar[frozenset[Capability]] = frozenset({Capability.CONTACT_SOURCE})
    records: ClassVar[Callable[[int], Contact] | list[Contact]] = []
    total: ClassVar[int] = 0
    page: ClassVar[int] = PAGE
    #: Raised when the page at this offset is asked for (once), to inject a failure.
    fail_at: ClassVar[dict[int, BaseException]] = {}

    async def read_changes(self, cursor: str | None) -> ContactPage:
        start = int(cursor or 0)
        failure = Crm.fail_at.pop(start, None)
        if failure is not None:
            raise failure
        end = min(start + Crm.page, Crm.total)
        make = Crm.records
        records = [make(i) if callable(make) else make[i] for i in range(start, end)]
        return ContactPage(records=records, next_cursor=str(end), has_more=end < Crm.total)

    @classmethod
    def serve(cls, records: Callable[[int], Contact] | list[Contact], total: int | None = None):
        cls.records = records
        cls.total = len(records) if isinstance(records, list) else int(total or 0)
        cls.fail_at = {}


#: Every ``hub_sync_completed`` summary observed (cleared by each hub fixture).
SUMMARIES: list[Any] = []


class _Plugin:
    @hookimpl
    def hub_register_bricks(self, register) -> None:
        register(Crm)

    @hookimpl
    def hub_sync_completed(self, summary) -> None:
        SUMMARIES.append(summary)


def plugin_host() -> PluginHost:
    return build_plugin_host(extra_plugins=[("crm-plugin", _Plugin())])


def bricks_config(keys: Path, *, extra_brevo: str = "") -> str:
    keys.mkdir(parents=True, exist_ok=True)
    (keys / "brevo_key").write_text("xkeysib-test-0123456789", encoding="utf-8")
    (keys / "onesignal_key").write_text("os_v2_app_sync_test_key", encoding="utf-8")
    return (
        "[bricks.crm]\n\n"
        "[bricks.brevo]\n"
        f'api_key = {{file = "{(keys / "brevo_key").as_posix()}"}}\n'
        f'base_url = "{BREVO}"\n'
        "list_ids = [3]\n"
        'allowed_fields = ["email", "first_name", "last_name"]\n'
        f"{extra_brevo}\n"
        "[bricks.onesignal]\n"
        f'api_key = {{file = "{(keys / "onesignal_key").as_posix()}"}}\n'
        f'base_url = "{ONESIGNAL}"\n'
        f'app_id = "{APP_ID}"\n'
        'allowed_fields = ["push_token", "locale"]\n'
    )


@dataclass
class Call:
    sink: str
    path: str
    status: int
    pseudonyms: list[str]
    body: Any


@dataclass
class Vendors:
    """The two mocked APIs. ``brevo_answer`` / ``onesignal_answer`` may replace the default
    answer of a call (given the call's index among that sink's calls and its pseudonyms)."""

    calls: list[Call] = field(default_factory=list)
    #: Index of the last call per sink (answered or not).
    counts: dict[str, int] = field(default_factory=dict)
    brevo_answer: Callable[[int, list[str]], httpx.Response | None] | None = None
    onesignal_answer: Callable[[int, list[str]], httpx.Response | None] | None = None

    def _record(self, sink: str, request: httpx.Request, pseudonyms: list[str], body: Any,
                default: httpx.Response) -> httpx.Response:
        answer_with = self.brevo_answer if sink == "brevo" else self.onesignal_answer
        index = self.counts[sink] = self.counts.get(sink, -1) + 1
        response = answer_with(index, pseudonyms) if answer_with else None
        response = response or default
        self.calls.append(Call(sink, request.url.path, response.status_code, pseudonyms, body))
        return response

    def brevo_import(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        pseudonyms = [row["attributes"]["EXT_ID"] for row in body["jsonBody"]]
        return self._record("brevo", request, pseudonyms, body,
                            httpx.Response(202, json={"processId": 78}))

    def brevo_contact(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        return self._record("brevo", request, [body["ext_id"]], body,
                            httpx.Response(201, json={"id": 21}))

    def onesignal_user(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        external_id = body["identity"]["external_id"]
        answer = {
            "identity": {"onesignal_id": "567491ee-9105-4a87-9cbc-ed78a571645b",
                         "external_id": external_id},
            "properties": body.get("properties", {}),
            "subscriptions": body.get("subscriptions", []),
        }
        return self._record("onesignal", request, [external_id], body,
                            httpx.Response(201, json=answer))

    def delivered(self, sink: str) -> list[str]:
        """Pseudonyms the vendor accepted (2xx), in call order."""
        return [p for c in self.calls if c.sink == sink and c.status < 300 for p in c.pseudonyms]

    def requests(self, sink: str) -> list[Call]:
        return [c for c in self.calls if c.sink == sink]


@pytest.fixture
def vendors() -> Iterator[Vendors]:
    mocked = Vendors()
    with respx.mock(assert_all_mocked=True, assert_all_called=False) as router:
        router.post(f"{BREVO}/contacts/import").mock(side_effect=mocked.brevo_import)
        router.post(f"{BREVO}/contacts").mock(side_effect=mocked.brevo_contact)
        router.post(f"{ONESIGNAL}/apps/{APP_ID}/users").mock(side_effect=mocked.onesignal_user)
        yield mocked


@dataclass
class Hub:
    runtime: Runtime
    config: Path

    def sync(self, *sinks: str, source: str = "crm", **options: Any) -> SyncReport:
        async def no_sleep(_seconds: float) -> None:
            return None

        async def run() -> SyncReport:
            try:
                return await sync_contacts(
                    self.runtime, source=source, sinks=list(sinks) or ["brevo", "onesignal"],
                    sleep=no_sleep, **options
                )
            finally:
                # Brick clients belong to this event loop: the next run builds new ones.
                await self.runtime.aclose()

        options.setdefault("settle", timedelta(0))
        return asyncio.run(run())


@pytest.fixture
def make_hub(tmp_path: Path, database_url: str) -> Iterator[Callable[..., Hub]]:
    """``make_hub(extra="[sending]...")``: a migrated hub with ``extra`` config appended."""
    opened: list[Runtime] = []

    def make(extra: str = "") -> Hub:
        Crm.serve([])
        SUMMARIES.clear()
        root = tmp_path / f"h{len(opened)}"
        inst = make_installation(
            root,
            database_url=database_url,
            bricks=bricks_config(root / "vendor-keys"),
            extra=extra,
            migrate=False,
        )
        runtime = open_runtime(inst.config, host=plugin_host())
        upgrade(runtime.engine)
        opened.append(runtime)
        return Hub(runtime, inst.config)

    yield make
    for runtime in opened:
        asyncio.run(runtime.aclose())


@pytest.fixture
def hub(make_hub: Callable[..., Hub]) -> Hub:
    return make_hub()
