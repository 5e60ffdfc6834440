"""AggregatorConformance: the tests every aggregation strategy must pass, as a class to subclass.

An aggregator plugin runs the suite from its own tests by subclassing it and
saying how to build its aggregator::

    import pytest
    import cadenza.testing

    from cadenza_unanimous import Unanimous


    class TestUnanimous(cadenza.testing.AggregatorConformance):
        @pytest.fixture
        def aggregator(self):
            return Unanimous({})

The suite feeds the aggregator :data:`ANSWER_SETS` (agreement, disagreement,
ties, failures, weights, confidences, mappings, nested and odd outputs), all
at once and one answer at a time, and pins the contract the kernel relies on
(see :class:`~cadenza.strategies.Aggregator`):

* with nothing pending, ``combine`` returns a :class:`~cadenza.strategies.Verdict`;
  while calls are pending it returns None or a Verdict;
* a supporter is an agent that answered: never one whose call failed, never
  a name that is not among the answers; ``fields`` credit only such agents;
* ``agreement`` is a share in [0, 1], and ``confidence`` is None or in
  [0, 1] (every answer's confidence is);
* ``combine`` is pure: the same answers, or an equal copy of them, give equal
  verdicts, and the answers (outputs included) are left as they were;
* when every call failed the verdict has no supporters (a conflict is
  allowed): the attempt then fails, and may be retried;
* a single ok answer gives a verdict, supported by its agent unless it is a
  conflict;
* ``hedge_after(latencies)``, if the aggregator has it, returns None or a
  finite, non-negative number of seconds.

It says nothing about *which* output wins: that is the strategy's business,
for its own tests.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence
from typing import Any

import pytest

from .._agents._contract import AgentResult
from .._strategies._aggregation import Aggregator, Answer, Verdict


def answered(
    agent: str,
    output: Any,
    *,
    confidence: float | None = None,
    weight: float = 1.0,
    quality: float | None = None,
    latency: float = 0.5,
) -> Answer:
    """An ok answer from ``agent``."""
    return Answer(
        agent=agent,
        result=AgentResult(output=output, confidence=confidence),
        weight=weight,
        quality=quality,
        latency=latency,
    )


def failed(agent: str, error_type: str = "RetryableError", *, retryable: bool = True) -> Answer:
    """An answer from ``agent`` whose call failed."""
    return Answer(
        agent=agent,
        error=f"{agent} failed",
        error_type=error_type,
        retryable=retryable,
        latency=0.25,
    )


ANSWER_SETS: dict[str, tuple[Answer, ...]] = {
    "unanimous": (answered("a", "yes"), answered("b", "yes"), answered("c", "yes")),
    "majority": (answered("a", "yes"), answered("b", "no"), answered("c", "yes")),
    "tie": (answered("a", "yes"), answered("b", "no")),
    "all-different": (answered("a", "red"), answered("b", "green"), answered("c", "blue")),
    "normalizable": (answered("a", " Yes"), answered("b", "yes "), answered("c", "YES")),
    "some-failed": (
        failed("a"),
        answered("b", "yes"),
        failed("c", "PermanentError", retryable=False),
        answered("d", "yes"),
        failed("e", "QualityError"),
    ),
    "all-failed": (failed("a"), failed("b", "AgentTimeoutError"), failed("c", "PermanentError")),
    "one-answer": (answered("a", "yes"),),
    "one-failed": (failed("a"),),
    "weighted": (
        answered("light-1", "yes", weight=1.0, quality=0.5),
        answered("light-2", "yes", weight=1.0, confidence=0.4),
        answered("heavy", "no", weight=5.0, quality=1.0, confidence=0.9),
    ),
    "zero-weights": (
        answered("a", "yes", weight=0.0),
        answered("b", "no", confidence=0.0),
        answered("c", "no", quality=0.0),
    ),
    "confidences": (
        answered("a", "x", confidence=None),
        answered("b", "y", confidence=0.2),
        answered("c", "z", confidence=1.0),
        answered("d", "y", confidence=0.0),
    ),
    "mappings": (
        answered("a", {"title": "Trio", "tags": ["async"], "meta": {"lang": "en"}}, confidence=0.9),
        answered("b", {"title": "Trio", "tags": ["io"], "meta": {"lang": "fr", "n": 2}}),
        answered("c", {"title": "trio", "summary": "structured concurrency"}, quality=0.8),
    ),
    "nested": (
        answered("a", {"items": [{"id": 1, "ok": True}, {"id": 2}], "empty": {}}),
        answered("b", {"items": [{"id": 1, "ok": True}, {"id": 2}], "empty": {}}),
        answered("c", {"items": [], "empty": {"x": None}}),
    ),
    "mixed-types": (
        answered("a", "text"),
        answered("b", {"text": "text"}),
        answered("c", ["text"]),
        answered("d", 1),
        answered("e", True),
        answered("f", None),
        answered("g", 1.0),
    ),
    "null-outputs": (answered("a", None), answered("b", None), failed("c")),
    "unicode": (
        answered("a", "naïve café 日本語"),
        answered("b", "NAÏVE  CAFÉ 日本語"),
        answered("c", "emoji 🎵"),
    ),
}
"""Answer sets the suite feeds every aggregator, by name; each agent answers once."""


def answer_set(case: str) -> tuple[Answer, ...]:
    """A fresh copy of ``ANSWER_SETS[case]``, so a strategy that mutates cannot spoil others."""
    return copy.deepcopy(ANSWER_SETS[case])


def _ok_agents(answers: Sequence[Answer]) -> set[str]:
    return {answer.agent for answer in answers if answer.ok}


class AggregatorConformance:
    """Tests of the :class:`~cadenza.strategies.Aggregator` contract; subclass it to run them.

    The subclass defines an ``aggregator`` fixture; see the module documentation for the
    contract and an example.
    """

    @pytest.fixture
    def aggregator(self) -> Aggregator:
        """The aggregator under test; override this fixture in your subclass."""
        pytest.fail(
            f"{type(self).__name__} must override the aggregator fixture to return the "
            "aggregator to test:\n"
            "    @pytest.fixture\n"
            "    def aggregator(self):\n"
            "        return MyAggregator.from_options({})",
            pytrace=False,
        )

    def final_verdict(self, aggregator: Aggregator, answers: Sequence[Answer]) -> Verdict:
        """``combine(answers, pending=0)``, checked to be a Verdict."""
        verdict = aggregator.combine(answers, pending=0)
        assert isinstance(verdict, Verdict), (
            f"combine(..., pending=0) must return a Verdict when no call is pending, "
            f"got {verdict!r}"
        )
        return verdict

    def check_verdict(self, verdict: Verdict, answers: Sequence[Answer]) -> None:
        """The rules every verdict obeys, whatever the answers."""
        ok = _ok_agents(answers)
        failed_only = {a.agent for a in answers} - ok
        assert not set(verdict.supporters) & failed_only, (
            f"supporters {verdict.supporters} include agents whose calls failed: "
            f"{sorted(set(verdict.supporters) & failed_only)}"
        )
        assert set(verdict.supporters) <= ok, (
            f"supporters {verdict.supporters} include names that gave no answer: "
            f"{sorted(set(verdict.supporters) - ok - failed_only)}"
        )
        assert isinstance(verdict.agreement, int | float), verdict.agreement
        assert 0.0 <= verdict.agreement <= 1.0, f"agreement {verdict.agreement} is not in [0, 1]"
        if verdict.confidence is not None:
            assert 0.0 <= verdict.confidence <= 1.0, (
                f"confidence {verdict.confidence} is not in [0, 1] though every answer's is"
            )
        assert set(verdict.fields.values()) <= ok, (
            f"fields {dict(verdict.fields)} credit agents that gave no usable answer"
        )
        assert verdict.conflict is None or isinstance(verdict.conflict, str), verdict.conflict

    # -- nothing pending -----------------------------------------------------------------

    @pytest.mark.parametrize("case", ANSWER_SETS)
    def test_returns_a_verdict_when_nothing_is_pending(
        self, aggregator: Aggregator, case: str
    ) -> None:
        """With every answer in, ``combine`` returns a Verdict."""
        self.final_verdict(aggregator, answer_set(case))

    @pytest.mark.parametrize("case", ANSWER_SETS)
    def test_verdict_obeys_the_rules(self, aggregator: Aggregator, case: str) -> None:
        """Supporters answered ok, agreement and confidence are shares, fields credit ok agents."""
        answers = answer_set(case)
        self.check_verdict(self.final_verdict(aggregator, answers), answers)

    def test_failed_calls_never_support(self, aggregator: Aggregator) -> None:
        """Agents whose calls failed are never supporters, even when they are the majority."""
        answers = (failed("a"), failed("b"), answered("c", "yes"), failed("d"), failed("e"))
        verdict = self.final_verdict(aggregator, answers)
        assert set(verdict.supporters) <= {"c"}, verdict.supporters

    def test_all_failed_has_no_supporters(self, aggregator: Aggregator) -> None:
        """When every call failed the verdict has no supporters (the attempt fails)."""
        for case in ("all-failed", "one-failed"):
            verdict = self.final_verdict(aggregator, answer_set(case))
            assert verdict.supporters == (), f"{case}: supporters {verdict.supporters}"

    def test_single_answer_is_supported_by_its_agent(self, aggregator: Aggregator) -> None:
        """One ok answer gives a verdict supported by its agent, unless it is a conflict."""
        verdict = self.final_verdict(aggregator, answer_set("one-answer"))
        if verdict.conflict is None:
            assert verdict.supporters == ("a",), (
                f"a verdict without conflict and without supporters means every call failed; "
                f"one ok answer got supporters {verdict.supporters}"
            )

    # -- purity --------------------------------------------------------------------------

    @pytest.mark.parametrize("case", ANSWER_SETS)
    def test_same_answers_give_equal_verdicts(self, aggregator: Aggregator, case: str) -> None:
        """Combining the same answers twice, or an equal copy of them, gives equal verdicts."""
        answers = answer_set(case)
        first = aggregator.combine(answers, pending=0)
        assert aggregator.combine(answers, pending=0) == first
        assert aggregator.combine(copy.deepcopy(answers), pending=0) == first
        assert aggregator.combine(list(answers), pending=0) == first

    @pytest.mark.parametrize("case", ANSWER_SETS)
    def test_answers_are_left_unchanged(self, aggregator: Aggregator, case: str) -> None:
        """``combine`` changes neither the answers nor their outputs."""
        answers = answer_set(case)
        outputs = [answer.output for answer in answers]
        aggregator.combine(answers, pending=0)
        for k in range(1, len(answers)):
            aggregator.combine(answers[:k], pending=len(answers) - k)
        assert answers == answer_set(case), "combine changed the answers"
        assert all(a.output is b for a, b in zip(answers, outputs, strict=True))

    # -- answers still pending ---------------------------------------------------------------

    @pytest.mark.parametrize("case", ANSWER_SETS)
    def test_early_verdicts_obey_the_rules(self, aggregator: Aggregator, case: str) -> None:
        """While calls are pending ``combine`` returns None or a Verdict that obeys the rules."""
        answers = answer_set(case)
        for k in range(1, len(answers)):
            so_far = answers[:k]
            verdict = aggregator.combine(so_far, pending=len(answers) - k)
            assert verdict is None or isinstance(verdict, Verdict), (
                f"combine(...) with calls pending must return None or a Verdict, got {verdict!r}"
            )
            if verdict is not None:
                self.check_verdict(verdict, so_far)

    def test_one_answer_at_a_time_ends_in_a_verdict(self, aggregator: Aggregator) -> None:
        """Fed one answer at a time, as the kernel does, the last call at the latest gives one."""
        for case in ANSWER_SETS:
            answers = answer_set(case)
            verdicts = [
                aggregator.combine(answers[:k], pending=len(answers) - k)
                for k in range(1, len(answers) + 1)
            ]
            assert any(isinstance(v, Verdict) for v in verdicts), f"{case}: {verdicts}"

    # -- hedging ---------------------------------------------------------------------------

    def test_hedge_after_is_a_delay_or_none(self, aggregator: Aggregator) -> None:
        """``hedge_after``, if defined, gives None or a finite number of seconds, at least 0."""
        hedge_after = getattr(aggregator, "hedge_after", None)
        if hedge_after is None:
            return
        for latencies in ([], [0.2], [0.1 * n for n in range(1, 101)], [3.0] * 20):
            delay = hedge_after(latencies)
            assert delay is None or (
                isinstance(delay, int | float) and math.isfinite(delay) and delay >= 0
            ), f"hedge_after({latencies!r}) returned {delay!r}"
