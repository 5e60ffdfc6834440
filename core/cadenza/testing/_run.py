"""Run a workflow from a dict or a YAML string and capture every event (for tests)."""

from __future__ import annotations

import os
import random
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs

from .._events import Event
from .._journal._store import Store
from .._load._loader import (
    load_workflow,
    load_workflow_data,
    load_workflow_text,
    resolve_inputs,
)
from .._plugins._registry import Plugins, load_plugins
from .._scheduler._runner import run_workflow
from .._spec._outcome import RunResult


@attrs.frozen(kw_only=True)
class CapturedRun:
    """A finished run and every event it emitted, in order."""

    result: RunResult
    events: tuple[Event, ...]

    def kinds(self) -> list[str]:
        """Event kinds in order, e.g. ``["run_started", "step_ready", ...]``."""
        return [e.kind for e in self.events]

    def of(self, kind: str) -> list[Event]:
        """Events of one kind."""
        return [e for e in self.events if e.kind == kind]

    def for_step(self, step_id: str) -> list[Event]:
        """Events about one step."""
        return [e for e in self.events if getattr(e, "step_id", None) == step_id]


async def run_captured(
    source: Mapping[str, Any] | str | os.PathLike[str],
    *,
    plugins: Plugins | None = None,
    extra_plugins: Sequence[object] = (),
    inputs: Mapping[str, Any] | None = None,
    workflow: str | None = None,
    environ: Mapping[str, str] | None = None,
    base_dir: Path | None = None,
    rng: random.Random | None = None,
    store: Store | None = None,
    output_dir: Path | str | None = None,
) -> CapturedRun:
    """Load ``source`` (a workflow as a dict, YAML text or a file's path), run it, return
    result and events.

    A path (a :class:`~pathlib.Path`, not a ``str``: that is YAML text) is loaded
    as ``cadenza run`` loads it: messages name the file, relative paths in it start
    at its folder, and ``base_dir`` is ignored.

    ``plugins`` defaults to the built-ins plus ``extra_plugins`` (entry points are
    not loaded, so tests see only what they ask for). An ``extra_plugins`` entry
    that does not load (a misspelt hook, a wrong parameter name, a registration
    hook that raises or returns its registrations) raises
    :class:`~cadenza.plugins.PluginError` with the reason, before anything runs;
    passing both ``plugins`` and ``extra_plugins`` is a ``TypeError``. ``inputs`` are set like
    ``--set`` (strings are parsed as YAML scalars; other values are used unchanged).
    With a ``store`` the run is journaled there; with an ``output_dir`` agents
    write their files in its per-step folders (``{run_id}`` is filled in). Use trio's
    ``autojump_clock`` fixture to make backoff and timeouts instant.
    """
    if plugins is None:
        plugins = load_plugins(extra=extra_plugins, entry_points=False)
    elif extra_plugins:
        raise TypeError(
            "run_captured(): pass plugins= or extra_plugins=, not both (extra_plugins would "
            "be ignored); load them together with cadenza.plugins.load_plugins(extra=[...])."
        )
    if isinstance(source, os.PathLike):
        loaded = load_workflow(source, plugins=plugins, workflow=workflow, environ=environ)
    elif isinstance(source, str):
        loaded = load_workflow_text(
            source, plugins=plugins, base_dir=base_dir, workflow=workflow, environ=environ
        )
    else:
        loaded = load_workflow_data(
            source, plugins=plugins, base_dir=base_dir, workflow=workflow, environ=environ
        )
    given = dict(inputs or {})
    # Strings are parsed like --set values; other values are used as they are, but
    # their names still go through resolve_inputs so unknown inputs are refused.
    overrides = {k: v if isinstance(v, str) else "null" for k, v in given.items()}
    resolved = resolve_inputs(loaded.workflow, overrides)
    resolved.update({k: v for k, v in given.items() if not isinstance(v, str)})
    events: list[Event] = []
    result = await run_workflow(
        loaded.workflow,
        plugins=plugins,
        inputs=resolved,
        observers=[events.append],
        rng=rng,
        store=store,
        output_dir=output_dir,
    )
    return CapturedRun(result=result, events=tuple(events))
