"""``cadenza.run``: run a workflow (or a builder) to the end from synchronous code.

A script, a notebook cell or a test calls ``cadenza.run(wf, inputs=...)`` and
gets the :class:`~cadenza.RunResult`; it starts trio itself. Code that is
already async awaits :func:`cadenza.run_workflow` instead, which takes the same
options: starting a second event loop inside a running one cannot work, so
that is refused with the call to make instead.
"""

from __future__ import annotations

import random
import sys
from collections.abc import Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import trio

from .._journal._bus import Observer
from .._journal._store import Store
from .._plugins._registry import Plugins, load_plugins
from .._scheduler._resume import ResumePlan
from .._scheduler._runner import run_workflow
from .._spec._inputs import run_inputs
from .._spec._outcome import RunResult
from .._spec._workflow import Workflow
from ._builder import WorkflowBuilder

__all__ = ["run"]


def run(
    workflow: Workflow | WorkflowBuilder,
    *,
    inputs: Mapping[str, Any] | None = None,
    plugins: Plugins | None = None,
    run_id: str | None = None,
    observers: Sequence[Observer] = (),
    rng: random.Random | None = None,
    store: Store | None = None,
    resume: ResumePlan | None = None,
    use_cache: bool = True,
    strict: bool = False,
    output_dir: Path | str | None = None,
) -> RunResult:
    """Run ``workflow`` to the end and return what happened; synchronous (it calls ``trio.run``).

    ``workflow`` is a :class:`~cadenza.Workflow` or a builder from
    :func:`cadenza.workflow` (built here). ``inputs`` are Python values, used
    as they are; an input not given takes its default, and an unknown or a
    missing required input raises :class:`~cadenza.WorkflowError` before
    anything runs. ``plugins`` defaults to the installed ones
    (``cadenza.plugins.load_plugins()``). Every other option is
    :func:`cadenza.run_workflow`'s, with the same meaning.

    Raises RuntimeError when called from a running event loop: in trio code,
    ``await cadenza.run_workflow(...)`` instead (it takes a builder too); from
    asyncio, run this in a worker thread.

    .. versionadded:: 0.2
    """
    _refuse_inside_a_loop()
    if plugins is None:
        plugins = load_plugins()
    if not isinstance(workflow, Workflow):
        workflow = workflow.build(plugins=plugins)
    values = run_inputs(workflow, inputs) if resume is None else None
    return trio.run(
        partial(
            run_workflow,
            workflow,
            plugins=plugins,
            inputs=values,
            run_id=run_id,
            observers=observers,
            rng=rng,
            store=store,
            resume=resume,
            use_cache=use_cache,
            strict=strict,
            output_dir=output_dir,
        )
    )


_IN_TRIO = (
    "cadenza.run() starts an event loop of its own, so it cannot be called from code that "
    "already runs in trio. There, write:\n"
    "    result = await cadenza.run_workflow(workflow, plugins=plugins, inputs={...})\n"
    "(run_workflow takes a builder from cadenza.workflow() too; plugins come from "
    "cadenza.plugins.load_plugins())."
)
_IN_ASYNCIO = (
    "cadenza.run() cannot be called from a running asyncio event loop: it would block the "
    "loop, and Cadenza runs on trio, not asyncio. Run it in a worker thread instead:\n"
    "    result = await asyncio.to_thread(cadenza.run, workflow, inputs={...})"
)


def _refuse_inside_a_loop() -> None:
    """RuntimeError saying what to call instead, when an event loop is running here."""
    try:
        trio.lowlevel.current_task()
    except RuntimeError:
        pass
    else:
        raise RuntimeError(_IN_TRIO)
    asyncio = sys.modules.get("asyncio")  # never imported here: loaded only if someone uses it
    if asyncio is not None:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return
        raise RuntimeError(_IN_ASYNCIO)
