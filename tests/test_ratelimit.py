"""Tests of the per-agent rate limiter: unit tests on a fake clock, then properties."""

from __future__ import annotations

import datetime
import heapq
import json
import math
from collections import deque
from fractions import Fraction
from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cadenza._resilience._ratelimit import RateLimiter, estimate_tokens
from cadenza._spec._policies import RateLimitPolicy

# -- policy -----------------------------------------------------------------------------


@pytest.mark.parametrize("field", ["requests_per_minute", "tokens_per_minute", "burst"])
@pytest.mark.parametrize("value", [0, -1, -0.5, math.inf, math.nan, True, "60"])
def test_policy_rejects_values_that_are_not_positive_finite_numbers(field: str, value: Any) -> None:
    """Each policy value must be a finite number > 0, and the error names the field."""
    with pytest.raises(ValueError, match=rf"^{field} must be a finite number > 0, got "):
        RateLimitPolicy(**{field: value})


def test_policy_accepts_ints_and_floats() -> None:
    """Whole and fractional values are both fine."""
    policy = RateLimitPolicy(requests_per_minute=60, tokens_per_minute=1500.5, burst=0.25)
    assert policy.requests_per_minute == 60
    assert policy.tokens_per_minute == 1500.5
    assert policy.burst == 0.25


def test_limiter_without_limits_never_waits() -> None:
    """A policy with no limit set lets every call start at once."""
    limiter = RateLimiter(RateLimitPolicy(), now=0.0)
    for _ in range(1000):
        assert limiter.wait_time(0.0, tokens=10**9) == 0.0
        limiter.acquire(0.0, tokens=10**9)
        limiter.settle(0.0, estimated=10**9, actual=10**10)
    assert limiter.wait_time(0.0, tokens=10**9) == 0.0


# -- requests ---------------------------------------------------------------------------


def test_requests_are_paced_evenly_without_burst() -> None:
    """Without burst, requests start one per 60 / requests_per_minute seconds."""
    limiter = RateLimiter(RateLimitPolicy(requests_per_minute=60), now=100.0)
    assert limiter.wait_time(100.0) == 0.0
    limiter.acquire(100.0)
    assert limiter.wait_time(100.0) == 1.0
    assert limiter.wait_time(100.25) == 0.75
    assert limiter.wait_time(101.0) == 0.0
    limiter.acquire(101.0)
    assert limiter.wait_time(101.0) == 1.0


def test_idle_time_is_not_saved_without_burst() -> None:
    """Without burst, a long idle spell still allows only one request at once."""
    limiter = RateLimiter(RateLimitPolicy(requests_per_minute=60), now=0.0)
    limiter.acquire(0.0)
    limiter.acquire(3600.0)
    assert limiter.wait_time(3600.0) == 1.0


def test_queued_requests_start_on_an_exact_grid() -> None:
    """Calls that wait out each wait_time start at k * 60 / rpm, without drift."""
    limiter = RateLimiter(RateLimitPolicy(requests_per_minute=7), now=0.0)
    now = 0.0
    starts = []
    for _ in range(50):
        now += limiter.wait_time(now)
        limiter.acquire(now)
        starts.append(now)
    for k, start in enumerate(starts):
        assert Fraction(start) >= Fraction(60 * k, 7)
        assert start == pytest.approx(60 * k / 7, abs=1e-9)


def test_burst_lets_an_idle_agent_start_several_requests_at_once() -> None:
    """burst=b saves up to rpm * b / 60 requests, then pacing resumes."""
    limiter = RateLimiter(RateLimitPolicy(requests_per_minute=60, burst=3), now=0.0)
    for _ in range(3):
        limiter.acquire(0.0)
    assert limiter.wait_time(0.0) == 1.0
    limiter.acquire(1.0)
    assert limiter.wait_time(1.0) == 1.0


def test_burst_saving_stops_at_capacity() -> None:
    """However long the agent idles, it saves no more than the burst capacity."""
    limiter = RateLimiter(RateLimitPolicy(requests_per_minute=60, burst=3), now=0.0)
    for _ in range(3):
        limiter.acquire(1000.0)
    assert limiter.wait_time(1000.0) == 1.0


def test_burst_smaller_than_one_request_still_paces() -> None:
    """A burst worth less than one request paces requests like no burst at all."""
    limiter = RateLimiter(RateLimitPolicy(requests_per_minute=60, burst=0.5), now=0.0)
    limiter.acquire(0.0)
    assert limiter.wait_time(0.0) == 1.0


def test_acquire_before_the_wait_is_over_raises() -> None:
    """acquire() refuses a call that wait_time() says must still wait."""
    limiter = RateLimiter(RateLimitPolicy(requests_per_minute=60), now=0.0)
    limiter.acquire(0.0)
    with pytest.raises(ValueError, match=r"may start only in 0\.5s; call acquire\(\) once"):
        limiter.acquire(0.5)
    limiter.acquire(1.0)


def test_time_going_backwards_is_rejected() -> None:
    """Every method refuses a time earlier than one already seen."""
    limiter = RateLimiter(RateLimitPolicy(requests_per_minute=60, tokens_per_minute=600), now=5.0)
    with pytest.raises(ValueError, match=r"now=4\.0 is earlier than a time already seen \(5\.0\)"):
        limiter.wait_time(4.0)
    with pytest.raises(ValueError, match="never goes backwards"):
        limiter.acquire(4.0)
    with pytest.raises(ValueError, match="never goes backwards"):
        limiter.settle(4.0, estimated=1, actual=1)


@pytest.mark.parametrize("now", [math.nan, math.inf, "0"])
def test_time_must_be_a_finite_number(now: Any) -> None:
    """A NaN, infinite or non-numeric time is refused with a message naming it."""
    with pytest.raises(ValueError, match="now must be a finite number of seconds"):
        RateLimiter(RateLimitPolicy(), now=now)


# -- tokens -----------------------------------------------------------------------------


def test_token_estimate_waits_for_refill() -> None:
    """A call waits until the token bucket holds its estimate."""
    # 600 tokens per minute is 10 per second; burst=6 holds 60 tokens.
    limiter = RateLimiter(RateLimitPolicy(tokens_per_minute=600, burst=6), now=0.0)
    limiter.acquire(0.0, tokens=50)
    assert limiter.wait_time(0.0, tokens=10) == 0.0
    assert limiter.wait_time(0.0, tokens=30) == 2.0
    assert limiter.wait_time(2.0, tokens=30) == 0.0


def test_call_larger_than_the_bucket_starts_when_full_and_leaves_debt() -> None:
    """An estimate above capacity starts on a full bucket, and the debt delays the next call."""
    limiter = RateLimiter(RateLimitPolicy(tokens_per_minute=600, burst=6), now=0.0)
    assert limiter.wait_time(0.0, tokens=200) == 0.0
    limiter.acquire(0.0, tokens=200)
    # Level 60 - 200 = -140; 10 more tokens need 150 tokens of refill at 10 per second.
    assert limiter.wait_time(0.0, tokens=10) == 15.0


def test_call_larger_than_the_bucket_waits_for_a_full_bucket() -> None:
    """An estimate above capacity waits until the bucket is full, not forever."""
    limiter = RateLimiter(RateLimitPolicy(tokens_per_minute=600, burst=6), now=0.0)
    limiter.acquire(0.0, tokens=30)
    assert limiter.wait_time(0.0, tokens=10**6) == 3.0
    limiter.acquire(3.0, tokens=10**6)


def test_every_call_exceeds_a_bucket_without_burst() -> None:
    """Without burst any estimate starts once earlier tokens are paid off."""
    limiter = RateLimiter(RateLimitPolicy(tokens_per_minute=600), now=0.0)
    limiter.acquire(0.0, tokens=50)
    assert limiter.wait_time(0.0, tokens=1) == 5.0
    assert limiter.wait_time(0.0, tokens=10**6) == 5.0
    limiter.acquire(5.0, tokens=10**6)
    assert limiter.wait_time(5.0, tokens=1) == 100_000.0


def test_zero_token_estimate_still_waits_out_debt() -> None:
    """A call estimated at 0 tokens cannot start while the bucket is in debt."""
    limiter = RateLimiter(RateLimitPolicy(tokens_per_minute=600), now=0.0)
    limiter.acquire(0.0, tokens=20)
    assert limiter.wait_time(0.0, tokens=0) == 2.0


def test_settle_with_more_actual_tokens_adds_debt() -> None:
    """An underestimate charges the difference, so later calls wait longer."""
    limiter = RateLimiter(RateLimitPolicy(tokens_per_minute=600, burst=6), now=0.0)
    limiter.acquire(0.0, tokens=60)
    assert limiter.wait_time(1.0, tokens=10) == 0.0
    limiter.settle(1.0, estimated=60, actual=160)
    # Level at 1 s: 0 + 10 - 100 = -90; 10 tokens need 100 more.
    assert limiter.wait_time(1.0, tokens=10) == 10.0


def test_settle_with_fewer_actual_tokens_refunds_up_to_capacity() -> None:
    """An overestimate is given back, but the bucket never holds more than its capacity."""
    limiter = RateLimiter(RateLimitPolicy(tokens_per_minute=600, burst=6), now=0.0)
    limiter.acquire(0.0, tokens=60)
    limiter.settle(0.0, estimated=60, actual=20)
    assert limiter.wait_time(0.0, tokens=40) == 0.0
    assert limiter.wait_time(0.0, tokens=41) == 0.1
    limiter.settle(0.0, estimated=10_000, actual=0)
    assert limiter.wait_time(0.0, tokens=60) == 0.0
    limiter.acquire(0.0, tokens=60)
    assert limiter.wait_time(0.0, tokens=1) == 0.1


def test_refund_only_repays_debt_without_burst() -> None:
    """Without burst a refund cancels debt but saves nothing beyond it."""
    limiter = RateLimiter(RateLimitPolicy(tokens_per_minute=600), now=0.0)
    limiter.acquire(0.0, tokens=100)
    limiter.settle(1.0, estimated=100, actual=0)  # level -90 + 100, capped at 0
    assert limiter.wait_time(1.0, tokens=50) == 0.0
    limiter.acquire(1.0, tokens=50)
    assert limiter.wait_time(1.0, tokens=1) == 5.0


def test_wait_time_is_set_by_the_slower_limit() -> None:
    """With both limits set a call waits for whichever bucket is later."""
    policy = RateLimitPolicy(requests_per_minute=60, tokens_per_minute=600)
    limiter = RateLimiter(policy, now=0.0)
    limiter.acquire(0.0, tokens=5)
    assert limiter.wait_time(0.0, tokens=5) == 1.0  # requests: 1 s; tokens: 0.5 s
    limiter.acquire(1.0, tokens=50)
    assert limiter.wait_time(1.0, tokens=5) == 5.0  # requests: 1 s; tokens: 5 s


def test_request_limit_alone_ignores_tokens() -> None:
    """Without a token limit, estimates and settlements change nothing."""
    limiter = RateLimiter(RateLimitPolicy(requests_per_minute=60), now=0.0)
    limiter.acquire(0.0, tokens=10**9)
    limiter.settle(0.5, estimated=0, actual=10**9)
    assert limiter.wait_time(0.5, tokens=10**9) == 0.5


@pytest.mark.parametrize("value", [-1, 1.5, True, None])
def test_token_counts_must_be_non_negative_ints(value: Any) -> None:
    """Token counts are ints >= 0, and the error names the argument."""
    limiter = RateLimiter(RateLimitPolicy(tokens_per_minute=600), now=0.0)
    with pytest.raises(ValueError, match=r"^tokens must be an int >= 0, got "):
        limiter.wait_time(0.0, tokens=value)
    with pytest.raises(ValueError, match=r"^tokens must be an int >= 0, got "):
        limiter.acquire(0.0, tokens=value)
    with pytest.raises(ValueError, match=r"^estimated must be an int >= 0, got "):
        limiter.settle(0.0, estimated=value, actual=1)
    with pytest.raises(ValueError, match=r"^actual must be an int >= 0, got "):
        limiter.settle(0.0, estimated=1, actual=value)


def test_waiting_the_returned_time_is_enough_on_a_large_clock() -> None:
    """now + wait_time(now) is never early, even where floats are coarse."""
    policy = RateLimitPolicy(requests_per_minute=7, tokens_per_minute=1234.5)
    now = 1e9 + 0.1
    limiter = RateLimiter(policy, now=now)
    for tokens in [3, 1000, 7, 50_000, 1]:
        now += limiter.wait_time(now, tokens=tokens)
        assert limiter.wait_time(now, tokens=tokens) == 0.0
        limiter.acquire(now, tokens=tokens)


def test_repr_shows_the_policy() -> None:
    """A limiter's repr names its policy."""
    limiter = RateLimiter(RateLimitPolicy(requests_per_minute=60), now=0.0)
    assert repr(limiter) == (
        "RateLimiter(RateLimitPolicy(requests_per_minute=60, tokens_per_minute=None, burst=None))"
    )


# -- estimate_tokens ----------------------------------------------------------------------


def test_estimate_is_a_quarter_of_the_compact_json_rounded_up() -> None:
    """The estimate is ceil(len(compact JSON) / 4)."""
    inputs = {"prompt": "hello world!", "n": [1, 2, 3]}
    text = json.dumps(inputs, separators=(",", ":"))
    assert len(text) == 37
    assert estimate_tokens(inputs) == 10


def test_estimate_is_at_least_one() -> None:
    """Empty inputs still count as one token."""
    assert estimate_tokens({}) == 1


def test_estimate_counts_characters_not_escapes() -> None:
    """Non-ASCII text counts by characters, not by its JSON escapes."""
    assert estimate_tokens({"p": "é" * 40}) == estimate_tokens({"p": "e" * 40})


def test_estimate_is_deterministic_and_independent_of_key_order() -> None:
    """The same inputs, in any key order, give the same estimate."""
    a = {"a": "x" * 100, "b": {"c": [1, 2], "d": None}}
    b = {"b": {"d": None, "c": [1, 2]}, "a": "x" * 100}
    assert estimate_tokens(a) == estimate_tokens(b) == estimate_tokens(dict(a))


def test_estimate_accepts_values_json_cannot_hold() -> None:
    """Odd values, odd keys and cycles still give an estimate instead of an error."""
    assert estimate_tokens({"when": datetime.date(2024, 1, 2), "tags": {"x"}}) >= 1
    assert estimate_tokens({"m": {(1, 2): "tuple key"}}) >= 1
    cyclic: dict[str, Any] = {}
    cyclic["self"] = cyclic
    assert estimate_tokens(cyclic) >= 1


nested_values = st.recursive(
    st.none() | st.text(max_size=30),
    lambda children: st.lists(children, max_size=5),
    max_leaves=20,
)
"""Nested lists of text and None, small enough to draw without retries (unbounded
``st.recursive`` overshot its 100 leaves on most draws and cost ~8 s)."""


@given(st.dictionaries(st.text(max_size=10), nested_values, max_size=8))
def test_estimate_grows_with_the_inputs(inputs: dict[str, Any]) -> None:
    """The estimate is positive and never smaller for inputs with one more key."""
    bigger = {**inputs, "\x00extra": "more text"}
    assert 1 <= estimate_tokens(inputs) <= estimate_tokens(bigger)


# -- properties ---------------------------------------------------------------------------


@attrs.frozen
class Call:
    gap: float  # seconds between the previous call's request and this one's
    estimate: int
    actual: int
    duration: float


@attrs.frozen
class Entry:
    """One line of what the limiter charged, in the order it happened."""

    time: float
    requests: int  # 1 for a start, 0 for a settlement
    tokens: int  # the estimate for a start, actual - estimate for a settlement
    estimate: int  # the start's estimate (its cost), 0 for a settlement


@attrs.frozen
class Simulation:
    limiter: RateLimiter
    now: float
    ledger: list[Entry]


def simulate(policy: RateLimitPolicy, start: float, calls: list[Call]) -> Simulation:
    """Drive a limiter like the scheduler does: FIFO calls, one wake-up per wait, no polling.

    Also checks, on the way, that wait_time is never negative and is 0 at a
    wake-up when nothing settled since the wait was computed.
    """
    limiter = RateLimiter(policy, now=start)
    arrivals: deque[tuple[float, Call]] = deque()
    requested = start
    for call in calls:
        requested += call.gap
        arrivals.append((requested, call))
    queue: deque[Call] = deque()
    running: list[tuple[float, int, Call]] = []
    ledger: list[Entry] = []
    now = start
    wake: float | None = None
    disturbed = False
    for _ in range(10_000):
        if not (arrivals or queue or running):
            break
        times = [wake] if wake is not None else []
        times += [arrivals[0][0]] if arrivals else []
        times += [running[0][0]] if running else []
        now = max(now, min(times))
        while running and running[0][0] <= now:
            _, _, done = heapq.heappop(running)
            limiter.settle(now, estimated=done.estimate, actual=done.actual)
            ledger.append(Entry(now, 0, done.actual - done.estimate, 0))
            disturbed = True
        while arrivals and arrivals[0][0] <= now:
            queue.append(arrivals.popleft()[1])
        if wake is not None and now >= wake and not disturbed:
            assert limiter.wait_time(now, tokens=queue[0].estimate) == 0.0
        wake = None
        while queue:
            call = queue[0]
            wait = limiter.wait_time(now, tokens=call.estimate)
            assert wait >= 0.0
            if wait > 0.0:
                wake = now + wait
                assert wake > now
                disturbed = False
                break
            limiter.acquire(now, tokens=call.estimate)
            ledger.append(Entry(now, 1, call.estimate, call.estimate))
            heapq.heappush(running, (now + call.duration, len(ledger), call))
            queue.popleft()
    else:
        pytest.fail("the simulation made no progress: a call waits forever")
    return Simulation(limiter, now, ledger)


def rate_and_capacity(per_minute: float, burst: float | None) -> tuple[Fraction, Fraction]:
    rate = Fraction(per_minute) / 60
    return rate, rate * Fraction(burst) if burst is not None else Fraction(0)


gaps = st.one_of(st.just(0.0), st.floats(0, 30), st.floats(0, 1e-6))
calls_st = st.lists(
    st.builds(
        Call,
        gap=gaps,
        estimate=st.integers(0, 5000),
        actual=st.integers(0, 10_000),
        duration=st.one_of(st.just(0.0), st.floats(0, 20)),
    ),
    max_size=30,
)
starts = st.one_of(st.just(0.0), st.floats(-1e6, 1e9))
requests_per_minute = st.one_of(st.integers(1, 600), st.floats(0.5, 10_000))
tokens_per_minute = st.one_of(st.integers(100, 100_000), st.floats(100, 1e6))
bursts = st.one_of(st.none(), st.floats(0.01, 120))
policies = st.builds(
    RateLimitPolicy,
    requests_per_minute=st.none() | requests_per_minute,
    tokens_per_minute=st.none() | tokens_per_minute,
    burst=bursts,
)
SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(policies, starts, calls_st)
def test_every_start_fits_the_documented_bound(
    policy: RateLimitPolicy, start: float, calls: list[Call]
) -> None:
    """Each start at s of cost c, for every earlier t: charged in [t, s] <= max(C, c) + r(s - t)."""
    ledger = simulate(policy, start, calls).ledger
    assert sum(entry.requests for entry in ledger) == len(calls)
    limits = []
    if policy.requests_per_minute is not None:
        limits.append(("requests", *rate_and_capacity(policy.requests_per_minute, policy.burst)))
    if policy.tokens_per_minute is not None:
        limits.append(("tokens", *rate_and_capacity(policy.tokens_per_minute, policy.burst)))
    for k, entry in enumerate(ledger):
        if not entry.requests:
            continue
        s = Fraction(entry.time)
        cost = {"requests": 1, "tokens": entry.estimate}
        charged = {"requests": 0, "tokens": 0}
        # Charges are step-wise and the allowance grows with s - t, so it is
        # enough to let the window open at each earlier ledger line.
        for j in range(k, -1, -1):
            charged["requests"] += ledger[j].requests
            charged["tokens"] += ledger[j].tokens
            span = s - Fraction(ledger[j].time)
            for name, rate, capacity in limits:
                allowance = max(capacity, Fraction(cost[name])) + rate * span
                assert charged[name] <= allowance, (name, j, k)


@SETTINGS
@given(requests_per_minute, starts, calls_st)
def test_no_minute_holds_more_than_ceil_rpm_requests_without_burst(
    rpm: float, start: float, calls: list[Call]
) -> None:
    """Without burst, any half-open 60-second window holds at most ceil(rpm) request starts."""
    ledger = simulate(RateLimitPolicy(requests_per_minute=rpm), start, calls).ledger
    times = [Fraction(entry.time) for entry in ledger if entry.requests]
    for i, first in enumerate(times):
        in_window = sum(1 for t in times[i:] if t - first < 60)
        assert in_window <= math.ceil(rpm)


@SETTINGS
@given(tokens_per_minute, starts, calls_st)
def test_no_minute_holds_more_than_tpm_plus_one_call_with_accurate_estimates(
    tpm: float, start: float, calls: list[Call]
) -> None:
    """Without burst, exact estimates: tokens started in any 60 s window < tpm + the last one's."""
    calls = [attrs.evolve(call, actual=call.estimate) for call in calls]
    ledger = simulate(RateLimitPolicy(tokens_per_minute=tpm), start, calls).ledger
    started = [(Fraction(entry.time), entry.estimate) for entry in ledger if entry.requests]
    for i, (first, _) in enumerate(started):
        window = [(t, tokens) for t, tokens in started[i:] if t - first < 60]
        last_estimate = window[-1][1]
        assert sum(tokens for _, tokens in window) < Fraction(tpm) + last_estimate


@SETTINGS
@given(policies, starts, calls_st, st.integers(0, 20_000))
def test_wait_time_is_never_negative_and_waiting_it_is_enough_and_needed(
    policy: RateLimitPolicy, start: float, calls: list[Call], tokens: int
) -> None:
    """After any history, wait_time is >= 0, is 0 after waiting it out, and > 0 halfway there."""
    sim = simulate(policy, start, calls)
    limiter, now = sim.limiter, sim.now
    wait = limiter.wait_time(now, tokens=tokens)
    assert wait >= 0.0
    if wait > 1e-3:
        assert limiter.wait_time(now + wait / 2, tokens=tokens) > 0.0
    assert limiter.wait_time(now + wait, tokens=tokens) == 0.0
    limiter.acquire(now + wait, tokens=tokens)
