"""The mutable state of one step within a run, and the run's steps as a graph.

Shared by the scheduler core and its collaborators (calls, fallbacks,
summaries), so it lives in its own module rather than in any one of them.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs

from .._agents._contract import AgentResult
from .._resilience._retry import RetryState
from .._resilience._slots import _AgentSlot, _Pool
from .._spec._workflow import Step, Workflow

_TERMINAL = frozenset({"succeeded", "failed", "skipped", "cancelled"})


@attrs.define(eq=False, slots=True)
class _StepState:
    step: Step
    pool: _Pool | None
    status: str = "pending"  # pending → ready → running ⇄ backoff → terminal
    waiting: int = 0
    attempts: int = 0
    inputs: Mapping[str, Any] | None = None
    output: Any = None
    result: AgentResult | None = None
    agent: str | None = None
    error: str | None = None
    reason: str | None = None
    ready_at: float = 0.0
    started_at: float | None = None
    ended_at: float | None = None
    last_agent: str | None = None  # the agent the last failed attempt ran on
    rate_limited: int = 0  # attempts answered "too many requests", not counted
    fallbacks_tried: int = 0
    estimated_tokens: int = 0  # the rate limiter's estimate, when an agent limits tokens
    input_tokens: int = 0  # the budgets' estimate of the inputs' tokens, once computed
    cost_usd: float = 0.0  # settled cost of every call the step made
    tokens: int = 0  # settled tokens of every call the step made
    budget_refusal: str = ""  # why no budget can ever fit the step's next call
    waited_for: str = ""  # what last held it while ready (AttemptStarted.waited_for)
    provenance: Mapping[str, Any] | None = None  # a multi-agent step's answers, for the result
    asks: itertools.count[int] = attrs.field(factory=itertools.count)  # request.ask() calls
    estimates: dict[str, tuple[float, int]] = attrs.field(factory=dict)  # per agent: usd, tokens
    error_note: str = ""  # the last attempt's error, for messages
    fallback_source: str | None = None  # set while a fallback serves the step
    fallback_error: str = ""  # the failure that sent the step to its fallbacks
    deadline: float = math.inf  # total_timeout, from the first attempt
    parent: _StepState | None = None  # the for_each step this state is an item of
    item: Any = None  # the list item this state serves (an item's state only)
    index: int = -1  # its position in the for_each list (an item's state only)

    def folder(self, output_dir: Path | None) -> Path | None:
        """The step's folder in the run's ``output_dir``; items of a for_each step share it.

        One folder per step, not per item, so a map that writes one file per item
        (a planner's file list) builds one tree.
        """
        if output_dir is None:
            return None
        owner = self.step if self.parent is None else self.parent.step
        return output_dir / owner.id

    def retry_state(self) -> RetryState:
        """What the retry decision needs to know of the step's attempts so far."""
        return RetryState(
            attempts=self.attempts,
            rate_limited=self.rate_limited,
            deadline=self.deadline,
            in_fallback=self.fallback_source is not None,
        )


@attrs.define(eq=False, kw_only=True)
class StepGraph:
    """A run's steps before it starts: their states, who needs whom, and the ready pools."""

    states: dict[str, _StepState]
    dependents: dict[str, list[str]]
    """Step id to the steps that need it."""
    pools: list[_Pool]
    """One pool per distinct set of agents that can serve a step."""
    fallback_pools: dict[str, _Pool | None]
    """Agent name to the one-agent pool of a ``fallback: [{agent: ...}]`` entry."""


def build_steps(workflow: Workflow, slots: Mapping[str, _AgentSlot]) -> StepGraph:
    """Every step pending, with its pool: steps served by the same agents share one."""
    pools: dict[tuple[str, ...], _Pool] = {}

    def pool_of(names: tuple[str, ...]) -> _Pool | None:
        if not names:
            return None
        if names not in pools:
            pools[names] = _Pool(agents=tuple(slots[n] for n in names))
        return pools[names]

    graph = StepGraph(states={}, dependents={}, pools=[], fallback_pools={})
    for step_id, step in workflow.steps.items():
        names = step.fan_out if isinstance(step.fan_out, tuple) else workflow.agents_for(step.uses)
        pool = pool_of(names)
        for entry in step.fallback:
            if entry.agent is not None:
                graph.fallback_pools[entry.agent] = pool_of((entry.agent,))
        graph.states[step_id] = _StepState(step=step, pool=pool, waiting=len(step.needs))
        graph.dependents.setdefault(step_id, [])
        for need in step.needs:
            graph.dependents.setdefault(need, []).append(step_id)
    graph.pools = list(pools.values())
    return graph
