"""Crash safety: ``cadenza run`` killed with SIGKILL at random points, then ``cadenza resume``.

The agent is a loopback seed-protocol server in this (the test) process, so it
outlives the killed child and records every call with its idempotency key.
Killed runs talk to one server and resumed runs to another (the endpoint comes
from the environment, so the workflow file is the same), which separates the
calls of the two sessions without relying on timing.
"""

from __future__ import annotations

import json
import math
import random
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import attrs
import pytest
import trio

from cadenza._scheduler._run import idempotency_key
from cadenza.testing import SeedAgentServer

from .durability_helpers import (
    DigestAgent,
    assert_seq_contiguous,
    cadenza_argv,
    calls_of,
    child_env,
    layer_step,
    layered_workflow,
    opened,
    store_url,
    succeeded_outputs,
    successes,
)

pytestmark = pytest.mark.slow

LAYERS, WIDTH = 10, 10
STEPS = [layer_step(layer, i) for layer in range(LAYERS) for i in range(WIDTH)] + ["join"]
TRIALS = 20
SEED = 1234
HANG_GUARD = 60  # seconds for any one subprocess; never reached unless something hangs


@attrs.define(eq=False)
class Harness:
    """Two servers (killed sessions, resumed sessions), one agent, one workflow file."""

    tmp: Path
    workflow: Path
    agent: DigestAgent
    first: SeedAgentServer
    second: SeedAgentServer
    new_runs: trio.MemoryReceiveChannel[str]

    async def run_to_end(self, journal: Path) -> dict[str, Any]:
        """``cadenza run --json`` against the first server; the parsed summary."""
        with trio.fail_after(HANG_GUARD):
            proc = await trio.run_process(
                cadenza_argv(
                    "run", str(self.workflow), "--store", store_url(journal),
                    "--json", "--no-progress",
                ),
                capture_stdout=True, capture_stderr=True, check=False,
                env=child_env(SEED_ENDPOINT=self.first.url),
            )  # fmt: skip
        assert proc.returncode == 0, proc.stderr.decode()
        summary: dict[str, Any] = json.loads(proc.stdout)
        return summary

    async def start(self, journal: Path, log: Path) -> trio.Process:
        """Start ``cadenza run`` in the background against the first server."""
        with log.open("wb") as out:
            return await trio.lowlevel.open_process(
                cadenza_argv(
                    "run", str(self.workflow), "--store", store_url(journal),
                    "--json", "--no-progress",
                ),
                stdout=out, stderr=out, env=child_env(SEED_ENDPOINT=self.first.url),
            )  # fmt: skip

    async def resume(self, journal: Path, run_id: str) -> subprocess.CompletedProcess[bytes]:
        """``cadenza resume RUN --json`` against the second server."""
        with trio.fail_after(HANG_GUARD):
            return await trio.run_process(
                cadenza_argv("resume", run_id, "--store", store_url(journal), "--json"),
                capture_stdout=True, capture_stderr=True, check=False,
                env=child_env(SEED_ENDPOINT=self.second.url),
            )  # fmt: skip


@pytest.fixture
async def harness(tmp_path: Path) -> AsyncIterator[Harness]:
    send, receive = trio.open_memory_channel[str](math.inf)
    agent = DigestAgent(new_runs=send)
    workflow = tmp_path / "layered.yaml"
    workflow.write_text(layered_workflow(layers=LAYERS, width=WIDTH))
    async with trio.open_nursery() as nursery:
        first = await nursery.start(SeedAgentServer(handler=agent).serve)
        second = await nursery.start(SeedAgentServer(handler=agent).serve)
        yield Harness(tmp_path, workflow, agent, first, second, receive)
        nursery.cancel_scope.cancel()


async def kill(proc: trio.Process) -> None:
    proc.kill()  # SIGKILL: no cleanup, no final journal flush
    with trio.fail_after(HANG_GUARD):
        await proc.wait()


def outputs_of(summary: dict[str, Any]) -> dict[str, Any]:
    return {step: outcome["output"] for step, outcome in summary["steps"].items()}


async def test_sigkill_at_random_points_then_resume_keeps_every_step_exactly_once(
    harness: Harness,
) -> None:
    """After SIGKILL anywhere in a run, resume finishes it: each step succeeds once, with one
    key, no journaled step is called again, and the outputs equal a clean run's."""
    clean_started = trio.current_time()
    clean = await harness.run_to_end(harness.tmp / "clean.db")
    clean_outputs = outputs_of(clean)
    assert sorted(clean_outputs) == sorted(STEPS)
    clean_calls = calls_of(harness.first, clean["run_id"])
    assert len(clean_calls) == len(STEPS)
    # Kill times are drawn over the span in which the clean run called its agent,
    # measured from this trial's first call (process start-up is not part of the run).
    span = max(c.at for c in clean_calls) - min(c.at for c in clean_calls)
    print(f"clean run: {trio.current_time() - clean_started:.2f}s, agent span {span:.2f}s")
    await harness.new_runs.receive()  # the clean run's

    rng = random.Random(SEED)
    mid_run = 0
    for trial in range(TRIALS):
        journal = harness.tmp / f"trial{trial}.db"
        delay = rng.uniform(0, span)
        proc = await harness.start(journal, harness.tmp / f"trial{trial}.log")
        try:
            with trio.fail_after(HANG_GUARD):
                run_id = await harness.new_runs.receive()
            await trio.sleep(delay)
        finally:
            await kill(proc)
        killed_at = trio.current_time()

        with opened(journal) as store:
            (record,) = store.list_runs()
            before = store.read_events(record.run_id)
        assert record.run_id == run_id
        journaled_before = set(successes(before))

        resumed = await harness.resume(journal, run_id)
        stderr = resumed.stderr.decode()
        assert "Traceback" not in stderr
        if record.status == "succeeded":  # the kill landed after the run had finished
            assert resumed.returncode == 2, stderr
            assert f"run {run_id} already succeeded" in stderr
            summary_outputs = succeeded_outputs(before)
        else:
            assert resumed.returncode == 0, stderr
            summary = json.loads(resumed.stdout)
            assert summary["run_id"] == run_id
            assert summary["status"] == "succeeded"
            summary_outputs = outputs_of(summary)

        with opened(journal) as store:
            after = store.read_events(run_id)
            final = store.get_run(run_id)
        assert final is not None
        assert final.status == "succeeded"
        assert_seq_contiguous(after)
        # (a) every step succeeded exactly once across both sessions.
        assert successes(after) == dict.fromkeys(STEPS, 1)
        resumed_events = [e for e in after if e["kind"] == "run_resumed"]
        if record.status != "succeeded":
            (resumed_event,) = resumed_events
            assert set(resumed_event["restored"]) == journaled_before
            assert set(resumed_event["rerun"]) == set(STEPS) - journaled_before

        first_calls = calls_of(harness.first, run_id)
        second_calls = calls_of(harness.second, run_id)
        # (b) no step whose success was journaled before the kill was called after it.
        recalled = {c.json["task_id"] for c in second_calls}
        assert not recalled & journaled_before, sorted(recalled & journaled_before)
        late = {c.idempotency_key for c in first_calls + second_calls if c.at > killed_at}
        assert not late & {idempotency_key(run_id, s) for s in journaled_before}
        assert recalled == set(STEPS) - journaled_before
        # (c) every call of a step carries that step's one idempotency key, in both sessions.
        for call in first_calls + second_calls:
            assert call.idempotency_key == idempotency_key(run_id, call.json["task_id"])
        # (d) outputs equal the clean run's, in the summary and in the journal.
        assert summary_outputs == clean_outputs
        assert succeeded_outputs(after) == clean_outputs

        in_flight = {c.json["task_id"] for c in first_calls} - journaled_before
        mid_run += 0 < len(journaled_before) < len(STEPS)
        print(
            f"trial {trial}: kill after {delay:.3f}s, {len(journaled_before)} kept, "
            f"{len(in_flight)} in flight called again, {len(recalled)} run on resume"
        )
    assert mid_run > 0, "no kill landed mid-run: the test would prove nothing"


async def test_sigkill_while_the_first_call_is_in_flight_then_resume_runs_everything(
    harness: Harness,
) -> None:
    """A run killed before any step succeeded is recorded, and resume runs every step once."""
    journal = harness.tmp / "early.db"
    harness.agent.hold_next_run = True  # no answer reaches the child before it dies
    proc = await harness.start(journal, harness.tmp / "early.log")
    try:
        with trio.fail_after(HANG_GUARD):
            run_id = await harness.new_runs.receive()
    finally:
        await kill(proc)
    harness.agent.release(run_id)

    with opened(journal) as store:
        (record,) = store.list_runs()
        before = store.read_events(run_id)
    assert record.run_id == run_id
    assert record.status == "running"
    assert before[0]["kind"] == "run_started"
    assert not successes(before)

    resumed = await harness.resume(journal, run_id)
    assert resumed.returncode == 0, resumed.stderr.decode()
    summary = json.loads(resumed.stdout)
    assert summary["status"] == "succeeded"
    with opened(journal) as store:
        after = store.read_events(run_id)
    assert_seq_contiguous(after)
    assert successes(after) == dict.fromkeys(STEPS, 1)
    (resumed_event,) = [e for e in after if e["kind"] == "run_resumed"]
    assert resumed_event["restored"] == []
    first_calls = calls_of(harness.first, run_id)
    assert first_calls, "the killed run never called its agent"
    for call in first_calls + calls_of(harness.second, run_id):
        assert call.idempotency_key == idempotency_key(run_id, call.json["task_id"])
    assert {c.json["task_id"] for c in calls_of(harness.second, run_id)} == set(STEPS)


async def test_sigkill_before_anything_is_journaled_then_resume_says_there_is_no_run(
    harness: Harness,
) -> None:
    """A run killed during start-up left no run behind; resume says so, exit 2, no traceback."""
    journal = harness.tmp / "startup.db"
    proc = await harness.start(journal, harness.tmp / "startup.log")
    await kill(proc)  # at once: the interpreter has not even imported cadenza
    if journal.exists():  # start-up got as far as opening the journal, and no further
        with opened(journal) as store:
            assert store.list_runs() == []

    resumed = await harness.resume(journal, "20260101-000000-abcdef")
    stderr = resumed.stderr.decode()
    assert resumed.returncode == 2, stderr
    assert "no run '20260101-000000-abcdef' in the journal" in stderr
    assert "The journal has no runs" in stderr
    assert "Traceback" not in stderr
    assert not calls_of(harness.second, "20260101-000000-abcdef")
