"""``cadenza runs``, ``status`` and ``cancel``: reading runs back from the journal, stopping them.

Fast tests write a journal directly and call the commands in-process; the
``slow`` ones run ``cadenza`` as a user does, in subprocesses sharing a store.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import attrs
import click
import pytest
from click.testing import CliRunner

from cadenza import _events as ev
from cadenza._cli._cancel_cmd import STOPPED_REASON, cancel, finish_stopped_run
from cadenza._cli._common import CliState
from cadenza._cli._history import human_duration
from cadenza._cli._runs_cmd import runs
from cadenza._cli._status_cmd import status
from cadenza._journal._readback import effective_status, run_pauses, step_states
from cadenza._journal._sqlite import SqliteStore
from cadenza._journal._store import RunRecord, WriteBatch
from cadenza._plugins._registry import load_plugins

HANG_GUARD = 30.0
"""Seconds before a subprocess test gives up: a hang guard, never a timing assertion."""


# -- helpers -------------------------------------------------------------------------


def invoke(command: click.Command, *args: str) -> tuple[int, str, str]:
    """Run a command in-process with the built-in plugins only."""
    state = CliState(plugins=load_plugins(entry_points=False))
    result = CliRunner().invoke(command, list(args), obj=state)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.stdout, result.stderr


class Events:
    """Builds one run's events with consecutive ``seq`` numbers."""

    def __init__(self, run_id: str, at: float = 1_800_000_000.0) -> None:
        self.run_id = run_id
        self.at = at
        self.items: list[dict[str, Any]] = []

    def __call__(self, cls: type[ev.Event], **fields: Any) -> Events:
        self.at += 1.0
        event = cls(run_id=self.run_id, seq=len(self.items), at=self.at, **fields)
        self.items.append(event.to_dict())
        return self


def started(run_id: str, steps: tuple[str, ...]) -> Events:
    return Events(run_id)(
        ev.RunStarted, workflow="wf", source="", source_hash="h", inputs={}, steps=steps
    )


def succeed(events: Events, step_id: str, output: Any = "out", agent: str = "t") -> Events:
    return (
        events(ev.StepReady, step_id=step_id)(
            ev.AttemptStarted,
            step_id=step_id, attempt=1, agent=agent, idempotency_key="k", queue_wait=0.0,
        )(
            ev.StepSucceeded,
            step_id=step_id, attempt=1, agent=agent, output=output, duration=0.5,
        )
    )  # fmt: skip


def journal(
    store: SqliteStore, events: Events, *, pid: int | None = None, finished: bool = False
) -> RunRecord:
    """Write ``events`` and the run record they imply, as the journal would."""
    first = events.items[0]
    record = RunRecord(
        run_id=events.run_id,
        workflow="wf",
        started_at=first["at"],
        pid=pid if pid is not None else os.getpid(),
        host=socket.gethostname(),
    )
    last = events.items[-1]
    if finished:
        assert last["kind"] == "run_finished"
        record = attrs.evolve(
            record,
            status=last["status"],
            finished_at=last["at"],
            counts=last["counts"],
            reason=last["reason"],
        )
    store.write(WriteBatch(events=events.items, runs=[record]))
    return record


def dead_pid() -> int:
    """The pid of a process that has exited (and been reaped)."""
    code = "import os; print(os.getpid())"
    proc = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    return int(proc.stdout)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStore]:
    opened = SqliteStore(f"sqlite:///{tmp_path / 'journal.db'}")
    yield opened
    opened.close()


# -- rebuilding step states ----------------------------------------------------------


def test_step_states_follow_the_events_of_each_step() -> None:
    """Each step's state, attempts, agent, error and reason come from its latest events."""
    events = started("r1", ("ok", "flaky", "bad", "after", "never", "cached"))
    succeed(events, "ok", output={"n": 1})
    events(ev.StepReady, step_id="flaky")(
        ev.AttemptStarted, step_id="flaky", attempt=1, agent="t", idempotency_key="k",
        queue_wait=0.0,
    )(
        ev.AttemptFailed, step_id="flaky", attempt=1, agent="t", error_type="RetryableError",
        message="busy", retryable=True, duration=0.1, retry_in=2.0,
    )(ev.StepReady, step_id="bad")(
        ev.AttemptStarted, step_id="bad", attempt=1, agent="u", idempotency_key="k",
        queue_wait=0.0,
    )(
        ev.AttemptFailed, step_id="bad", attempt=1, agent="u", error_type="PermanentError",
        message="no", retryable=False, duration=0.1,
    )(ev.StepFailed, step_id="bad", attempts=1, error_type="PermanentError", message="no")(
        ev.StepSkipped, step_id="after", reason="needs 'bad', which failed", cause="bad"
    )(ev.StepReady, step_id="cached")(
        ev.StepCacheHit, step_id="cached", key="abc", source_run="r0", source_step="cached",
        created_at=1.0,
    )(
        ev.StepSucceeded, step_id="cached", attempt=0, agent="cache", output="old",
        duration=0.0,
    )  # fmt: skip
    steps = step_states(events.items)
    assert list(steps) == ["ok", "flaky", "bad", "after", "never", "cached"]
    assert steps["ok"].state == "succeeded"
    assert steps["ok"].output == {"n": 1}
    assert (steps["flaky"].state, steps["flaky"].last_error) == ("retrying", "busy")
    assert (steps["bad"].state, steps["bad"].attempts, steps["bad"].agent) == ("failed", 1, "u")
    assert steps["bad"].error_type == "PermanentError"
    assert (steps["after"].state, steps["after"].cause) == ("skipped", "bad")
    assert steps["never"].state == "pending"
    assert steps["cached"].cached_from == {"run": "r0", "step": "cached"}


def test_resumed_run_shows_kept_steps_as_restored() -> None:
    """After run_resumed, kept steps are ``restored`` with their output; the rest start over,
    keeping the attempt that was in flight when the process died, as a cancelled one."""
    events = started("r1", ("a", "b"))
    succeed(events, "a", output="kept")
    events(ev.StepReady, step_id="b")(
        ev.AttemptStarted, step_id="b", attempt=1, agent="t", idempotency_key="k",
        queue_wait=0.0,
    )(
        ev.RunResumed, workflow="wf", source_hash="h", restored=("a",), rerun=("b",),
    )  # fmt: skip
    steps = step_states(events.items)
    assert (steps["a"].state, steps["a"].output) == ("restored", "kept")
    assert (steps["b"].state, steps["b"].attempts, steps["b"].cancelled_attempts) == (
        "pending", 1, 1,
    )  # fmt: skip


def interrupted_then_resumed(run_id: str) -> Events:
    """``a`` succeeds; Ctrl-C cancels ``b`` in flight; an hour later a resume finishes ``b``."""
    events = succeed(started(run_id, ("a", "b")), "a")
    events(ev.StepReady, step_id="b")(
        ev.AttemptStarted, step_id="b", attempt=1, agent="t", idempotency_key="k",
        queue_wait=0.0,
    )(
        ev.StepCancelled, step_id="b", reason="interrupted by SIGINT", in_flight=True,
    )(
        ev.RunFinished, status="cancelled", duration=7.0,
        counts={"succeeded": 1, "failed": 0, "skipped": 0, "cancelled": 1},
        reason="interrupted by SIGINT",
    )  # fmt: skip
    events.at += 3600.0
    events(ev.RunResumed, workflow="wf", source_hash="h", restored=("a",), rerun=("b",))
    events(ev.StepReady, step_id="b")(
        ev.AttemptStarted, step_id="b", attempt=1, agent="t", idempotency_key="k",
        queue_wait=0.0,
    )(
        ev.StepSucceeded, step_id="b", attempt=1, agent="t", output="late", duration=1.0,
    )(
        ev.RunFinished, status="succeeded", duration=4.0,
        counts={"succeeded": 2, "failed": 0, "skipped": 0, "cancelled": 0}, reason="",
    )  # fmt: skip
    return events


def test_a_resumed_steps_attempts_and_time_add_up_over_its_sessions() -> None:
    """The attempt Ctrl-C cut off counts (as cancelled); the step's time is both sessions'."""
    steps = step_states(interrupted_then_resumed("r1").items)
    b = steps["b"]
    assert (b.state, b.attempts, b.cancelled_attempts) == ("succeeded", 2, 1)
    assert b.duration == pytest.approx(2.0)  # 1s until Ctrl-C, 1s after the resume
    assert (steps["a"].state, steps["a"].cancelled_attempts) == ("restored", 0)
    assert run_pauses(interrupted_then_resumed("r1").items) == [pytest.approx(3601.0)]


def test_a_running_record_whose_process_is_gone_is_interrupted() -> None:
    """Same host and no such pid: interrupted; our own pid or another host: running."""
    base = RunRecord(run_id="r", workflow="w", started_at=0.0, host=socket.gethostname())
    assert effective_status(attrs.evolve(base, pid=dead_pid())) == "interrupted"
    assert effective_status(attrs.evolve(base, pid=os.getpid())) == "running"
    elsewhere = attrs.evolve(base, pid=dead_pid(), host="some-other-machine")
    assert effective_status(elsewhere) == "running"
    assert effective_status(attrs.evolve(base, pid=dead_pid(), status="failed")) == "failed"


def test_human_durations() -> None:
    """Durations read as seconds, then minutes, then hours."""
    assert [human_duration(s) for s in (0.1234, 42.04, 187, 7500)] == [
        "0.12s", "42.0s", "3m07s", "2h05m",
    ]  # fmt: skip


# -- the commands, in-process --------------------------------------------------------


def test_runs_without_a_journal_lists_nothing_and_creates_nothing(tmp_path: Path) -> None:
    """Reading commands never create a journal file."""
    url = f"sqlite:///{tmp_path / 'none' / 'journal.db'}"
    assert invoke(runs, "--store", url) == (0, "", f"no runs in the journal {url}.\n")
    assert invoke(runs, "--store", url, "--json") == (0, "[]\n", "")
    code, _, err = invoke(status, "nope", "--store", url)
    assert code == 2
    assert "no run 'nope'" in err
    assert "The journal has no runs" in err
    assert not (tmp_path / "none").exists()


def test_runs_refuses_a_foreign_file_and_leaves_it_untouched(tmp_path: Path) -> None:
    """A file that is not a journal is exit 2 with the store's message; its bytes are kept."""
    path = tmp_path / "notes.db"
    path.write_bytes(b"just some notes, not a database\n")
    code, out, err = invoke(runs, "--store", str(path))
    assert (code, out) == (2, "")
    assert "not an SQLite database" in err
    assert path.read_bytes() == b"just some notes, not a database\n"


def test_runs_filters_and_limits(store: SqliteStore) -> None:
    """--status (including interrupted), --workflow and --limit select runs; newest first."""
    done = succeed(started("r1", ("a",)), "a")(
        ev.RunFinished, status="succeeded", duration=1.0,
        counts={"succeeded": 1, "failed": 0, "skipped": 0, "cancelled": 0},
    )  # fmt: skip
    journal(store, done, finished=True)
    crashed = started("r2", ("a", "b"))
    crashed.items[0]["at"] = 1_800_000_200.0
    journal(store, succeed(crashed, "a"), pid=dead_pid())
    code, out, _ = invoke(runs, "--store", store.url, "--json")
    listed = json.loads(out)
    assert code == 0
    assert [r["run_id"] for r in listed] == ["r2", "r1"]
    assert listed[0]["status"] == "interrupted"
    assert listed[0]["counts"]["succeeded"] == 1
    assert listed[0]["counts"]["pending"] == 1
    assert listed[0]["duration"] is None
    assert listed[1]["cost_usd"] is None
    _, out, _ = invoke(runs, "--store", store.url, "--status", "interrupted", "--json")
    assert [r["run_id"] for r in json.loads(out)] == ["r2"]
    _, out, _ = invoke(runs, "--store", store.url, "--status", "running", "--json")
    assert json.loads(out) == []
    _, out, _ = invoke(runs, "--store", store.url, "--limit", "1", "--json")
    assert [r["run_id"] for r in json.loads(out)] == ["r2"]
    _, out, _ = invoke(runs, "--store", store.url, "--workflow", "other", "--json")
    assert json.loads(out) == []
    _, out, _ = invoke(runs, "--store", store.url)
    assert "cadenza resume RUN" in out
    assert "COST" not in out


def test_status_cuts_long_outputs_in_text_only(store: SqliteStore) -> None:
    """Text mode shows at most 120 characters of an output; --json has all of it."""
    long = {"text": "x" * 500}
    journal(store, succeed(started("r1", ("a",)), "a", output=long))
    code, out, _ = invoke(status, "r1", "--store", store.url)
    assert code == 0
    row = next(line for line in out.splitlines() if line.startswith("a "))
    shown = row[row.index('{"text"') :]
    assert len(shown) == 120
    assert shown.endswith("...")
    _, out, _ = invoke(status, "r1", "--store", store.url, "--json")
    assert json.loads(out)["steps"]["a"]["output"] == long


def test_status_of_a_resumed_run_shows_the_pause_and_the_cancelled_attempt(
    store: SqliteStore,
) -> None:
    """The hour between the sessions is shown as a pause, not as time the run took."""
    journal(store, interrupted_then_resumed("r1"), finished=True)
    code, out, _ = invoke(status, "r1", "--store", store.url)
    assert code == 0
    assert ", took 11.0s in 2 sessions (plus 1h00m paused between them)" in out
    row = next(line for line in out.splitlines() if line.startswith("b "))
    assert row.split()[1:6] == ["succeeded", "2", "(1", "cancelled)", "t"]
    assert "2.00s" in row
    _, out, _ = invoke(status, "r1", "--store", store.url, "--json")
    data = json.loads(out)
    assert (data["sessions"], data["paused"]) == (2, 3601.0)
    assert data["duration"] == 3612.0  # start to finish, as in cadenza runs
    assert (data["steps"]["b"]["attempts"], data["steps"]["b"]["cancelled_attempts"]) == (2, 1)


def test_status_adds_up_settled_costs_failed_calls_included(store: SqliteStore) -> None:
    """With cost events, the run's cost is what every call settled, not only successes'."""
    events = started("r1", ("a",))
    for attempt, cost in ((1, 0.02), (2, 0.01)):
        events(ev.CostIncurred, step_id="a", attempt=attempt, agent="t", input_tokens=0,
               output_tokens=0, cost_usd=cost)  # fmt: skip
    journal(store, succeed(events, "a"))
    _, out, _ = invoke(status, "r1", "--store", store.url, "--json")
    assert json.loads(out)["cost_usd"] == 0.03


def test_status_adds_up_costs_only_when_agents_report_them(store: SqliteStore) -> None:
    """Older journals: the sum of reported step costs; with none reported it is unknown."""
    events = started("r1", ("a", "b"))
    for step_id, cost in (("a", 0.01), ("b", 0.025)):
        events(ev.StepSucceeded, step_id=step_id, attempt=1, agent="t", output="x",
               duration=0.1, cost_usd=cost)  # fmt: skip
    journal(store, events)
    journal(store, succeed(started("r2", ("a",)), "a"))
    _, out, _ = invoke(status, "r1", "--store", store.url, "--json")
    shown = json.loads(out)
    assert shown["cost_usd"] == 0.035
    assert shown["steps"]["b"]["cost_usd"] == 0.025
    _, out, _ = invoke(status, "r1", "--store", store.url)
    assert "  cost:     $0.0350" in out
    _, out, _ = invoke(status, "r2", "--store", store.url, "--json")
    assert json.loads(out)["cost_usd"] is None
    _, out, _ = invoke(status, "r2", "--store", store.url)
    assert "cost" not in out


def test_cancel_of_a_finished_run_does_nothing(store: SqliteStore) -> None:
    """A finished run is left alone: a message and exit 0."""
    done = succeed(started("r1", ("a",)), "a")(
        ev.RunFinished, status="succeeded", duration=1.0,
        counts={"succeeded": 1, "failed": 0, "skipped": 0, "cancelled": 0},
    )  # fmt: skip
    journal(store, done, finished=True)
    code, out, _ = invoke(cancel, "r1", "--store", store.url)
    assert (code, out) == (0, "run r1 already succeeded; nothing to cancel.\n")
    record = store.get_run("r1")
    assert record is not None
    assert not record.cancel_requested


def test_cancel_of_an_unknown_run_exits_2(store: SqliteStore) -> None:
    """An unknown run id is exit 2, naming the recent runs."""
    journal(store, started("r1", ("a",)), pid=dead_pid())
    code, _, err = invoke(cancel, "nope", "--store", store.url)
    assert code == 2
    assert "no run 'nope'" in err
    assert "Recent runs: r1" in err


def test_cancel_wait_gives_up_after_its_timeout(store: SqliteStore) -> None:
    """A live run that does not stop within --timeout: flagged, reported, exit 1."""
    journal(store, started("r1", ("a",)), pid=os.getpid())  # alive: this process
    code, out, err = invoke(cancel, "r1", "--store", store.url, "--wait", "--timeout", "0")
    assert code == 1
    assert out == "cancel requested; run r1 will stop within a second\n"
    assert "error: run r1 is still running after 0s" in err
    record = store.get_run("r1")
    assert record is not None
    assert record.cancel_requested
    assert record.status == "running"


def test_cancel_of_a_run_on_another_host_only_flags_it(store: SqliteStore) -> None:
    """Another host's process cannot be checked: the run is flagged, not closed."""
    record = journal(store, started("r1", ("a",)), pid=dead_pid())
    store.write(WriteBatch(runs=[attrs.evolve(record, host="build-7")]))
    code, out, _ = invoke(cancel, "r1", "--store", store.url)
    assert code == 0
    assert out.startswith("cancel requested; run r1 runs on build-7 (pid ")
    assert "run `cadenza cancel r1` on build-7" in out
    flagged = store.get_run("r1")
    assert flagged is not None
    assert (flagged.status, flagged.cancel_requested) == ("running", True)


def test_finishing_a_dead_run_keeps_the_journal_consistent(store: SqliteStore) -> None:
    """Unfinished steps get step_cancelled, then run_finished, with the next seqs."""
    events = succeed(started("r1", ("a", "b", "c")), "a")
    events(ev.StepReady, step_id="b")(
        ev.AttemptStarted, step_id="b", attempt=1, agent="t", idempotency_key="k",
        queue_wait=0.0,
    )  # fmt: skip
    record = journal(store, events, pid=dead_pid())
    finished = finish_stopped_run(store, record)
    written = store.read_events("r1")
    assert [e["seq"] for e in written] == list(range(len(written)))
    tail = written[len(events.items) :]
    assert [(e["kind"], e.get("step_id"), e.get("in_flight")) for e in tail] == [
        ("step_cancelled", "b", True),
        ("step_cancelled", "c", False),
        ("run_finished", None, None),
    ]
    assert tail[-1]["counts"] == {"succeeded": 1, "failed": 0, "skipped": 0, "cancelled": 2}
    assert tail[-1]["reason"] == STOPPED_REASON
    assert all(ev.event_from_dict(e).run_id == "r1" for e in tail)  # well-formed events
    assert store.get_run("r1") == finished
    assert finished.status == "cancelled"
    assert finished.finished_at == tail[-1]["at"]


# -- end to end ----------------------------------------------------------------------


def cadenza(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cadenza", *args],
        cwd=cwd,
        env={**os.environ, "CADENZA_LOAD_PLUGINS": "", **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
    )


def until(probe: Callable[[], Any], what: str) -> Any:
    """Poll ``probe`` until it returns something truthy (hang guard: HANG_GUARD seconds)."""
    deadline = time.monotonic() + HANG_GUARD
    while time.monotonic() < deadline:
        found = probe()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


OK = """\
agents:
  t: {kind: template, options: {output: "hello {name}"}}
steps:
  greet: {uses: t, with: {name: world}}
"""

FAILS = """\
agents:
  t: {kind: template, options: {output: "hello {name}"}}
  secret: {kind: template, options: {output: "token ${HISTORY_TOKEN} for {name}"}}
steps:
  greet: {uses: t, with: {}}
  after: {uses: t, needs: [greet], with: {name: x}}
  other: {uses: secret, with: {name: y}}
"""

SLOW = """\
agents:
  t: {kind: template, options: {output: "hello {name}"}}
  slow: {kind: template, options: {output: "late {name}", delay: 1h}}
steps:
  first: {uses: t, with: {name: world}}
  wait: {uses: slow, needs: [first], with: {name: x}}
  last: {uses: t, needs: [wait], with: {name: y}}
"""

TOKEN = "tok-history-5f3a9c"


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


@pytest.fixture
def url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'j' / 'journal.db'}"


@pytest.fixture
def two_runs(tmp_path: Path, url: str) -> tuple[str, str]:
    """A succeeded and then a failed run in the store at ``url``: their run ids."""
    ok = cadenza("run", str(write(tmp_path, "ok.yaml", OK)), "--json", "--no-progress",
                 "--store", url, cwd=tmp_path)  # fmt: skip
    assert ok.returncode == 0, ok.stderr
    bad = cadenza("run", str(write(tmp_path, "bad.yaml", FAILS)), "--json", "--no-progress",
                  "--store", url, cwd=tmp_path, env={"HISTORY_TOKEN": TOKEN})  # fmt: skip
    assert bad.returncode == 1, bad.stderr
    return json.loads(ok.stdout)["run_id"], json.loads(bad.stdout)["run_id"]


@pytest.mark.slow
def test_runs_lists_real_runs_most_recent_first(
    tmp_path: Path, url: str, two_runs: tuple[str, str]
) -> None:
    """After two runs, `runs` shows the failed one first, with counts, in text and JSON."""
    ok_id, bad_id = two_runs
    proc = cadenza("runs", "--store", url, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    header, first, second = proc.stdout.splitlines()
    assert header.split() == ["RUN", "WORKFLOW", "STATUS", "STARTED", "DURATION", "STEPS"]
    assert first.startswith(bad_id)
    assert "failed" in first
    assert "1 ok, 1 failed, 1 skipped" in first
    assert second.startswith(ok_id)
    assert "succeeded" in second
    assert "1 ok" in second
    proc = cadenza("runs", "--store", url, "--json", cwd=tmp_path)
    listed = json.loads(proc.stdout)
    assert [r["run_id"] for r in listed] == [bad_id, ok_id]
    assert listed[0]["status"] == "failed"
    assert listed[0]["reason"] == "failed steps: greet"
    assert listed[0]["counts"] == {"succeeded": 1, "failed": 1, "skipped": 1, "cancelled": 0}
    assert listed[0]["source"] == str(tmp_path / "bad.yaml")
    assert listed[0]["duration"] >= 0
    assert listed[0]["cost_usd"] is None
    proc = cadenza("runs", "--store", url, "--status", "succeeded", "--json", cwd=tmp_path)
    assert [r["run_id"] for r in json.loads(proc.stdout)] == [ok_id]


@pytest.mark.slow
def test_status_shows_errors_skip_reasons_and_outputs_without_secrets(
    tmp_path: Path, url: str, two_runs: tuple[str, str]
) -> None:
    """`status` shows the failed step's error, the skipped step's reason, redacted outputs."""
    _, bad_id = two_runs
    proc = cadenza("status", bad_id, "--store", url, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    text = proc.stdout
    assert text.startswith(f"run {bad_id}: FAILED\n")
    assert "reason:   failed steps: greet" in text
    assert "greet  failed     1         t       " in text
    assert "has no input for placeholder {name}" in text
    assert "after  skipped    0         -       -      needs 'greet', which failed" in text
    assert '"token *** for y"' in text
    assert f"resume with: cadenza resume {bad_id}" in text
    proc = cadenza("status", bad_id, "--store", url, "--json", cwd=tmp_path)
    data = json.loads(proc.stdout)
    assert data["status"] == "failed"
    assert data["steps"]["greet"]["state"] == "failed"
    assert data["steps"]["greet"]["error_type"] == "PermanentError"
    assert "placeholder {name}" in data["steps"]["greet"]["last_error"]
    assert data["steps"]["after"]["reason"] == "needs 'greet', which failed"
    assert data["steps"]["after"]["cause"] == "greet"
    assert data["steps"]["other"]["output"] == "token *** for y"
    for output in (text, proc.stdout):
        assert TOKEN not in output


@pytest.mark.slow
def test_status_of_an_unknown_run_exits_2_naming_recent_runs(
    tmp_path: Path, url: str, two_runs: tuple[str, str]
) -> None:
    """An unknown run id is exit 2; the message lists recent runs and how to see them all."""
    ok_id, bad_id = two_runs
    proc = cadenza("status", "20990101-000000-abcdef", "--store", url, cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert "no run '20990101-000000-abcdef'" in proc.stderr
    assert f"Recent runs: {bad_id}, {ok_id}." in proc.stderr
    assert "cadenza runs" in proc.stderr
    assert "Traceback" not in proc.stderr


def start_slow_run(tmp_path: Path, url: str) -> tuple[subprocess.Popen[str], str]:
    """Start SLOW in a subprocess; return it and its run id once step `wait` is running."""
    wf = write(tmp_path, "slow.yaml", SLOW)
    # Create the journal first: the polling below must not race the run to create it.
    SqliteStore(url).close()
    proc = subprocess.Popen(
        [sys.executable, "-m", "cadenza", "run", str(wf), "--json", "--no-progress",
         "--store", url],
        cwd=tmp_path,
        env={**os.environ, "CADENZA_LOAD_PLUGINS": ""},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip

    def running_id() -> str | None:
        assert proc.poll() is None, proc.communicate()
        listed = cadenza("runs", "--store", url, "--json", cwd=tmp_path)
        if listed.returncode != 0:
            return None  # the journal is being created
        found = [r["run_id"] for r in json.loads(listed.stdout) if r["status"] == "running"]
        return found[0] if found else None

    run_id: str = until(running_id, "`cadenza runs` to show the run running")

    def wait_started() -> bool:
        shown = cadenza("status", run_id, "--store", url, "--json", cwd=tmp_path)
        return bool(json.loads(shown.stdout)["steps"]["wait"]["state"] == "running")

    until(wait_started, "step `wait` to start")
    return proc, run_id


@pytest.mark.slow
def test_cancel_stops_a_live_run_from_another_process_and_resume_finishes_it(
    tmp_path: Path, url: str
) -> None:
    """`cancel` stops a run in another process (exit 130); `resume` then finishes it."""
    proc, run_id = start_slow_run(tmp_path, url)
    try:
        stopped = cadenza("cancel", run_id, "--store", url, "--wait", cwd=tmp_path)
        out, err = proc.communicate(timeout=HANG_GUARD)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert stopped.returncode == 0, stopped.stderr
    assert stopped.stdout.splitlines() == [
        f"cancel requested; run {run_id} will stop within a second",
        f"run {run_id} cancelled: cancelled by cadenza cancel",
    ]
    assert proc.returncode == 130, err
    summary = json.loads(out)
    assert summary["status"] == "cancelled"
    assert summary["reason"] == "cancelled by cadenza cancel"
    shown = json.loads(cadenza("status", run_id, "--store", url, "--json", cwd=tmp_path).stdout)
    assert shown["status"] == "cancelled"
    assert shown["steps"]["first"]["state"] == "succeeded"
    assert shown["steps"]["wait"]["state"] == "cancelled"
    again = cadenza("cancel", run_id, "--store", url, cwd=tmp_path)
    assert (again.returncode, again.stdout) == (
        0,
        f"run {run_id} already cancelled; nothing to cancel.\n",
    )

    (tmp_path / "slow.yaml").write_text(SLOW.replace("delay: 1h", "delay: 0s"))
    resumed = cadenza("resume", run_id, "--allow-changed", "--json", "--no-progress",
                      "--store", url, cwd=tmp_path)  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr
    assert json.loads(resumed.stdout)["status"] == "succeeded"
    shown = json.loads(cadenza("status", run_id, "--store", url, "--json", cwd=tmp_path).stdout)
    assert shown["status"] == "succeeded"
    assert {sid: s["state"] for sid, s in shown["steps"].items()} == {
        "first": "restored", "wait": "succeeded", "last": "succeeded",
    }  # fmt: skip


@pytest.mark.slow
def test_cancel_marks_a_killed_run_cancelled(tmp_path: Path, url: str) -> None:
    """A run whose process was killed shows as interrupted; `cancel` closes its journal."""
    proc, run_id = start_slow_run(tmp_path, url)
    proc.kill()
    proc.communicate(timeout=HANG_GUARD)  # reaped: its pid is gone
    listed = cadenza("runs", "--store", url, cwd=tmp_path)
    row = next(line for line in listed.stdout.splitlines() if line.startswith(run_id))
    assert " interrupted " in row
    assert "1 ok, 1 running, 1 pending" in row
    assert "cadenza resume RUN" in listed.stdout
    shown = cadenza("status", run_id, "--store", url, cwd=tmp_path)
    assert shown.stdout.startswith(f"run {run_id}: INTERRUPTED\n")
    assert f"cadenza resume {run_id}" in shown.stdout

    stopped = cadenza("cancel", run_id, "--store", url, cwd=tmp_path)
    assert stopped.returncode == 0, stopped.stderr
    assert stopped.stdout.startswith(f"run {run_id} marked cancelled: its process (pid ")
    shown_json = json.loads(
        cadenza("status", run_id, "--store", url, "--json", cwd=tmp_path).stdout
    )
    assert shown_json["status"] == "cancelled"
    assert shown_json["reason"] == STOPPED_REASON
    assert shown_json["counts"] == {"succeeded": 1, "failed": 0, "skipped": 0, "cancelled": 2}
    assert shown_json["steps"]["wait"]["state"] == "cancelled"
    with closing(SqliteStore(url)) as store:
        events = store.read_events(run_id)
    assert [e["seq"] for e in events] == list(range(len(events)))
    assert events[-1]["kind"] == "run_finished"
    assert events[-1]["status"] == "cancelled"
