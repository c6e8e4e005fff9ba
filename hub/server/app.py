"""The hub's HTTP server: a Starlette app built from a ``Runtime``.

Endpoints: ``POST /events`` (token), ``POST /webhooks/{brick}`` (the brick verifies),
``GET /healthz`` and ``GET /metrics``. Every refusal is JSON naming the problem; an unexpected
error is logged by type and answered 500 without details (a message may carry personal data).
Database and brick work runs in the thread pool so the event loop keeps answering.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import text
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Match, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from contracts import Capability
from hub.config.model import ServerSettings
from hub.identity.keys import KeyMaterialError
from hub.logs import get_logger, register_secret
from hub.runtime import Runtime
from hub.server.events import post_events
from hub.server.http import Problem
from hub.server.metrics import Metrics
from hub.server.webhooks import post_webhook
from hub.storage.db import DatabaseNotReady

__all__ = ["create_app"]

log = get_logger(__name__)
Handler = Callable[[Request, Runtime, ServerSettings, Metrics], Awaitable[Response]]


def create_app(runtime: Runtime, settings: ServerSettings | None = None) -> Starlette:
    """The app for ``runtime``; ``settings`` default to the configuration's ``[server]``."""
    settings = settings or runtime.settings.server
    if settings.api_token is not None:
        register_secret(settings.api_token.get_secret_value())
    metrics = Metrics()
    # Build the receivers now: requests run in pool threads, which would otherwise race to
    # create (and cache) the same brick instance on first use.
    for name, configured in runtime.bricks.items():
        if configured.enabled and Capability.WEBHOOK_RECEIVER in configured.cls.capabilities:
            runtime.brick(name)

    def bind(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            try:
                return await handler(request, runtime, settings, metrics)
            except Problem as problem:
                return problem.response()

        return endpoint

    async def healthz(request: Request) -> Response:
        healthy, reason = await run_in_threadpool(_health, runtime)
        if healthy:
            return JSONResponse({"status": "ok"})
        return JSONResponse({"status": "unavailable", "reason": reason}, status_code=503)

    async def render_metrics(request: Request) -> Response:
        if not settings.metrics:
            return JSONResponse({"error": "metrics are disabled ([server] metrics)"}, 404)
        return Response(metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8")

    routes = [
        Route("/events", bind(post_events), methods=["POST"]),
        Route("/webhooks/{brick}", bind(post_webhook), methods=["POST"]),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/metrics", render_metrics, methods=["GET"]),
    ]
    app = Starlette(
        routes=routes,
        exception_handlers={HTTPException: _http_error, Exception: _internal_error},
    )
    app.add_middleware(_Observed, metrics=metrics, routes=routes)
    app.state.runtime = runtime
    app.state.settings = settings
    app.state.metrics = metrics
    return app


def _health(runtime: Runtime) -> tuple[bool, str]:
    """Keys loadable, schema current, database answering; the reason names the part."""
    try:
        engine = runtime.ready_engine()
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except DatabaseNotReady as exc:
        return False, str(exc)
    except KeyMaterialError:
        return False, "key material is missing or invalid (see `hub config validate`)"
    except Exception as exc:
        return False, f"database unreachable ({type(exc).__name__})"
    return True, "ok"


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        error = (
            "no such endpoint (POST /events, POST /webhooks/{brick}, GET /healthz, GET /metrics)"
        )
    elif exc.status_code == 405:
        error = f"method {request.method} not allowed here"
    else:
        error = str(exc.detail)
    return JSONResponse({"error": error}, status_code=exc.status_code, headers=exc.headers)


async def _internal_error(request: Request, exc: Exception) -> Response:
    log.error("request failed", path=request.url.path, error_type=type(exc).__name__)
    return JSONResponse({"error": "internal error; details are in the server log"}, 500)


class _Observed:
    """Counts and times every request by route template, and logs it without query string
    (tokens travel there: Brevo's ``?token=``) or body."""

    def __init__(self, app: ASGIApp, *, metrics: Metrics, routes: list[Route]) -> None:
        self.app = app
        self.metrics = metrics
        self.routes = routes

    def _route(self, scope: Scope) -> str:
        for route in self.routes:
            match, _ = route.matches(scope)
            if match is not Match.NONE:
                return route.path
        return "unmatched"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status: dict[str, Any] = {"code": 500}

        async def observe(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, observe)
        finally:
            route = self._route(scope)
            elapsed = time.perf_counter() - started
            self.metrics.requests.labels(route=route, status=str(status["code"])).inc()
            self.metrics.latency.labels(route=route).observe(elapsed)
            log.info(
                "http request",
                method=scope.get("method"),
                route=route,
                status=status["code"],
                duration_ms=round(elapsed * 1000, 1),
            )
