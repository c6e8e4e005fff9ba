"""``POST /webhooks/{brick}``: a vendor's call, proven by the brick, stored by the core.

Order matters: the brick verifies the call against the URL the vendor used (signatures cover
it) before anything is stored; a call it cannot verify is answered 401 and leaves no trace.
A verified body the brick cannot read is dead-lettered (sealed) and answered 400 naming the
field, so the vendor stops retrying and an operator can replay it after a fix. Outcomes and
events then go through the same core paths as every other input.
"""

from __future__ import annotations

import base64
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse

from contracts import Capability, PayloadRejected, WebhookRejected
from hub.config.model import ServerSettings
from hub.dead_letters import store_dead_letter
from hub.events.webhook_payloads import store_webhook_payload
from hub.logs import get_logger
from hub.runtime import Runtime
from hub.server.http import Problem, read_body
from hub.server.metrics import Metrics
from hub.storage.db import session_scope

__all__ = ["DEAD_LETTER_KIND", "called_url", "post_webhook"]

log = get_logger(__name__)
DEAD_LETTER_KIND = "webhook"


def called_url(request: Request, settings: ServerSettings) -> str:
    """The full URL as the vendor called it, query string kept.

    Behind a reverse proxy the request reaching the hub says ``http://127.0.0.1:8000``; the
    vendor signed ``https://hooks.example.com``. The proxy's ``X-Forwarded-Proto`` and
    ``X-Forwarded-Host`` say which, and are believed only when configured to be.
    """
    url = request.url
    if settings.trust_forwarded_headers:
        proto = _first(request.headers.get("x-forwarded-proto"))
        host = _first(request.headers.get("x-forwarded-host"))
        if proto in ("http", "https"):
            url = url.replace(scheme=proto)
        if host:
            url = url.replace(netloc=host)
    return str(url)


def _first(value: str | None) -> str | None:
    """A proxy chain appends: the first value is what the outermost proxy received."""
    if not value:
        return None
    first = value.split(",", 1)[0].strip()
    return first or None


def _receiver(runtime: Runtime, name: str) -> Any:
    configured = runtime.bricks.get(name)
    if (
        configured is None
        or not configured.enabled
        or Capability.WEBHOOK_RECEIVER not in configured.cls.capabilities
    ):
        raise Problem(404, "no enabled brick receives webhooks under this name", "brick")
    return runtime.brick(name)


def _dead_letter(
    runtime: Runtime, brick: str, request: Request, body: bytes, error: PayloadRejected
) -> int | None:
    payload = {
        "brick": brick,
        "content_type": request.headers.get("content-type"),
        "body_base64": base64.b64encode(body).decode("ascii"),
    }
    with session_scope(runtime.ready_engine()) as session:
        entry = store_dead_letter(
            session,
            runtime.vault,
            kind=DEAD_LETTER_KIND,
            source=brick,
            reference=request.url.path,
            reason=error.message,
            payload=payload,
            field=error.field,
        )
        return entry.id


async def post_webhook(
    request: Request, runtime: Runtime, settings: ServerSettings, metrics: Metrics
) -> JSONResponse:
    name = request.path_params["brick"]
    receiver = _receiver(runtime, name)
    try:
        body = await read_body(request, settings.max_body_bytes)
    except Problem as problem:
        result = "too_large" if problem.status == 413 else "bad_request"
        metrics.webhooks.labels(brick=name, result=result).inc()
        raise
    url = called_url(request, settings)
    headers = dict(request.headers)
    try:
        await run_in_threadpool(receiver.verify, url, headers, body)
    except WebhookRejected as exc:
        metrics.webhooks.labels(brick=name, result="unauthorised").inc()
        log.warning("webhook refused", brick=name, reason=str(exc))
        raise Problem(401, f"the call could not be verified: {exc}") from None
    except Exception as exc:  # a broken verify must refuse, never let an unproven call in
        metrics.webhooks.labels(brick=name, result="unauthorised").inc()
        log.error("webhook verify failed", brick=name, error_type=type(exc).__name__)
        raise Problem(401, f"the call could not be verified ({name} failed to check it)") from None
    try:
        payload = await run_in_threadpool(receiver.parse, headers, body)
    except Exception as exc:
        if isinstance(exc, PayloadRejected):
            error = exc
        else:  # a brick bug on a body it should have refused: still a 400, body kept
            log.error("webhook parse failed", brick=name, error_type=type(exc).__name__)
            error = PayloadRejected(f"{name} could not read the body ({type(exc).__name__})")
        dead_letter_id = await run_in_threadpool(_dead_letter, runtime, name, request, body, error)
        metrics.webhooks.labels(brick=name, result="rejected").inc()
        answer = {"error": error.message, "field": error.field or "body"}
        return JSONResponse({**answer, "dead_letter_id": dead_letter_id}, status_code=400)
    counts = await run_in_threadpool(store_webhook_payload, runtime, name, payload)
    for outcome_type, count in counts.pop("by_type").items():
        metrics.outcomes.labels(brick=name, type=outcome_type).inc(count)
    metrics.webhooks.labels(brick=name, result="ok").inc()
    return JSONResponse(counts, status_code=200)
