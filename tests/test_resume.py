"""Resuming a journaled run: what is restored, what runs again, and when resume refuses.

Most tests run both sessions in this process with ``run_workflow(store=...,
resume=plan_resume(...))`` and a recording agent per session; the last ones go
through ``cadenza run`` / ``cadenza resume`` as a user would.
"""

from __future__ import annotations

import functools
import json
import os
import socket
import subprocess
import sys
import textwrap
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import attrs
import pytest
import trio

import cadenza
import cadenza.events
import cadenza.store
from cadenza import ResumeError, plan_resume, run_workflow
from cadenza._journal import _writer as _journal
from cadenza._scheduler._run import idempotency_key
from cadenza._spec._workflow import Workflow
from cadenza.store import SqliteStore, WriteBatch
from cadenza.testing import ScriptedAgent

from .durability_helpers import (
    assert_seq_contiguous,
    cadenza_argv,
    child_env,
    store_url,
    successes,
)
from .scheduler_helpers import make_workflow, plugins_with

HANG_GUARD = 20  # seconds


@attrs.define(eq=False)
class Session:
    """One process's worth of agent: records each request; fails or blocks chosen steps.

    Outputs are ``{"step", "from": inputs, "n": number}``; give sessions different
    numbers to tell which session produced an output.
    """

    number: int = 0
    fail: frozenset[str] = frozenset()
    block: frozenset[str] = frozenset()
    requests: list[cadenza.AgentRequest] = attrs.field(factory=list)
    blocked: trio.Event = attrs.field(factory=trio.Event)

    @property
    def called(self) -> list[str]:
        return [r.step_id for r in self.requests]

    async def behaviour(self, request: cadenza.AgentRequest) -> Any:
        self.requests.append(request)
        if request.step_id in self.block:
            self.blocked.set()
            await trio.sleep_forever()
        if request.step_id in self.fail:
            raise cadenza.PermanentError(f"{request.step_id} refused", step_id=request.step_id)
        await trio.lowlevel.checkpoint()
        return {"step": request.step_id, "from": dict(request.inputs), "n": self.number}

    def plugins(self) -> cadenza.plugins.Plugins:
        return plugins_with({"a": ScriptedAgent("a", self.behaviour)})


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStore]:
    opened = SqliteStore(store_url(tmp_path / "journal.db"))
    yield opened
    opened.close()


def chain() -> Workflow:
    """a → b → c, and d needing a; each step passes on its need's output."""
    return make_workflow(
        {
            "a": {},
            "b": {"needs": ["a"], "with": {"prev": "${{ steps.a.output.step }}"}},
            "c": {"needs": ["b"], "with": {"prev": "${{ steps.b.output }}"}},
            "d": {"needs": ["a"], "with": {"prev": "${{ steps.a.output.step }}"}},
        }
    )


def diamond() -> Workflow:
    """a → (b, c) → d, and e on its own."""
    return make_workflow(
        {
            "a": {},
            "b": {"needs": ["a"]},
            "c": {"needs": ["a"]},
            "d": {"needs": ["b", "c"], "with": {"b": "${{ steps.b.output.step }}"}},
            "e": {},
        }
    )


async def run(
    workflow: Workflow, session: Session, store: SqliteStore, **options: Any
) -> cadenza.RunResult:
    with trio.fail_after(HANG_GUARD):
        return await run_workflow(workflow, plugins=session.plugins(), store=store, **options)


async def resume(
    workflow: Workflow, session: Session, store: SqliteStore, run_id: str, **options: Any
) -> cadenza.RunResult:
    plan = plan_resume(store, run_id, workflow, **options)
    return await run(workflow, session, store, resume=plan)


async def cancel_when_blocked(
    workflow: Workflow, session: Session, store: SqliteStore, *, after: str
) -> cadenza.RunResult:
    """Run until ``session`` is blocked in a call and step ``after`` succeeded, then cancel."""
    done = trio.Event()
    box: list[cadenza.RunResult] = []

    def observe(event: cadenza.events.Event) -> None:
        if isinstance(event, cadenza.events.StepSucceeded) and event.step_id == after:
            done.set()

    async def runner(*, task_status: trio.TaskStatus[cadenza.RunHandle]) -> None:
        box.append(
            await run(workflow, session, store, observers=[observe], task_status=task_status)
        )

    async with trio.open_nursery() as nursery:
        handle: cadenza.RunHandle = await nursery.start(runner)
        with trio.fail_after(HANG_GUARD):
            await session.blocked.wait()
            await done.wait()
        handle.cancel("stopped by the test")
    (result,) = box
    return result


def outputs(result: cadenza.RunResult) -> dict[str, Any]:
    return {step: outcome.output for step, outcome in result.steps.items()}


def resumed_events(store: SqliteStore, run_id: str) -> list[dict[str, Any]]:
    return [e for e in store.read_events(run_id) if e["kind"] == "run_resumed"]


# -- what runs again ---------------------------------------------------------------------


async def test_restored_steps_are_not_called_again(store: SqliteStore) -> None:
    """Steps that succeeded keep their outputs; only the rest call the agent."""
    workflow = chain()
    first = await run(workflow, Session(fail=frozenset({"c"})), store)
    assert first.status == "failed"
    again = Session()
    result = await resume(workflow, again, store, first.run_id)
    assert result.status == "succeeded"
    assert again.called == ["c"]
    assert again.requests[0].inputs == {"prev": first.steps["b"].output}
    for step in ("a", "b", "d"):
        assert result.steps[step].output == first.steps[step].output
    assert successes(store.read_events(first.run_id)) == dict.fromkeys("abdc", 1)


async def test_in_flight_steps_are_called_again_with_the_same_idempotency_key(
    store: SqliteStore,
) -> None:
    """A step cut off mid-call is called again on resume, with the key it was first sent."""
    workflow = make_workflow({"a": {}, "slow": {}, "c": {"needs": ["a"]}})
    first = Session(block=frozenset({"slow"}))
    result = await cancel_when_blocked(workflow, first, store, after="c")
    assert result.status == "cancelled"
    (cut_off,) = [r for r in first.requests if r.step_id == "slow"]

    again = Session()
    result = await resume(workflow, again, store, result.run_id)
    assert result.status == "succeeded"
    assert again.called == ["slow"]
    assert again.requests[0].idempotency_key == cut_off.idempotency_key
    assert cut_off.idempotency_key == idempotency_key(result.run_id, "slow")


async def test_restored_output_holding_a_secret_stays_redacted_on_resume(
    store: SqliteStore,
) -> None:
    """Secrets never reach the journal, so a restored output that held one is restored as ***.

    This is the documented price of keeping secrets out of the journal
    (docs/durability.md): outputs should not carry credentials.
    """
    secret = "s3cr3t-value"
    workflow = make_workflow(
        {"a": {}, "b": {"needs": ["a"], "with": {"prev": "${{ steps.a.output.token }}"}}},
        agents={"a": {"secrets": [secret]}},
    )

    def session(*, fail_b: bool) -> tuple[list[cadenza.AgentRequest], cadenza.plugins.Plugins]:
        requests: list[cadenza.AgentRequest] = []

        async def behaviour(request: cadenza.AgentRequest) -> Any:
            requests.append(request)
            await trio.lowlevel.checkpoint()
            if request.step_id == "b" and fail_b:
                raise cadenza.PermanentError("b refused", step_id="b")
            return {"token": secret} if request.step_id == "a" else "ok"

        return requests, plugins_with({"a": ScriptedAgent("a", behaviour)})

    requests, plugins = session(fail_b=True)
    first = await run_workflow(workflow, plugins=plugins, store=store)
    assert first.status == "failed"
    again, plugins = session(fail_b=False)
    plan = plan_resume(store, first.run_id, workflow)
    result = await run_workflow(workflow, plugins=plugins, store=store, resume=plan)
    assert result.status == "succeeded"
    (before,) = [r.inputs for r in requests if r.step_id == "b"]
    assert before == {"prev": secret}
    assert [r.inputs for r in again] == [{"prev": "***"}]
    assert all(secret not in repr(e) for e in store.read_events(first.run_id))


async def test_from_step_reruns_that_step_and_its_descendants_only(store: SqliteStore) -> None:
    """--from b re-runs b and d (which needs b); a, c and e keep their outputs."""
    workflow = diamond()
    first = await run(workflow, Session(), store)
    assert first.status == "succeeded"
    again = Session()
    result = await resume(workflow, again, store, first.run_id, from_step="b")
    assert result.status == "succeeded"
    assert sorted(again.called) == ["b", "d"]
    assert outputs(result) == outputs(first)
    (event,) = resumed_events(store, first.run_id)
    assert sorted(event["restored"]) == ["a", "c", "e"]
    assert event["from_step"] == "b"


async def test_interrupted_from_rerun_does_not_leave_stale_descendants(
    store: SqliteStore,
) -> None:
    """After a --from b session stops midway, resuming re-runs what b's new output feeds."""
    workflow = make_workflow(
        {
            "a": {},
            "b": {"needs": ["a"]},
            "d": {"needs": ["b"], "with": {"b": "${{ steps.b.output.n }}"}},
        }
    )

    first = await run(workflow, Session(number=1), store)
    second = Session(number=2, block=frozenset({"d"}))
    plan = plan_resume(store, first.run_id, workflow, from_step="b")
    async with trio.open_nursery() as nursery:
        handle: cadenza.RunHandle = await nursery.start(
            functools.partial(run, workflow, second, store, resume=plan)
        )
        with trio.fail_after(HANG_GUARD):
            await second.blocked.wait()  # b re-ran (n=2); d is in flight
        handle.cancel("stopped by the test")
    result = await resume(workflow, Session(number=3), store, first.run_id)
    assert result.status == "succeeded"
    assert result.steps["d"].output["from"] == {"b": result.steps["b"].output["n"]}


async def test_from_step_reruns_are_sent_with_new_idempotency_keys(store: SqliteStore) -> None:
    """A deliberate --from re-run is not a retry: its calls carry keys the first run never sent."""
    workflow = diamond()
    first_session = Session()
    first = await run(workflow, first_session, store)
    again = Session()
    await resume(workflow, again, store, first.run_id, from_step="b")
    before = {r.step_id: r.idempotency_key for r in first_session.requests}
    after = {r.step_id: r.idempotency_key for r in again.requests}
    assert sorted(after) == ["b", "d"]
    assert all(after[step] != before[step] for step in after)


async def test_step_cut_off_in_a_from_session_keeps_that_sessions_key(
    store: SqliteStore,
) -> None:
    """After a --from session stops midway, its in-flight step is resent with the key it used."""
    workflow = make_workflow(
        {
            "a": {},
            "b": {"needs": ["a"]},
            "d": {"needs": ["b"], "with": {"b": "${{ steps.b.output.n }}"}},
        }
    )
    first_session = Session(number=1)
    first = await run(workflow, first_session, store)
    second = Session(number=2, block=frozenset({"d"}))
    plan = plan_resume(store, first.run_id, workflow, from_step="b")
    async with trio.open_nursery() as nursery:
        handle: cadenza.RunHandle = await nursery.start(
            functools.partial(run, workflow, second, store, resume=plan)
        )
        with trio.fail_after(HANG_GUARD):
            await second.blocked.wait()
        handle.cancel("stopped by the test")
    third = Session(number=3)
    await resume(workflow, third, store, first.run_id)
    (cut_off,) = [r for r in second.requests if r.step_id == "d"]
    (resent,) = [r for r in third.requests if r.step_id == "d"]
    (original,) = [r for r in first_session.requests if r.step_id == "d"]
    assert cut_off.idempotency_key != original.idempotency_key
    assert resent.idempotency_key == cut_off.idempotency_key


async def test_from_an_unknown_step_is_refused_with_a_suggestion(store: SqliteStore) -> None:
    """--from naming no step of the workflow is refused, suggesting the closest name."""
    workflow = diamond()
    first = await run(workflow, Session(), store)
    with pytest.raises(ResumeError, match=r"--from 'bb': no such step .* Did you mean 'b'\?"):
        plan_resume(store, first.run_id, workflow, from_step="bb")


async def test_run_resumed_event_lists_restored_and_rerun_steps(store: SqliteStore) -> None:
    """run_resumed names the steps restored from the journal and those that run again."""
    workflow = chain()
    first = await run(workflow, Session(fail=frozenset({"b"})), store)
    assert first.steps["c"].status == "skipped"
    await resume(workflow, Session(), store, first.run_id)
    (event,) = resumed_events(store, first.run_id)
    assert sorted(event["restored"]) == ["a", "d"]
    assert event["rerun"] == ["b", "c"]  # in file order
    assert event["from_step"] is None
    assert event["source_hash"] == workflow.source_hash


async def test_event_seq_continues_without_gaps_across_sessions(store: SqliteStore) -> None:
    """Three sessions of one run write one event sequence: 0, 1, 2, ... with no gap or repeat."""
    workflow = chain()
    first = await run(workflow, Session(fail=frozenset({"c"})), store)
    after_first = store.read_events(first.run_id)
    await resume(workflow, Session(fail=frozenset({"c"})), store, first.run_id)
    await resume(workflow, Session(), store, first.run_id)
    events = store.read_events(first.run_id)
    assert_seq_contiguous(events)
    assert events[len(after_first)]["kind"] == "run_resumed"
    assert [e["kind"] for e in events].count("run_resumed") == 2
    assert [e["kind"] for e in events].count("run_finished") == 3
    assert all(e["run_id"] == first.run_id for e in events)


async def test_run_cancelled_through_its_handle_is_resumable_and_finishes(
    store: SqliteStore,
) -> None:
    """RunHandle.cancel leaves a cancelled run in the journal; resume finishes it."""
    workflow = chain()
    first = Session(block=frozenset({"b"}))
    cancelled = await cancel_when_blocked(workflow, first, store, after="d")
    record = store.get_run(cancelled.run_id)
    assert record is not None
    assert (record.status, record.reason) == ("cancelled", "stopped by the test")

    result = await resume(workflow, Session(), store, cancelled.run_id)
    assert result.status == "succeeded"
    record = store.get_run(cancelled.run_id)
    assert record is not None
    assert record.status == "succeeded"
    assert record.counts["succeeded"] == 4
    assert record.finished_at is not None


async def test_run_stopped_by_its_callers_scope_is_journaled_and_resumable(
    store: SqliteStore,
) -> None:
    """Cancelling the caller's scope still journals run_finished; resume then finishes the run."""
    workflow = chain()
    first = Session(block=frozenset({"b"}))
    d_done = trio.Event()

    def observe(event: cadenza.events.Event) -> None:
        if isinstance(event, cadenza.events.StepSucceeded) and event.step_id == "d":
            d_done.set()

    with trio.CancelScope() as scope:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(
                lambda: run(workflow, first, store, run_id="r-scope", observers=[observe])
            )
            with trio.fail_after(HANG_GUARD):
                await first.blocked.wait()
                await d_done.wait()
            scope.cancel()
    assert scope.cancelled_caught
    events = store.read_events("r-scope")
    assert events[-1]["kind"] == "run_finished"
    assert events[-1]["status"] == "cancelled"
    record = store.get_run("r-scope")
    assert record is not None
    assert record.status == "cancelled"

    again = Session()
    result = await resume(workflow, again, store, "r-scope")
    assert result.status == "succeeded"
    assert sorted(again.called) == ["b", "c"]


# -- refusals ----------------------------------------------------------------------------


def workflow_text(b_with: str) -> str:
    return textwrap.dedent(
        f"""\
        agents:
          t: {{kind: template, options: {{output: "hello {{name}}"}}}}
        steps:
          a: {{uses: t, with: {{name: A}}}}
          b: {{uses: t, needs: [a], with: {b_with}}}
        """
    )


def load(text: str) -> Workflow:
    plugins = cadenza.plugins.load_plugins(entry_points=False)
    return cadenza.load_workflow_text(text, plugins=plugins, filename="wf.yaml").workflow


async def test_changed_workflow_is_refused_with_a_diff(store: SqliteStore) -> None:
    """A workflow whose text changed since the run started is refused, showing the change."""
    before = load(workflow_text("{}"))
    plugins = cadenza.plugins.load_plugins(entry_points=False)
    first = await run_workflow(before, plugins=plugins, store=store)
    assert first.status == "failed"
    after = load(workflow_text('{name: "${{ steps.a.output }}"}'))
    with pytest.raises(ResumeError) as info:
        plan_resume(store, first.run_id, after)
    message = str(info.value)
    assert f"the workflow file changed since run {first.run_id} started" in message
    assert "-  b: {uses: t, needs: [a], with: {}}" in message
    assert '+  b: {uses: t, needs: [a], with: {name: "${{ steps.a.output }}"}}' in message
    assert "pass --allow-changed" in message

    plan = plan_resume(store, first.run_id, after, allow_changed=True)
    result = await run_workflow(after, plugins=plugins, store=store, resume=plan)
    assert result.status == "succeeded"
    assert result.steps["b"].output == "hello hello A"


async def test_succeeded_run_without_from_is_refused(store: SqliteStore) -> None:
    """Resuming a run that already succeeded is refused, naming --from as the way to re-run."""
    first = await run(diamond(), Session(), store)
    with pytest.raises(ResumeError, match="already succeeded; nothing to resume") as info:
        plan_resume(store, first.run_id, diamond())
    assert f"cadenza resume {first.run_id} --from STEP" in str(info.value)


def mark_running(store: SqliteStore, run_id: str, pid: int) -> None:
    """Make the journal say the run is running in process ``pid`` on this host."""
    record = store.get_run(run_id)
    assert record is not None
    running = attrs.evolve(
        record, status="running", finished_at=None, pid=pid, host=socket.gethostname()
    )
    store.write(WriteBatch(runs=[running]))


async def test_run_still_alive_in_another_process_is_refused(store: SqliteStore) -> None:
    """A run whose recorded process is alive on this host is refused, naming the pid."""
    first = await run(chain(), Session(fail=frozenset({"c"})), store)
    async with trio.open_nursery() as nursery:
        sleeper: trio.Process = await nursery.start(
            functools.partial(
                trio.run_process, [sys.executable, "-c", "import time; time.sleep(600)"]
            )
        )
        try:
            mark_running(store, first.run_id, sleeper.pid)
            with pytest.raises(ResumeError, match=f"is still running \\(pid {sleeper.pid} on"):
                plan_resume(store, first.run_id, chain())
        finally:
            nursery.cancel_scope.cancel()
    # Once that process is gone, the same run resumes.
    result = await resume(chain(), Session(), store, first.run_id)
    assert result.status == "succeeded"


# -- cancel requests across sessions ------------------------------------------------------


@attrs.define(eq=False)
class CancelChecks:
    """Wraps a store; counts the run's checks for a cancel request (``get_run`` from a thread)."""

    inner: SqliteStore
    seen: int = 0
    twice: trio.Event = attrs.field(factory=trio.Event)

    @property
    def url(self) -> str:
        return self.inner.url

    def get_run(self, run_id: str) -> cadenza.store.RunRecord | None:
        record = self.inner.get_run(run_id)
        trio.from_thread.run_sync(self._count)
        return record

    def _count(self) -> None:
        self.seen += 1
        if self.seen >= 2:
            self.twice.set()

    def __getattr__(self, name: str) -> Any:
        if name == "inner":
            raise AttributeError(name)
        return getattr(self.inner, name)


async def test_stale_cancel_request_does_not_cancel_the_resumed_run(
    store: SqliteStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A cancel asked of a process that died before seeing it does not stop the resumed run."""
    monkeypatch.setattr(_journal, "CANCEL_CHECK_INTERVAL", 0.001)
    workflow = make_workflow({"a": {}, "slow": {"needs": ["a"]}})
    first = await run(workflow, Session(fail=frozenset({"slow"})), store)
    gone = await trio.lowlevel.open_process([sys.executable, "-c", "pass"])
    await gone.wait()
    # The journal as `cadenza cancel` leaves a live run whose process is then
    # killed before its next check: status still running, cancel requested.
    mark_running(store, first.run_id, gone.pid)
    assert store.request_cancel(first.run_id)

    watched = CancelChecks(store)

    async def slow(request: cadenza.AgentRequest) -> Any:
        await watched.twice.wait()  # the resumed run has checked for a cancel request twice
        return "done"

    plan = plan_resume(store, first.run_id, workflow)
    with trio.fail_after(HANG_GUARD):
        result = await run_workflow(
            workflow, plugins=plugins_with({"a": ScriptedAgent("a", slow)}), store=watched,
            resume=plan,
        )  # fmt: skip
    assert result.status == "succeeded", result.reason


# -- from the command line ---------------------------------------------------------------


def cadenza_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        cadenza_argv(*args),
        cwd=cwd,
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@attrs.frozen
class CliRun:
    workflow: Path
    url: str
    run_id: str
    summary: Mapping[str, Any]


def cli_run(tmp_path: Path, text: str) -> CliRun:
    workflow = tmp_path / "wf.yaml"
    workflow.write_text(text)
    url = store_url(tmp_path / "journal.db")
    proc = cadenza_cli(
        "run", str(workflow), "--store", url, "--json", "--no-progress", cwd=tmp_path
    )
    assert proc.returncode in (0, 1), proc.stderr
    summary = json.loads(proc.stdout)
    return CliRun(workflow=workflow, url=url, run_id=summary["run_id"], summary=summary)


@pytest.mark.slow
def test_cli_refuses_a_changed_workflow_with_a_diff_then_allow_changed_resumes(
    tmp_path: Path,
) -> None:
    """`cadenza resume` shows the diff and exits 2; with --allow-changed it finishes the run."""
    first = cli_run(tmp_path, workflow_text("{}"))
    assert first.summary["status"] == "failed"
    first.workflow.write_text(workflow_text('{name: "${{ steps.a.output }}"}'))

    refused = cadenza_cli("resume", first.run_id, "--store", first.url, cwd=tmp_path)
    assert refused.returncode == 2
    assert refused.stderr.startswith(
        f"error: the workflow file changed since run {first.run_id} started"
    )
    assert f"--- {first.workflow} (when the run started)" in refused.stderr
    assert f"+++ {first.workflow} (now)" in refused.stderr
    assert "-  b: {uses: t, needs: [a], with: {}}" in refused.stderr
    assert "--allow-changed" in refused.stderr
    assert "Traceback" not in refused.stderr

    allowed = cadenza_cli(
        "resume", first.run_id, "--store", first.url, "--allow-changed", "--json", cwd=tmp_path
    )
    assert allowed.returncode == 0, allowed.stderr
    summary = json.loads(allowed.stdout)
    assert summary["status"] == "succeeded"
    assert summary["steps"]["b"]["output"] == "hello hello A"
    assert summary["steps"]["a"]["output"] == first.summary["steps"]["a"]["output"]


@pytest.mark.slow
def test_cli_refuses_to_resume_a_succeeded_run_unless_from_is_given(tmp_path: Path) -> None:
    """A succeeded run: resume says so and exits 2; --from STEP re-runs that step."""
    first = cli_run(tmp_path, workflow_text("{name: B}"))
    assert first.summary["status"] == "succeeded"
    refused = cadenza_cli("resume", first.run_id, "--store", first.url, cwd=tmp_path)
    assert refused.returncode == 2
    assert f"run {first.run_id} already succeeded; nothing to resume" in refused.stderr
    assert f"cadenza resume {first.run_id} --from STEP" in refused.stderr
    assert "Traceback" not in refused.stderr

    again = cadenza_cli(
        "resume", first.run_id, "--store", first.url, "--from", "b", "--json", cwd=tmp_path
    )
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["status"] == "succeeded"
    journal = SqliteStore(first.url)
    try:
        (event,) = resumed_events(journal, first.run_id)
    finally:
        journal.close()
    assert (event["restored"], event["rerun"], event["from_step"]) == (["a"], ["b"], "b")


@pytest.mark.slow
def test_cli_refuses_to_resume_a_run_that_is_still_running(tmp_path: Path) -> None:
    """A run the journal says is running in a live process (here: this test) is refused."""
    first = cli_run(tmp_path, workflow_text("{}"))
    journal = SqliteStore(first.url)
    try:
        mark_running(journal, first.run_id, os.getpid())
    finally:
        journal.close()
    refused = cadenza_cli("resume", first.run_id, "--store", first.url, cwd=tmp_path)
    assert refused.returncode == 2
    assert f"run {first.run_id} is still running (pid {os.getpid()} on" in refused.stderr
    assert f"cadenza cancel {first.run_id}" in refused.stderr
    assert "Traceback" not in refused.stderr


OUT_TASKS = """\
import os


def write(request):
    folder = request.output_dir
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "out.txt").write_text(request.step_id)
    if request.step_id == "second" and os.environ.get("FAIL_SECOND") == "1":
        raise RuntimeError("second is not ready yet")
    return str(folder)
"""

OUT_FLOW = """\
name: files
agents:
  writer: {kind: python, options: {function: "tasks:write", pass_request: true}}
steps:
  first: {uses: writer}
  second: {uses: writer, needs: [first]}
"""


@pytest.mark.slow
def test_cli_resume_writes_into_the_runs_own_out_folder(tmp_path: Path) -> None:
    """A run started with --out DIR and resumed without --out writes its files in DIR too."""
    (tmp_path / "tasks.py").write_text(OUT_TASKS)
    (tmp_path / "wf.yaml").write_text(OUT_FLOW)
    url = store_url(tmp_path / "journal.db")

    def cli(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            cadenza_argv(*args, "--store", url, "--json", "--no-progress"),
            cwd=tmp_path, env=child_env(**env), capture_output=True, text=True, timeout=120,
            check=False,
        )  # fmt: skip

    first = cli("run", "wf.yaml", "--out", "mine/{run_id}", FAIL_SECOND="1")
    assert first.returncode == 1, first.stderr
    run_id = json.loads(first.stdout)["run_id"]
    own = tmp_path / "mine" / run_id
    assert (own / "first" / "out.txt").exists()

    resumed = cli("resume", run_id)
    assert resumed.returncode == 0, resumed.stderr
    summary = json.loads(resumed.stdout)
    assert summary["output_dir"] == str(own)
    assert (own / "second" / "out.txt").read_text() == "second"
    assert not (tmp_path / ".cadenza" / "out").exists()


async def test_plan_resume_finds_the_output_folder_the_run_last_used(
    store: SqliteStore, tmp_path: Path
) -> None:
    """The plan carries the run's folder from its journal; a run given none (or an old
    journal, whose run_started has no output_dir) leaves it to the default."""
    session = Session(fail=frozenset({"c"}))
    first = await run(chain(), session, store, output_dir=tmp_path / "out" / "{run_id}")
    plan = plan_resume(store, first.run_id, chain())
    assert plan.output_dir == str(tmp_path / "out" / first.run_id)

    bare = await run(chain(), Session(fail=frozenset({"c"})), store)
    assert plan_resume(store, bare.run_id, chain()).output_dir is None


@pytest.mark.slow
def test_cli_run_in_a_subfolder_keeps_files_with_the_projects_journal(tmp_path: Path) -> None:
    """Without --store and --out, a run in a subfolder writes beside the project's journal."""
    project = tmp_path / "project"
    (project / ".cadenza").mkdir(parents=True)
    sub = project / "sub"
    sub.mkdir()
    (sub / "tasks.py").write_text(OUT_TASKS)
    (sub / "wf.yaml").write_text(OUT_FLOW)
    proc = subprocess.run(
        cadenza_argv("run", "wf.yaml", "--json", "--no-progress"),
        cwd=sub, env=child_env(), capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    own = project / ".cadenza" / "out" / summary["run_id"]
    assert summary["output_dir"] == str(own)
    assert (own / "second" / "out.txt").read_text() == "second"
    assert (project / ".cadenza" / "journal.db").exists()
    assert not (sub / ".cadenza").exists()
