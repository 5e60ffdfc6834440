"""``cadenza report``: critical path, agent load and recommendations from real runs.

Runs execute on trio's autojump clock. Event ``at`` stamps are wall-clock
time, which barely moves while virtual time jumps, so the ``virtual_at``
fixture stamps events with the trio clock instead: the timeline then agrees
with the durations the events carry, as it does in a real run.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import trio

import cadenza
import cadenza._scheduler._runner
from cadenza import _events as ev
from cadenza._cli._common import CliState
from cadenza._cli._report_cmd import report, sparkline
from cadenza._insight._report import SATURATED_AT_LIMIT, Report, build_report, workflow_from_source
from cadenza._journal._bus import EventBus
from cadenza._journal._sqlite import SqliteStore
from cadenza._load._loader import load_workflow_text
from cadenza._plugins._registry import Plugins, load_plugins
from cadenza.testing import ScriptedAgent, run_captured
from tests.scheduler_helpers import plugins_with
from tests.test_cli_history import started, succeed


@pytest.fixture
def virtual_at(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        cadenza._scheduler._runner, "EventBus", functools.partial(EventBus, clock=trio.current_time)
    )


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStore]:
    opened = SqliteStore(f"sqlite:///{tmp_path / 'journal.db'}")
    yield opened
    opened.close()


def sleeps(latencies: dict[str, float] | float) -> Any:
    async def behaviour(request: cadenza.AgentRequest) -> str:
        delay = latencies if isinstance(latencies, float) else latencies[request.step_id]
        await trio.sleep(delay)
        return request.step_id

    return behaviour


def flaky(delay: float, *, fail_of_ten: int) -> Any:
    """Fails the first ``fail_of_ten`` calls of every ten, deterministically."""
    count = 0

    async def behaviour(request: cadenza.AgentRequest) -> str:
        nonlocal count
        count += 1
        mine = count
        await trio.sleep(delay)
        if (mine - 1) % 10 < fail_of_ten:
            raise cadenza.RetryableError("provider overloaded (503)", agent="flaky")
        return request.step_id

    return behaviour


async def journaled_report(text: str, plugins: Plugins, store: SqliteStore) -> tuple[str, Report]:
    """Run the workflow ``text`` into ``store``, then report on it from the journal alone."""
    run = await run_captured(text, plugins=plugins, store=store)
    run_id = run.result.run_id
    record = store.get_run(run_id)
    assert record is not None
    workflow, why = workflow_from_source(
        store.read_source(run_id), plugins=plugins, workflow=record.workflow
    )
    assert workflow is not None, why
    return run_id, build_report(store.read_events(run_id), workflow=workflow)


SATURATED = (
    """
name: saturated
concurrency: 16
agents:
  solo: {kind: prog, max_concurrent: 1}
  spare: {kind: prog, max_concurrent: 4}
steps:
"""
    + "".join(f"  s{i}: {{uses: solo}}\n" for i in range(10))
    + ("  x0: {uses: spare}\n  x1: {uses: spare}\n")
)


async def test_a_saturated_agent_is_named_with_its_numbers(
    store: SqliteStore, virtual_at: None, autojump_clock: Any
) -> None:
    """One agent with max_concurrent 1 serving 10 parallel steps: raise its limit."""
    agents = {
        "solo": ScriptedAgent("solo", sleeps(1.0)),
        "spare": ScriptedAgent("spare", sleeps(1.0)),
    }
    _, rep = await journaled_report(SATURATED, plugins_with(agents), store)
    solo = rep.agents["solo"]
    assert (solo.limit, solo.peak, solo.calls) == (1, 1, 10)
    assert solo.busy_time == pytest.approx(10.0)
    assert solo.at_limit > SATURATED_AT_LIMIT  # the journal's own start-up and flush count too
    assert solo.waited == pytest.approx(45.0, abs=1.0)  # 0 + 1 + ... + 9
    saturated = [r for r in rep.recommendations if r.kind == "saturated_agent"]
    assert [r.evidence["agent"] for r in saturated] == ["solo"]
    assert "raise max_concurrent of 'solo'" in saturated[0].message
    assert "max_concurrent 1" in saturated[0].message
    assert rep.agents["spare"].at_limit == 0.0
    assert all(r.kind != "retry_storm" for r in rep.recommendations)


RETRIES = """
name: storm
concurrency: 16
agents:
  good: {kind: prog, capabilities: [fast]}
  flaky: {kind: prog, capabilities: [slow]}
steps:
""" + "".join(
    f"  g{i}: {{uses: good}}\n  f{i}: {{uses: flaky, retry: {{max_attempts: 10, backoff: 0}}}}\n"
    for i in range(5)
)


async def test_a_retry_storm_names_the_failing_agent_and_its_error(
    store: SqliteStore, virtual_at: None, autojump_clock: Any
) -> None:
    """One of two agents failing 70% of its calls: the storm is pinned on it."""
    agents = {
        "good": ScriptedAgent("good", sleeps(1.0)),
        "flaky": ScriptedAgent("flaky", flaky(1.0, fail_of_ten=7)),
    }
    _, rep = await journaled_report(RETRIES, plugins_with(agents), store)
    assert rep.status == "succeeded"
    flaky_report = rep.agents["flaky"]
    assert flaky_report.failures >= 10
    assert rep.agents["good"].failures == 0
    storms = [r for r in rep.recommendations if r.kind == "retry_storm"]
    assert len(storms) == 1
    storm = storms[0]
    assert storm.evidence["agent"] == "flaky"
    assert storm.evidence["error_type"] == "RetryableError"
    assert storm.evidence["agent_failures"] == storm.evidence["failures"]
    assert "'flaky'" in storm.message
    assert "RetryableError" in storm.message
    assert "circuit breaker" in storm.message
    assert all(r.kind != "saturated_agent" for r in rep.recommendations)


DAG = """
name: dag
agents:
  w: {kind: prog}
steps:
  a: {uses: w}
  b: {uses: w, needs: [a]}
  c: {uses: w, needs: [a]}
  d: {uses: w, needs: [c]}
  e: {uses: w, needs: [b, d]}
"""
LATENCIES = {"a": 2.0, "b": 3.0, "c": 1.0, "d": 4.0, "e": 1.0}


@pytest.mark.parametrize("with_needs", [True, False])
async def test_critical_path_of_a_known_dag(
    with_needs: bool, virtual_at: None, autojump_clock: Any
) -> None:
    """a(2) -> c(1) -> d(4) -> e(1) ends at 8s; b (3s, ends at 5s) is off the path.

    The same chain comes out of the needs and, without the workflow, of timing alone.
    """
    agents = {"w": ScriptedAgent("w", sleeps(LATENCIES))}
    plugins = plugins_with(agents)
    run = await run_captured(DAG, plugins=plugins)
    workflow = load_workflow_text(DAG, plugins=plugins).workflow if with_needs else None
    rep = build_report([e.to_dict() for e in run.events], workflow=workflow)
    assert rep.critical_path_source == ("needs" if with_needs else "timing")
    assert [
        (e.step_id, e.ready_at, e.queue_wait, e.run_time, e.ended_at) for e in rep.critical_path
    ] == [
        ("a", 0.0, 0.0, 2.0, 2.0),
        ("c", 2.0, 0.0, 1.0, 3.0),
        ("d", 3.0, 0.0, 4.0, 7.0),
        ("e", 7.0, 0.0, 1.0, 8.0),
    ]
    assert rep.duration == 8.0
    assert rep.steps["b"].run_time == 3.0
    assert rep.recommendations == ()


async def test_critical_path_step_that_waited_is_reported(
    virtual_at: None, autojump_clock: Any
) -> None:
    """The last step waits behind slow siblings on a one-at-a-time agent: named with its wait."""
    text = """
name: queued
agents:
  w: {kind: prog, max_concurrent: 1}
steps:
  a: {uses: w}
  b: {uses: w}
  c: {uses: w}
  last: {uses: w, needs: [a], priority: -1}
"""
    latencies = {"a": 1.0, "b": 4.0, "c": 4.0, "last": 1.0}
    plugins = plugins_with({"w": ScriptedAgent("w", sleeps(latencies))})
    run = await run_captured(text, plugins=plugins)
    workflow = load_workflow_text(text, plugins=plugins).workflow
    rep = build_report([e.to_dict() for e in run.events], workflow=workflow)
    assert [e.step_id for e in rep.critical_path][-1] == "last"
    waits = [r for r in rep.recommendations if r.kind == "critical_wait"]
    assert waits
    assert waits[0].evidence["step"] == "last"
    assert waits[0].evidence["agent"] == "w"


def test_sparkline_scales_utilization() -> None:
    """Idle is blank, at the limit (or over it, with no limit known) is ``@``."""
    assert sparkline([0.0, 0.5, 1.0, 2.0]) == " =@@"


# -- the command ---------------------------------------------------------------------


def invoke(plugins: Plugins, *args: str) -> tuple[int, str, str]:
    from click.testing import CliRunner

    result = CliRunner().invoke(report, list(args), obj=CliState(plugins=plugins))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.stdout, result.stderr


async def test_report_command_text_and_json(
    store: SqliteStore, tmp_path: Path, virtual_at: None, autojump_clock: Any
) -> None:
    """Text shows the path, agent load and the recommendation; --json has the same data."""
    agents = {
        "solo": ScriptedAgent("solo", sleeps(1.0)),
        "spare": ScriptedAgent("spare", sleeps(1.0)),
    }
    plugins = plugins_with(agents)
    run_id, _ = await journaled_report(SATURATED, plugins, store)
    url = f"sqlite:///{tmp_path / 'journal.db'}"
    code, out, _ = await trio.to_thread.run_sync(invoke, plugins, run_id, "--store", url)
    assert code == 0, out
    assert f"run {run_id}: SUCCEEDED" in out
    assert "critical path (from needs):" in out
    assert "[high] saturated_agent: raise max_concurrent of 'solo'" in out
    assert "@@@@@@@@@@" in out  # solo at its limit most of the run
    code, out, _ = await trio.to_thread.run_sync(invoke, plugins, run_id, "--store", url, "--json")
    assert code == 0
    data = json.loads(out)
    assert data["run_id"] == run_id
    assert data["critical_path_source"] == "needs"
    assert data["agents"]["solo"]["calls"] == 10
    assert len(data["agents"]["solo"]["utilization"]) == data["buckets"] == 20
    assert [r["kind"] for r in data["recommendations"]].count("saturated_agent") == 1

    # Without the plugin that serves kind `prog`, the source does not load: timing is used.
    bare = load_plugins(entry_points=False)
    code, out, _ = await trio.to_thread.run_sync(invoke, bare, run_id, "--store", url)
    assert code == 0
    assert "critical path (inferred from timing):" in out
    assert "note: the stored workflow source did not load" in out
    assert "[high] saturated_agent: agent 'solo' had 1 calls in flight" in out


def test_unknown_run_and_missing_journal_exit_2(store: SqliteStore, tmp_path: Path) -> None:
    plugins = load_plugins(entry_points=False)
    url = f"sqlite:///{tmp_path / 'journal.db'}"
    code, _, err = invoke(plugins, "nope", "--store", url)
    assert code == 2
    assert "no run 'nope'" in err
    code, _, err = invoke(plugins, "nope", "--store", f"sqlite:///{tmp_path / 'none.db'}")
    assert code == 2
    assert "no run 'nope'" in err
    assert not (tmp_path / "none.db").exists()


def test_degraded_steps_and_an_exhausted_budget_are_named() -> None:
    """A fallback output is listed with its source; a budget refusal names the budget."""
    events = started("r1", ("draft", "review", "polish"))
    succeed(events, "draft")
    events(ev.StepReady, step_id="review")(
        ev.FallbackStarted, step_id="review", source="template", error="agent down"
    )(
        ev.StepSucceeded, step_id="review", attempt=1, agent="offline", output="x",
        duration=0.0, degraded=True, source="template",
    )(ev.StepReady, step_id="polish")(
        ev.StepFailed, step_id="polish", attempts=0, error_type="BudgetExceededError",
        message="the call would exceed the run budget of $0.5 (spent $0.4900, reserved "
        "$0.0000, this call ~$0.0200)",
    )(
        ev.RunFinished, status="failed", duration=6.0, counts={"succeeded": 2, "failed": 1},
    )  # fmt: skip
    rep = build_report(events.items)
    assert rep.critical_path_source == "timing"
    by_kind = {r.kind: r for r in rep.recommendations}
    assert by_kind["degraded_steps"].evidence["steps"] == {"review": "template"}
    assert "review (from template)" in by_kind["degraded_steps"].message
    assert by_kind["budget_exhausted"].evidence["budget"] == "run budget of $0.5"
    assert "'polish'" in by_kind["budget_exhausted"].message


async def test_an_api_key_in_an_agent_config_reaches_neither_journal_nor_report(
    store: SqliteStore, tmp_path: Path
) -> None:
    """Issue 7's secrets check for the report: the key of an http agent that fails with it
    in the provider's error body is in no journaled event, source, text or JSON report."""
    from cadenza.testing import Status, open_seed_agent_server

    key = "sk-report-secret-0123456789"
    async with open_seed_agent_server(default=Status(401, body=f"invalid api key {key}")) as server:
        text = f"""
name: keyed
agents:
  api:
    kind: http
    options: {{endpoint: "{server.url}", api_key: "${{REPORT_KEY}}"}}
steps:
  call: {{uses: api, retry: 1}}
"""
        plugins = load_plugins(entry_points=False)
        flow = load_workflow_text(text, plugins=plugins, environ={"REPORT_KEY": key}).workflow
        result = await cadenza.run_workflow(flow, plugins=plugins, store=store)
    assert result.steps["call"].status == "failed"
    assert server.calls[0].authorization == f"Bearer {key}"  # it really was sent
    journaled = json.dumps(store.read_events(result.run_id)) + (
        store.read_source(result.run_id) or ""
    )
    assert key not in journaled
    url = f"sqlite:///{tmp_path / 'journal.db'}"
    for extra in ((), ("--json",)):
        code, out, err = await trio.to_thread.run_sync(
            invoke, plugins, result.run_id, "--store", url, *extra
        )
        assert code == 0, out
        assert key not in out + err


# -- a run interrupted, then resumed -------------------------------------------------

PAUSED = """
name: paused
agents:
  a: {kind: prog}
steps:
  first: {uses: a}
  second: {uses: a, needs: [first]}
"""


async def interrupted_then_resumed(store: SqliteStore, *, pause: float) -> tuple[str, Plugins]:
    """Session 1 runs ``first`` (1s), is cancelled 5s into ``second``; after ``pause``
    seconds session 2 resumes and ``second`` takes 2s."""
    session = {"n": 1}
    started_second = trio.Event()

    async def behaviour(request: cadenza.AgentRequest) -> str:
        if request.step_id == "first":
            await trio.sleep(1.0)
        elif session["n"] == 1:
            started_second.set()
            await trio.sleep_forever()
        else:
            await trio.sleep(2.0)
        return request.step_id

    plugins = plugins_with({"a": ScriptedAgent("a", behaviour)})
    flow = load_workflow_text(PAUSED, plugins=plugins).workflow
    box: list[cadenza.RunResult] = []

    async def first_session(*, task_status: trio.TaskStatus[cadenza.RunHandle]) -> None:
        box.append(
            await cadenza.run_workflow(flow, plugins=plugins, store=store, task_status=task_status)
        )

    async with trio.open_nursery() as nursery:
        handle: cadenza.RunHandle = await nursery.start(first_session)
        await started_second.wait()
        await trio.sleep(5.0)
        handle.cancel("interrupted by SIGINT")
    (stopped,) = box
    assert stopped.status == "cancelled"
    await trio.sleep(pause)
    session["n"] = 2
    plan = cadenza.plan_resume(store, stopped.run_id, flow)
    resumed = await cadenza.run_workflow(flow, plugins=plugins, store=store, resume=plan)
    assert resumed.status == "succeeded", resumed.reason
    return stopped.run_id, plugins


async def test_a_resumed_run_reports_its_pause_and_the_cancelled_attempt(
    store: SqliteStore, virtual_at: None, autojump_clock: Any
) -> None:
    """The hour between the sessions is a pause, not run time; the attempt Ctrl-C cut off
    counts as cancelled (not as a retry), and the step's attempts add up over sessions."""
    run_id, _ = await interrupted_then_resumed(store, pause=3600.0)
    rep = build_report(store.read_events(run_id))
    # The journal's own waits move the virtual clock too: bounds, not exact times.
    (pause,) = rep.pauses
    assert 3600.0 <= pause.seconds < 3700.0
    assert 6.0 <= pause.at < 10.0  # 1s + 5s, and the journal's
    assert 8.0 <= rep.duration < 15.0  # then 2s more: the hour is not in it
    second = rep.steps["second"]
    assert (second.attempts, second.cancelled_attempts, second.retries) == (2, 1, 0)
    assert second.run_time == pytest.approx(7.0, abs=0.5)
    assert second.total is not None
    assert second.total < 10.0
    assert rep.steps["first"].cancelled_attempts == 0
    assert max(rep.agents["a"].utilization[-5:]) == 1.0  # session 2's 2s fill its slices
    data = rep.to_dict()
    assert (data["sessions"], data["cancelled_attempts"]) == (2, 1)
    assert data["paused"] == pytest.approx(pause.seconds)


async def test_report_command_shows_the_pause_and_the_cut_off_attempt(
    store: SqliteStore, tmp_path: Path, virtual_at: None, autojump_clock: Any
) -> None:
    """The text report's header sets the pause apart and names the step whose attempt was cut."""
    run_id, plugins = await interrupted_then_resumed(store, pause=3600.0)
    url = f"sqlite:///{tmp_path / 'journal.db'}"
    code, out, _ = await trio.to_thread.run_sync(invoke, plugins, run_id, "--store", url)
    assert code == 0, out
    assert re.search(
        r"  duration: \d+\.\d+s running, in 2 sessions \(paused 1h0\dm at \d\.\d\ds, not counted\)",
        out,
    ), out
    assert "  cut off:  1 attempt in flight when the run stopped (second)" in out
    assert "CANCELLED" in out


def test_an_attempt_in_flight_when_the_process_died_counts_as_cancelled() -> None:
    """No step_cancelled (the process was killed): the resume closes the open attempt."""
    events = started("r1", ("a",))
    events(ev.StepReady, step_id="a")(
        ev.AttemptStarted, step_id="a", attempt=1, agent="t", idempotency_key="k",
        queue_wait=0.0,
    )  # fmt: skip
    events.at += 600.0  # the process is gone; ten minutes later, cadenza resume
    events(ev.RunResumed, workflow="wf", source_hash="h", restored=(), rerun=("a",))
    succeed(events, "a")
    rep = build_report(events.items)
    a = rep.steps["a"]
    assert (a.attempts, a.cancelled_attempts) == (2, 1)
    assert a.run_time == pytest.approx(1.0)  # its last event in session 1 was the start
    assert [p.seconds for p in rep.pauses] == [pytest.approx(601.0)]
    assert rep.duration == pytest.approx(5.0)
