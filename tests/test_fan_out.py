"""Multi-agent steps end to end: votes, conflicts, judges, provenance and hedging.

In-process agents on the autojump clock make disagreements and latencies
exact; the hedging test against a real loopback server proves the losers'
connections are closed (the server sees each one hang up), with no call left
running after the run returns.
"""

from __future__ import annotations

import functools
import random
from collections.abc import Awaitable, Callable
from typing import Any

import trio

import cadenza
from cadenza.testing import ScriptedAgent, SeedAgentServer, Stall, run_captured, serve_seed_agent
from tests.scheduler_helpers import plugins_with


def answering(
    value: Any, delay: float = 1.0, *, confidence: float | None = None
) -> Callable[[cadenza.AgentRequest], Awaitable[cadenza.AgentResult]]:
    async def behaviour(request: cadenza.AgentRequest) -> cadenza.AgentResult:
        await trio.sleep(delay)
        return cadenza.AgentResult(output=value, confidence=confidence)

    return behaviour


def failing(delay: float = 1.0) -> Callable[[cadenza.AgentRequest], Awaitable[Any]]:
    async def behaviour(request: cadenza.AgentRequest) -> Any:
        await trio.sleep(delay)
        raise cadenza.PermanentError("refused", agent="x")

    return behaviour


def panel(**behaviours: Any) -> dict[str, ScriptedAgent]:
    return {name: ScriptedAgent(name, b) for name, b in behaviours.items()}


def voting_workflow(members: dict[str, ScriptedAgent], /, **step: Any) -> dict[str, Any]:
    return {
        "name": "panel",
        "agents": {
            name: {"kind": "prog", "capabilities": ["answer"], **step.pop(f"agent_{name}", {})}
            for name in members
        },
        "steps": {"ask": {"uses": "answer", "retry": 1, **step}},
    }


async def test_majority_vote_takes_the_normalised_majority_and_records_who_said_what(
    autojump_clock: Any,
) -> None:
    agents = panel(a=answering("Paris"), b=answering(" paris "), c=answering("Lyon", delay=5))
    run = await run_captured(
        voting_workflow(agents, agents=3, aggregate="majority_vote"), plugins=plugins_with(agents)
    )
    outcome = run.result.steps["ask"]
    assert outcome.status == "succeeded"
    assert outcome.output in ("Paris", " paris ")
    assert outcome.source.startswith("majority_vote: ")
    provenance = outcome.provenance
    assert provenance is not None
    by_agent = {a["agent"]: a for a in provenance["answers"]}
    assert by_agent["a"]["supported"]
    assert by_agent["b"]["supported"]
    # The majority was certain after two answers: the third call was cut off.
    assert by_agent["c"]["status"] == "cancelled"
    assert outcome.duration == 1.0 or abs(outcome.duration - 1.0) < 1e-6
    (combined,) = run.of("answers_combined")
    assert set(combined.supporters) == {"a", "b"}


async def test_weighted_vote_lets_a_heavy_agent_outvote_two_light_ones(autojump_clock: Any) -> None:
    agents = panel(expert=answering("yes"), a=answering("no"), b=answering("no"))
    data = voting_workflow(agents, agents=3, aggregate="weighted_vote", agent_expert={"weight": 5})
    run = await run_captured(data, plugins=plugins_with(agents))
    assert run.result.steps["ask"].output == "yes"
    assert run.result.steps["ask"].provenance["supporters"] == ["expert"]


async def test_consensus_failure_emits_a_conflict_and_fails_the_step(autojump_clock: Any) -> None:
    agents = panel(a=answering("red"), b=answering("green"), c=answering("blue"))
    data = voting_workflow(agents, agents=3, aggregate={"strategy": "consensus", "threshold": 0.66})
    run = await run_captured(data, plugins=plugins_with(agents))
    outcome = run.result.steps["ask"]
    assert outcome.status == "failed"
    (conflict,) = run.of("step_conflict")
    assert conflict.on_conflict == "fail"
    assert "consensus" in conflict.message
    assert conflict.message in (outcome.error or "")


async def test_on_conflict_best_takes_the_best_scored_answer(autojump_clock: Any) -> None:
    agents = panel(
        a=answering("red", confidence=0.4),
        b=answering("green", confidence=0.9),
        c=answering("blue", confidence=0.6),
    )
    data = voting_workflow(agents, agents=3, aggregate="consensus", on_conflict="best")
    run = await run_captured(data, plugins=plugins_with(agents))
    outcome = run.result.steps["ask"]
    assert outcome.status == "succeeded"
    assert outcome.output == "green"
    assert outcome.source == "best-scored answer of b"


async def test_on_conflict_judge_asks_the_judge_with_every_answer(autojump_clock: Any) -> None:
    seen: list[dict[str, Any]] = []

    async def judge(request: cadenza.AgentRequest) -> cadenza.AgentResult:
        seen.append(dict(request.inputs))
        answers = sorted(a["output"] for a in request.inputs["answers"])
        return cadenza.AgentResult(output=answers[0])

    agents = panel(a=answering("red"), b=answering("green"), referee=judge)
    data = voting_workflow(
        agents, agents=["a", "b"], aggregate="majority_vote", on_conflict="judge", judge="referee"
    )
    data["agents"]["referee"]["capabilities"] = ["judging"]
    run = await run_captured(data, plugins=plugins_with(agents))
    outcome = run.result.steps["ask"]
    assert outcome.status == "succeeded", outcome.error
    assert outcome.output == "green"
    assert outcome.source == "judge referee"
    (inputs,) = seen
    assert {a["agent"] for a in inputs["answers"]} == {"a", "b"}
    assert "tie" in inputs["conflict"]


async def test_all_answers_failed_fails_the_attempt_with_every_error(autojump_clock: Any) -> None:
    agents = panel(a=failing(), b=failing())
    run = await run_captured(
        voting_workflow(agents, agents=2, aggregate="first_success"), plugins=plugins_with(agents)
    )
    outcome = run.result.steps["ask"]
    assert outcome.status == "failed"
    assert "no usable answer" in (outcome.error or "")
    assert "a: refused" in (outcome.error or "")
    assert "b: refused" in (outcome.error or "")


async def test_merge_records_per_field_provenance(autojump_clock: Any) -> None:
    agents = panel(
        a=answering({"title": "Trio", "tags": ["async"]}),
        b=answering({"summary": "Structured concurrency", "title": "trio"}, delay=2),
    )
    run = await run_captured(
        voting_workflow(agents, agents=2, aggregate="merge"), plugins=plugins_with(agents)
    )
    outcome = run.result.steps["ask"]
    assert outcome.output == {
        "title": "Trio",
        "tags": ["async"],
        "summary": "Structured concurrency",
    }
    assert outcome.provenance["fields"] == {"title": "a", "tags": "a", "summary": "b"}


def slow_tail(seed: int) -> Callable[[cadenza.AgentRequest], Awaitable[cadenza.AgentResult]]:
    """Usually 0.5-1 s; one call in twenty takes 30 s (a provider's slow tail)."""
    rng = random.Random(seed)

    async def behaviour(request: cadenza.AgentRequest) -> cadenza.AgentResult:
        await trio.sleep(30.0 if rng.random() < 0.05 else rng.uniform(0.5, 1.0))
        return cadenza.AgentResult(output=request.step_id)

    return behaviour


def p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]


async def test_hedged_requests_cut_the_p99_of_a_slow_tail(autojump_clock: Any) -> None:
    """200 sequential steps on virtual time: the hedge turns 30 s tails into ~2.5 s."""

    def chain(hedged: bool, agents: dict[str, ScriptedAgent]) -> dict[str, Any]:
        steps: dict[str, Any] = {}
        for i in range(200):
            step: dict[str, Any] = {"uses": "answer", "needs": [f"s{i - 1}"] if i else []}
            if hedged:
                step |= {
                    "agents": 3,
                    "aggregate": {"strategy": "hedged", "delay": "1.5s", "max_requests": 3},
                }
            steps[f"s{i}"] = step
        return {
            "name": "tail",
            "agents": {n: {"kind": "prog", "capabilities": ["answer"]} for n in agents},
            "steps": steps,
        }

    plain_agents = panel(a=slow_tail(1), b=slow_tail(2), c=slow_tail(3))
    plain = await run_captured(chain(False, plain_agents), plugins=plugins_with(plain_agents))
    hedged_agents = panel(a=slow_tail(1), b=slow_tail(2), c=slow_tail(3))
    hedged = await run_captured(chain(True, hedged_agents), plugins=plugins_with(hedged_agents))
    plain_p99 = p99([o.duration or 0 for o in plain.result.steps.values()])
    hedged_p99 = p99([o.duration or 0 for o in hedged.result.steps.values()])
    assert plain_p99 >= 30.0
    assert hedged_p99 < 5.0
    # Every hedge that lost was cancelled: each step has one supporter, none still running.
    for event in hedged.of("answers_combined"):
        statuses = [a["status"] for a in event.answers]
        assert statuses.count("ok") == 1
        assert set(statuses) <= {"ok", "cancelled"}
    assert all(a.in_flight == 0 for a in hedged_agents.values())
    # Most steps needed no hedge at all: the second request is the exception.
    hedges = sum(len(e.answers) > 1 for e in hedged.of("answers_combined"))
    assert 0 < hedges < 60


async def test_hedged_losers_disconnect_from_a_real_server() -> None:
    """Real sockets (no autojump clock): the stalled first call is abandoned, not orphaned."""
    async with trio.open_nursery() as nursery:
        slow: SeedAgentServer = await nursery.start(
            functools.partial(serve_seed_agent, faults=[Stall(60.0)] * 3)
        )
        fast: SeedAgentServer = await nursery.start(serve_seed_agent)
        data = {
            "name": "hedge",
            "agents": {
                "slow": {
                    "kind": "http",
                    "capabilities": ["echo"],
                    "options": {"endpoint": slow.url},
                },
                "fast": {
                    "kind": "http",
                    "capabilities": ["echo"],
                    "options": {"endpoint": fast.url},
                },
            },
            "steps": {
                f"s{i}": {
                    "uses": "echo",
                    "agents": ["slow", "fast"],
                    "aggregate": {"strategy": "hedged", "delay": "50ms"},
                    "with": {"i": i},
                    "needs": [f"s{i - 1}"] if i else [],  # one at a time: slow is asked first
                }
                for i in range(3)
            },
        }
        with trio.fail_after(30):
            run = await run_captured(data)
        assert run.result.status == "succeeded"
        for i in range(3):
            assert run.result.steps[f"s{i}"].output["echo"] == {"i": i}
        # The slow server took three calls and saw every one of them hang up.
        with trio.fail_after(10):
            await slow.wait_abandoned(3)
        assert len(slow.calls) == 3
        assert slow.in_flight == 0
        assert len(fast.calls) == 3
        nursery.cancel_scope.cancel()


async def test_a_cached_vote_is_reused_by_the_next_run(tmp_path: Any, autojump_clock: Any) -> None:
    from cadenza.store import SqliteStore

    agents = panel(a=answering("yes"), b=answering("yes"), c=answering("no"))
    data = voting_workflow(agents, agents=3, cache=True)
    store = SqliteStore(f"sqlite:///{tmp_path / 'journal.db'}")
    try:
        first = await run_captured(data, plugins=plugins_with(agents), store=store)
        calls = sum(len(a.calls) for a in agents.values())
        second = await run_captured(data, plugins=plugins_with(agents), store=store)
    finally:
        store.close()
    assert first.result.steps["ask"].output == "yes"
    assert second.result.steps["ask"].output == "yes"
    assert second.of("step_cache_hit")
    assert sum(len(a.calls) for a in agents.values()) == calls  # no agent asked again


class _Raising:
    def combine(self, answers: Any, *, pending: int) -> Any:
        raise ZeroDivisionError("oops")


class _RaisingAggregators:
    @cadenza.hookimpl
    def cadenza_aggregators(self, register: Any) -> None:
        register("raising", lambda options: _Raising())


async def test_an_aggregator_that_raises_fails_its_step_not_the_run(autojump_clock: Any) -> None:
    from cadenza._plugins._registry import load_plugins
    from tests.scheduler_helpers import ProgrammablePlugin

    agents = panel(a=answering("x"), b=answering("y"))
    data = voting_workflow(agents, agents=2, aggregate="raising")
    data["steps"]["other"] = {"uses": "a"}
    plugins = load_plugins(
        entry_points=False, extra=[ProgrammablePlugin(agents), _RaisingAggregators()]
    )
    run = await run_captured(data, plugins=plugins)
    outcome = run.result.steps["ask"]
    assert outcome.status == "failed"
    assert "aggregation strategy 'raising' failed: combine raised ZeroDivisionError" in (
        outcome.error or ""
    )
    assert run.result.steps["other"].status == "succeeded"
