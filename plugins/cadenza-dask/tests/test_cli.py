"""``cadenza run`` and ``cadenza validate`` in subprocesses, with the plugin found by entry point.

As a user would: the ``dask`` kind comes from the installed distribution's
entry point, the run starts its own LocalCluster (two worker processes) and
shuts it down before the command exits.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

HANG_GUARD = 120

TASKS = """
import os


def where(n):
    return {"n": n, "pid": os.getpid(), "ppid": os.getppid()}
"""


def _cadenza(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cadenza", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=HANG_GUARD,
        check=False,
    )


def test_cadenza_run_puts_steps_on_a_local_cluster_it_starts(tmp_path: Path) -> None:
    (tmp_path / "tasks.py").write_text(TASKS)
    (tmp_path / "wf.yaml").write_text(
        textwrap.dedent(
            """
            name: on-dask
            executors:
              cluster: {kind: dask, options: {workers: 2}}
            agents:
              remote: {kind: python, executor: cluster, options: {function: "tasks:where"}}
            steps:
              a: {uses: remote, with: {n: 1}}
              b: {uses: remote, with: {n: 2}}
              c: {uses: remote, with: {n: 3}}
            """
        )
    )
    done = _cadenza("run", "wf.yaml", "--json", "--no-progress", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["status"] == "succeeded"
    outs = [summary["steps"][s]["output"] for s in "abc"]
    assert [o["n"] for o in outs] == [1, 2, 3]
    coordinators = {o["ppid"] for o in outs}  # the workers' parent: the `cadenza run` process
    assert len(coordinators) == 1
    assert not coordinators & {o["pid"] for o in outs}
    for pid in {o["pid"] for o in outs} | coordinators:  # all of them exited with the command
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


def test_cadenza_validate_reports_bad_options_with_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "wf.yaml").write_text(
        textwrap.dedent(
            """
            executors:
              cluster:
                kind: dask
                options: {address: "tcp://h:1", workers: 4}
            agents:
              remote: {kind: python, executor: cluster, options: {function: "tasks:where"}}
            steps:
              a: {uses: remote}
            """
        )
    )
    done = _cadenza("validate", "wf.yaml", cwd=tmp_path)
    assert done.returncode == 2, done.stdout + done.stderr
    message = done.stdout + done.stderr
    assert "wf.yaml:5" in message
    assert "Remove workers, or remove address" in message
    assert "Traceback" not in message


UNGUARDED = """
import trio
import cadenza_dask


async def main():
    executor = cadenza_dask.DaskExecutor.from_options({"workers": 1})
    try:
        await executor.run(int)
    except RuntimeError as exc:
        print("MESSAGE:", exc)
    finally:
        await executor.aclose()

trio.run(main)
"""


def test_a_script_without_a_main_guard_is_told_what_to_do(tmp_path: Path) -> None:
    """Spawned workers re-import the main script: it must not run its workflow there too."""
    (tmp_path / "script.py").write_text(UNGUARDED)
    done = subprocess.run(
        [sys.executable, "script.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=HANG_GUARD,
        check=False,
    )
    [message] = [line for line in done.stdout.splitlines() if line.startswith("MESSAGE:")]
    assert "the LocalCluster did not start" in message
    assert 'under `if __name__ == "__main__":`' in message
    assert "script.py" in message
    assert "is re-importing the main script" in done.stderr  # the child refused to run it


COORDINATOR = """
import sys

import trio
from cadenza_dask import DaskExecutor

sys.path.insert(0, sys.argv[2])
import dask_tasks


async def main():
    executor = DaskExecutor.from_options({"workers": 1})
    await executor.run(dask_tasks.mark_and_sleep, sys.argv[1], 120)


if __name__ == "__main__":
    trio.run(main)
"""


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs (an orphan's zombie, which a container's init may leave, does not)."""
    import psutil

    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def test_workers_exit_when_the_coordinator_is_killed(tmp_path: Path) -> None:
    """kill -9 of the coordinator mid-call: its LocalCluster's busy worker does not run on."""
    import time

    marker = tmp_path / "marker"
    (tmp_path / "coordinator.py").write_text(COORDINATOR)
    here = str(Path(__file__).resolve().parent)
    command = [sys.executable, "coordinator.py", str(marker), here]
    coordinator = subprocess.Popen(command, cwd=tmp_path)
    try:
        deadline = time.monotonic() + HANG_GUARD
        while not (marker.exists() and marker.read_text().strip()):
            assert time.monotonic() < deadline, "the call never started"
            assert coordinator.poll() is None, "the coordinator ended early"
            time.sleep(0.05)
        worker = int(marker.read_text().split()[0])
        coordinator.kill()
        coordinator.wait(HANG_GUARD)
        deadline = time.monotonic() + 30  # dask's worker watches its parent's pipe
        while _alive(worker):
            assert time.monotonic() < deadline, f"worker {worker} outlived its coordinator"
            time.sleep(0.05)
    finally:
        if coordinator.poll() is None:
            coordinator.kill()
            coordinator.wait()
