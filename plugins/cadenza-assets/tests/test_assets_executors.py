"""The ``assets`` agent runs on its executor: worker processes by default, threads on ``local``."""

from __future__ import annotations

import functools
import os
import signal
import time
from pathlib import Path
from typing import Any

import pytest
import trio
from assets_helpers import photo, run, save, tree_hashes
from workers_helpers import alive, wait_until, watch_workers, worker_processes

import cadenza

pytestmark = pytest.mark.skipif(
    not os.path.isdir("/proc/self"), reason="reads /proc to see the worker processes"
)

PNG_ONLY = "{preset: desktop, workers: 2, overrides: {formats: [png], quantize: false}}"
"""Options that make each texture a CPU-heavy PNG compression (~1 s for 800 px)."""


def _textures(folder: Path, count: int, size: int) -> None:
    for i in range(count):
        save(photo((size, size), seed=i), folder / f"rock{i}.bmp")


def _workflow(executor: str | None) -> str:
    chosen = f", executor: {executor}" if executor else ""
    return f"""\
executors:
  process: {{options: {{workers: 2}}}}
agents:
  optimizer: {{kind: assets{chosen}, options: {PNG_ONLY}}}
steps:
  optimize: {{uses: optimizer, with: {{files: [art]}}}}
"""


async def _run_watching(
    text: str, project: Path, out: Path, plugins: cadenza.plugins.Plugins
) -> tuple[cadenza.RunResult, set[int], float]:
    """Run ``text``; the worker pids seen meanwhile and this process's CPU seconds."""
    seen: set[int] = set()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(functools.partial(watch_workers, seen, enough=2))
        cpu = time.process_time()
        result = await run(text, base_dir=project, out=out, plugins=plugins)
        cpu = time.process_time() - cpu
        nursery.cancel_scope.cancel()
    return result, seen, cpu


@pytest.mark.parametrize("executor", [None, "process"])
async def test_files_are_optimized_in_worker_processes_and_local_gives_the_same_files(
    tmp_path: Path, plugins: cadenza.plugins.Plugins, executor: str | None
) -> None:
    """Default and ``executor: process`` work in other pids; ``local`` works here, same bytes."""
    project = tmp_path / "project"
    _textures(project / "art", count=3, size=800)
    remote, pids, remote_cpu = await _run_watching(
        _workflow(executor), project, tmp_path / "remote", plugins
    )
    here, none, here_cpu = await _run_watching(
        _workflow("local"), project, tmp_path / "here", plugins
    )
    assert remote.status == "succeeded", remote
    assert here.status == "succeeded", here
    assert len(pids) == 2
    assert os.getpid() not in pids
    assert none == set()  # local: no worker process at all
    # The compression ran elsewhere: this process spent a fraction of the CPU time it
    # spends doing the same work itself (CPU time, so load on the machine does not matter).
    assert remote_cpu < here_cpu / 3, (remote_cpu, here_cpu)
    assert tree_hashes(tmp_path / "remote") == tree_hashes(tmp_path / "here")
    assert len(tree_hashes(tmp_path / "here")) == 3
    assert not [p for p in pids if alive(p)]  # the run closed its executor


async def test_a_step_timeout_kills_the_busy_workers(
    tmp_path: Path, plugins: cadenza.plugins.Plugins
) -> None:
    """A ``timeout:`` during an optimization fails the step and its workers are gone at once."""
    project = tmp_path / "project"
    _textures(project / "big", count=2, size=2000)  # ~5 s of CPU each
    text = f"""\
executors:
  process: {{options: {{workers: 2}}}}
agents:
  optimizer: {{kind: assets, options: {PNG_ONLY}}}
steps:
  optimize: {{uses: optimizer, with: {{files: [big]}}, timeout: 2s, retry: {{max_attempts: 1}}}}
"""
    seen: set[int] = set()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(watch_workers, seen)
        started = trio.current_time()
        result = await run(text, base_dir=project, out=tmp_path / "out", plugins=plugins)
        took = trio.current_time() - started
        nursery.cancel_scope.cancel()
    assert result.status == "failed"
    assert "timed out" in str(result.steps["optimize"].error).lower()
    assert len(seen) == 2
    await wait_until(lambda: not [p for p in seen if alive(p)], 1.0)
    assert took < 8  # far less than the ~10 s of work: nothing waited for the images
    assert not worker_processes()
    assert not [p for p in (tmp_path / "out").rglob("*") if p.is_file()]


async def test_a_file_whose_worker_dies_is_optimized_in_a_fresh_worker(
    tmp_path: Path, plugins: cadenza.plugins.Plugins
) -> None:
    """Kill the worker mid-file: WorkerLostError is retried once, the file is optimized."""
    project = tmp_path / "project"
    _textures(project / "art", count=1, size=1200)
    text = _workflow("process").replace("workers: 2}}", "workers: 1}}")
    seen: set[int] = set()

    async def kill_the_first_worker() -> None:
        await wait_until(lambda: bool(worker_processes()), 30)
        (first,) = worker_processes()
        seen.add(first)
        os.kill(first, signal.SIGKILL)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(kill_the_first_worker)
        result = await run(text, base_dir=project, out=tmp_path / "out", plugins=plugins)
    assert result.status == "succeeded", result
    output = result.steps["optimize"].output
    assert [e["status"] for e in output["files"]] == ["optimized"]
    assert seen
    assert not alive(seen.pop())


class _DyingExecutor:
    """Every call loses its worker, as a machine out of memory would."""

    calls = 0

    def __init__(self, options: object) -> None:
        pass

    async def run(self, fn: object, *args: object) -> object:
        type(self).calls += 1
        raise cadenza.plugins.WorkerLostError("worker process 4242 died during the call")

    async def aclose(self) -> None:
        pass


class _Dying:
    @cadenza.hookimpl
    def cadenza_executors(self, register: Any) -> None:
        register("dying", _DyingExecutor)


async def test_a_step_whose_every_file_lost_its_worker_is_retryable(tmp_path: Path) -> None:
    """Each file is tried twice, then the step fails with WorkerLostError, which is retried."""
    import cadenza_assets

    plugins = cadenza.plugins.load_plugins(entry_points=False, extra=[cadenza_assets, _Dying()])
    project = tmp_path / "project"
    _textures(project / "art", count=2, size=64)
    text = """\
executors:
  dying: {kind: dying}
agents:
  optimizer: {kind: assets, executor: dying}
steps:
  optimize: {uses: optimizer, with: {files: [art]}, retry: {max_attempts: 2, backoff: 0}}
"""
    _DyingExecutor.calls = 0
    result = await run(text, base_dir=project, out=tmp_path / "out", plugins=plugins)
    assert result.status == "failed"
    error = result.steps["optimize"].error
    assert "the worker process of every file died" in str(error)
    assert result.steps["optimize"].attempts == 2  # retryable: the step's policy retried it
    assert _DyingExecutor.calls == 8  # 2 attempts x 2 files x 2 tries
