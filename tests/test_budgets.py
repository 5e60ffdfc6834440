"""Budgets under concurrency: reserve before dispatch, settle after, never overspend.

The safety tests run many steps at once against agents whose cost is known
(each call costs at most what it reserved: usage within the estimate the
kernel makes from the inputs and ``price.expected_output_tokens``). Whatever
the mix of prices and usage, the settled total never exceeds the budget, no
call starts that could not fit, and the steps that ran keep their results.
"""

from __future__ import annotations

import random
from typing import Any

import hypothesis.strategies as st
import pytest
import trio
import trio.testing
from hypothesis import HealthCheck, given, settings

import cadenza
from cadenza._resilience._budget import Ledger
from cadenza._resilience._ratelimit import estimate_tokens
from cadenza._spec._cost import Budget, Price
from cadenza.testing import ScriptedAgent, run_captured
from tests.scheduler_helpers import plugins_with


def priced_agent(
    name: str, *, output_tokens: int, input_share: float = 1.0, delay: float = 1.0
) -> ScriptedAgent:
    """An agent that reports usage: ``input_share`` of the kernel's input estimate, fixed output."""

    async def behaviour(request: cadenza.AgentRequest) -> cadenza.AgentResult:
        await trio.sleep(delay)
        usage = cadenza.Usage(
            input_tokens=int(estimate_tokens(request.inputs) * input_share),
            output_tokens=output_tokens,
        )
        return cadenza.AgentResult(output=f"{name}:{request.step_id}", usage=usage)

    return ScriptedAgent(name, behaviour)


def workflow(
    n_steps: int,
    prices: dict[str, dict[str, Any]],
    *,
    budget: dict[str, Any] | None = None,
    concurrency: int = 256,
    route: str = "least_busy",
    step_budget: dict[str, Any] | None = None,
) -> dict[str, Any]:
    steps: dict[str, Any] = {}
    for i in range(n_steps):
        steps[f"s{i:03}"] = {"uses": "work", "with": {"n": i}, "retry": 1}
        if step_budget is not None:
            steps[f"s{i:03}"]["budget"] = step_budget
    data: dict[str, Any] = {
        "name": "budgeted",
        "concurrency": concurrency,
        "route": route,
        "agents": {
            name: {"kind": "prog", "capabilities": ["work"], **extra}
            for name, extra in prices.items()
        },
        "steps": steps,
    }
    if budget is not None:
        data["budget"] = budget
    return data


def settled(run: Any) -> float:
    return sum(e.cost_usd for e in run.of("cost_incurred"))


async def test_two_hundred_concurrent_steps_never_overspend(autojump_clock: Any) -> None:
    prices = {
        "small": {
            "price": {"input_per_1k": 0.5, "output_per_1k": 1.5, "expected_output_tokens": 200}
        },
        "large": {
            "price": {"input_per_1k": 3.0, "output_per_1k": 15.0, "expected_output_tokens": 200}
        },
        "flat": {"price": {"per_call": 0.004, "expected_output_tokens": 200}},
    }
    agents = {
        "small": priced_agent("small", output_tokens=180),
        "large": priced_agent("large", output_tokens=200, delay=2.0),
        "flat": priced_agent("flat", output_tokens=50, delay=0.5),
    }
    run = await run_captured(
        workflow(200, prices, budget={"usd": 0.25}), plugins=plugins_with(agents)
    )
    result = run.result
    total = result.cost["usd"]
    assert total == pytest.approx(settled(run))
    assert total <= 0.25
    succeeded = [s for s in result.steps.values() if s.status == "succeeded"]
    failed = [s for s in result.steps.values() if s.status == "failed"]
    assert succeeded, "the budget should allow some steps"
    assert failed, "the budget should not allow every step"
    assert len(succeeded) + len(failed) == 200
    assert all("run budget" in (s.error or "") for s in failed)
    assert {e.error_type for e in run.of("step_failed")} == {"BudgetExceededError"}
    # No call started that the budget refused: every call made is a success.
    calls = sum(len(a.calls) for a in agents.values())
    assert calls == len(succeeded)
    assert all(s.output for s in succeeded)  # partial results are kept
    assert result.cost["budgets"]["run"]["spent_usd"] == pytest.approx(total)


async def test_a_call_that_does_not_fit_waits_for_reservations_to_settle(
    autojump_clock: Any,
) -> None:
    # Each call reserves $0.60 (per_call 0.1 + 250 expected output tokens at $2/1k)
    # but really costs $0.10 (no output): only one reservation fits $1 at a time.
    prices = {
        "a": {"price": {"per_call": 0.1, "output_per_1k": 2.0, "expected_output_tokens": 250}}
    }
    agent = priced_agent("a", output_tokens=0, input_share=0.0)
    run = await run_captured(
        workflow(8, prices, budget={"usd": 1.0}), plugins=plugins_with({"a": agent})
    )
    assert agent.max_in_flight == 1  # the second call waited instead of overdrawing
    succeeded = [s for s in run.result.steps.values() if s.status == "succeeded"]
    # Spent 0.1 per call; a call needs 0.6 of room: it fits while spent <= 0.4.
    assert len(succeeded) == 5
    assert run.result.cost["usd"] == pytest.approx(0.5)
    assert run.result.status == "failed"


async def test_token_budget_and_agent_budget(autojump_clock: Any) -> None:
    prices = {
        "cheap": {"budget": {"usd": 0.01}, "price": {"per_call": 0.004}},
        "dear": {"price": {"per_call": 0.02}},
    }
    agents = {
        "cheap": priced_agent("cheap", output_tokens=10),
        "dear": priced_agent("dear", output_tokens=10),
    }
    run = await run_captured(
        workflow(6, prices, concurrency=1, route="cheapest"), plugins=plugins_with(agents)
    )
    assert run.result.status == "succeeded"
    # cheap may spend $0.01: two calls; the rest go to the dearer agent.
    assert len(agents["cheap"].calls) == 2
    assert len(agents["dear"].calls) == 4
    budgets = run.result.cost["budgets"]
    assert budgets["agent 'cheap'"]["spent_usd"] <= 0.01

    tokens_run = await run_captured(
        workflow(10, {"a": {}}, budget={"tokens": 1000}),
        plugins=plugins_with({"a": priced_agent("a", output_tokens=200)}),
    )
    assert tokens_run.result.cost["tokens"] <= 1000
    assert tokens_run.result.counts["failed"] > 0


async def test_step_budget_bounds_its_retries(autojump_clock: Any) -> None:
    async def flaky(request: cadenza.AgentRequest) -> cadenza.AgentResult:
        await trio.sleep(1)
        raise cadenza.AgentTimeoutError("slow", agent="a")  # a cut-off call is billed

    agent = ScriptedAgent("a", flaky)
    data = workflow(1, {"a": {"price": {"per_call": 0.3}}}, step_budget={"usd": 1.0})
    data["steps"]["s000"]["retry"] = {"max_attempts": 10, "backoff": 0}
    run = await run_captured(data, plugins=plugins_with({"a": agent}))
    outcome = run.result.steps["s000"]
    assert outcome.status == "failed"
    assert len(agent.calls) == 3  # 3 x $0.30 fits $1; a fourth would not
    assert "step 's000' budget" in (outcome.error or "")
    assert run.result.cost["usd"] == pytest.approx(0.9)


def test_ledger_waits_while_reservations_are_open_and_refuses_what_never_fits() -> None:
    ledger = Ledger.for_budgets(Budget(usd=1.0), {}, {})
    first = ledger.reserve("s", "a", 0.7, 0)
    assert ledger.fit("t", "a", 0.5, 0)[0] == "wait"
    ledger.settle(first, 0.2, 0)
    assert ledger.fit("t", "a", 0.5, 0)[0] == "fits"
    assert ledger.fit("t", "a", 0.81, 0)[0] == "never"
    assert "run budget of $1" in ledger.fit("t", "a", 0.81, 0)[1]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**32 - 1),
    budget=st.floats(0.001, 0.2),
    n_steps=st.integers(1, 40),
    concurrency=st.integers(1, 40),
    mixes=st.lists(
        st.tuples(
            st.floats(0, 5),  # input price per 1k
            st.floats(0, 20),  # output price per 1k
            st.floats(0, 0.01),  # per call
            st.integers(0, 500),  # expected output tokens (the reservation's bound)
            st.floats(0, 1),  # share of the expected output really produced
            st.floats(0, 1),  # share of the input estimate really consumed
        ),
        min_size=1,
        max_size=4,
    ),
)
def test_settled_total_never_exceeds_the_budget(
    seed: int, budget: float, n_steps: int, concurrency: int, mixes: list[tuple[Any, ...]]
) -> None:
    prices: dict[str, dict[str, Any]] = {}
    agents: dict[str, ScriptedAgent] = {}
    rng = random.Random(seed)
    for i, (inp, out, call, expected, out_share, in_share) in enumerate(mixes):
        name = f"agent{i}"
        prices[name] = {
            "price": {
                "input_per_1k": inp,
                "output_per_1k": out,
                "per_call": call,
                "expected_output_tokens": expected,
            }
        }
        agents[name] = priced_agent(
            name,
            output_tokens=int(expected * out_share),
            input_share=in_share,
            delay=rng.uniform(0.1, 3.0),
        )
    data = workflow(n_steps, prices, budget={"usd": budget}, concurrency=concurrency)

    async def main() -> None:
        run = await run_captured(data, plugins=plugins_with(agents), rng=random.Random(seed))
        assert run.result.cost["usd"] <= budget + 1e-9
        assert run.result.cost["usd"] == pytest.approx(settled(run), abs=1e-9)
        assert not any(e.over_estimate for e in run.of("cost_incurred"))
        for outcome in run.result.steps.values():
            assert outcome.status in ("succeeded", "failed")
            if outcome.status == "failed":
                assert "budget" in (outcome.error or "")

    trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))


def test_price_estimate_is_an_upper_bound_of_a_call_within_it() -> None:
    price = Price(input_per_1k=2.0, output_per_1k=6.0, per_call=0.001, expected_output_tokens=100)
    assert price.estimate(50) == pytest.approx(0.001 + 0.1 + 0.6)
    assert price.cost(cadenza.Usage(input_tokens=50, output_tokens=100)) == pytest.approx(
        price.estimate(50)
    )


async def test_a_resumed_run_remembers_what_it_spent(tmp_path: Any, autojump_clock: Any) -> None:
    """Budgets span a run and its resumes: the second part cannot spend the first part's money."""
    from cadenza import load_workflow_data, plan_resume, run_workflow
    from cadenza.store import SqliteStore

    attempts: list[str] = []

    async def flaky_once(request: cadenza.AgentRequest) -> cadenza.AgentResult:
        attempts.append(request.step_id)
        await trio.sleep(1)
        if request.step_id == "c" and attempts.count("c") == 1:
            raise cadenza.AgentTimeoutError("cut off", agent="a")  # billed: cut off mid-way
        return cadenza.AgentResult(output=request.step_id)

    agent = ScriptedAgent("a", flaky_once)
    data = {
        "name": "resumable",
        "budget": {"usd": 0.07},
        "agents": {"a": {"kind": "prog", "price": {"per_call": 0.02}}},
        "steps": {"a1": {"uses": "a"}, "b": {"uses": "a"}, "c": {"uses": "a", "retry": 1}},
    }
    plugins = plugins_with({"a": agent})
    flow = load_workflow_data(data, plugins=plugins).workflow
    store = SqliteStore(f"sqlite:///{tmp_path / 'journal.db'}")
    try:
        first = await run_workflow(flow, plugins=plugins, store=store)
        assert first.steps["c"].status == "failed"
        assert first.cost_usd == pytest.approx(0.06)
        plan = plan_resume(store, first.run_id, flow)
        second = await run_workflow(flow, plugins=plugins, store=store, resume=plan)
    finally:
        store.close()
    # Spent 0.06 before the resume: c's 0.02 no longer fits the 0.07 budget.
    assert second.steps["c"].status == "failed"
    assert "run budget of $0.07" in (second.steps["c"].error or "")
    assert attempts.count("c") == 1
    assert second.cost["budgets"]["run"]["spent_usd"] == pytest.approx(0.06)


async def test_a_step_refused_by_the_budget_takes_its_fallback_marked_degraded(
    autojump_clock: Any,
) -> None:
    data = workflow(2, {"a": {"price": {"per_call": 0.6}}}, budget={"usd": 1.0}, concurrency=1)
    data["steps"]["s001"]["fallback"] = [{"strategy": "template", "output": "budget spent"}]
    data["steps"]["s001"]["needs"] = ["s000"]
    run = await run_captured(data, plugins=plugins_with({"a": priced_agent("a", output_tokens=1)}))
    outcome = run.result.steps["s001"]
    assert outcome.status == "succeeded"
    assert outcome.degraded
    assert outcome.output == "budget spent"
    (started,) = run.of("fallback_started")
    assert "run budget of $1" in started.error


async def test_a_cut_off_call_costs_its_estimate_even_without_a_budget(
    autojump_clock: Any,
) -> None:
    async def stuck(request: cadenza.AgentRequest) -> cadenza.AgentResult:
        await trio.sleep(100)
        raise AssertionError("unreachable")

    data = workflow(1, {"a": {"price": {"per_call": 0.05}}})
    data["steps"]["s000"]["timeout"] = "1s"
    run = await run_captured(data, plugins=plugins_with({"a": ScriptedAgent("a", stuck)}))
    assert run.result.steps["s000"].status == "failed"
    (cost,) = run.of("cost_incurred")
    assert cost.cost_usd == pytest.approx(0.05 + 0.0)  # per_call; no output price
    assert run.result.cost_usd == pytest.approx(0.05)
