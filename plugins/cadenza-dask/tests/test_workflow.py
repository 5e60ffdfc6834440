"""Workflows whose ``python`` agents run on a ``dask`` executor, through ``cadenza.run_workflow``.

The session's cluster (two worker processes) is reached by ``address``;
the worker-loss test lets the run start its own LocalCluster so it can kill
one of its workers without harming the other tests.
"""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest
import trio
from cadenza_dask.testing import RunningCluster, scheduler_task_count
from dask_helpers import wait_for_lines, wait_no_tasks

import cadenza

HERE = Path(__file__).resolve().parent


def _load(text: str, plugins: cadenza.plugins.Plugins, tmp_path: Path) -> cadenza.Workflow:
    return cadenza.load_workflow_text(
        textwrap.dedent(text), plugins=plugins, filename="wf.yaml", base_dir=tmp_path
    ).workflow


async def test_python_steps_run_in_the_clusters_worker_processes(
    cluster: RunningCluster, plugins: cadenza.plugins.Plugins, tmp_path: Path
) -> None:
    workflow = _load(
        f"""
        executors:
          cluster: {{kind: dask, options: {{address: "{cluster.address}"}}}}
        agents:
          remote:
            kind: python
            executor: cluster
            options: {{function: "dask_tasks:where", search_path: "{HERE}"}}
          adder:
            kind: python
            executor: cluster
            options: {{function: "dask_tasks:add", search_path: "{HERE}"}}
        steps:
          a: {{uses: remote}}
          b: {{uses: remote}}
          c: {{uses: remote}}
          d: {{uses: remote}}
          sum: {{uses: adder, with: {{a: 2, b: 40}}}}
        """,
        plugins,
        tmp_path,
    )
    result = await cadenza.run_workflow(workflow, plugins=plugins)
    assert result.status == "succeeded", result
    pids = cluster.worker_pids()
    outs = [result.steps[s].output for s in "abcd"]
    assert {o["pid"] for o in outs} <= set(pids.values())
    assert os.getpid() not in {o["pid"] for o in outs}
    assert {o["worker"] for o in outs} <= set(pids)
    assert result.steps["sum"].output == 42


async def test_a_step_timeout_cancels_its_future(
    cluster: RunningCluster, plugins: cadenza.plugins.Plugins, tmp_path: Path
) -> None:
    """Two steps keep both workers busy; the third times out while queued and never runs."""
    busy, queued = tmp_path / "busy", tmp_path / "queued"
    workflow = _load(
        f"""
        executors:
          cluster: {{kind: dask, options: {{address: "{cluster.address}"}}}}
        agents:
          sleeper:
            kind: python
            executor: cluster
            options: {{function: "dask_tasks:mark_and_sleep", search_path: "{HERE}"}}
          waiter:
            kind: python
            options: {{function: "dask_tasks:wait_for_lines", search_path: "{HERE}"}}
        steps:
          b1: {{uses: sleeper, with: {{marker: "{busy}", seconds: 2}}}}
          b2: {{uses: sleeper, with: {{marker: "{busy}", seconds: 2}}}}
          both_busy: {{uses: waiter, with: {{marker: "{busy}", count: 2}}}}
          late:
            uses: sleeper
            needs: both_busy
            with: {{marker: "{queued}", seconds: 0}}
            timeout: 0.5s
            retry: {{max_attempts: 1}}
        """,
        plugins,
        tmp_path,
    )
    result = await cadenza.run_workflow(workflow, plugins=plugins)
    assert result.steps["late"].status == "failed"
    assert "tim" in (result.steps["late"].error or "").lower()
    assert result.steps["b1"].status == "succeeded"
    assert len(await wait_for_lines(busy, 2)) == 2
    await wait_no_tasks(lambda: scheduler_task_count(cluster))
    assert not queued.exists()  # cancelled in the scheduler before a worker took it


@pytest.mark.slow
async def test_a_killed_worker_is_retried_elsewhere(
    plugins: cadenza.plugins.Plugins, tmp_path: Path
) -> None:
    """kill -9 of the worker running a step: WorkerLostError, the step's retry succeeds."""
    marker = tmp_path / "marker"
    workflow = _load(
        f"""
        executors:
          cluster: {{kind: dask, options: {{workers: 2, allowed_failures: 0}}}}
        agents:
          sleeper:
            kind: python
            executor: cluster
            options: {{function: "dask_tasks:mark_and_sleep", search_path: "{HERE}"}}
        steps:
          work:
            uses: sleeper
            with: {{marker: "{marker}", seconds: 1}}
            retry: {{max_attempts: 3, backoff: 0s}}
        """,
        plugins,
        tmp_path,
    )
    async with trio.open_nursery() as nursery:

        async def kill_first_attempt() -> None:
            [pid] = await wait_for_lines(marker, 1)
            os.kill(pid, 9)

        nursery.start_soon(kill_first_attempt)
        result = await cadenza.run_workflow(workflow, plugins=plugins)
    assert result.status == "succeeded", result
    killed, retried = await wait_for_lines(marker, 2)
    assert result.steps["work"].output == retried != killed
    assert result.steps["work"].attempts == 2


@pytest.mark.slow
async def test_a_step_timeout_shorter_than_the_cluster_start_is_retried_onto_it(
    plugins: cadenza.plugins.Plugins, tmp_path: Path
) -> None:
    """Each timed-out attempt stops waiting; the start goes on and a later attempt uses it."""
    workflow = _load(
        f"""
        executors:
          cluster: {{kind: dask, options: {{workers: 1}}}}
        agents:
          remote:
            kind: python
            executor: cluster
            options: {{function: "dask_tasks:where", search_path: "{HERE}"}}
        steps:
          s:
            uses: remote
            timeout: 0.5s
            retry: {{max_attempts: 60, backoff: 0.2s, multiplier: 1}}
        """,
        plugins,
        tmp_path,
    )
    result = await cadenza.run_workflow(workflow, plugins=plugins)
    assert result.status == "succeeded", result
    assert result.steps["s"].attempts > 1
    assert result.steps["s"].output["pid"] != os.getpid()
