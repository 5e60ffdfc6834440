"""Executors with real worker processes: several cores, kill on cancel and timeout, errors."""

from __future__ import annotations

import os
import signal
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
import trio

import cadenza
from cadenza._executors._local import LocalExecutor
from cadenza._executors._process import ProcessExecutor
from cadenza.plugins import Executor, WorkerLostError, load_plugins

from . import executor_tasks as tasks

PLUGINS = load_plugins(entry_points=False)
ROOT = Path(__file__).resolve().parents[1]
HANG_GUARD = 10.0
"""Seconds a killed worker may take to disappear before the test fails (a hang guard only)."""


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def _pid_in(pid_file: Path) -> int | None:
    text = pid_file.read_text() if pid_file.exists() else ""
    return int(text) if text else None


async def _wait_gone(pid: int) -> None:
    """Poll (another process's state has no event to wait on) under a hang guard."""
    with trio.fail_after(HANG_GUARD):
        while not _gone(pid):  # noqa: ASYNC110
            await trio.sleep(0.01)


async def _wait_for_pid(pid_file: Path) -> int:
    """The pid a worker wrote to ``pid_file``, once it is there."""
    with trio.fail_after(HANG_GUARD):
        while (pid := _pid_in(pid_file)) is None:  # noqa: ASYNC110
            await trio.sleep(0.01)
    return pid


def _overlap(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return bool(a["start"] < b["end"] and b["start"] < a["end"])


def test_built_in_executors_follow_the_contract() -> None:
    assert isinstance(LocalExecutor(), Executor)
    assert isinstance(ProcessExecutor(), Executor)
    registered = PLUGINS.registered("cadenza_executors")
    assert {"local", "process"} <= set(registered)


async def test_process_executor_runs_cpu_work_in_several_processes_at_once() -> None:
    executor = ProcessExecutor.from_options({"workers": 2})
    try:
        results: list[dict[str, Any]] = []

        async def one() -> None:
            results.append(await executor.run(tasks.spin, 0.3))

        async with trio.open_nursery() as nursery:
            for _ in range(4):
                nursery.start_soon(one)
    finally:
        await executor.aclose()
    pids = {r["pid"] for r in results}
    assert len(pids) == 2
    assert os.getpid() not in pids
    # Calls in different workers ran at the same time (intervals overlap).
    assert any(_overlap(a, b) for a in results for b in results if a["pid"] != b["pid"])


async def test_workers_are_reused_and_stopped_by_aclose() -> None:
    executor = ProcessExecutor.from_options({"workers": 1})
    first = await executor.run(tasks.pid)
    assert await executor.run(tasks.pid) == first
    assert executor.pids == {first}
    await executor.aclose()
    await _wait_gone(first)
    assert executor.pids == frozenset()
    with pytest.raises(RuntimeError, match="closed"):
        await executor.run(tasks.pid)


async def test_cancelling_a_call_kills_its_worker(tmp_path: Path) -> None:
    executor = ProcessExecutor.from_options({"workers": 1})
    pid_file = tmp_path / "pid"
    try:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(executor.run, tasks.hang, str(pid_file))
            pid = await _wait_for_pid(pid_file)
            nursery.cancel_scope.cancel()
        assert _gone(pid)  # run() reaps the worker before it returns
        assert executor.pids == frozenset()
        assert await executor.run(tasks.add, 1, 2) == 3  # a fresh worker takes the next call
    finally:
        await executor.aclose()


async def test_exceptions_come_back_with_the_remote_traceback() -> None:
    executor = ProcessExecutor.from_options({"workers": 1})
    try:
        with pytest.raises(ValueError, match="bad input") as info:
            await executor.run(tasks.fail, "bad input")
        assert "executor_tasks.py" in str(info.value.__cause__)
        with pytest.raises(RuntimeError, match=r"cannot be pickled back.*custom failure"):
            await executor.run(tasks.fail_unpicklably)
        with pytest.raises(RuntimeError, match=r"raised SystemExit\(5\)"):
            await executor.run(tasks.exit_softly)  # the worker lives on
        with pytest.raises(WorkerLostError, match="exit code 3"):
            await executor.run(tasks.exit_hard)
    finally:
        await executor.aclose()


async def test_an_unpicklable_function_is_refused_before_anything_runs() -> None:
    executor = ProcessExecutor.from_options({"workers": 1})
    with pytest.raises(TypeError, match="define it at module level"):
        await executor.run(lambda: 1)
    assert executor.pids == frozenset()
    await executor.aclose()


def test_options_are_checked() -> None:
    with pytest.raises(ValueError, match="workers"):
        ProcessExecutor.from_options({"workers": 0})
    with pytest.raises(ValueError, match="Its options: workers"):
        ProcessExecutor.from_options({"wrokers": 2})
    with pytest.raises(ValueError, match="threads"):
        LocalExecutor.from_options({"threads": "many"})


async def test_local_executor_abandons_a_cancelled_thread() -> None:
    executor = LocalExecutor.from_options({"threads": 1})
    with trio.move_on_after(0.05):
        await executor.run(tasks.spin, 0.5)
    assert await executor.run(tasks.add, 2, 3) == 5


# -- through a workflow ---------------------------------------------------------


def _load(text: str, tmp_path: Path) -> cadenza.Workflow:
    return cadenza.load_workflow_text(
        textwrap.dedent(text), plugins=PLUGINS, filename="wf.yaml", base_dir=tmp_path
    ).workflow


async def test_python_steps_on_the_process_executor_use_worker_processes(tmp_path: Path) -> None:
    workflow = _load(
        """
        executors:
          pool: {kind: process, options: {workers: 2}}
        agents:
          crunch:
            kind: python
            executor: pool
            options: {function: "tests.executor_tasks:spin", search_path: null}
          here:
            kind: python
            options: {function: "tests.executor_tasks:pid", search_path: null}
        steps:
          a: {uses: crunch, with: {seconds: 0.3}}
          b: {uses: crunch, with: {seconds: 0.3}}
          c: {uses: crunch, with: {seconds: 0.3}}
          d: {uses: crunch, with: {seconds: 0.3}}
          local: {uses: here}
        """,
        tmp_path,
    )
    result = await cadenza.run_workflow(workflow, plugins=PLUGINS)
    assert result.status == "succeeded", result
    outs = [result.steps[s].output for s in "abcd"]
    pids = {o["pid"] for o in outs}
    assert len(pids) == 2
    assert os.getpid() not in pids
    assert any(_overlap(x, y) for x in outs for y in outs if x["pid"] != y["pid"])
    assert result.steps["local"].output == os.getpid()  # the default executor: a thread here
    for pid in pids:  # the run closed its executor
        await _wait_gone(pid)


async def test_a_step_timeout_kills_the_worker(tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    workflow = _load(
        f"""
        agents:
          slow:
            kind: python
            executor: process
            options: {{function: "tests.executor_tasks:hang", search_path: null}}
        steps:
          wait: {{uses: slow, with: {{pid_file: "{pid_file}"}}, timeout: 1s,
                  retry: {{max_attempts: 1}}}}
        """,
        tmp_path,
    )
    result = await cadenza.run_workflow(workflow, plugins=PLUGINS)
    assert result.status == "failed"
    assert _gone(int(pid_file.read_text()))


async def test_cancelling_a_run_kills_the_worker(tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    workflow = _load(
        f"""
        agents:
          slow:
            kind: python
            executor: process
            options: {{function: "tests.executor_tasks:hang", search_path: null}}
        steps:
          wait: {{uses: slow, with: {{pid_file: "{pid_file}"}}}}
        """,
        tmp_path,
    )
    async with trio.open_nursery() as nursery:
        nursery.start_soon(lambda: cadenza.run_workflow(workflow, plugins=PLUGINS))
        pid = await _wait_for_pid(pid_file)
        nursery.cancel_scope.cancel()
    assert _gone(pid)


async def test_async_function_on_the_process_executor_is_a_clear_error(tmp_path: Path) -> None:
    workflow = _load(
        """
        agents:
          a:
            kind: python
            executor: process
            options: {function: "tests.executor_tasks:async_task", search_path: null}
        steps:
          s: {uses: a, retry: {max_attempts: 1}}
        """,
        tmp_path,
    )
    result = await cadenza.run_workflow(workflow, plugins=PLUGINS)
    assert result.status == "failed"
    error = result.steps["s"].error or ""
    assert "async function" in error
    assert "executor: local" in error


async def test_search_path_reaches_the_worker(tmp_path: Path) -> None:
    (tmp_path / "mytasks_exec.py").write_text("import os\ndef where():\n    return os.getpid()\n")
    workflow = _load(
        """
        agents:
          a: {kind: python, executor: process, options: {function: "mytasks_exec:where"}}
        steps:
          s: {uses: a}
        """,
        tmp_path,
    )
    result = await cadenza.run_workflow(workflow, plugins=PLUGINS)
    assert result.status == "succeeded", result
    assert result.steps["s"].output != os.getpid()


def test_executor_for_outside_a_run() -> None:
    local = cadenza.AgentConfig(name="a", kind="python")
    assert isinstance(cadenza.plugins.executor_for(local), LocalExecutor)
    remote = cadenza.AgentConfig(name="a", kind="python", executor="process")
    with pytest.raises(LookupError, match="only inside a run"):
        cadenza.plugins.executor_for(remote)


_COORDINATOR = """
import sys, trio
from cadenza._executors._process import ProcessExecutor
from tests import executor_tasks

async def main():
    executor = ProcessExecutor.from_options({"workers": 1})
    await executor.run(executor_tasks.hang, sys.argv[1])

trio.run(main)
"""


async def test_workers_exit_when_the_coordinator_is_killed(tmp_path: Path) -> None:
    """kill -9 of the coordinator mid-call: its busy worker does not run on."""
    pid_file = tmp_path / "pid"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "core"), str(ROOT)])}
    coordinator = await trio.lowlevel.open_process(
        [sys.executable, "-c", _COORDINATOR, str(pid_file)], cwd=ROOT, env=env
    )
    try:
        worker = await _wait_for_pid(pid_file)
        coordinator.send_signal(signal.SIGKILL)
        await coordinator.wait()
        await _wait_gone(worker)
    finally:
        if coordinator.poll() is None:
            coordinator.kill()
            await coordinator.wait()


class PidAgent:
    """A plugin's agent kind that runs ``os.getpid`` on its executor, as plugins are told to."""

    def __init__(self, config: cadenza.AgentConfig) -> None:
        self.name = config.name
        self.capabilities: frozenset[str] = frozenset()
        self.config = config

    async def run(self, request: cadenza.AgentRequest) -> cadenza.AgentResult:
        executor = cadenza.plugins.executor_for(self.config)
        return cadenza.AgentResult(output=await executor.run(tasks.pid))

    async def aclose(self) -> None:
        pass


class _PidKind:
    @cadenza.hookimpl
    def cadenza_agent_kinds(self, register: Any) -> None:
        register("pid", PidAgent)


async def test_a_plugin_agent_runs_work_on_the_executor_the_workflow_chose(
    tmp_path: Path,
) -> None:
    plugins = load_plugins(entry_points=False, extra=[_PidKind()])
    workflow = cadenza.load_workflow_text(
        textwrap.dedent(
            """
            executors:
              one: {kind: process, options: {workers: 1}}
            agents:
              remote: {kind: pid, executor: one}
              here: {kind: pid}
            steps:
              a: {uses: remote}
              b: {uses: remote}
              c: {uses: here}
            """
        ),
        plugins=plugins,
        filename="wf.yaml",
        base_dir=tmp_path,
    ).workflow
    result = await cadenza.run_workflow(workflow, plugins=plugins)
    assert result.status == "succeeded", result
    remote = {result.steps[s].output for s in "ab"}
    assert len(remote) == 1  # one worker served both
    assert os.getpid() not in remote
    assert result.steps["c"].output == os.getpid()
