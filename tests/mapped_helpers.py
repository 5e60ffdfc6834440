"""Journals of runs with a ``for_each`` step of many items, made by the real runner."""

from __future__ import annotations

from collections.abc import Collection
from functools import partial
from typing import Any

import trio

import cadenza
from cadenza import PermanentError
from cadenza._journal._sqlite import SqliteStore
from cadenza.testing import CapturedRun, ScriptedAgent, run_captured, scripted_agent_kind

MAPPED_YAML = """\
name: mapped
agents:
  planner: {kind: scripted}
  coder: {kind: scripted, max_concurrent: 16}
steps:
  plan: {uses: planner}
  build:
    needs: [plan]
    for_each: "${{ steps.plan.output.files }}"
    uses: coder
    with: {path: "${{ item }}", n: "${{ index }}"}
  review: {needs: [build], uses: planner}
"""
"""plan lists the files, build runs once per file, review reads build's output."""


def mapped_run(url: str, *, items: int = 2000, failing: Collection[int] = ()) -> CapturedRun:
    """Journal at ``url`` a run of :data:`MAPPED_YAML` with ``items`` files, where the
    items whose index is in ``failing`` fail for good; the run, with its events."""
    files = [f"src/f{i}.py" for i in range(items)]
    planner = ScriptedAgent("planner", [{"files": files}, {"reviewed": True}])

    def build(request: cadenza.AgentRequest) -> Any:
        if request.inputs["n"] in failing:
            raise PermanentError(f"cannot compile {request.inputs['path']}")
        return {"wrote": request.inputs["path"]}

    coder = ScriptedAgent("coder", build)
    plugins = cadenza.plugins.load_plugins(
        extra=[scripted_agent_kind(planner, coder)], entry_points=False
    )
    store = SqliteStore(url)
    try:
        run = trio.run(partial(run_captured, MAPPED_YAML, plugins=plugins, store=store))
    finally:
        store.close()
    return run


def mapped_workflow() -> cadenza.Workflow:
    """:data:`MAPPED_YAML` loaded (its agents' kind registered), for the run summary."""
    plugins = cadenza.plugins.load_plugins(
        extra=[scripted_agent_kind(ScriptedAgent("planner"), ScriptedAgent("coder"))],
        entry_points=False,
    )
    return cadenza.load_workflow_text(MAPPED_YAML, plugins=plugins).workflow
