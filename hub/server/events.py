"""``POST /events``: a JSON event, a list of them, or ``{"events": [...]}``, behind a token.

The token is compared in constant time. The body is read within the size limit and parsed
strictly; every well-formed body is answered 202 with intake's report, each refused event
named by its index, field and reason (and kept as a dead letter by intake: nothing is lost).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse

from hub.config.model import ServerSettings
from hub.events.intake import IntakeReport, ingest_events
from hub.runtime import Runtime
from hub.sdk.webhooks import constant_time_equals
from hub.server.http import Problem, parse_json, read_body, require_json
from hub.server.metrics import Metrics

__all__ = ["SOURCE", "authorise", "events_in", "post_events"]

#: The source intake records for events posted to the API (dead letters replay through it).
SOURCE = "api"


def authorise(request: Request, settings: ServerSettings) -> None:
    """401 unless ``Authorization: Bearer <[server] api_token>``."""
    if settings.api_token is None:
        raise Problem(401, "no [server] api_token is configured: POST /events is closed")
    header = request.headers.get("authorization", "")
    scheme, _, given = header.partition(" ")
    if scheme.lower() != "bearer" or not given.strip():
        raise Problem(401, "missing bearer token (Authorization: Bearer <token>)", "Authorization")
    expected = settings.api_token.get_secret_value().strip()
    if not constant_time_equals(given.strip(), expected):
        raise Problem(401, "invalid bearer token", "Authorization")


def events_in(body: Any) -> list[Any]:
    """The events a body carries, or 400 naming what is wrong with its shape."""
    if isinstance(body, list):
        return body
    if isinstance(body, Mapping):
        if "events" in body and "type" not in body:
            batch = body["events"]
            if not isinstance(batch, list):
                raise Problem(400, "must be a list of events", "events")
            extra = sorted(key for key in body if key != "events")
            if extra:
                raise Problem(400, "a batch object holds only 'events'", extra[0])
            return batch
        return [body]
    kind = "null" if body is None else type(body).__name__
    raise Problem(400, f"body must be a JSON object or a list of objects, not {kind}", "body")


def report_body(report: IntakeReport) -> dict[str, Any]:
    return {
        "accepted": report.accepted,
        "duplicates": report.duplicates,
        "rejected": [
            {
                "index": rejection.index,
                "field": rejection.field,
                "reason": rejection.reason,
                "dead_letter_id": rejection.dead_letter_id,
            }
            for rejection in report.rejected
        ],
    }


async def post_events(
    request: Request, runtime: Runtime, settings: ServerSettings, metrics: Metrics
) -> JSONResponse:
    authorise(request, settings)
    require_json(request)
    events = events_in(parse_json(await read_body(request, settings.max_body_bytes)))
    report = await run_in_threadpool(ingest_events, runtime, events, source=SOURCE)
    metrics.events.labels(result="accepted").inc(report.accepted)
    metrics.events.labels(result="duplicate").inc(report.duplicates)
    metrics.events.labels(result="rejected").inc(len(report.rejected))
    return JSONResponse(report_body(report), status_code=202)
