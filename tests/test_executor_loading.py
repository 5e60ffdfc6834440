"""``executors:`` and an agent's ``executor:`` key: how they load, errors with file:line."""

from __future__ import annotations

import textwrap

import pytest

import cadenza
from cadenza.plugins import load_plugins

PLUGINS = load_plugins(entry_points=False)


def _load(text: str) -> cadenza.Workflow:
    return cadenza.load_workflow_text(
        textwrap.dedent(text), plugins=PLUGINS, filename="wf.yaml"
    ).workflow


def _problems(text: str) -> str:
    with pytest.raises(cadenza.WorkflowError) as info:
        _load(text)
    return str(info.value)


def test_executors_and_agent_choices_load() -> None:
    workflow = _load(
        """
        executors:
          pool: {kind: process, options: {workers: 3}}
          process: {options: {workers: 2}}
        agents:
          a: {kind: python, executor: pool, options: {function: "m:f"}}
          b: {kind: python, executor: process, options: {function: "m:f"}}
          c: {kind: python, options: {function: "m:f"}}
        steps:
          s: {uses: a}
        """
    )
    assert workflow.agents["a"].executor == "pool"
    assert workflow.agents["c"].executor == "local"
    pool = workflow.executor_spec("pool")
    assert pool is not None
    assert pool.kind == "process"
    assert pool.options == {"workers": 3}
    process = workflow.executor_spec("process")
    assert process is not None
    assert process.options == {"workers": 2}
    local = workflow.executor_spec("local")
    assert local is not None
    assert local.kind == "local"
    assert workflow.executor_spec("nope") is None


def test_unknown_executor_of_an_agent_has_a_suggestion_and_a_line() -> None:
    text = _problems(
        """
        agents:
          a: {kind: python, executor: proces, options: {function: "m:f"}}
        steps:
          s: {uses: a}
        """
    )
    assert "wf.yaml:3" in text
    assert "unknown executor 'proces'" in text
    assert "Did you mean 'process'?" in text


def test_unknown_executor_kind() -> None:
    text = _problems(
        """
        executors:
          cluster: {kind: dask, options: {address: "tcp://127.0.0.1:8786"}}
        agents:
          a: {kind: python, executor: cluster, options: {function: "m:f"}}
        steps:
          s: {uses: a}
        """
    )
    assert "wf.yaml:3" in text
    assert "unknown executor kind 'dask'" in text
    assert "Known executor kinds: local, process" in text
    assert "unknown executor 'cluster'" not in text  # its own problem is enough


def test_bad_executor_options() -> None:
    text = _problems(
        """
        executors:
          pool: {kind: process, options: {workers: 0}}
          other: {kind: process, options: {wrokers: 2}}
        agents:
          a: {kind: python, options: {function: "m:f"}}
        steps:
          s: {uses: a}
        """
    )
    assert "wf.yaml:3" in text
    assert "executor 'pool' (kind process)" in text
    assert "workers must be 1 or more" in text
    assert "wf.yaml:4" in text
    assert "wrokers" in text


def test_malformed_executors() -> None:
    text = _problems(
        """
        executors:
          pool: {kind: process, workers: 2}
          nameless: {options: {}}
        agents:
          a: {kind: python, options: {function: "m:f"}}
        steps:
          s: {uses: a}
        """
    )
    assert "unknown key 'workers' in executor 'pool'" in text
    assert "missing required key 'kind'" in text


def test_environment_variables_in_options_are_secrets() -> None:
    text = textwrap.dedent(
        """
        executors:
          pool: {kind: process, options: {workers: "${POOL_SIZE}"}}
        agents:
          a: {kind: python, options: {function: "m:f"}}
        steps:
          s: {uses: a}
        """
    )
    with pytest.raises(cadenza.WorkflowError) as info:
        cadenza.load_workflow_text(
            text, plugins=PLUGINS, filename="wf.yaml", environ={"POOL_SIZE": "s3cr3t"}
        )
    message = str(info.value)
    assert "executor 'pool' (kind process)" in message
    assert "s3cr3t" not in message
    assert "***" in message


def test_secrets_of_executor_options_are_the_workflows() -> None:
    workflow = cadenza.load_workflow_text(
        textwrap.dedent(
            """
            executors:
              local: {options: {threads: 2}}
              pool: {kind: local, options: {threads: 3}}
            agents:
              a: {kind: python, executor: pool, options: {function: "m:f"}}
            steps:
              s: {uses: a}
            """
        ),
        plugins=PLUGINS,
        filename="wf.yaml",
    ).workflow
    assert workflow.executors["pool"].secrets == frozenset()
    assert workflow.executor_spec("local") == workflow.executors["local"]


def test_python_builder_passes_executors_through() -> None:
    wf = cadenza.workflow("built", executors={"pool": {"kind": "process"}})
    crunch = wf.agent("crunch", kind="python", executor="pool", options={"function": "m:f"})
    wf.step("s", uses=crunch)
    workflow = wf.build(plugins=PLUGINS)
    assert workflow.agents["crunch"].executor == "pool"
    spec = workflow.executor_spec("pool")
    assert spec is not None
    assert spec.kind == "process"
