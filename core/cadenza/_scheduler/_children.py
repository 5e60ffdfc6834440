"""How the runner runs a ``workflow:`` step's child: new, continued, or read back.

:func:`child_runner` binds what the parent run was given (plugins, store,
output folder, cache and strict settings) into the :class:`RunChild` that
``_sub_runs`` calls. With a journal, the child's id is looked up first: a
child that already succeeded (the parent died before recording it) is read
back from the journal, one that did not finish is resumed, and only a child
never started is started. Its budget and deadline are narrowed to what the
parent has left.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

import attrs
import trio

from .._journal._store import Store
from .._plugins._registry import Plugins
from .._spec._cost import Budget
from .._spec._inputs import run_inputs
from .._spec._outcome import RunResult
from .._spec._workflow import Workflow
from ._resume import ResumePlan, plan_resume
from ._sub_runs import ChildOutcome, RunChild, leaf_outputs

__all__ = ["child_runner"]


class StartRun(Protocol):
    """The runner's own entry point, with the parent link (see ``_runner``)."""

    def __call__(
        self,
        workflow: Workflow,
        *,
        plugins: Plugins,
        inputs: Mapping[str, Any],
        run_id: str,
        store: Store | None,
        resume: ResumePlan | None,
        use_cache: bool,
        strict: bool,
        output_dir: Path | None,
        parent: tuple[str, str],
    ) -> Awaitable[RunResult]: ...


def child_runner(
    start: StartRun,
    *,
    parent_run_id: str,
    plugins: Plugins,
    store: Store | None,
    use_cache: bool,
    strict: bool,
    output_dir: Path | None,
) -> RunChild:
    """The :class:`RunChild` of the run ``parent_run_id``."""

    async def run_child(
        workflow: Workflow,
        inputs: Mapping[str, Any],
        *,
        run_id: str,
        parent_step: str,
        folder: Sequence[str],
        deadline: float | None,
        budget_usd: float | None,
    ) -> ChildOutcome:
        workflow = _narrowed(workflow, deadline, budget_usd)
        resume = None
        if store is not None:
            record = await trio.to_thread.run_sync(store.get_run, run_id)
            if record is not None and record.status == "succeeded":
                events = await trio.to_thread.run_sync(store.read_events, run_id)
                return _read_back(workflow, run_id, events)
            if record is not None:
                resume = await trio.to_thread.run_sync(plan_resume, store, run_id, workflow)
        values = run_inputs(workflow, inputs)  # with: was checked against them at load
        result = await start(
            workflow,
            plugins=plugins,
            inputs=values,
            run_id=run_id,
            store=store,
            resume=resume,
            use_cache=use_cache,
            strict=strict,
            output_dir=output_dir.joinpath(*folder) if output_dir is not None else None,
            parent=(parent_run_id, parent_step),
        )
        succeeded = {s: o.output for s, o in result.steps.items() if o.status == "succeeded"}
        failed = [f"{s}: {o.error}" for s, o in result.steps.items() if o.status == "failed"]
        return ChildOutcome(
            run_id=run_id,
            status=result.status,
            reason="; ".join(failed[:3])
            + (f"; and {len(failed) - 3} more" if len(failed) > 3 else "")
            if failed
            else result.reason,
            outputs=leaf_outputs(workflow, succeeded),
            degraded=tuple(result.degraded),
            cost_usd=result.cost_usd,
            tokens=int(result.cost.get("tokens", 0)),
        )

    return run_child


def _narrowed(workflow: Workflow, deadline: float | None, budget_usd: float | None) -> Workflow:
    """``workflow`` with at most ``deadline`` seconds and ``budget_usd`` dollars."""
    changes: dict[str, Any] = {}
    if deadline is not None and deadline < (workflow.deadline or math.inf):
        changes["deadline"] = deadline
    own = workflow.budget or Budget()
    if budget_usd is not None and budget_usd < (own.usd if own.usd is not None else math.inf):
        changes["budget"] = attrs.evolve(own, usd=budget_usd)
    return attrs.evolve(workflow, **changes) if changes else workflow


def _read_back(
    workflow: Workflow, run_id: str, events: Sequence[Mapping[str, Any]]
) -> ChildOutcome:
    """The outcome of a child that already succeeded, from its journal (it does not run again)."""
    outputs: dict[str, Any] = {}
    degraded: list[str] = []
    usd, tokens = 0.0, 0
    for event in events:
        kind = event.get("kind")
        if kind == "step_succeeded" and event.get("step_id") in workflow.steps:
            outputs[event["step_id"]] = event.get("output")
            if event.get("degraded"):
                degraded.append(event["step_id"])
        elif kind == "cost_incurred":
            usd += float(event.get("cost_usd") or 0.0)
            tokens += int(event.get("input_tokens", 0)) + int(event.get("output_tokens", 0))
    return ChildOutcome(
        run_id=run_id,
        status="succeeded",
        reason="",
        outputs=leaf_outputs(workflow, outputs),
        degraded=tuple(degraded),
        cost_usd=usd,
        tokens=tokens,
    )
