"""AggregatorConformance: every built-in passes it, and pytester shows broken strategies fail it.

The correct plugin strategy is the ``unanimous`` example of docs/aggregation.md,
tested with the docs' own test module, so the documented example is proven to
conform. Each broken strategy has one realistic bug and must fail exactly the
tests that pin that part of the contract.
"""

from __future__ import annotations

import re
import textwrap
from pathlib import Path
from typing import Any

import pytest

from cadenza._strategies._aggregation import Aggregator
from cadenza._strategies._aggregators import BUILTIN_AGGREGATORS
from cadenza.testing._aggregator_suite import ANSWER_SETS, AggregatorConformance

pytest_plugins = ["pytester"]

AGGREGATION_MD = Path(__file__).resolve().parents[1] / "docs" / "aggregation.md"

PYTEST_INI = """\
[pytest]
trio_mode = true
filterwarnings = error
"""

BUILTINS = [
    ("first_success", {}),
    ("hedged", {}),
    ("hedged", {"percentile": 50, "min_samples": 1, "delay": "250ms", "max_requests": 3}),
    ("majority_vote", {}),
    ("majority_vote", {"normalize": [], "key": "title"}),
    ("weighted_vote", {}),
    ("weighted_vote", {"threshold": 0}),
    ("highest_confidence", {}),
    ("merge", {}),
    ("merge", {"conflicts": "weight", "lists": "concat"}),
    ("merge", {"conflicts": "fail"}),
    ("consensus", {}),
    ("consensus", {"threshold": 1, "weighted": True}),
]


class TestBuiltinAggregators(AggregatorConformance):
    """Every built-in strategy, with its defaults and with other options, conforms."""

    @pytest.fixture(
        params=BUILTINS,
        ids=[f"{name}-{i}" for i, (name, _) in enumerate(BUILTINS)],
    )
    def aggregator(self, request: pytest.FixtureRequest) -> Aggregator:
        name, options = request.param
        return BUILTIN_AGGREGATORS[name](options)


def test_every_builtin_is_checked() -> None:
    """The list above covers every built-in strategy."""
    assert {name for name, _ in BUILTINS} == set(BUILTIN_AGGREGATORS)


# -- pytester -------------------------------------------------------------------------------


def suite_size() -> int:
    """How many tests one run of the suite holds, parametrized ones counted per case."""
    total = 0
    for name in dir(AggregatorConformance):
        if not name.startswith("test_"):
            continue
        marks = getattr(getattr(AggregatorConformance, name), "pytestmark", [])
        total += len(ANSWER_SETS) if any(m.name == "parametrize" for m in marks) else 1
    return total


SUITE_TESTS = sorted(name for name in dir(AggregatorConformance) if name.startswith("test_"))

BROKEN = '''
import attrs

import cadenza


class FirstOk:
    """A correct strategy: the first ok answer, supported by its agent alone."""

    def __init__(self, options):
        self.calls = 0

    def combine(self, answers, *, pending):
        ok = [a for a in answers if a.ok]
        if ok:
            return cadenza.strategies.Verdict(
                output=ok[0].output, supporters=(ok[0].agent,), agreement=1 / len(ok)
            )
        return None if pending else cadenza.strategies.Verdict()


class WaitsForever(FirstOk):
    """Returns None with nothing pending when every call failed."""

    def combine(self, answers, *, pending):
        if not any(a.ok for a in answers):
            return None
        return super().combine(answers, pending=pending)


class FailedSupport(FirstOk):
    """Counts every agent asked as a supporter, failed calls included."""

    def combine(self, answers, *, pending):
        verdict = super().combine(answers, pending=pending)
        if verdict is None or not verdict.supporters:
            return verdict
        return attrs.evolve(verdict, supporters=tuple(a.agent for a in answers))


class InventsSupporters(FirstOk):
    """Credits a judge that never answered."""

    def combine(self, answers, *, pending):
        verdict = super().combine(answers, pending=pending)
        if verdict is None or not verdict.supporters:
            return verdict
        return attrs.evolve(verdict, supporters=(*verdict.supporters, "judge"))


class PercentAgreement(FirstOk):
    """Reports agreement in percent."""

    def combine(self, answers, *, pending):
        verdict = super().combine(answers, pending=pending)
        if verdict is None:
            return None
        return attrs.evolve(verdict, agreement=verdict.agreement * 100)


class Counting(FirstOk):
    """Numbers its verdicts, so the same answers give different ones."""

    def combine(self, answers, *, pending):
        verdict = super().combine(answers, pending=pending)
        self.calls += 1
        if verdict is None:
            return None
        return attrs.evolve(verdict, output=[verdict.output, self.calls])


class MarksOutputs(FirstOk):
    """Marks each mapping output it has seen, changing the answers."""

    def combine(self, answers, *, pending):
        for answer in answers:
            if isinstance(answer.output, dict):
                answer.output["seen"] = True
        return super().combine(answers, pending=pending)


class IgnoresLoneAnswers(FirstOk):
    """Says "no usable answer" when only one agent answered."""

    def combine(self, answers, *, pending):
        if len(answers) == 1 and not pending:
            return cadenza.strategies.Verdict()
        return super().combine(answers, pending=pending)


class NegativeHedge(FirstOk):
    """Hedges after a negative delay when it has no latencies."""

    max_requests = 2

    def hedge_after(self, latencies):
        return max(latencies, default=-1.0)
'''


def docs_example(marker: str) -> str:
    """The ```python block of the 'Writing your own strategy' section containing ``marker``."""
    text = AGGREGATION_MD.read_text(encoding="utf-8")
    section = text.split("\n## Writing your own strategy\n", 1)[1].split("\n## ", 1)[0]
    for match in re.finditer(r"^```python\n(.*?)^```$", section, flags=re.MULTILINE | re.DOTALL):
        if marker in match.group(1):
            return match.group(1)
    raise AssertionError(f"docs/aggregation.md has no ```python example with {marker!r}")


def conformance_module(factory: str) -> str:
    return textwrap.dedent(
        f"""
        import pytest

        import cadenza.testing
        import broken


        class TestConformance(cadenza.testing.AggregatorConformance):
            @pytest.fixture
            def aggregator(self):
                return broken.{factory}({{}})
        """
    )


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    """A pytester project holding the broken strategies."""
    pytester.makeini(PYTEST_INI)
    pytester.makepyfile(broken=BROKEN)
    pytester.syspathinsert()
    return pytester


def failures(project: pytest.Pytester, factory: str) -> set[str]:
    """Run the suite on ``factory``; the names of the tests that failed (none may error)."""
    project.makepyfile(test_conformance=conformance_module(factory))
    reprec = project.inline_run("-p", "no:cacheprovider")
    passed, skipped, failed = reprec.listoutcomes()
    assert not skipped
    assert len(passed) + len(failed) == suite_size(), "some tests errored or did not run"
    return {report.nodeid.rsplit("::", 1)[1].split("[", 1)[0] for report in failed}


def test_suite_has_the_tests_this_file_expects() -> None:
    """The suite is collected as a dozen checks, most of them per answer set."""
    assert len(SUITE_TESTS) >= 10
    assert "test_failed_calls_never_support" in SUITE_TESTS
    assert suite_size() > 5 * len(ANSWER_SETS)


def test_documented_strategy_passes_with_the_documented_tests(project: pytest.Pytester) -> None:
    """The ``unanimous`` strategy of docs/aggregation.md passes the docs' own test module."""
    project.makepyfile(
        cadenza_unanimous=docs_example("cadenza_aggregators"),
        test_unanimous=docs_example("AggregatorConformance"),
    )
    result = project.runpytest("-p", "no:cacheprovider", "test_unanimous.py")
    result.assert_outcomes(passed=suite_size())


def test_correct_strategy_passes(project: pytest.Pytester) -> None:
    """The unbroken base of the broken strategies passes every test."""
    project.makepyfile(test_conformance=conformance_module("FirstOk"))
    result = project.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=suite_size())


@pytest.mark.parametrize(
    ("factory", "failing"),
    [
        pytest.param(
            "WaitsForever",
            {
                "test_returns_a_verdict_when_nothing_is_pending",
                "test_verdict_obeys_the_rules",
                "test_all_failed_has_no_supporters",
                "test_one_answer_at_a_time_ends_in_a_verdict",
            },
            id="none-when-done",
        ),
        pytest.param(
            "FailedSupport",
            {
                "test_verdict_obeys_the_rules",
                "test_failed_calls_never_support",
                "test_early_verdicts_obey_the_rules",
            },
            id="failed-supporters",
        ),
        pytest.param(
            "InventsSupporters",
            {
                "test_verdict_obeys_the_rules",
                "test_failed_calls_never_support",
                "test_single_answer_is_supported_by_its_agent",
                "test_early_verdicts_obey_the_rules",
            },
            id="invented-supporters",
        ),
        pytest.param(
            "PercentAgreement",
            {"test_verdict_obeys_the_rules", "test_early_verdicts_obey_the_rules"},
            id="agreement-in-percent",
        ),
        pytest.param("Counting", {"test_same_answers_give_equal_verdicts"}, id="impure"),
        pytest.param("MarksOutputs", {"test_answers_are_left_unchanged"}, id="mutates-answers"),
        pytest.param(
            "IgnoresLoneAnswers",
            {"test_single_answer_is_supported_by_its_agent"},
            id="ignores-a-lone-answer",
        ),
        pytest.param("NegativeHedge", {"test_hedge_after_is_a_delay_or_none"}, id="bad-hedge"),
    ],
)
def test_broken_strategy_fails_the_tests_for_its_bug(
    project: pytest.Pytester, factory: str, failing: set[str]
) -> None:
    """A strategy with one bug fails exactly the tests that pin that part of the contract."""
    assert failures(project, factory) == failing


def test_missing_aggregator_fixture_says_how_to_write_one(pytester: pytest.Pytester) -> None:
    """A subclass that forgets the aggregator fixture errors with the fixture to add."""
    pytester.makeini(PYTEST_INI)
    pytester.makepyfile(
        test_forgot="""
        import cadenza.testing


        class TestForgot(cadenza.testing.AggregatorConformance):
            pass
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(errors=suite_size())
    result.stdout.fnmatch_lines(["*TestForgot must override the aggregator fixture*"])


def test_answer_sets_are_what_the_docs_promise() -> None:
    """The suite's answer sets include failures, a lone answer, weights and mappings."""
    sets: dict[str, Any] = ANSWER_SETS
    assert all(not a.ok for a in sets["all-failed"])
    assert len(sets["one-answer"]) == 1
    assert any(a.weight != 1.0 for a in sets["weighted"])
    assert all(isinstance(a.output, dict) for a in sets["mappings"])
    for answers in sets.values():
        agents = [a.agent for a in answers]
        assert len(agents) == len(set(agents)), "each agent answers once"
