"""Resuming a run from its journal: what to keep, what to run again, and when to refuse.

A resumed run keeps the journaled output of every step whose ``step_succeeded``
event is in the journal (the scheduler made that event durable before any
dependent started, so such a step is never executed again). Every other step
runs: steps that were in flight when the process died run again with the same
idempotency key (at-least-once for the agent call, exactly-once for the run's
record). ``--from STEP`` drops STEP and its descendants from what is kept.

Items of a ``for_each`` step (``build[3]``) are kept one by one the same
way: a resumed map runs only the items whose success is not journaled.
"""

from __future__ import annotations

import difflib
import socket
from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from .._errors import ResumeError, UnknownRunError
from .._graph._dag import descendants
from .._ids import child_run_id, split_item_id
from .._journal._readback import is_alive_elsewhere
from .._journal._store import RunRecord, Store
from .._spec._workflow import Workflow


@attrs.frozen(kw_only=True)
class ResumePlan:
    """What a resumed run restores and where its event sequence continues."""

    record: RunRecord
    outputs: Mapping[str, Any]
    next_seq: int
    from_step: str | None = None
    key_generation: Mapping[str, str] = attrs.field(factory=dict)
    """Per step re-run on purpose (``--from``, now or in an earlier resume), the
    generation mixed into its idempotency key: a provider that deduplicates
    must not answer a deliberate re-run from its memory of the first one."""
    spent: tuple[tuple[str, str, float, int], ...] = ()
    """Every settled cost so far, as ``(step_id, agent, usd, tokens)``: budgets
    span a run and every resume of it, so nothing spent before is forgotten."""
    output_dir: str | None = None
    """The output folder the run last used (its ``run_started``, or the latest
    ``run_resumed`` that had one): a resume writes there unless told otherwise,
    so one run's files stay in one folder. None for journals from before it was
    recorded, and for runs whose agents were given no folder."""

    @property
    def run_id(self) -> str:
        return self.record.run_id


def find_run(store: Store, run_id: str) -> RunRecord:
    """The run's record, or :class:`UnknownRunError` naming recent runs."""
    record = store.get_run(run_id)
    if record is None:
        recent = [r.run_id for r in store.list_runs(limit=5)]
        raise UnknownRunError(run_id, url=store.url, recent=recent)
    return record


def source_diff(old: str, new: str, *, name: str) -> str:
    """A unified diff of the workflow file between the run's start and now."""
    lines = difflib.unified_diff(
        old.splitlines(keepends=True),
        new.splitlines(keepends=True),
        fromfile=f"{name} (when the run started)",
        tofile=f"{name} (now)",
        n=1,
    )
    return "".join(lines)


def plan_resume(
    store: Store,
    run_id: str,
    workflow: Workflow,
    *,
    from_step: str | None = None,
    allow_changed: bool = False,
    force: bool = False,
    leased: bool = False,
) -> ResumePlan:
    """Decide how to resume ``run_id`` with ``workflow`` (the file as it is now).

    ``leased``: the caller holds the run's claim in the store's run queue (a
    worker taking over an expired lease), so the previous owner cannot write
    any more (fencing) and whether its process lives does not matter.
    """
    record = find_run(store, run_id)
    if (
        not leased
        and record.status == "running"
        and record.host
        and record.host != socket.gethostname()
        and not force
    ):
        raise ResumeError(
            f"run {run_id} is marked running on host {record.host}, whose process cannot be "
            f"checked from here. If it is gone, pass --force to resume it here.",
            run_id=run_id,
        )
    if not leased and is_alive_elsewhere(record):
        raise ResumeError(
            f"run {run_id} is still running (pid {record.pid} on {record.host}); "
            f"stop it first (cadenza cancel {run_id}) or wait for it to finish.",
            run_id=run_id,
        )
    if record.source_hash and record.source_hash != workflow.source_hash and not allow_changed:
        old = store.read_source(run_id) or ""
        diff = source_diff(old, workflow.source_text, name=record.source or "workflow")
        raise ResumeError(
            f"the workflow file changed since run {run_id} started; resuming could mix "
            f"outputs of two different workflows.\n{diff or '(the stored text is unavailable)'}"
            "\nUndo the change, or pass --allow-changed to resume with the file as it is now.",
            run_id=run_id,
        )
    if from_step is not None and from_step not in workflow.steps:
        raise ResumeError(
            f"--from {from_step!r}: no such step in workflow {workflow.name!r}. "
            + _did_you_mean(from_step, workflow.steps),
            run_id=run_id,
        )
    events = store.read_events(run_id)
    needs = {sid: list(step.needs) for sid, step in workflow.steps.items()}
    outputs: dict[str, Any] = {}
    generations: dict[str, str] = {}
    spent: list[tuple[str, str, float, int]] = []
    output_dir: str | None = None
    for event in events:
        kind = event.get("kind")
        if kind in ("run_started", "run_resumed") and isinstance(event.get("output_dir"), str):
            output_dir = event["output_dir"]
        if kind == "cost_incurred":
            spent.append((str(event.get("step_id")), str(event.get("agent")), *_cost_of(event)))
        elif kind == "step_succeeded" and _kept_id(event.get("step_id"), workflow):
            outputs[event["step_id"]] = event.get("output")
        elif kind == "run_resumed":
            # An earlier resume kept only these; the rest was to run again.
            kept = set(event.get("restored", ()))
            outputs = {k: v for k, v in outputs.items() if k in kept}
            earlier_from = event.get("from_step")
            if isinstance(earlier_from, str) and earlier_from in workflow.steps:
                for step_id in _from_set(needs, earlier_from):
                    generations[step_id] = _generation(int(event["seq"]))
    next_seq = int(events[-1]["seq"]) + 1 if events else 0
    if from_step is not None:
        dropped = _from_set(needs, from_step)
        for step_id in dropped:
            generations[step_id] = _generation(next_seq)  # next_seq: this resume's event
        outputs = {k: v for k, v in outputs.items() if _step_of(k, workflow) not in dropped}
    elif record.status == "succeeded":
        raise ResumeError(
            f"run {run_id} already succeeded; nothing to resume. "
            f"To run part of it again: cadenza resume {run_id} --from STEP",
            run_id=run_id,
        )
    spent.extend(_children_spend(store, run_id, workflow, outputs))
    return ResumePlan(
        record=record,
        outputs=outputs,
        next_seq=next_seq,
        from_step=from_step,
        key_generation=generations,
        spent=tuple(spent),
        output_dir=output_dir,
    )


def _cost_of(event: Mapping[str, Any]) -> tuple[float, int]:
    """Dollars and tokens of a ``cost_incurred`` event (``tokens`` absent in older journals)."""
    reported = int(event.get("input_tokens", 0)) + int(event.get("output_tokens", 0))
    return float(event.get("cost_usd") or 0.0), int(event.get("tokens", reported))


def _children_spend(
    store: Store, run_id: str, workflow: Workflow, kept: Iterable[str]
) -> list[tuple[str, str, float, int]]:
    """What the sub-workflow runs of the kept steps spent, per step.

    A child journals its costs in its own run, so the parent's events do not
    show them; a resumed parent that keeps the step (and does not run the
    child again) must still count them in its budgets.
    """
    out = []
    for step_id in kept:
        step = workflow.steps[_step_of(step_id, workflow)]
        if step.workflow is None or (step.for_each is not None and step_id == step.id):
            continue  # no child, or a for_each step: each item has its own child
        usd, tokens = _run_spend(store, child_run_id(run_id, step_id), step.workflow)
        if usd or tokens:
            out.append((step_id, "", usd, tokens))
    return out


def _run_spend(store: Store, run_id: str, workflow: Workflow) -> tuple[float, int]:
    """The costs journaled by ``run_id`` and, recursively, by its own succeeded children."""
    usd, tokens, succeeded = 0.0, 0, []
    for event in store.read_events(run_id):
        kind = event.get("kind")
        if kind == "cost_incurred":
            event_usd, event_tokens = _cost_of(event)
            usd += event_usd
            tokens += event_tokens
        elif kind == "step_succeeded" and _kept_id(event.get("step_id"), workflow):
            succeeded.append(event["step_id"])
    for _, _, child_usd, child_tokens in _children_spend(store, run_id, workflow, succeeded):
        usd += child_usd
        tokens += child_tokens
    return usd, tokens


def _kept_id(step_id: Any, workflow: Workflow) -> bool:
    """A step of ``workflow``, or an item of one of its ``for_each`` steps."""
    if not isinstance(step_id, str):
        return False
    if step_id in workflow.steps:
        return True
    parts = split_item_id(step_id)
    if parts is None:
        return False
    step = workflow.steps.get(parts[0])
    return step is not None and step.for_each is not None


def _step_of(step_id: str, workflow: Workflow) -> str:
    """The step an id belongs to: itself, or the ``for_each`` step of an item."""
    parts = None if step_id in workflow.steps else split_item_id(step_id)
    return step_id if parts is None else parts[0]


def _from_set(needs: Mapping[str, list[str]], step_id: str) -> set[str]:
    return {step_id} | descendants(needs, step_id)


def _generation(resume_seq: int) -> str:
    return f"resume-{resume_seq}"


def _did_you_mean(name: str, known: Mapping[str, Any]) -> str:
    close = difflib.get_close_matches(name, list(known), n=1)
    return f"Did you mean {close[0]!r}?" if close else f"Steps: {', '.join(known)}."
