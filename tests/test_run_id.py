"""A run id given to run_workflow is checked at the start: it goes into paths and HTTP headers."""

from __future__ import annotations

import pytest

import cadenza
from cadenza.testing import ScriptedAgent

WORKFLOW = {"name": "ids", "agents": {"a": {"kind": "scripted"}}, "steps": {"s": {"uses": "a"}}}


def _plugins_and_agent() -> tuple[cadenza.plugins.Plugins, ScriptedAgent]:
    agent = ScriptedAgent(name="a", default={"ok": True})

    class Plugin:
        @cadenza.hookimpl
        def cadenza_agent_kinds(self, register: cadenza.plugins.Registration) -> None:
            register("scripted", lambda config: agent)

    return cadenza.plugins.load_plugins(extra=[Plugin()], entry_points=False), agent


@pytest.mark.parametrize(
    "run_id",
    [
        "../escape",
        "a/b",
        "nächtlich",
        "with space",
        "tab\there",
        "-leading-dash",
        ".hidden",
        "x" * 129,
    ],
)
async def test_a_run_id_that_would_break_a_path_or_header_is_refused_before_anything_runs(
    run_id: str,
) -> None:
    plugins, agent = _plugins_and_agent()
    workflow = cadenza.load_workflow_data(WORKFLOW, plugins=plugins).workflow
    with pytest.raises(ValueError, match="is not allowed: use 1-128 ASCII letters"):
        await cadenza.run_workflow(workflow, plugins=plugins, run_id=run_id)
    assert agent.calls == []


@pytest.mark.parametrize("run_id", ["r1", "nightly-2026-12-07", "A.b_c-9", "x" * 128])
async def test_a_plain_run_id_names_the_run(run_id: str) -> None:
    plugins, _ = _plugins_and_agent()
    workflow = cadenza.load_workflow_data(WORKFLOW, plugins=plugins).workflow
    result = await cadenza.run_workflow(workflow, plugins=plugins, run_id=run_id)
    assert (result.run_id, result.status) == (run_id, "succeeded")


async def test_no_run_id_or_an_empty_one_gets_a_new_timestamped_id() -> None:
    plugins, _ = _plugins_and_agent()
    workflow = cadenza.load_workflow_data(WORKFLOW, plugins=plugins).workflow
    for given in (None, ""):
        result = await cadenza.run_workflow(workflow, plugins=plugins, run_id=given)
        assert result.run_id[:8].isdigit()
        assert result.status == "succeeded"
