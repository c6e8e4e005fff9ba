"""Core-owned retries: what is retried, how long the core waits, when it gives up."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contracts import AuthFailed, PayloadRejected, RateLimited, Retryable
from hub.config.model import SendingSettings
from hub.retries import RetryPolicy, call_with_retries

pytestmark = pytest.mark.anyio
POLICY = RetryPolicy(max_attempts=4, backoff_initial=1.0, backoff_max=8.0, max_retry_after=60.0)


class Flaky:
    """Fails with the given errors, in order, then returns "ok"."""

    def __init__(self, *errors: Exception) -> None:
        self.errors = list(errors)
        self.calls = 0

    async def __call__(self) -> str:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return "ok"


class Sleeps(list[float]):
    async def __call__(self, seconds: float) -> None:
        self.append(seconds)


async def test_transient_failures_are_retried_with_growing_backoff() -> None:
    sleeps = Sleeps()
    flaky = Flaky(Retryable("500"), Retryable("timeout"), Retryable("502"))
    assert await call_with_retries(flaky, POLICY, what="t.send", sleep=sleeps) == "ok"
    assert flaky.calls == 4
    assert len(sleeps) == 3
    assert 1.0 <= sleeps[0] <= 2.0
    assert 2.0 <= sleeps[1] <= 3.0
    assert 4.0 <= sleeps[2] <= 5.0


async def test_gives_up_after_max_attempts_with_the_last_error() -> None:
    sleeps = Sleeps()
    flaky = Flaky(*(Retryable(f"fail {i}") for i in range(10)))
    with pytest.raises(Retryable, match="fail 3"):
        await call_with_retries(flaky, POLICY, what="t.send", sleep=sleeps)
    assert flaky.calls == 4


@pytest.mark.parametrize("error", [AuthFailed("401"), PayloadRejected("400", field="email")])
async def test_permanent_errors_are_never_retried(error: Exception) -> None:
    sleeps = Sleeps()
    flaky = Flaky(error)
    with pytest.raises(type(error)):
        await call_with_retries(flaky, POLICY, what="t.send", sleep=sleeps)
    assert flaky.calls == 1
    assert sleeps == []


async def test_rate_limit_waits_what_the_vendor_asked() -> None:
    sleeps = Sleeps()
    flaky = Flaky(RateLimited(retry_after=7), RateLimited(retry_after=None))
    assert await call_with_retries(flaky, POLICY, what="t.send", sleep=sleeps) == "ok"
    assert 7.0 <= sleeps[0] <= 7.5
    assert 2.0 <= sleeps[1] <= 3.0  # no Retry-After: the exponential backoff applies


async def test_a_wait_longer_than_allowed_fails_now() -> None:
    sleeps = Sleeps()
    flaky = Flaky(RateLimited(retry_after=3600))
    with pytest.raises(RateLimited):
        await call_with_retries(flaky, POLICY, what="t.send", sleep=sleeps)
    assert flaky.calls == 1
    assert sleeps == []


@settings(max_examples=50)
@given(st.lists(st.sampled_from(["retry", "limit", "ok"]), min_size=1, max_size=8))
async def test_never_more_calls_than_the_policy_allows(script: list[str]) -> None:
    errors: list[Exception] = []
    for step in script:
        if step == "ok":
            break
        errors.append(Retryable("x") if step == "retry" else RateLimited(retry_after=1))
    flaky = Flaky(*errors)
    try:
        await call_with_retries(flaky, POLICY, what="t.send", sleep=Sleeps())
    except Retryable:
        assert len(errors) >= POLICY.max_attempts
    assert flaky.calls == min(len(errors) + 1, POLICY.max_attempts)


def test_policy_from_config() -> None:
    policy = RetryPolicy.from_settings(
        SendingSettings(max_attempts=2, backoff_initial="2s", backoff_max="1m")
    )
    assert policy == RetryPolicy(
        max_attempts=2, backoff_initial=2.0, backoff_max=60.0, max_retry_after=120.0
    )


async def test_a_lambda_returning_a_coroutine_is_awaited() -> None:
    flaky = Flaky(Retryable("once"))
    assert await call_with_retries(lambda: flaky(), POLICY, what="t", sleep=Sleeps()) == "ok"
    assert flaky.calls == 2
