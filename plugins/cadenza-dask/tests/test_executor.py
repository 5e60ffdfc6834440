"""The executor against a real LocalCluster: results, errors, cancellation, pickling, closing.

Most tests connect by ``address`` to the session's cluster (two worker
processes); the LocalCluster the executor starts itself is checked apart for
its start and its shutdown (no process left behind).
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import dask_tasks as tasks
import pytest
import trio
from cadenza_dask import DaskExecutor
from cadenza_dask.testing import RunningCluster, running_cluster, scheduler_task_count
from dask_helpers import gone, wait_for_lines, wait_gone, wait_no_tasks

from cadenza.plugins import WorkerLostError


async def test_calls_run_in_the_workers_processes(cluster: RunningCluster) -> None:
    executor = DaskExecutor.from_options({"address": cluster.address})
    try:
        results: list[dict[str, object]] = []

        async def one() -> None:
            results.append(await executor.run(tasks.where))

        async with trio.open_nursery() as nursery:
            for _ in range(6):
                nursery.start_soon(one)
        pids = cluster.worker_pids()
        assert {r["pid"] for r in results} <= set(pids.values())
        assert os.getpid() not in {r["pid"] for r in results}
        assert {r["worker"] for r in results} <= set(pids)
        assert await executor.run(tasks.add, 2, 3) == 5
        assert executor.scheduler_address == cluster.address
        assert await executor.worker_pids() == pids
    finally:
        await executor.aclose()
    assert len(cluster.worker_pids()) == 2  # closing a client leaves the scheduler's workers


async def test_exceptions_come_back_as_raised(cluster: RunningCluster) -> None:
    executor = DaskExecutor.from_options({"address": cluster.address})
    try:
        with pytest.raises(ValueError, match="from the worker"):
            await executor.run(tasks.boom, "from the worker")
        assert await executor.run(tasks.add, 1, 1) == 2  # the executor goes on
    finally:
        await executor.aclose()


async def test_an_unpicklable_argument_is_a_type_error_before_anything_runs(
    cluster: RunningCluster,
) -> None:
    executor = DaskExecutor.from_options({"address": cluster.address})
    try:
        await executor.start()
        with pytest.raises(TypeError, match="cannot send the arguments of dask_tasks:add") as info:
            await executor.run(tasks.add, threading.Lock(), 1)
        assert "cannot pickle '_thread.lock' object" in str(info.value)
        assert scheduler_task_count(cluster) == 0  # nothing reached the scheduler
        # cloudpickle sends lambdas by value: not an error on dask
        assert await executor.run(lambda: 41 + 1) == 42
    finally:
        await executor.aclose()


async def test_a_cancelled_call_that_has_not_started_never_runs(
    cluster: RunningCluster, tmp_path: Path
) -> None:
    """Both workers busy: the third call waits in the scheduler, and cancelling it removes it."""
    busy, queued = tmp_path / "busy", tmp_path / "queued"
    executor = DaskExecutor.from_options({"address": cluster.address})
    try:
        async with trio.open_nursery() as nursery:
            for _ in range(2):
                nursery.start_soon(executor.run, tasks.mark_and_sleep, str(busy), 1.5)
            await wait_for_lines(busy, 2)
            with trio.move_on_after(0.2) as scope:
                await executor.run(tasks.mark_and_sleep, str(queued), 0)
            assert scope.cancelled_caught
        await wait_no_tasks(lambda: scheduler_task_count(cluster))
        assert not queued.exists()  # the workers were free after 1.5 s: it never started
    finally:
        await executor.aclose()


async def test_a_cancelled_running_call_is_cancelled_in_the_scheduler(
    cluster: RunningCluster, tmp_path: Path
) -> None:
    """Dask cannot interrupt a running task: the scheduler forgets it, the thread runs on."""
    marker = tmp_path / "marker"
    executor = DaskExecutor.from_options({"address": cluster.address})
    try:
        with trio.move_on_after(5):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(executor.run, tasks.mark_and_sleep, str(marker), 1.0)
                await wait_for_lines(marker, 1)
                nursery.cancel_scope.cancel()
        await wait_no_tasks(lambda: scheduler_task_count(cluster))  # forgotten, not queued
        # The worker thread finished its sleep in the background; the workers serve on.
        assert await executor.run(tasks.add, 2, 2) == 4
    finally:
        await executor.aclose()


async def test_a_lost_scheduler_is_a_connection_error_saying_what_to_do() -> None:
    executor = DaskExecutor.from_options({"address": "tcp://127.0.0.1:9", "connect_timeout": 1})
    with pytest.raises(
        ConnectionError, match=r"cannot reach the scheduler at tcp://127\.0\.0\.1:9"
    ):
        await executor.run(tasks.noop)
    assert not executor.started
    await executor.aclose()


async def test_a_closed_executor_takes_no_calls(cluster: RunningCluster) -> None:
    executor = DaskExecutor.from_options({"address": cluster.address})
    await executor.run(tasks.noop)
    await executor.aclose()
    await executor.aclose()  # idempotent
    assert executor.closed
    with pytest.raises(RuntimeError, match="closed"):
        await executor.run(tasks.noop)


@pytest.mark.slow
async def test_its_own_local_cluster_starts_lazily_and_leaves_no_process() -> None:
    executor = DaskExecutor.from_options({"workers": 2})
    threads = {t.name for t in threading.enumerate()}
    assert not executor.started
    where = await executor.run(tasks.where)
    assert where["pid"] != os.getpid()
    assert where["ppid"] == os.getpid()  # the worker processes are this process's children
    pids = await executor.worker_pids()
    assert len(pids) == 2
    assert where["pid"] in pids.values()
    await executor.aclose()
    for pid in pids.values():
        await wait_gone(pid)
    assert "cadenza-dask-loop" not in {t.name for t in threading.enumerate()} - threads


@pytest.mark.slow
async def test_a_killed_worker_is_a_worker_lost_error(tmp_path: Path) -> None:
    """allowed_failures: 0 hands the first worker death to the caller, as WorkerLostError."""
    marker = tmp_path / "marker"
    executor = DaskExecutor.from_options({"workers": 2, "allowed_failures": 0})
    try:
        await executor.start()
        async with trio.open_nursery() as nursery:

            async def kill_it() -> None:
                [pid] = await wait_for_lines(marker, 1)
                os.kill(pid, 9)

            nursery.start_soon(kill_it)
            with pytest.raises(WorkerLostError, match="lost the worker running it"):
                await executor.run(tasks.mark_and_sleep, str(marker), 30)
        [killed] = await wait_for_lines(marker, 1)
        again = await executor.run(tasks.where)  # the cluster carries on
        assert again["pid"] != killed
    finally:
        await executor.aclose()


@pytest.mark.slow
async def test_dask_reruns_a_call_whose_worker_died(tmp_path: Path) -> None:
    """With dask's default allowed-failures, a worker death is retried inside dask."""
    marker = tmp_path / "marker"
    executor = DaskExecutor.from_options({"workers": 2})
    try:
        await executor.start()
        async with trio.open_nursery() as nursery:

            async def kill_first() -> None:
                [pid] = await wait_for_lines(marker, 1)
                os.kill(pid, 9)

            nursery.start_soon(kill_first)
            pid = await executor.run(tasks.mark_and_sleep, str(marker), 0.5)
        first, second = await wait_for_lines(marker, 2)
        assert pid == second != first
    finally:
        await executor.aclose()


@pytest.mark.slow
async def test_restart_on_cancel_stops_a_running_call(tmp_path: Path) -> None:
    """restart_on_cancel: the process running a cancelled call is replaced before run returns."""
    marker = tmp_path / "marker"
    executor = DaskExecutor.from_options({"workers": 1, "restart_on_cancel": True})
    try:
        await executor.start()
        with trio.move_on_after(60):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(executor.run, tasks.mark_and_sleep, str(marker), 60)
                [pid] = await wait_for_lines(marker, 1)
                nursery.cancel_scope.cancel()
        assert gone(pid)  # killed by its nanny before run re-raised, not 60 s later
        with trio.fail_after(30):  # the new worker is free at once
            again = await executor.run(tasks.where)
        assert again["pid"] != pid
    finally:
        await executor.aclose()


def _new_children(before: set[int]) -> set[int]:
    """Live child processes of this one not in ``before`` (multiprocessing's helpers aside)."""
    import psutil

    found = set()
    for child in psutil.Process().children(recursive=True):
        try:
            if child.pid in before or child.status() == psutil.STATUS_ZOMBIE:
                continue
            if "resource_tracker" in " ".join(child.cmdline()):
                continue
        except psutil.NoSuchProcess:
            continue
        found.add(child.pid)
    return found


@pytest.mark.slow
async def test_a_run_cancelled_while_its_cluster_starts_leaves_no_process() -> None:
    before = _new_children(set())
    executor = DaskExecutor.from_options({"workers": 2})
    with trio.move_on_after(0.3) as scope:
        await executor.run(tasks.noop)  # a LocalCluster takes seconds to start
    assert scope.cancelled_caught
    await executor.aclose()  # waits for the start to end, then shuts the cluster down
    with trio.fail_after(30):
        while _new_children(before):  # noqa: ASYNC110 -- other processes: nothing to wait on
            await trio.sleep(0.05)


async def test_processes_false_runs_workers_as_threads_of_this_process() -> None:
    executor = DaskExecutor.from_options({"workers": 1, "processes": False})
    try:
        assert (await executor.run(tasks.where))["pid"] == os.getpid()
    finally:
        await executor.aclose()


@pytest.mark.slow
async def test_a_scheduler_lost_mid_call_is_a_worker_lost_error(tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    with running_cluster(workers=1) as own:
        executor = DaskExecutor.from_options({"address": own.address, "connect_timeout": 2})
        try:
            async with trio.open_nursery() as nursery:

                async def stop_the_scheduler() -> None:
                    await wait_for_lines(marker, 1)
                    await trio.to_thread.run_sync(own.client.shutdown)

                nursery.start_soon(stop_the_scheduler)
                with trio.fail_after(60), pytest.raises(WorkerLostError, match="cancelled by"):
                    await executor.run(tasks.mark_and_sleep, str(marker), 30)
        finally:
            await executor.aclose()


@pytest.mark.slow
async def test_a_call_cancelled_during_the_start_leaves_the_start_to_the_next_call() -> None:
    """A step timeout shorter than the cluster's start does not make every attempt start anew."""
    executor = DaskExecutor.from_options({"workers": 1})
    try:
        with trio.move_on_after(0.2) as scope:
            await executor.run(tasks.noop)
        assert scope.cancelled_caught  # the caller stopped waiting at once...
        first = await executor.run(tasks.where)  # ...and the next call finds the start going on
        assert await executor.worker_pids() == {first["worker"]: first["pid"]}
    finally:
        await executor.aclose()
