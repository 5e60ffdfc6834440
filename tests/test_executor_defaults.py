"""An agent kind's ``default_executor``: used when an agent gives no ``executor:``, which wins."""

from __future__ import annotations

import json
import os
import textwrap
from pathlib import Path
from typing import Any

import pytest

import cadenza
from cadenza.plugins import PluginError, load_plugins

from .test_executors import PidAgent


class _Kinds:
    """``crunch`` prefers worker processes; ``cluster`` prefers an executor to declare."""

    @cadenza.hookimpl
    def cadenza_agent_kinds(self, register: Any) -> None:
        register("crunch", PidAgent, default_executor="process")
        register("cluster", PidAgent, default_executor="farm")


def _plugins() -> cadenza.plugins.Plugins:
    return load_plugins(entry_points=False, extra=[_Kinds()])


def _load(text: str, plugins: cadenza.plugins.Plugins, tmp_path: Path) -> cadenza.Workflow:
    return cadenza.load_workflow_text(
        textwrap.dedent(text), plugins=plugins, filename="wf.yaml", base_dir=tmp_path
    ).workflow


def test_the_kind_default_is_recorded_by_its_registration() -> None:
    """``register(..., default_executor=...)`` is kept on the agent kind's registration."""
    plugins = _plugins()
    assert plugins.agent_kinds["crunch"].default_executor == "process"
    assert plugins.agent_kinds["python"].default_executor is None


async def test_the_kind_default_is_used_and_an_explicit_executor_wins(tmp_path: Path) -> None:
    """No ``executor:`` runs on the kind's choice (another process); ``executor: local`` here."""
    plugins = _plugins()
    workflow = _load(
        """
        agents:
          chosen: {kind: crunch}
          here: {kind: crunch, executor: local}
        steps:
          a: {uses: chosen}
          b: {uses: here}
        """,
        plugins,
        tmp_path,
    )
    assert workflow.agents["chosen"].executor == "process"
    assert workflow.agents["here"].executor == "local"
    result = await cadenza.run_workflow(workflow, plugins=plugins)
    assert result.status == "succeeded", result
    assert result.steps["a"].output != os.getpid()
    assert result.steps["b"].output == os.getpid()


def test_a_declared_executor_of_the_default_name_is_used(tmp_path: Path) -> None:
    """A kind's default that the workflow declares (``farm:``) loads, with its options."""
    workflow = _load(
        """
        executors:
          farm: {kind: process, options: {workers: 1}}
        agents:
          c: {kind: cluster}
        steps:
          a: {uses: c}
        """,
        _plugins(),
        tmp_path,
    )
    assert workflow.agents["c"].executor == "farm"


def test_a_kind_default_the_workflow_lacks_is_an_error_at_the_agent(tmp_path: Path) -> None:
    """The message names the kind's choice and says how to fix it, at the agent's line."""
    with pytest.raises(cadenza.WorkflowError) as info:
        _load(
            """
            agents:
              c: {kind: cluster}
            steps:
              a: {uses: c}
            """,
            _plugins(),
            tmp_path,
        )
    text = str(info.value)
    assert "wf.yaml:3" in text
    assert "its kind 'cluster' runs on the executor 'farm'" in text
    assert "Declare 'farm' under executors:" in text


def test_seed_format_agents_use_a_built_in_kind_default(tmp_path: Path) -> None:
    """The seed format has no ``executors:``: a built-in default applies, any other is local."""
    workflow = _load(
        """
        agents:
          - {id: a1, type: crunch, kind: crunch}
          - {id: a2, type: cluster, kind: cluster}
        workflows:
          main:
            steps:
              - {name: one, agent_type: crunch}
              - {name: two, agent_type: cluster}
        """,
        _plugins(),
        tmp_path,
    )
    assert workflow.agents["a1"].executor == "process"
    assert workflow.agents["a2"].executor == "local"


@pytest.mark.parametrize("bad", ["", 3])
def test_a_bad_default_executor_is_refused_at_registration(bad: object) -> None:
    """A default that is not a non-empty name fails the plugin with what to write."""

    class Bad:
        @cadenza.hookimpl
        def cadenza_agent_kinds(self, register: Any) -> None:
            register("bad", PidAgent, default_executor=bad)

    with pytest.raises(PluginError, match="default_executor='process'"):
        load_plugins(entry_points=False, extra=[Bad()])


def test_validate_shows_where_agents_run(tmp_path: Path) -> None:
    """``cadenza validate`` names the agents off the local executor; --json maps every agent."""
    from click.testing import CliRunner

    from cadenza._cli._common import CliState
    from cadenza._cli._validate_cmd import validate

    path = tmp_path / "wf.yaml"
    path.write_text(
        "agents:\n  chosen: {kind: crunch}\n  here: {kind: crunch, executor: local}\n"
        "steps:\n  a: {uses: chosen}\n  b: {uses: here}\n"
    )
    runner = CliRunner()
    text = runner.invoke(validate, [str(path)], obj=CliState(plugins=_plugins()))
    assert text.exit_code == 0, text.output
    assert text.stdout.splitlines()[1:] == ["  workflow wf, executors: chosen on process"]
    data = runner.invoke(validate, ["--json", str(path)], obj=CliState(plugins=_plugins()))
    (workflow,) = json.loads(data.stdout)["workflows"]
    assert workflow["executors"] == {"chosen": "process", "here": "local"}


def test_plugins_shows_the_default_executor_of_a_kind() -> None:
    """``cadenza plugins`` shows ``crunch (on process)``; --json adds ``default_executor``."""
    from cadenza._cli._plugins_cmd import render_table

    infos = _plugins().infos
    assert "cadenza_agent_kinds: crunch (on process), cluster (on farm)" in render_table(infos)
    ours = next(i for i in infos if "crunch" in {name for _, name in i.registrations})
    assert {
        "hook": "cadenza_agent_kinds",
        "name": "crunch",
        "default_executor": "process",
    } in ours.to_dict()["registrations"]
    builtin = infos[0].to_dict()["registrations"]
    assert {"hook": "cadenza_agent_kinds", "name": "python"} in builtin
