"""What ``hub contacts sync`` adds to the vendor calls themselves, in one run.

A stub of Brevo's contact import (Starlette under uvicorn, its own process on 127.0.0.1)
answers ``POST /v3/contacts/import`` with 202 and a process id, after ``--latency-ms``: 100 by
default, the low end of what a vendor's bulk endpoint takes over the internet; 0 answers as
fast as it can parse the body, which measures the hub's own CPU per contact instead. Two
clients push the same N contacts to it, in batches of 500 (the Brevo brick's ``batch_size``),
one call at a time:

* raw: an ``httpx.AsyncClient`` posting import bodies built beforehand from the plain values
  (exactly the bodies the Brevo brick sends: ``plugins.brevo.payloads.import_body``);
* hub: ``sync_contacts(--from hub --to brevo --full)`` on a SQLite store seeded with the same
  people: the change feed, consent check, vault decryption, per-brick pseudonyms, view digests,
  egress audit rows, ``sink_contacts`` and the cursor, and the brick building the same bodies.

Rounds alternate raw and hub so a load peak from another process hits both; the medians are
compared. Seeding the store is not timed.

    .venv/bin/python bench/bench_sync.py [--contacts 20000] [--rounds 3] [--latency-ms 100]

``HUB_BENCH_SYNC_CONTACTS`` sets the default of ``--contacts``. Prints one JSON document.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

BATCH = 500
API_KEY = "xkeysib-bench-0123456789"


def serve(port: int, latency_ms: float) -> None:
    """The stub vendor (run in its own process by ``--serve``)."""
    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    received = {"calls": 0, "contacts": 0}

    async def contact_import(request: Request) -> JSONResponse:
        body = json.loads(await request.body())
        received["calls"] += 1
        received["contacts"] += len(body["jsonBody"])
        if latency_ms:
            await asyncio.sleep(latency_ms / 1000)
        return JSONResponse({"processId": received["calls"]}, status_code=202)

    async def count(request: Request) -> JSONResponse:
        return JSONResponse(received)

    app = Starlette(routes=[Route("/v3/contacts/import", contact_import, methods=["POST"]),
                            Route("/count", count)])
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _start_stub(latency_ms: float) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, __file__, "--serve", str(port), "--latency-ms", str(latency_ms)]
    )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return process, f"http://127.0.0.1:{port}"
        except OSError:
            time.sleep(0.05)
    process.kill()
    raise SystemExit("the stub server did not start")


def _seed(runtime: Any, count: int) -> list[dict[str, str]]:
    """Store ``count`` people with email marketing granted; return their plain values."""
    from contracts import Contact
    from hub.contacts.apply import apply_contacts
    from hub.storage.db import session_scope

    when = datetime(2026, 3, 2, tzinfo=UTC).isoformat()
    people = [
        {"email": f"person{i:06d}@example.org", "first_name": f"Ada{i}", "last_name": "Lovelace"}
        for i in range(count)
    ]
    for start in range(0, count, 1000):
        contacts = [
            Contact.model_validate(
                {
                    "identifiers": [{"kind": "email", "value": p["email"]}],
                    "first_name": p["first_name"],
                    "last_name": p["last_name"],
                    "consents": [{"channel": "email", "status": "granted", "source": "bench",
                                  "recorded_at": when}],
                }
            )
            for p in people[start : start + 1000]
        ]
        with session_scope(runtime.ready_engine()) as session:
            apply_contacts(session, runtime.identity, contacts, source="bench")
    return people


def _raw_bodies(runtime: Any, people: list[dict[str, str]]) -> list[dict[str, Any]]:
    """The import bodies the Brevo brick would send, built from the plain values."""
    from contracts import ContactView, Identifier, IdentifierKind
    from hub.storage.db import session_scope
    from plugins.brevo.payloads import import_body

    settings = runtime.bricks["brevo"].settings
    with session_scope(runtime.engine) as session:
        ids = [
            runtime.identity.find(session, Identifier(kind=IdentifierKind.EMAIL, value=p["email"]))
            for p in people
        ]
    views = [
        ContactView(pseudonym=runtime.keys.pseudonym("brevo", customer), **person)
        for customer, person in zip(ids, people, strict=True)
    ]
    return [import_body(views[i : i + BATCH], settings) for i in range(0, len(views), BATCH)]


async def _raw(base_url: str, bodies: list[dict[str, Any]]) -> float:
    async with httpx.AsyncClient(
        base_url=f"{base_url}/v3", headers={"api-key": API_KEY, "Accept": "application/json"}
    ) as client:
        started = time.perf_counter()
        for body in bodies:
            response = await client.post("/contacts/import", json=body)
            response.raise_for_status()
        return time.perf_counter() - started


async def _hub(runtime: Any) -> tuple[float, float, int]:
    from hub.sync.engine import sync_contacts

    cpu = time.process_time()
    started = time.perf_counter()
    try:
        report = await sync_contacts(runtime, source="hub", sinks=["brevo"], full=True)
    finally:
        await runtime.aclose()
    elapsed = time.perf_counter() - started
    [brevo] = report.sinks
    if brevo.error or brevo.rejected:
        raise SystemExit(f"hub sync failed: {brevo.error or brevo.rejected[:3]}")
    return elapsed, time.process_time() - cpu, brevo.created + brevo.updated


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--contacts", type=int, default=int(os.environ.get("HUB_BENCH_SYNC_CONTACTS", 20_000))
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--latency-ms", type=float, default=100.0)
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.latency_ms)
        return
    from hub.logs import configure_logging
    from hub.testing import make_installation

    configure_logging(level="warning")  # stdout carries the JSON document only
    stub, base_url = _start_stub(args.latency_ms)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            (root / "brevo_key").write_text(API_KEY, encoding="utf-8")
            bricks = (
                "[bricks.brevo]\n"
                f'api_key = {{file = "{(root / "brevo_key").as_posix()}"}}\n'
                f'base_url = "{base_url}/v3"\n'
                "list_ids = [3]\n"
                'allowed_fields = ["email", "first_name", "last_name"]\n'
            )
            runtime = make_installation(root / "hub", bricks=bricks).runtime()
            seeded = time.perf_counter()
            people = _seed(runtime, args.contacts)
            seed_seconds = time.perf_counter() - seeded
            bodies = _raw_bodies(runtime, people)
            raw_times, hub_times, hub_cpu = [], [], []
            for _ in range(args.rounds):
                raw_times.append(asyncio.run(_raw(base_url, bodies)))
                elapsed, cpu, pushed = asyncio.run(_hub(runtime))
                if pushed != args.contacts:
                    raise SystemExit(f"hub pushed {pushed} contacts, expected {args.contacts}")
                hub_times.append(elapsed)
                hub_cpu.append(cpu)
            received = httpx.get(f"{base_url}/count").json()
            runtime.engine.dispose()
    finally:
        stub.terminate()
        stub.wait(10)
    expected = 2 * args.rounds * args.contacts
    if received["contacts"] != expected:
        raise SystemExit(f"the stub received {received['contacts']} contacts, not {expected}")
    raw, hub = statistics.median(raw_times), statistics.median(hub_times)
    print(json.dumps({
        "contacts": args.contacts,
        "batch_size": BATCH,
        "calls_per_run": len(bodies),
        "stub_latency_ms": args.latency_ms,
        "rounds": args.rounds,
        "raw_seconds": round(raw, 3),
        "hub_seconds": round(hub, 3),
        "ratio_hub_over_raw": round(hub / raw, 2),
        "hub_cpu_seconds": round(statistics.median(hub_cpu), 3),
        "hub_contacts_per_second": round(args.contacts / hub),
        "raw_all": [round(t, 3) for t in raw_times],
        "hub_all": [round(t, 3) for t in hub_times],
        "seed_seconds": round(seed_seconds, 1),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "max_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }, indent=2))


if __name__ == "__main__":
    main()
