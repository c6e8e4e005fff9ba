"""Replay an ``audience_push`` dead letter: push the audience to its sink again, as it is now.

A push that failed after the core's retries is kept with the audience's and the sink's names
(never the members). The replay computes the membership **now** and pushes it through the same
code as ``hub audiences push`` (consent purpose, pseudonyms, matched cookies, audit rows), so
the sink gets today's members, not the failed call's. It writes no second letter: a failure
keeps this one ``pending`` with the new reason.
"""

from __future__ import annotations

from typing import Any

from contracts import BrickError
from hub.audiences.push import DEAD_LETTER_KIND, AudienceError, PushReport, push_audience
from hub.coroutines import run_coroutine
from hub.events.letters import Letter, ReplayResult, settle
from hub.logs import get_logger
from hub.runtime import Runtime

__all__ = ["DEAD_LETTER_KIND", "replay_audience"]

log = get_logger(__name__)


async def _push(runtime: Runtime, audience: str, brick: str) -> PushReport:
    try:
        return await push_audience(runtime, audience, brick, dead_letter=False)
    finally:
        await runtime.aclose()  # the brick's client belongs to this replay's event loop


def replay_audience(runtime: Runtime, letter: Letter) -> ReplayResult:
    """Push the audience named by the letter again; settle the letter."""
    kept: dict[str, Any] = letter.payload if isinstance(letter.payload, dict) else {}
    audience, brick = kept.get("audience"), str(kept.get("brick") or letter.source)
    detail: dict[str, Any] = {"audience": audience, "brick": brick}
    field: str | None = None
    vendor_failed = False
    if not isinstance(audience, str) or not audience:
        reason = "the letter names no audience"
    else:
        try:
            report = run_coroutine(_push(runtime, audience, brick))
        except AudienceError as exc:  # the audience or the sink is gone from the config
            field, reason = exc.field, exc.reason
        except BrickError as exc:
            field, reason = "brick", f"{type(exc).__name__}: {exc}"[:1000]
            vendor_failed = True
        else:
            settle(runtime, letter.id, replayed=True, field=None, reason=None)
            log.info("audience pushed on replay", brick=brick, dead_letter_id=letter.id)
            detail |= {"members": report.members, "with_cookies": report.with_cookies}
            return ReplayResult(
                letter.id, "replayed", "pushed", None, None, kind=DEAD_LETTER_KIND, detail=detail
            )
    settle(runtime, letter.id, replayed=False, field=field, reason=reason)
    log.warning("audience still not pushed", brick=brick, dead_letter_id=letter.id)
    return ReplayResult(
        letter.id,
        "pending",
        "failed",
        field,
        reason,
        kind=DEAD_LETTER_KIND,
        detail=detail,
        vendor_failed=vendor_failed,
    )
