"""Routing on a step's inputs: ``RouteRequest.inputs``, ``route: {key: ...}``, consistent_hash.

The router's unit and property tests come first, then loading a route key
(errors at file:line), then real runs on the autojump clock: the same
customer goes to the same agent, inputs reach routers redacted and
read-only, and a key that cannot be rendered fails its step.
"""

from __future__ import annotations

import random
import textwrap
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import cadenza
from cadenza._strategies._consistent_hash import ConsistentHashRouter, rendezvous_hash
from cadenza._strategies._routers import BUILTIN_ROUTERS
from cadenza._strategies._routing import Candidate, Route, Router, RouteRequest
from cadenza.plugins import load_plugins
from cadenza.testing import RouterConformance, ScriptedAgent, run_captured
from tests.loader_helpers import where
from tests.scheduler_helpers import ProgrammablePlugin

NAMES = [f"agent-{i}" for i in range(8)]
BUDGET_AWARE = BUILTIN_ROUTERS["budget_aware"]


def candidates(names: Sequence[str], **weights: float) -> list[Candidate]:
    return [Candidate(name=n, weight=weights.get(n.replace("-", "_"), 1.0)) for n in names]


def route(router: Router, names: Sequence[str], key: str | None, **changes: Any) -> str:
    fields: dict[str, Any] = {"step_id": "s", "uses": "work", "key": key, **changes}
    return router.choose(candidates(names), RouteRequest(**fields)).agent


# -- the router --------------------------------------------------------------------------


@given(
    key=st.text(max_size=40),
    order=st.permutations(NAMES),
    seed=st.integers(0, 2**32 - 1),
    attempt=st.integers(1, 5),
)
def test_same_key_same_agent(key: str, order: list[str], seed: int, attempt: int) -> None:
    """A key maps to one agent whatever the candidates' order, the rng, the step or the attempt."""
    router = ConsistentHashRouter.from_options({})
    expected = route(router, NAMES, key)
    again = route(
        ConsistentHashRouter.from_options({}),
        order,
        key,
        rng=random.Random(seed),
        attempt=attempt,
        step_id=f"other-{seed}",
    )
    assert again == expected


@given(keys=st.lists(st.text(max_size=20), min_size=1, max_size=60), lost=st.sampled_from(NAMES))
def test_losing_an_agent_moves_only_its_keys(keys: list[str], lost: str) -> None:
    """Without one agent, the keys it had move and every other key stays where it was."""
    router = ConsistentHashRouter.from_options({})
    remaining = [n for n in NAMES if n != lost]
    for key in keys:
        before = route(router, NAMES, key)
        after = route(router, remaining, key)
        if before != lost:
            assert after == before, f"key {key!r} moved from {before} to {after}"
        else:
            assert after != lost


def test_keys_spread_in_proportion_to_weight() -> None:
    """An agent weighing 3 wins about three keys in four against one weighing 1."""
    router = ConsistentHashRouter.from_options({})
    request_for = [f"customer-{i}" for i in range(4000)]
    picks = Counter(
        router.choose(
            candidates(["big", "small"], big=3.0), RouteRequest(step_id="s", uses="u", key=k)
        ).agent
        for k in request_for
    )
    assert 0.72 < picks["big"] / 4000 < 0.78


def test_weights_option_overrides_agent_weight_and_zero_never_wins() -> None:
    """``weights:`` overrides ``weight:``; weight 0 wins no key while another agent weighs more."""
    router = ConsistentHashRouter.from_options({"weights": {"agent-0": 0}})
    assert {route(router, NAMES[:3], f"k{i}") for i in range(200)} == {"agent-1", "agent-2"}
    everyone_zero = ConsistentHashRouter.from_options({"weights": {n: 0 for n in NAMES[:3]}})
    assert len({route(everyone_zero, NAMES[:3], f"k{i}") for i in range(200)}) == 3


def test_no_key_hashes_the_step_id() -> None:
    """Without a key each step sticks to one agent, and the reason says it hashed the step."""
    router = ConsistentHashRouter.from_options({})
    chosen = router.choose(candidates(NAMES), RouteRequest(step_id="build", uses="u"))
    assert chosen == router.choose(
        candidates(list(reversed(NAMES))), RouteRequest(step_id="build", uses="u", attempt=3)
    )
    assert chosen.agent == route(router, NAMES, "build")
    assert "step build" in chosen.reason


def test_hash_is_stable_across_processes() -> None:
    """The hash is BLAKE2b of key and name, not Python's salted ``hash()``: pinned values."""
    assert rendezvous_hash("acme", "agent-0") == pytest.approx(0.37014994564760734)
    assert rendezvous_hash("", "") == pytest.approx(0.9547857996061605)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"wieghts": {}}, "unknown option(s) wieghts for the consistent_hash router"),
        ({"weights": [1, 2]}, "weights must map agent names to numbers"),
        ({"weights": {"a": -1}}, "weights.a must be a number >= 0, got -1"),
    ],
)
def test_bad_options_are_refused(options: dict[str, Any], message: str) -> None:
    """The factory names the bad option and what it takes."""
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        ConsistentHashRouter.from_options(options)


class TestConsistentHashConformance(RouterConformance):
    key_aware = True

    @pytest.fixture(params=[{}, {"weights": {"agent-0": 0, "agent-1": 5}}])
    def router(self, request: pytest.FixtureRequest) -> Router:
        """A fresh consistent_hash router, built by its factory."""
        return ConsistentHashRouter.from_options(request.param)


class _RandomRouter:
    def choose(self, candidates: Sequence[Candidate], request: RouteRequest) -> Route:
        return Route(agent=request.rng.choice(candidates).name, reason="random")


def test_conformance_catches_a_router_that_ignores_the_key() -> None:
    """RouterConformance's key check fails a key-aware router that draws at random."""

    class Suite(RouterConformance):
        key_aware = True

    check = Suite().test_same_key_goes_to_the_same_agent  # type: ignore[attr-defined]
    assert "test_same_key_goes_to_the_same_agent" not in dir(RouterConformance)
    with pytest.raises(AssertionError, match="went to several agents"):
        check(_RandomRouter())


def test_route_request_inputs_are_read_only() -> None:
    """RouteRequest.inputs is a read-only copy of what it was built from."""
    given_inputs = {"customer": "acme"}
    request = RouteRequest(step_id="s", uses="u", inputs=given_inputs)
    with pytest.raises(TypeError):
        request.inputs["customer"] = "other"  # type: ignore[index]
    given_inputs["customer"] = "changed"
    assert request.inputs == {"customer": "acme"}
    assert RouteRequest(step_id="s", uses="u").inputs == {}


def test_budget_aware_can_prefer_consistent_hash() -> None:
    """``budget_aware`` with ``prefer: consistent_hash`` routes a key as consistent_hash does."""
    router = BUDGET_AWARE({"prefer": "consistent_hash"})
    for key in ("acme", "globex", "initech"):
        assert route(router, NAMES, key) == route(ConsistentHashRouter.from_options({}), NAMES, key)


# -- loading -------------------------------------------------------------------------------

PLUGINS = load_plugins(entry_points=False)


def load_problems(text: str) -> list[cadenza.Problem]:
    with pytest.raises(cadenza.WorkflowError) as info:
        cadenza.load_workflow_text(textwrap.dedent(text), plugins=PLUGINS, filename="wf.yaml")
    return [p for p in info.value.problems if p.severity == "error"]


WORKFLOW = """\
name: keyed
inputs: {customer: acme}
agents:
  a: {kind: template, capabilities: [work], options: {output: a}}
  b: {kind: template, capabilities: [work], options: {output: b}}
steps:
  lookup: {uses: work}
  answer:
    uses: work
    needs: [lookup]
    route: {strategy: consistent_hash, key: "${{ inputs.customer }}"}
"""


def test_a_key_loads_into_the_route_and_is_not_an_option() -> None:
    """``key:`` becomes ``StrategySpec.route_key``; the factory's options do not hold it."""
    text = WORKFLOW.replace("route: {", "route: {weights: {a: 2}, ").replace(
        "steps:", 'route: {strategy: consistent_hash, key: "fixed"}\nsteps:'
    )
    workflow = cadenza.load_workflow_text(text, plugins=PLUGINS).workflow
    spec = workflow.steps["answer"].route
    assert spec is not None
    assert spec.options == {"weights": {"a": 2}}
    assert spec.route_key is not None
    assert spec.route_key.input_refs == {"customer"}
    assert workflow.route.route_key is not None
    assert workflow.route.route_key.is_static


def test_a_bad_key_expression_is_reported_at_its_line() -> None:
    """A syntax error in the key is an error at the key's file:line."""
    (problem,) = load_problems(WORKFLOW.replace("inputs.customer }}", "inputs.customer + }}"))
    assert problem.path == "steps.answer.route.key"
    assert where(problem)[0] == 11
    assert problem.render().startswith("wf.yaml:11:")


def test_a_key_reading_an_unknown_input_is_reported_with_a_suggestion() -> None:
    """An undeclared input in the key is an error naming it, with the known inputs."""
    (problem,) = load_problems(WORKFLOW.replace("inputs.customer", "inputs.custmer"))
    assert "route key refers to unknown input 'custmer'" in problem.message
    assert "Did you mean 'customer'?" in problem.hint
    assert where(problem)[0] == 11


def test_a_key_reading_a_step_not_needed_is_reported() -> None:
    """A step key may read only the outputs of steps the step needs."""
    text = WORKFLOW.replace("    needs: [lookup]\n", "").replace(
        "inputs.customer", "steps.lookup.output.customer"
    )
    (problem,) = load_problems(text)
    assert "which step 'answer' does not need" in problem.message
    assert "needs: [lookup]" in problem.hint
    assert where(problem)[0] == 10


def test_a_key_reading_a_needed_step_loads() -> None:
    """A step key reading a needed step's output loads."""
    text = WORKFLOW.replace("inputs.customer", "steps.lookup.output.customer")
    workflow = cadenza.load_workflow_text(text, plugins=PLUGINS).workflow
    spec = workflow.steps["answer"].route
    assert spec is not None
    assert spec.route_key is not None
    assert spec.route_key.step_refs == {"lookup"}


def test_a_workflow_key_reading_a_step_is_reported() -> None:
    """The workflow's route serves every step, so its key may read inputs only."""
    text = WORKFLOW.replace(
        "steps:", 'route: {strategy: consistent_hash, key: "${{ steps.lookup.output }}"}\nsteps:'
    )
    (problem,) = load_problems(text)
    assert problem.path == "route.key"
    assert "the workflow's route key reads step 'lookup'" in problem.message
    assert where(problem)[0] == 6


def test_a_key_on_a_strategy_that_ignores_it_is_a_warning() -> None:
    """A key given to a built-in that does not route on keys is a warning at the key's line."""
    text = WORKFLOW.replace("strategy: consistent_hash", "strategy: least_busy")
    loaded = cadenza.load_workflow_text(text, plugins=PLUGINS, filename="wf.yaml")
    (warning,) = loaded.warnings
    assert warning.message == (
        "the least_busy strategy does not route on key:, so the key changes nothing"
    )
    assert where(warning)[0] == 11
    keyed = WORKFLOW.replace(
        "strategy: consistent_hash", "strategy: budget_aware, prefer: consistent_hash"
    )
    warnings = cadenza.load_workflow_text(keyed, plugins=PLUGINS).warnings
    assert not [w for w in warnings if "key:" in w.message]


def test_a_key_that_is_not_a_string_is_reported() -> None:
    """``key:`` must be text (an expression or a fixed key)."""
    (problem,) = load_problems(WORKFLOW.replace('"${{ inputs.customer }}"', "[1, 2]"))
    assert problem.message == "key must be a string, got a list [1, 2]"
    assert where(problem)[0] == 11


# -- runs ------------------------------------------------------------------------------


def agents_named(*names: str) -> dict[str, ScriptedAgent]:
    return {n: ScriptedAgent(n, lambda request: {"by": request.step_id}) for n in names}


def keyed_run(customers: Mapping[str, str], *, route: Any) -> dict[str, Any]:
    """One step per customer, each routed on its own customer input."""
    return {
        "name": "keyed",
        "inputs": {f"c_{step}": customer for step, customer in customers.items()},
        "route": route,
        "agents": {n: {"kind": "prog", "capabilities": ["work"]} for n in "abcd"},
        "steps": {
            step: {
                "uses": "work",
                "with": {"customer": f"${{{{ inputs.c_{step} }}}}"},
                "route": {"strategy": "consistent_hash", "key": f"${{{{ inputs.c_{step} }}}}"},
            }
            for step in customers
        },
    }


def expected_agent(key: str) -> str:
    return route(ConsistentHashRouter.from_options({}), list("abcd"), key)


async def test_steps_with_the_same_customer_go_to_the_same_agent(autojump_clock: Any) -> None:
    """Two steps keyed on the same customer share an agent; another customer may go elsewhere."""
    other = next(f"c{i}" for i in range(100) if expected_agent(f"c{i}") != expected_agent("acme"))
    agents = agents_named(*"abcd")
    run = await run_captured(
        keyed_run({"first": "acme", "second": "acme", "third": other}, route="least_busy"),
        plugins=load_plugins(extra=[ProgrammablePlugin(agents)], entry_points=False),
    )
    assert run.result.status == "succeeded"
    by_step = {e.step_id: e for e in run.of("route_chosen")}
    assert by_step["first"].agent == by_step["second"].agent == expected_agent("acme")
    assert by_step["third"].agent == expected_agent(other) != by_step["first"].agent
    assert "key 'acme'" in by_step["first"].reason


async def test_a_workflow_key_sends_every_step_of_a_run_to_one_agent(autojump_clock: Any) -> None:
    """The workflow's ``route:`` key (a run input) keeps a run's steps on one agent."""
    seen: dict[str, set[str]] = {}
    for customer in ("acme", "globex", "initech"):
        agents = agents_named(*"abcd")
        data = {
            "name": "per-customer",
            "inputs": {"customer": "nobody"},
            "route": {"strategy": "consistent_hash", "key": "${{ inputs.customer }}"},
            "agents": {n: {"kind": "prog", "capabilities": ["work"]} for n in "abcd"},
            "steps": {f"s{i}": {"uses": "work"} for i in range(6)},
        }
        run = await run_captured(
            data,
            plugins=load_plugins(extra=[ProgrammablePlugin(agents)], entry_points=False),
            inputs={"customer": customer},
        )
        seen[customer] = {e.agent for e in run.of("route_chosen")}
        assert seen[customer] == {expected_agent(customer)}


class RecordingRouter:
    """Takes the first candidate and keeps every request; tries to change what it is given."""

    def __init__(self, requests: list[RouteRequest]) -> None:
        self.requests = requests

    def choose(self, candidates: Sequence[Candidate], request: RouteRequest) -> Route:
        self.requests.append(request)
        for value in request.inputs.values():
            if isinstance(value, list):
                value.append("added by the router")
        return Route(agent=candidates[0].name, reason="first")


class RecordingPlugin:
    def __init__(self, requests: list[RouteRequest]) -> None:
        self.requests = requests

    @cadenza.hookimpl
    def cadenza_routers(self, register: Any) -> None:
        register("recording", lambda options: RecordingRouter(self.requests))


SECRET = "sk-live-0123456789abcdef"


async def test_route_request_inputs_are_the_rendered_inputs_with_secrets_redacted(
    autojump_clock: Any,
) -> None:
    """A router sees the step's rendered inputs and key, an ``${ENV}`` secret as ``***``."""
    requests: list[RouteRequest] = []
    agents = agents_named("a", "b")
    data = {
        "name": "secretive",
        "inputs": {"note": "", "customer": "acme"},
        "route": {"strategy": "recording", "key": "${{ inputs.note }}"},
        "agents": {
            n: {"kind": "prog", "capabilities": ["work"], "options": {"api_key": "${TOKEN}"}}
            for n in agents
        },
        "steps": {
            "s": {
                "uses": "work",
                "with": {
                    "customer": "${{ inputs.customer }}",
                    "note": "${{ inputs.note }}",
                    "items": [1, 2],
                },
            }
        },
    }
    plugins = load_plugins(
        extra=[ProgrammablePlugin(agents), RecordingPlugin(requests)], entry_points=False
    )
    run = await run_captured(
        data, plugins=plugins, environ={"TOKEN": SECRET}, inputs={"note": f"key={SECRET}"}
    )
    assert run.result.status == "succeeded"
    (request,) = requests
    assert dict(request.inputs) == {
        "customer": "acme",
        "note": "key=***",
        "items": [1, 2, "added by the router"],
    }
    assert request.key == "key=***"
    assert SECRET not in repr(request)
    (call,) = agents["a"].calls
    assert call.inputs["items"] == [1, 2], "the router's change reached the call"
    assert call.inputs["note"] == f"key={SECRET}"


async def test_a_key_without_a_route_key_is_none_and_null_is_no_key(autojump_clock: Any) -> None:
    """No ``key:`` gives ``key=None``; a key rendering ``null`` does too."""
    requests: list[RouteRequest] = []
    agents = agents_named("a", "b")
    data = {
        "name": "nullable",
        "inputs": {"customer": None},
        "agents": {n: {"kind": "prog", "capabilities": ["work"]} for n in agents},
        "steps": {
            "plain": {"uses": "work", "route": "recording"},
            "null": {
                "uses": "work",
                "route": {"strategy": "recording", "key": "${{ inputs.customer }}"},
            },
            "number": {"uses": "work", "route": {"strategy": "recording", "key": "${{ 6 * 7 }}"}},
        },
    }
    plugins = load_plugins(
        extra=[ProgrammablePlugin(agents), RecordingPlugin(requests)], entry_points=False
    )
    run = await run_captured(data, plugins=plugins)
    assert run.result.status == "succeeded"
    assert {r.step_id: r.key for r in requests} == {"plain": None, "null": None, "number": "42"}


async def test_a_key_that_fails_to_render_fails_its_step(autojump_clock: Any) -> None:
    """A key expression failing at run time fails the step like a failing ``with:``."""
    agents = agents_named("a", "b")
    data = {
        "name": "broken-key",
        "inputs": {"customer": "acme"},
        "agents": {n: {"kind": "prog", "capabilities": ["work"]} for n in agents},
        "steps": {
            "s": {
                "uses": "work",
                "route": {"strategy": "consistent_hash", "key": "${{ inputs.customer.id }}"},
            }
        },
    }
    run = await run_captured(
        data, plugins=load_plugins(extra=[ProgrammablePlugin(agents)], entry_points=False)
    )
    assert run.result.status == "failed"
    (failed,) = run.of("step_failed")
    assert failed.error_type == "ExpressionError"
    assert failed.message.startswith("steps.s.route.key: inputs.customer is string")
    assert not agents["a"].calls
    assert not agents["b"].calls
