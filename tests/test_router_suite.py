"""Every built-in router passes cadenza.testing's RouterConformance suite, with various options."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path
from typing import Any

import pytest

from cadenza._strategies._routers import BUILTIN_ROUTERS
from cadenza._strategies._routing import Router
from cadenza.testing import RouterConformance

CONFIGS: dict[str, tuple[str, dict[str, Any]]] = {
    "least_busy": ("least_busy", {}),
    "round_robin": ("round_robin", {}),
    "weighted": ("weighted", {}),
    "weighted-weights": ("weighted", {"weights": {"agent-0": 0, "agent-1": 5}}),
    "cheapest": ("cheapest", {}),
    "fastest": ("fastest", {}),
    "capability-require": ("capability", {"require": ["gpu"]}),
    "capability-unmatched": (
        "capability",
        {"require": ["tpu"], "prefer": ["eu", "fast"], "options": {"model": "model-1"}},
    ),
    "adaptive": ("adaptive", {}),
    "adaptive-weights": ("adaptive", {"latency_weight": 2, "cost_weight": 0}),
    "budget_aware": ("budget_aware", {}),
    "budget_aware-round_robin": ("budget_aware", {"prefer": "round_robin", "below": 1}),
    "budget_aware-adaptive": (
        "budget_aware",
        {"prefer": {"strategy": "adaptive", "cost_weight": 1}, "below": 0.2},
    ),
    "consistent_hash": ("consistent_hash", {}),
    "consistent_hash-weights": ("consistent_hash", {"weights": {"agent-0": 0, "agent-1": 5}}),
}
"""Test id → (strategy, options): every built-in, some with options."""


def test_every_builtin_is_covered() -> None:
    """The configurations exercise every built-in strategy."""
    assert {name for name, _ in CONFIGS.values()} == set(BUILTIN_ROUTERS)


class TestBuiltinRouters(RouterConformance):
    @pytest.fixture(params=list(CONFIGS))
    def router(self, request: pytest.FixtureRequest) -> Router:
        """A fresh built-in router, built by its registered factory."""
        name, options = CONFIGS[request.param]
        return BUILTIN_ROUTERS[name](options)


# -- the suite itself, run by pytester: a correct router passes, broken ones fail -----------

pytest_plugins = ["pytester"]

DOCS_ROUTING = Path(__file__).resolve().parents[1] / "docs" / "routing.md"

SUITE_TESTS = sorted(name for name in dir(RouterConformance) if name.startswith("test_"))

PYTEST_INI = """\
[pytest]
trio_mode = true
filterwarnings = error
"""

ROUTERS = '''
import random

from cadenza._strategies._routing import Route


class GoodRouter:
    """A fair random pick among the least busy, drawn from request.rng."""

    @classmethod
    def from_options(cls, options):
        if options:
            raise ValueError("the good router takes no options")
        return cls()

    def choose(self, candidates, request):
        fewest = min(c.in_flight for c in candidates)
        idle = [c for c in candidates if c.in_flight == fewest]
        chosen = request.rng.choice(idle)
        return Route(agent=chosen.name, reason=f"random among {len(idle)} least busy")


class OutsiderRouter(GoodRouter):
    """Names an agent that is not a candidate."""

    def choose(self, candidates, request):
        return Route(agent="someone-else", reason="a stranger")


class EmptyReasonRouter(GoodRouter):
    """Gives no reason."""

    def choose(self, candidates, request):
        return Route(agent=super().choose(candidates, request).agent, reason="")


class SortingRouter(GoodRouter):
    """Sorts the caller's list in place."""

    def choose(self, candidates, request):
        candidates.sort(key=lambda c: (c.in_flight, c.name))
        return Route(agent=candidates[0].name, reason="first after sorting")


class MarkingRouter(GoodRouter):
    """Writes into a candidate's options."""

    def choose(self, candidates, request):
        route = super().choose(candidates, request)
        for candidate in candidates:
            if candidate.name == route.agent:
                candidate.options["chosen"] = True
        return route


class GlobalRandomRouter(GoodRouter):
    """Draws from the random module instead of request.rng."""

    def choose(self, candidates, request):
        chosen = random.choice(list(candidates))
        return Route(agent=chosen.name, reason="random")


class LatencyRouter(GoodRouter):
    """Assumes every candidate has been measured."""

    def choose(self, candidates, request):
        chosen = min(candidates, key=lambda c: c.latency)
        return Route(agent=chosen.name, reason=f"{chosen.latency}s")
'''


def conformance_module(router_class: str, module: str = "routers") -> str:
    return textwrap.dedent(
        f"""
        import pytest

        from cadenza.testing import RouterConformance
        from {module} import {router_class}


        class TestConformance(RouterConformance):
            @pytest.fixture
            def router(self):
                return {router_class}.from_options({{}})
        """
    )


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    """A pytester project holding a correct router and the broken variants."""
    pytester.makeini(PYTEST_INI)
    pytester.makepyfile(routers=ROUTERS)
    pytester.syspathinsert()
    return pytester


def failures(project: pytest.Pytester, router_class: str) -> set[str]:
    """Run the suite on ``router_class``; the names of the tests that failed (none may error)."""
    project.makepyfile(test_conformance=conformance_module(router_class))
    reprec = project.inline_run("-p", "no:cacheprovider")
    passed, skipped, failed = reprec.listoutcomes()
    assert not skipped
    assert len(passed) + len(failed) == len(SUITE_TESTS), "some tests errored or did not run"
    return {report.nodeid.rsplit("::", 1)[1] for report in failed}


def test_suite_has_the_tests_this_file_expects() -> None:
    """The suite is collected as a dozen-odd tests (guards the sets below)."""
    assert len(SUITE_TESTS) >= 12
    assert "test_returns_a_route_naming_a_candidate" in SUITE_TESTS


def test_correct_router_passes_every_test(project: pytest.Pytester) -> None:
    """A router keeping the contract passes the whole suite."""
    project.makepyfile(test_conformance=conformance_module("GoodRouter"))
    result = project.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=len(SUITE_TESTS))


def test_router_naming_a_stranger_fails_every_choice(project: pytest.Pytester) -> None:
    """A router returning an agent that is not a candidate fails each test that routes a call."""
    unaffected = {
        "test_router_has_a_choose_method",
        "test_reason_is_a_non_empty_string",
        "test_does_not_mutate_candidates",
    }
    assert failures(project, "OutsiderRouter") == set(SUITE_TESTS) - unaffected


def test_stranger_failure_says_which_agent_and_candidates(project: pytest.Pytester) -> None:
    """The failure message names the returned agent and the real candidates."""
    project.makepyfile(test_conformance=conformance_module("OutsiderRouter"))
    result = project.runpytest("-p", "no:cacheprovider", "-k", "single_candidate")
    result.stdout.fnmatch_lines(
        ["*choose returned agent 'someone-else', which is not a candidate: ?'agent-0'?"]
    )


@pytest.mark.parametrize(
    ("router_class", "failing"),
    [
        pytest.param("EmptyReasonRouter", {"test_reason_is_a_non_empty_string"}, id="no-reason"),
        pytest.param(
            "SortingRouter",
            {"test_does_not_mutate_candidates", "test_accepts_any_sequence"},
            id="sorts-the-list",
        ),
        pytest.param("MarkingRouter", {"test_does_not_mutate_candidates"}, id="writes-options"),
        pytest.param("GlobalRandomRouter", {"test_same_seed_same_choices"}, id="global-random"),
        pytest.param(
            "LatencyRouter",
            {
                "test_reason_is_a_non_empty_string",
                "test_handles_candidates_with_missing_data",
                "test_handles_a_mix_of_known_and_unknown_agents",
                "test_never_raises_on_varied_candidates",
            },
            id="assumes-latency",
        ),
    ],
)
def test_broken_router_fails_the_tests_for_its_bug(
    project: pytest.Pytester, router_class: str, failing: set[str]
) -> None:
    """A router with one bug fails exactly the tests that pin that part of the contract."""
    assert failures(project, router_class) == failing


def test_missing_router_fixture_says_how_to_write_one(pytester: pytest.Pytester) -> None:
    """A subclass that forgets the router fixture errors with the fixture to add."""
    pytester.makeini(PYTEST_INI)
    pytester.makepyfile(
        test_forgot="""
        from cadenza.testing import RouterConformance


        class TestForgot(RouterConformance):
            pass
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(errors=len(SUITE_TESTS))
    result.stdout.fnmatch_lines(["*TestForgot must override the router fixture*"])


def test_candidates_can_be_overridden(pytester: pytest.Pytester) -> None:
    """A router that needs particular candidates passes once ``candidates`` supplies them."""
    pytester.makeini(PYTEST_INI)
    pytester.makepyfile(
        test_regions="""
        import attrs
        import pytest

        from cadenza._strategies._routing import Route
        from cadenza.testing import RouterConformance


        class RegionRouter:
            def choose(self, candidates, request):
                for candidate in candidates:
                    assert candidate.options["region"] in ("eu", "us")
                eu = [c for c in candidates if c.options["region"] == "eu"] or candidates
                return Route(agent=eu[0].name, reason="first in eu")


        class TestRegions(RouterConformance):
            max_candidates = 4

            @pytest.fixture
            def router(self):
                return RegionRouter()

            def candidates(self, count):
                return [
                    attrs.evolve(c, options={"region": ("eu", "us")[i % 2]})
                    for i, c in enumerate(super().candidates(count))
                ]
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=len(SUITE_TESTS))


def test_candidates_with_duplicate_names_are_refused(pytester: pytest.Pytester) -> None:
    """An overridden ``candidates`` that repeats a name fails with what was wrong."""
    pytester.makeini(PYTEST_INI)
    pytester.makepyfile(
        test_dupes="""
        import attrs
        import pytest

        from cadenza._strategies._routers import LeastBusyRouter
        from cadenza.testing import RouterConformance


        class TestDupes(RouterConformance):
            @pytest.fixture
            def router(self):
                return LeastBusyRouter()

            def candidates(self, count):
                return [attrs.evolve(c, name="same") for c in super().candidates(count)]
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider", "-k", "returns_a_route")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*candidates(2) must return 2 candidates with distinct names*"])


def docs_sticky_router() -> str:
    """The ```python block of the "Writing your own router" section of docs/routing.md."""
    text = DOCS_ROUTING.read_text(encoding="utf-8")
    section = text.split("\n## Writing your own router\n", 1)[1].split("\n## ", 1)[0]
    match = re.search(r"^```python\n(.*?)^```$", section, flags=re.MULTILINE | re.DOTALL)
    assert match, "the Writing your own router section has no ```python example"
    return match.group(1)


def test_documented_sticky_router_passes_the_suite(pytester: pytest.Pytester) -> None:
    """The docs' sticky router passes the suite with and without its option."""
    pytester.makeini(PYTEST_INI)
    pytester.makepyfile(cadenza_sticky=docs_sticky_router())
    pytester.syspathinsert()
    pytester.makepyfile(
        test_sticky="""
        import pytest

        from cadenza.testing import RouterConformance
        from cadenza_sticky import StickyRouter


        class TestSticky(RouterConformance):
            @pytest.fixture(params=[{}, {"max_in_flight": 1}])
            def router(self, request):
                return StickyRouter.from_options(request.param)
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2 * len(SUITE_TESTS))


def test_documented_sticky_router_checks_its_options() -> None:
    """The docs' sticky router refuses unknown and out-of-range options with ValueError."""
    namespace: dict[str, Any] = {}
    exec(compile(docs_sticky_router(), str(DOCS_ROUTING), "exec"), namespace)
    factory = namespace["StickyRouter"].from_options
    with pytest.raises(ValueError, match="unknown option"):
        factory({"max": 1})
    with pytest.raises(ValueError, match="max_in_flight must be an integer >= 1, got 0"):
        factory({"max_in_flight": 0})
