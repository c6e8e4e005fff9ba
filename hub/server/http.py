"""Request plumbing shared by the endpoints: problems as JSON, bounded bodies, strict JSON.

Every refusal is a ``Problem`` answered as ``{"error": ..., "field": ...}`` with a 4xx status,
so a caller always learns what to fix. Reasons name fields and limits, never values: bodies
are full of personal data and responses end up in vendor dashboards and proxy logs.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse

__all__ = ["MAX_JSON_DEPTH", "Problem", "parse_json", "read_body", "require_json"]

#: Deeper JSON is refused before anything walks it (validators, dead letters recurse).
MAX_JSON_DEPTH = 32


class Problem(Exception):
    """A request the server refuses, with the status, what is wrong and where."""

    def __init__(self, status: int, error: str, field: str | None = None) -> None:
        super().__init__(error)
        self.status = status
        self.error = error
        self.field = field

    def response(self) -> JSONResponse:
        body: dict[str, Any] = {"error": self.error}
        if self.field is not None:
            body["field"] = self.field
        return JSONResponse(body, status_code=self.status)


def require_json(request: Request) -> None:
    """415 unless the body is declared JSON (``application/json``, any charset)."""
    declared = request.headers.get("content-type", "")
    media = declared.split(";", 1)[0].strip().lower()
    if media != "application/json" and not (
        media.startswith("application/") and media.endswith("+json")
    ):
        raise Problem(415, "Content-Type must be application/json", field="Content-Type")


async def read_body(request: Request, limit: int) -> bytes:
    """The body, refused with 413 past ``limit`` bytes: the declared length is checked first,
    then the bytes actually streamed (a chunked body declares none, a lying one too little)."""
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            length = int(declared)
        except ValueError:
            raise Problem(400, "Content-Length is not a number", "Content-Length") from None
        if length < 0:
            raise Problem(400, "Content-Length is negative", "Content-Length")
        if length > limit:
            raise Problem(413, f"body larger than {limit} bytes", "body")
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise Problem(413, f"body larger than {limit} bytes", "body")
            chunks.append(chunk)
    except ClientDisconnect:
        raise Problem(400, "the client disconnected before the body was complete", "body") from None
    return b"".join(chunks)


def parse_json(body: bytes) -> Any:
    """Strict JSON (UTF-8, no NaN or Infinity, bounded depth), else 400 naming the body."""
    if not body.strip():
        raise Problem(400, 'body is empty: send a JSON event, a list, or {"events": [...]}', "body")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise Problem(400, "body is not UTF-8 text", "body") from None
    try:
        value = json.loads(text, parse_constant=_no_constants)
    except RecursionError:
        raise Problem(400, f"body nests deeper than {MAX_JSON_DEPTH} levels", "body") from None
    except json.JSONDecodeError as exc:
        reason = f"{exc.msg} at line {exc.lineno}, column {exc.colno}"
        raise Problem(400, f"body is not valid JSON: {reason}", "body") from None
    except ValueError as exc:  # NaN/Infinity, or an integer beyond Python's digit limit
        raise Problem(400, f"body is not valid JSON: {str(exc)[:200]}", "body") from None
    if _depth(value) > MAX_JSON_DEPTH:
        raise Problem(400, f"body nests deeper than {MAX_JSON_DEPTH} levels", "body")
    return value


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _depth(value: Any) -> int:
    """Nesting depth, iteratively (the value may be deep enough to overflow recursion)."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        deepest = max(deepest, level)
        if deepest > MAX_JSON_DEPTH:
            return deepest
        stack.extend((child, level + 1) for child in children)
    return deepest
