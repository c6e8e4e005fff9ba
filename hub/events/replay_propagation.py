"""Replay a ``propagation`` dead letter: tell the contact sink the person's opt-outs again.

When a bounce, complaint or unsubscribe revokes a consent, the core upserts the person's
minimised view into every other contact sink holding them; a sink that could not be told is
dead-lettered with its name. The replay builds the view *now* and upserts it through the same
code (``hub.outcomes.tell_sink``: egress audited, the core's retries): the sink learns the
person's current state, so a consent given again in the meantime is not overwritten by a
stale opt-out.
"""

from __future__ import annotations

from contracts import Capability
from hub.events.letters import Letter, ReplayResult, settle
from hub.logs import get_logger
from hub.outcomes import tell_sink
from hub.runtime import Runtime

__all__ = ["replay_propagation"]

log = get_logger(__name__)


def _problem(runtime: Runtime, letter: Letter) -> tuple[str, str | None, str | None]:
    """(brick, customer id, why it cannot be told) from the letter and the configuration."""
    kept = letter.payload if isinstance(letter.payload, dict) else {}
    brick = str(kept.get("brick") or letter.source)
    customer_id = kept.get("customer_id")
    if not isinstance(customer_id, str) or not customer_id:
        return brick, None, "the letter names no customer"
    configured = runtime.bricks.get(brick)
    if (
        configured is None
        or not configured.enabled
        or Capability.CONTACT_SINK not in configured.cls.capabilities
    ):
        return brick, customer_id, f"brick {brick!r} is not an enabled contact sink"
    return brick, customer_id, None


def replay_propagation(runtime: Runtime, letter: Letter) -> ReplayResult:
    """Upsert the person's current view into the named sink; settle the letter."""
    brick, customer_id, reason = _problem(runtime, letter)
    if reason is None and customer_id is not None:
        reason = tell_sink(runtime, runtime.bricks[brick], customer_id)
    detail = {"brick": brick}
    if reason is not None:
        settle(runtime, letter.id, replayed=False, field=None, reason=reason)
        log.warning("opt-out still not propagated", brick=brick, dead_letter_id=letter.id)
        return ReplayResult(
            letter.id, "pending", "failed", None, reason, kind="propagation", detail=detail
        )
    settle(runtime, letter.id, replayed=True, field=None, reason=None)
    log.info("opt-out propagated on replay", brick=brick, dead_letter_id=letter.id)
    return ReplayResult(
        letter.id, "replayed", "propagated", None, None, kind="propagation", detail=detail
    )
