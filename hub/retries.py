"""Core-owned retries of brick calls: tenacity with backoff, jitter and the vendor's Retry-After.

Bricks raise contract errors and never retry, so every vendor gets the same, tested policy:
``Retryable`` (timeouts, 5xx, network) and ``RateLimited`` are retried up to
``[sending] max_attempts`` calls; a rate limit waits what the vendor asked (``retry_after``)
unless that is longer than ``max_retry_after``, in which case the call fails now rather than
holding a worker. ``Permanent`` errors (auth, refused payloads) are never retried.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

import structlog
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential_jitter,
)

from contracts import RateLimited, Retryable
from hub.config.model import SendingSettings

__all__ = ["RetryPolicy", "call_with_retries"]

T = TypeVar("T")
log = structlog.get_logger(__name__)

#: Added to a vendor's Retry-After so a fleet of workers does not come back in the same instant.
_RETRY_AFTER_JITTER = 0.25


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 4
    backoff_initial: float = 1.0
    backoff_max: float = 30.0
    max_retry_after: float = 120.0

    @classmethod
    def from_settings(cls, settings: SendingSettings) -> RetryPolicy:
        return cls(
            max_attempts=settings.max_attempts,
            backoff_initial=settings.backoff_initial.total_seconds(),
            backoff_max=settings.backoff_max.total_seconds(),
            max_retry_after=settings.max_retry_after.total_seconds(),
        )


def _retry_after(state: RetryCallState) -> float | None:
    outcome = state.outcome
    if outcome is None or not outcome.failed:
        return None
    error = outcome.exception()
    return error.retry_after if isinstance(error, RateLimited) else None


async def call_with_retries(
    operation: Callable[[], Awaitable[T]],
    policy: RetryPolicy,
    *,
    what: str,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> T:
    """Await ``operation()``, retrying transient failures; re-raise the last error otherwise.

    ``what`` names the call in logs (``brevo.send``): never a person, never a payload.
    """
    backoff = wait_exponential_jitter(
        initial=policy.backoff_initial, max=policy.backoff_max, jitter=policy.backoff_initial
    )

    def wait(state: RetryCallState) -> float:
        asked = _retry_after(state)
        if asked is not None:
            return asked + _RETRY_AFTER_JITTER
        return float(backoff(state))

    def stop(state: RetryCallState) -> bool:
        asked = _retry_after(state)
        if asked is not None and asked > policy.max_retry_after:
            return True
        return stop_after_attempt(policy.max_attempts)(state)

    def before_sleep(state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome else None
        log.warning(
            "brick call failed, retrying",
            call=what,
            attempt=state.attempt_number,
            error=type(error).__name__,
            wait_seconds=round(state.upcoming_sleep, 3),
        )

    retrying = AsyncRetrying(
        retry=retry_if_exception_type(Retryable),
        stop=stop,
        wait=wait,
        sleep=sleep,
        before_sleep=before_sleep,
        reraise=True,
    )

    async def attempt() -> T:
        # A named coroutine function: tenacity treats other callables (lambdas) as synchronous.
        return await operation()

    return await retrying(attempt)
