"""``workflow:`` steps: run a sub-workflow as a child run, journaled beside its parent.

A sub-workflow step calls no agent: once its needs are met and its ``with:``
rendered (its inputs), it starts the child run in the parent's nursery, so
cancelling the parent (Ctrl-C, its deadline, ``cadenza cancel``) stops the
child too. The child's run id is derived from the parent's and the step's
(``_ids.child_run_id``), so a resumed parent finds its child in the journal
and continues it instead of starting over; a child that had already
succeeded is not run again. The child's budget is at most what the parent
has left, its deadline at most the parent's remaining time; what it spent
counts in the parent's budgets.

The step's output is the child's outputs: each of its *leaf* steps (the
steps no other step needs) by id, ``null`` for one that did not succeed.
The child's run itself is made by the runner (it knows the plugins, the
store and the output folder), handed in as :class:`RunChild`.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, Protocol

import attrs
import trio

from .. import _events as ev
from .._errors import CadenzaError, ExpressionError
from .._expr._expressions import ExpressionContext
from .._ids import child_run_id
from .._journal._bus import EventBus
from .._resilience._budget import Ledger
from .._spec._workflow import Workflow
from ._step_state import _StepState

__all__ = ["ChildOutcome", "RunChild", "SubRuns", "leaf_outputs"]


@attrs.frozen(kw_only=True)
class ChildOutcome:
    """How a child run ended, as its parent step needs it."""

    run_id: str
    status: str
    reason: str
    outputs: Mapping[str, Any]
    degraded: tuple[str, ...] = ()
    cost_usd: float = 0.0
    tokens: int = 0


class RunChild(Protocol):
    """Runs (or continues, or reads back) the child run ``run_id`` of ``workflow``."""

    def __call__(
        self,
        workflow: Workflow,
        inputs: Mapping[str, Any],
        *,
        run_id: str,
        parent_step: str,
        folder: Sequence[str],
        deadline: float | None,
        budget_usd: float | None,
    ) -> Awaitable[ChildOutcome]: ...


def leaf_outputs(workflow: Workflow, outputs: Mapping[str, Any]) -> dict[str, Any]:
    """The outputs of ``workflow``'s leaf steps (no step needs them), by step id."""
    needed = {need for step in workflow.steps.values() for need in step.needs}
    return {sid: outputs.get(sid) for sid in workflow.steps if sid not in needed}


@attrs.define(eq=False)
class SubRuns:
    """Starts a ``workflow:`` step's child run and records how it ended on the step.

    Receives the parent's ``bus``, ``run_id`` and budget ``ledger``, the
    runner's ``run_child``, and callbacks into the run: ``start_soon`` (a
    task in the run's nursery), ``finish`` (record the step's success with
    its output), ``fail`` (fail the step), ``dispatch`` (start what became
    ready) and ``deadline`` (the run's, on the trio clock).
    """

    bus: EventBus
    run_id: str
    ledger: Ledger
    run_child: RunChild | None
    start_soon: Callable[..., None]
    finish: Callable[[_StepState, Any, bool, str], None]
    fail: Callable[[str, str, str], None]
    dispatch: Callable[[], None]
    deadline: Callable[[], float]
    """The parent run's deadline on the trio clock (inf: none)."""

    def start(self, state: _StepState, ctx: ExpressionContext | None) -> None:
        """The step is ready: render its inputs in ``ctx``, emit ``step_ready``, start the child.

        ``ctx`` is None for a step whose ``with:`` has no expressions.
        """
        step = state.step
        try:
            state.inputs = step.inputs.value if ctx is None else step.inputs.render(ctx)
        except ExpressionError as exc:
            self.fail(step.id, type(exc).__name__, str(exc))
            return
        if not isinstance(state.inputs, Mapping):
            self.fail(
                step.id, "ExpressionError", f"with: must produce a mapping, got {state.inputs!r}"
            )
            return
        state.status = "running"
        state.attempts += 1
        state.started_at = state.ready_at = trio.current_time()
        self.bus.emit(ev.StepReady, step_id=step.id, inputs=state.inputs)
        self.start_soon(self._run, state)

    async def _run(self, state: _StepState) -> None:
        try:
            await self._run_child(state)
        finally:
            self.dispatch()  # dependents may be ready; a run with nothing left can end

    async def _run_child(self, state: _StepState) -> None:
        step = state.step
        assert step.workflow is not None
        if self.run_child is None:
            self.fail(step.id, "PermanentError", "sub-workflows need the runner (run_workflow)")
            return
        left = self.deadline() - trio.current_time()
        remaining = self.ledger.remaining_usd()
        child_id = child_run_id(self.run_id, step.id)
        # Its own folder: items of a for_each step get one each, under their step's.
        folder = (step.id,) if state.parent is None else (state.parent.step.id, str(state.index))
        try:
            outcome = await self.run_child(
                step.workflow,
                state.inputs or {},
                run_id=child_id,
                parent_step=step.id,
                folder=folder,
                deadline=None if left == math.inf else max(left, 0.001),
                budget_usd=remaining,
            )
        except CadenzaError as exc:  # bad inputs, a journal that cannot continue the child
            self.fail(step.id, type(exc).__name__, f"sub-workflow {step.workflow.name!r}: {exc}")
            return
        if outcome.cost_usd or outcome.tokens:
            self.ledger.restore(step.id, "", outcome.cost_usd, outcome.tokens)
            state.cost_usd += outcome.cost_usd
            state.tokens += outcome.tokens
        if outcome.status != "succeeded":
            self.fail(
                step.id,
                "SubWorkflowFailed",
                f"sub-workflow {step.workflow.name!r} (run {outcome.run_id}) {outcome.status}"
                + (f": {outcome.reason}" if outcome.reason else ""),
            )
            return
        source = ""
        if outcome.degraded:
            source = (
                f"sub-workflow run {outcome.run_id}: degraded steps {', '.join(outcome.degraded)}"
            )
        self.finish(state, dict(outcome.outputs), bool(outcome.degraded), source)
