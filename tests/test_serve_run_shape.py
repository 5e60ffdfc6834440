"""A run's shape (needs, agents' limits, budgets) read from its ``run_started`` event.

The runner journals the shape whole, however many steps (a 20,000-step
run's list of steps is far over the 64 KiB field limit), so the dashboard
draws a run's layers, critical path and agents' limits without loading its
workflow; an older journal, whose ``run_started`` has no shape, still shows
them by loading the stored source.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import cadenza
from cadenza._journal._limits import FIELD_BYTES_ENV
from cadenza._journal._run_shape import RunShape
from cadenza._journal._sqlite import SqliteStore
from cadenza._plugins._registry import load_plugins
from cadenza._serve._app import Dashboard
from cadenza.testing import ScriptedAgent, run_captured

from .big_run_helpers import big_workflow_text, write_big_run
from .scheduler_helpers import plugins_with

WIDE = (
    "name: wide\nagents:\n  w: {kind: prog, max_concurrent: 3, budget: {usd: 2}}\nsteps:\n"
    + "".join(
        f"  step_number_{i:04d}: {{uses: w{', needs: [step_number_0000]' if i else ''}}}\n"
        for i in range(300)
    )
)


async def test_the_runner_journals_the_whole_shape_beyond_the_field_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``steps`` and ``needs`` of a 300-step run are stored whole under a 1 KiB field limit."""
    monkeypatch.setenv(FIELD_BYTES_ENV, "1024")
    store = SqliteStore(f"sqlite:///{tmp_path / 'j.db'}")
    try:
        plugins = plugins_with({"w": ScriptedAgent("w", lambda request: "ok")})
        run = await run_captured(WIDE, plugins=plugins, store=store)
        started = store.read_events(run.result.run_id)[0]
        shape = RunShape.from_run_started(started)
        assert shape is not None
        assert len(shape.steps) == 300
        assert shape.needs["step_number_0299"] == ("step_number_0000",)
        assert "step_number_0000" not in shape.needs
        assert shape.limits == {"w": 3}
        assert shape.budgets == {"agent w": 2.0}
        assert started["inputs"] == {}  # other fields keep their limit (nothing big here)
    finally:
        store.close()


def test_a_capped_or_missing_shape_reads_as_none() -> None:
    """An older ``run_started`` (no shape) or one whose needs became a size marker gives None."""
    old = {"kind": "run_started", "steps": ["a"], "seq": 0, "at": 1.0}
    assert RunShape.from_run_started(old) is None
    marker = {"truncated": True, "bytes": 99999, "limit": 65536, "preview": "{"}
    capped = old | {"needs": marker, "agents": {}, "budgets": {}}
    assert RunShape.from_run_started(capped) is None
    full = old | {"needs": {}, "agents": {"w": {"max_concurrent": None}}, "budgets": {}}
    assert RunShape.from_run_started(full) == RunShape(
        steps=("a",), needs={}, limits={"w": None}, budgets={}
    )


@pytest.mark.parametrize("journaled", [True, False])
async def test_the_dashboard_loads_the_workflow_only_for_an_older_journal(
    tmp_path: Path, journaled: bool
) -> None:
    """With the shape in ``run_started`` no workflow is loaded; without, it is, once."""
    url = f"sqlite:///{tmp_path / 'j.db'}"
    write_big_run(url, layers=4, width=3, shape=journaled)
    store = SqliteStore(url)
    try:
        dashboard = Dashboard(store, plugins=load_plugins())
        record = store.get_run("big")
        assert record is not None
        shape = await dashboard.shape(record)
        again = await dashboard.shape(record)
        assert shape is not None
        assert again is shape
        assert shape.needs["s3_2"] == ("s2_2",)
        assert shape.limits == {a: 50 for a in ("a0", "a1", "a2", "a3")}
        loaded = len(dashboard.workflows._entries)
        assert loaded == (0 if journaled else 1)
    finally:
        store.close()


def test_the_helpers_shape_is_the_workflows(tmp_path: Path) -> None:
    """The generated journal's shape is what loading its workflow gives."""
    url = f"sqlite:///{tmp_path / 'j.db'}"
    write_big_run(url, layers=3, width=2, shape=True)
    store = SqliteStore(url)
    try:
        started = store.read_events("big")[0]
        workflow = cadenza.load_workflow_text(big_workflow_text(3, 2), plugins=load_plugins())
        assert RunShape.from_run_started(started) == RunShape.from_workflow(workflow.workflow)
    finally:
        store.close()


def test_layers_follow_needs_in_any_file_order() -> None:
    """A step's layer is one more than its deepest need's, whether needs come before or after."""
    from cadenza._journal._run_shape import layers

    needs = {"b": ("a",), "c": ("b", "a"), "z": ("c",), "y": ()}
    assert layers(needs, ["a", "b", "c", "z", "y"]) == {"a": 0, "b": 1, "c": 2, "z": 3, "y": 0}
    assert layers(needs, ["z", "c", "b", "a", "y"]) == {"z": 3, "c": 2, "b": 1, "a": 0, "y": 0}
    assert layers({"a": ("gone",)}, ["a"]) == {"a": 0}  # a need that is not a step is left out
