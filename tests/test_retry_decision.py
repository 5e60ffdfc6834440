"""The retry decision (``_resilience._retry.decide_retry``), alone: plain values, no run."""

from __future__ import annotations

import math
import random

import hypothesis.strategies as st
from hypothesis import given

from cadenza._errors import AgentError, PermanentError, QualityError, RetryableError
from cadenza._resilience._retry import GiveUp, Retry, RetryState, decide_retry
from cadenza._spec._workflow import RetryPolicy

policies = st.builds(
    RetryPolicy,
    max_attempts=st.integers(1, 8),
    backoff=st.floats(0, 30, allow_nan=False),
    max_backoff=st.floats(0, 120, allow_nan=False),
    multiplier=st.floats(1, 4, allow_nan=False),
    jitter=st.sampled_from(["full", "none"]),
    count_rate_limited=st.booleans(),
    max_rate_limited=st.integers(0, 5),
)
retryable_errors = st.builds(
    RetryableError,
    st.just("busy"),
    retry_after=st.none() | st.floats(0, 200, allow_nan=False),
    rate_limited=st.booleans(),
)
states = st.builds(
    RetryState,
    attempts=st.integers(1, 10),
    rate_limited=st.integers(0, 6),
    deadline=st.just(math.inf) | st.floats(0, 500, allow_nan=False),
    in_fallback=st.booleans(),
)
times = st.floats(0, 100, allow_nan=False)
seeds = st.integers(0, 2**32)


@given(policies, states, retryable_errors, times, seeds)
def test_delay_stays_within_zero_and_the_cap_unless_retry_after_asks_for_more(
    policy: RetryPolicy, state: RetryState, error: RetryableError, now: float, seed: int
) -> None:
    """A retry waits between 0 and max_backoff, and at least the provider's Retry-After."""
    decision = decide_retry(policy, state, error, now, random.Random(seed))
    if isinstance(decision, Retry):
        assert decision.at == now + decision.delay
        assert 0.0 <= decision.delay <= policy.max_backoff
        if error.retry_after is not None:
            assert decision.delay >= error.retry_after


@given(policies, st.lists(st.booleans(), min_size=15, max_size=15), seeds)
def test_never_more_attempts_than_the_policy_allows(
    policy: RetryPolicy, too_many_requests: list[bool], seed: int
) -> None:
    """Failing again and again (429s or not), a step makes at most max_attempts counted ones."""
    rng = random.Random(seed)
    state = RetryState(attempts=1)
    for rate_limited in too_many_requests:
        error = RetryableError("busy", rate_limited=rate_limited)
        decision = decide_retry(policy, state, error, 0.0, rng)
        if isinstance(decision, GiveUp):
            break
        state = RetryState(attempts=state.attempts + 1, rate_limited=decision.rate_limited)
    uncounted = 0 if policy.count_rate_limited else state.rate_limited
    assert state.attempts - uncounted <= policy.max_attempts
    assert uncounted <= policy.max_rate_limited + 1


@given(policies, states, times, seeds, st.sampled_from([PermanentError, AgentError]))
def test_permanent_errors_are_never_retried(
    policy: RetryPolicy, state: RetryState, now: float, seed: int, cls: type[AgentError]
) -> None:
    """A permanent (non-retryable) error gives up, whatever the policy and attempts."""
    decision = decide_retry(policy, state, cls("bad request"), now, random.Random(seed))
    assert isinstance(decision, GiveUp)
    assert decision.note == ""


@given(policies, states, retryable_errors, times, seeds)
def test_the_same_seed_gives_the_same_decision(
    policy: RetryPolicy, state: RetryState, error: RetryableError, now: float, seed: int
) -> None:
    """Two random sources seeded alike lead to equal decisions (reproducible runs)."""
    first = decide_retry(policy, state, error, now, random.Random(seed))
    second = decide_retry(policy, state, error, now, random.Random(seed))
    assert first == second


@given(policies, states, retryable_errors, times, seeds)
def test_a_retry_never_starts_at_or_past_the_deadline(
    policy: RetryPolicy, state: RetryState, error: RetryableError, now: float, seed: int
) -> None:
    """A retry is scheduled strictly before the step's total_timeout ends."""
    decision = decide_retry(policy, state, error, now, random.Random(seed))
    if isinstance(decision, Retry):
        assert decision.at < state.deadline


def test_backoff_grows_exponentially_up_to_the_cap_without_jitter() -> None:
    """With jitter off the delays are backoff x multiplier^(n-1), capped at max_backoff."""
    policy = RetryPolicy(max_attempts=10, backoff=1, multiplier=2, max_backoff=5, jitter="none")
    delays = []
    for attempts in range(1, 6):
        decision = decide_retry(
            policy, RetryState(attempts=attempts), RetryableError("x"), 10.0, random.Random(0)
        )
        assert isinstance(decision, Retry)
        delays.append(decision.delay)
    assert delays == [1, 2, 4, 5, 5]


def test_full_jitter_draws_once_from_the_random_source() -> None:
    """Full jitter draws uniform(0, ceiling) once, so seeded runs stay in step."""
    policy = RetryPolicy(max_attempts=3, backoff=4, multiplier=2)
    rng = random.Random(7)
    decision = decide_retry(policy, RetryState(attempts=2), RetryableError("x"), 0.0, rng)
    expected = random.Random(7).uniform(0.0, 8.0)
    assert decision == Retry(
        at=expected, delay=expected, why="backoff after 2 counted failure(s)", rate_limited=0
    )


def test_retry_after_sets_a_later_retry() -> None:
    """A Retry-After longer than the drawn backoff becomes the delay, and says so."""
    policy = RetryPolicy(backoff=1, jitter="none")
    error = RetryableError("slow down", retry_after=7)
    decision = decide_retry(policy, RetryState(attempts=1), error, 100.0, random.Random(0))
    assert isinstance(decision, Retry)
    assert (decision.at, decision.delay) == (107.0, 7.0)
    assert decision.why == "the provider asked to wait 7s"


def test_retry_after_beyond_max_backoff_gives_up_with_the_reason() -> None:
    """A provider asking for a wait past max_backoff ends the step's retries, saying why."""
    policy = RetryPolicy(max_backoff=10)
    error = RetryableError("slow down", retry_after=30)
    decision = decide_retry(policy, RetryState(attempts=1), error, 0.0, random.Random(0))
    assert isinstance(decision, GiveUp)
    assert decision.note == " (the provider asked to wait 30s, more than max_backoff 10s)"


def test_rate_limited_answers_do_not_use_up_attempts() -> None:
    """A 429 is not counted as an attempt by default: the third try of two is still allowed."""
    policy = RetryPolicy(max_attempts=2, jitter="none", backoff=1)
    error = RetryableError("429", rate_limited=True)
    decision = decide_retry(
        policy, RetryState(attempts=2, rate_limited=0), error, 0.0, random.Random(0)
    )
    assert isinstance(decision, Retry)
    assert decision.rate_limited == 1


def test_too_many_rate_limited_answers_give_up() -> None:
    """Past max_rate_limited uncounted 429s the step gives up, naming how many it got."""
    policy = RetryPolicy(max_rate_limited=2)
    error = RetryableError("429", rate_limited=True)
    decision = decide_retry(
        policy, RetryState(attempts=3, rate_limited=2), error, 0.0, random.Random(0)
    )
    assert isinstance(decision, GiveUp)
    assert decision.note == " (gave up after 3 rate-limited attempts)"
    assert decision.rate_limited == 3


def test_no_retry_past_the_total_timeout() -> None:
    """A retry that would start at or after the step's deadline gives up instead."""
    policy = RetryPolicy(backoff=5, jitter="none")
    state = RetryState(attempts=1, deadline=104.0)
    decision = decide_retry(policy, state, RetryableError("x"), 100.0, random.Random(0))
    assert isinstance(decision, GiveUp)
    assert decision.note == " (no time left in the step's total_timeout)"


def test_a_fallback_is_not_retried() -> None:
    """An attempt served by a fallback gives up at once: the next fallback takes over."""
    state = RetryState(attempts=1, in_fallback=True)
    decision = decide_retry(RetryPolicy(), state, RetryableError("x"), 0.0, random.Random(0))
    assert isinstance(decision, GiveUp)


def test_a_quality_error_is_retried() -> None:
    """A weak answer (QualityError) is retryable like any transient failure."""
    error = QualityError("low score", score=0.1)
    decision = decide_retry(RetryPolicy(), RetryState(attempts=1), error, 0.0, random.Random(0))
    assert isinstance(decision, Retry)
