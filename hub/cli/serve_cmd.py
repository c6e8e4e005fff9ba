"""``hub serve``: the HTTP server (events, vendor webhooks, health, metrics) on uvicorn.

The runtime is checked before the socket opens (keys, schema), so a misconfigured hub stops
with the usual message and exit code instead of answering 503 forever. uvicorn logs through
the hub's redacting pipeline (``log_config=None``) and its access log is off: the app logs
each request itself, by route template, never the query string (webhook tokens travel there).
"""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer
import uvicorn

from hub.cli.output import fail, stderr
from hub.server import create_app

__all__ = ["serve"]


def serve(
    ctx: typer.Context,
    host: Annotated[
        str | None, typer.Option("--host", help="Interface to listen on (default: [server] host).")
    ] = None,
    port: Annotated[
        int | None, typer.Option("--port", help="Port to listen on (default: [server] port).")
    ] = None,
) -> int:
    """Serve POST /events, POST /webhooks/{brick}, GET /healthz and GET /metrics."""
    if port is not None and not 1 <= port <= 65535:
        fail(f"--port: {port} is not a TCP port (1-65535)")
    if host is not None and not host.strip():
        fail("--host: must not be empty")
    runtime = ctx.obj.runtime()
    settings = runtime.settings.server
    runtime.ready_engine()  # KeyMaterialError / DatabaseNotReady: exit 2 with the reason
    if settings.api_token is None:
        stderr.print(
            "warning: no [server] api_token: POST /events refuses every call", markup=False
        )
    app = create_app(runtime, settings)
    try:
        uvicorn.run(
            app,
            host=host or settings.host,
            port=port or settings.port,
            log_config=None,
            access_log=False,
            proxy_headers=False,  # forwarded headers are the app's call ([server] setting)
            server_header=False,
        )
    finally:
        asyncio.run(runtime.aclose())
    return 0
