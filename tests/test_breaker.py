"""The circuit breaker state machine (``_resilience._breaker``), alone: no scheduler, no clock.

The scheduler passes ``now`` to every method, so these tests drive time by hand.
"""

from __future__ import annotations

from typing import Any

import attrs
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

import cadenza
from cadenza._resilience._breaker import CircuitBreaker
from cadenza._spec._policies import BreakerPolicy


def breaker(**policy: Any) -> CircuitBreaker:
    return CircuitBreaker(policy=BreakerPolicy(**policy))


def fail_at(b: CircuitBreaker, *times: float) -> list[str | None]:
    return [b.record_failure(t) for t in times]


def opened(**policy: Any) -> CircuitBreaker:
    """A breaker that opened at t=0 (cooldown 30 unless given)."""
    policy.setdefault("failures", 1)
    policy.setdefault("cooldown", 30.0)
    b = breaker(**policy)
    assert fail_at(b, *[0.0] * policy["failures"])[-1] == "open"
    return b


def half_open(**policy: Any) -> CircuitBreaker:
    """A breaker that opened at t=0 and is half-open at t=30, its probe not started."""
    b = opened(**policy)
    assert b.refresh(30.0) == "half_open"
    return b


# -- the policy ------------------------------------------------------------------


def test_policy_defaults() -> None:
    """A bare ``breaker: {}`` opens after 5 failures in 60 s and cools down for 30 s."""
    policy = cadenza.BreakerPolicy()
    assert (policy.failures, policy.window, policy.cooldown) == (5, 60.0, 30.0)
    assert (policy.failure_rate, policy.min_calls) == (None, 10)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("failures", 0),
        ("min_calls", 0),
        ("window", 0),
        ("cooldown", -1),
        ("failure_rate", 0),
        ("failure_rate", 1.5),
    ],
)
def test_policy_rejects_out_of_range_values(field: str, value: float) -> None:
    """Each field refuses values outside its range, naming the field and the value."""
    with pytest.raises(ValueError, match=rf"{field}: must .*got {value!r}"):
        BreakerPolicy(**{field: value})


# -- closed -> open ----------------------------------------------------------------


def test_opens_after_n_failures_within_the_window() -> None:
    """The ``failures``-th failure within ``window`` seconds opens the breaker."""
    b = breaker(failures=3, window=10.0)
    assert fail_at(b, 0.0, 1.0) == [None, None]
    assert b.state == "closed"
    assert b.admits()
    assert b.record_failure(2.0) == "open"
    assert b.state == "open"
    assert b.opened_at == 2.0
    assert not b.admits()


def test_successes_in_between_do_not_reset_the_count() -> None:
    """Count mode counts failures in the window, not consecutive failures."""
    b = breaker(failures=3, window=10.0)
    b.record_failure(0.0)
    b.record_success(1.0)
    b.record_failure(2.0)
    b.record_success(3.0)
    assert b.record_failure(4.0) == "open"


def test_failures_older_than_the_window_do_not_count() -> None:
    """Failures that fell out of the window are forgotten."""
    b = breaker(failures=3, window=10.0)
    assert fail_at(b, 0.0, 5.0, 10.5, 15.5) == [None, None, None, None]
    assert b.state == "closed"
    assert b.record_failure(16.0) == "open"  # 10.5, 15.5 and 16.0 are in the window


def test_a_failure_exactly_window_seconds_old_still_counts() -> None:
    """The window is closed at its old end: an outcome ``window`` seconds ago is inside."""
    b = breaker(failures=2, window=10.0)
    b.record_failure(0.0)
    assert b.record_failure(10.0) == "open"


def test_failure_rate_waits_for_min_calls() -> None:
    """With ``failure_rate``, nothing opens until ``min_calls`` calls ended in the window."""
    b = breaker(failures=100, failure_rate=0.5, min_calls=4, window=60.0)
    assert fail_at(b, 0.0, 1.0) == [None, None]  # 100 % failed, but only 2 calls
    assert b.record_success(2.0) is None
    assert b.state == "closed"
    assert b.record_failure(3.0) == "open"  # 4 calls, 3 failed: 75 % >= 50 %


def test_failure_rate_below_the_threshold_stays_closed() -> None:
    """A share of failures under ``failure_rate`` keeps the breaker closed."""
    b = breaker(failures=100, failure_rate=0.5, min_calls=4, window=60.0)
    for t in range(6):
        b.record_success(float(t))
    assert fail_at(b, 6.0, 7.0, 8.0) == [None, None, None]  # 3 of 9 failed
    assert b.state == "closed"


def test_failure_rate_counts_only_calls_within_the_window() -> None:
    """Old successes leave the window and stop diluting the failure rate."""
    b = breaker(failures=100, failure_rate=0.5, min_calls=2, window=10.0)
    for t in range(5):
        b.record_success(float(t))
    assert b.record_failure(5.0) is None  # 1 of 6
    assert b.record_failure(14.5) == "open"  # the window now holds 5.0 and 14.5: 2 of 2


def test_neutral_outcomes_never_open_the_breaker() -> None:
    """429s, 4xx and cancelled calls (neutral) neither count as failures nor as calls."""
    b = breaker(failures=1, failure_rate=0.1, min_calls=1)
    for _ in range(50):
        b.record_neutral()
    assert b.state == "closed"
    assert b.admits()


# -- open -> half_open -------------------------------------------------------------


def test_open_admits_nothing_until_the_cooldown_is_over() -> None:
    """An open breaker refuses calls until ``cooldown`` seconds after it opened."""
    b = opened(cooldown=30.0)
    for now in (0.0, 10.0, 29.999):
        assert b.refresh(now) is None
        assert b.state == "open"
        assert not b.admits()
    assert b.reopens_at == 30.0
    assert b.refresh(30.0) == "half_open"
    assert b.admits()


def test_failures_of_calls_that_started_before_it_opened_do_not_extend_the_cooldown() -> None:
    """A failure recorded while open is ignored: the cooldown runs from the opening."""
    b = opened(cooldown=30.0)
    assert b.record_failure(20.0) is None
    assert b.reopens_at == 30.0


# -- half_open ------------------------------------------------------------------------


def test_half_open_admits_exactly_one_probe() -> None:
    """Half-open lets one call through, the probe; the next waits until the probe's outcome."""
    b = half_open()
    assert b.admits()
    assert b.call_started() is True
    assert b.probe_in_flight
    assert not b.admits()
    assert b.refresh(100.0) is None  # time alone does not free the probe slot
    assert not b.admits()


def test_probe_success_closes_the_breaker_and_forgets_old_failures() -> None:
    """A successful probe closes the breaker with a clean window."""
    b = half_open(failures=2, window=100.0)
    probe = b.call_started()
    assert b.record_success(31.0, probe=probe) == "closed"
    assert b.admits()
    assert b.record_failure(32.0) is None  # the failure before the opening is forgotten
    assert b.state == "closed"


def test_probe_failure_reopens_with_a_new_cooldown() -> None:
    """A failed probe opens the breaker again, and the cooldown starts over."""
    b = half_open(cooldown=30.0)
    probe = b.call_started()
    assert b.record_failure(35.0, probe=probe) == "open"
    assert b.opened_at == 35.0
    assert not b.admits()
    assert b.refresh(64.9) is None
    assert b.refresh(65.0) == "half_open"


def test_neutral_probe_outcome_frees_the_probe_slot() -> None:
    """A probe answered with a neutral outcome (429) lets the next probe through."""
    b = half_open()
    probe = b.call_started()
    assert not b.admits()
    b.record_neutral(probe=probe)
    assert b.state == "half_open"
    assert b.admits()


def test_calls_started_while_closed_are_not_probes() -> None:
    """call_started() says whether the call is the probe: only in half-open."""
    b = breaker(failures=1)
    assert b.call_started() is False
    b.record_failure(0.0)
    assert b.call_started() is False  # open: the scheduler does not dispatch, but if it did
    b.refresh(30.0)
    assert b.call_started() is True


@pytest.mark.parametrize("outcome", ["success", "failure", "neutral"])
def test_outcomes_of_older_calls_do_not_decide_a_half_open_breaker(outcome: str) -> None:
    """While half-open, a call that started before the breaker opened changes nothing: it
    neither closes nor reopens the breaker, nor frees the probe's slot."""
    b = breaker(failures=2, cooldown=10.0)
    older = b.call_started()  # a long call, started while closed
    fail_at(b, 0.0, 0.0)
    assert b.refresh(10.0) == "half_open"
    assert b.call_started() is True  # the probe
    if outcome == "neutral":
        b.record_neutral(probe=older)
    elif outcome == "success":
        assert b.record_success(12.0, probe=older) is None
    else:
        assert b.record_failure(12.0, probe=older) is None
    assert b.state == "half_open"
    assert not b.admits()


# -- properties ----------------------------------------------------------------------


@attrs.define
class Call:
    """A call the model started: whether it was a probe, and in which half-open episode."""

    probe: bool
    episode: int


@attrs.define
class Model:
    """Drives a breaker through random operations and checks it at every step."""

    b: CircuitBreaker
    now: float = 0.0
    calls: list[Call] = attrs.field(factory=list)
    episode: int = 0  # how many times the breaker went half-open
    window: list[tuple[float, bool]] = attrs.field(factory=list)  # closed-state outcomes

    def refresh(self) -> None:
        b = self.b
        before, reopens_at = b.state, b.reopens_at
        if b.refresh(self.now) == "half_open":
            assert before == "open"
            assert self.now >= reopens_at, "half-open before the cooldown was over"
            self.episode += 1
        if b.state == "open" and self.now < b.reopens_at:
            assert not b.admits(), "an open breaker admitted a call before its cooldown"

    def probes_in_flight(self) -> int:
        return sum(1 for c in self.calls if c.probe and c.episode == self.episode)

    def start(self) -> None:
        self.refresh()
        b = self.b
        if not b.admits():
            return
        assert b.state != "open"
        half_open = b.state == "half_open"
        if half_open:
            assert self.probes_in_flight() == 0, "a second probe was admitted"
        probe = b.call_started()
        assert probe == half_open
        self.calls.append(Call(probe=probe, episode=self.episode))

    def expected_to_open(self, failed: bool) -> bool:
        """What a closed breaker should do with this outcome, by the policy's definition."""
        policy = self.b.policy
        self.window.append((self.now, failed))
        self.window = [(t, f) for t, f in self.window if t >= self.now - policy.window]
        failures = sum(1 for _, f in self.window if f)
        calls = len(self.window)
        if not failed:
            return False
        if failures >= policy.failures:
            return True
        rate = policy.failure_rate
        return rate is not None and calls >= policy.min_calls and failures / calls >= rate

    def end(self, index: int, outcome: str) -> None:
        if not self.calls:
            return
        b = self.b
        call = self.calls.pop(index % len(self.calls))
        before, busy = b.state, b.probe_in_flight
        if outcome == "neutral":
            b.record_neutral(probe=call.probe)
            assert b.state == before
            if before == "half_open":
                assert b.probe_in_flight == (busy and not call.probe)
            return
        failed = outcome == "failure"
        should_open = self.expected_to_open(failed) if before == "closed" else False
        if failed:
            changed = b.record_failure(self.now, probe=call.probe)
        else:
            changed = b.record_success(self.now, probe=call.probe)
        if before == "closed":
            assert (changed == "open") == should_open
        elif before == "open":
            assert changed is None  # outcomes of calls from before the opening change nothing
        elif call.probe:
            assert changed == ("open" if failed else "closed")
        else:  # half-open learns only from its probe
            assert changed is None
            assert b.probe_in_flight == busy
        if changed is not None:
            self.window = []


operations = st.lists(
    st.one_of(
        st.tuples(st.just("advance"), st.integers(0, 40)),
        st.tuples(st.just("start"), st.just(0)),
        st.tuples(st.sampled_from(["success", "failure", "neutral"]), st.integers(0, 20)),
    ),
    max_size=80,
)
policies = st.builds(
    BreakerPolicy,
    failures=st.integers(1, 5),
    window=st.integers(1, 30).map(float),
    failure_rate=st.none() | st.sampled_from([0.25, 0.5, 0.75, 1.0]),
    min_calls=st.integers(1, 6),
    cooldown=st.integers(1, 30).map(float),
)


@settings(max_examples=400, deadline=None)
@given(policy=policies, ops=operations)
@example(  # open, probe, probe fails, cooldown again, probe succeeds
    policy=BreakerPolicy(failures=1, cooldown=5.0),
    ops=[
        ("start", 0),
        ("failure", 0),
        ("advance", 5),
        ("start", 0),
        ("start", 0),
        ("failure", 0),
        ("advance", 4),
        ("start", 0),
        ("advance", 1),
        ("start", 0),
        ("success", 0),
    ],
)
@example(  # a call from before the opening ends with a 429 while the probe runs
    policy=BreakerPolicy(failures=2, cooldown=10.0),
    ops=[
        ("start", 0),
        ("start", 0),
        ("start", 0),
        ("failure", 1),
        ("failure", 1),
        ("advance", 10),
        ("start", 0),
        ("neutral", 0),
        ("start", 0),
    ],
)
def test_breaker_never_admits_early_or_twice_in_half_open(
    policy: BreakerPolicy, ops: list[tuple[str, int]]
) -> None:
    """For any outcomes at any times: no call while open before the cooldown, one probe at a
    time, a half-open breaker decided by its probe alone, and a closed breaker opening
    exactly when its policy says so."""
    model = Model(CircuitBreaker(policy=policy))
    for op, arg in ops:
        if op == "advance":
            model.now += arg
            model.refresh()
        elif op == "start":
            model.start()
        else:
            model.end(arg, op)
