"""``cadenza submit``, ``cadenza worker``, and the queue in ``runs`` and ``cancel``, on SQLite.

The SQLite journal holds a run queue too (workers on one host), so the
commands are tested here in-process without a Postgres server; the plugin's
tests run them in subprocesses against Postgres.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner

import cadenza
from cadenza._cli._cancel_cmd import cancel
from cadenza._cli._common import CliState
from cadenza._cli._runs_cmd import runs
from cadenza._cli._status_cmd import status
from cadenza._cli._submit_cmd import submit
from cadenza._cli._worker_cmd import worker
from cadenza._plugins._registry import load_plugins
from cadenza.store import SqliteStore

FLOW = """\
name: hello
inputs:
  topic: trio
agents:
  writer:
    kind: template
    options:
      output: {text: "notes on {topic}"}
steps:
  a:
    uses: writer
    with: {topic: "${{ inputs.topic }}"}
  b:
    uses: writer
    needs: [a]
    with: {topic: "${{ steps.a.output.text }}"}
"""


def invoke(command: click.Command, *args: str) -> tuple[int, str, str]:
    """Run a command in-process with the built-in plugins only."""
    state = CliState(plugins=load_plugins(entry_points=False))
    result = CliRunner().invoke(command, list(args), obj=state)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "flow.yaml").write_text(FLOW)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def journal(project: Path) -> str:
    return f"sqlite:///{project / 'journal.db'}"


def queue_of(project: Path) -> list[tuple[str, str, str]]:
    store = SqliteStore(journal(project))
    try:
        return [(q.run_id, q.state, q.worker) for q in store.list_queue(limit=100)]
    finally:
        store.close()


def test_submit_queues_runs_with_path_source_and_inputs(project: Path) -> None:
    """submit prints one run id per run and queues the file's absolute path, text and inputs."""
    code, out, err = invoke(
        submit, "flow.yaml", "--input", "topic=queues", "--count", "2", "--store", journal(project)
    )
    assert code == 0, err
    run_ids = out.split()
    assert len(set(run_ids)) == 2
    store = SqliteStore(journal(project))
    try:
        queued = store.get_queued(run_ids[0])
        assert queued is not None
        assert queued.state == "queued"
        assert queued.entry.path == str(project / "flow.yaml")
        assert queued.entry.source == FLOW
        assert queued.entry.workflow == "hello"
        assert queued.entry.inputs == {"topic": "queues"}
    finally:
        store.close()


def test_submit_of_a_bad_file_exits_2_and_queues_nothing(project: Path) -> None:
    """An invalid workflow is reported with file:line (exit 2); the queue stays empty."""
    (project / "bad.yaml").write_text(FLOW.replace("needs: [a]", "needs: [nope]"))
    SqliteStore(journal(project)).close()
    code, out, err = invoke(submit, "bad.yaml", "--store", journal(project))
    assert code == 2
    assert "bad.yaml:" in err
    assert "nope" in err
    assert out == ""
    assert queue_of(project) == []


def test_submit_with_a_bad_input_exits_2_and_queues_nothing(project: Path) -> None:
    """A malformed --input is a usage error; nothing is queued."""
    SqliteStore(journal(project)).close()
    code, _, err = invoke(submit, "flow.yaml", "--input", "topic", "--store", journal(project))
    assert code == 2
    assert "expected NAME=VALUE" in err
    assert queue_of(project) == []


def test_worker_runs_every_queued_run_and_runs_shows_it(project: Path) -> None:
    """A worker with --exit-when-idle runs each queued run once; runs shows its name."""
    _, out, _ = invoke(submit, "flow.yaml", "--count", "3", "--store", journal(project))
    run_ids = out.split()
    code, _, err = invoke(worker, "--store", journal(project), "--name", "w1", "--exit-when-idle")
    assert code == 0, err
    assert "stopped after 3 run(s)" in err
    assert sorted(queue_of(project)) == sorted((r, "done", "w1") for r in run_ids)
    code, out, _ = invoke(runs, "--store", journal(project), "--json")
    shown = {r["run_id"]: r for r in json.loads(out)}
    assert {(r["status"], r["worker"], r["queue_state"]) for r in shown.values()} == {
        ("succeeded", "w1", "done")
    }
    code, out, _ = invoke(runs, "--store", journal(project))
    assert out.splitlines()[0].split() == [
        "RUN", "WORKFLOW", "STATUS", "WORKER", "STARTED", "DURATION", "STEPS",
    ]  # fmt: skip
    table_lines = out.split("\n\n")[0].splitlines()
    assert all(" w1 " in line for line in table_lines[1:])
    assert out.splitlines()[-1].startswith("workers: w1 (")


def test_worker_stops_after_max_runs(project: Path) -> None:
    """--max-runs 1 runs one run and leaves the others queued."""
    invoke(submit, "flow.yaml", "--count", "2", "--store", journal(project))
    code, _, err = invoke(worker, "--store", journal(project), "--max-runs", "1")
    assert code == 0, err
    assert sorted(state for _, state, _ in queue_of(project)) == ["done", "queued"]


def test_runs_lists_queued_runs_not_started(project: Path) -> None:
    """A queued run no worker started is listed as queued, in text and JSON."""
    _, out, _ = invoke(submit, "flow.yaml", "--store", journal(project))
    [run_id] = out.split()
    _, out, _ = invoke(runs, "--store", journal(project), "--json")
    [shown] = json.loads(out)
    assert (shown["run_id"], shown["status"], shown["queue_state"]) == (run_id, "queued", "queued")
    _, out, _ = invoke(runs, "--store", journal(project), "--status", "queued")
    assert run_id in out
    _, out, _ = invoke(runs, "--store", journal(project), "--status", "succeeded")
    assert run_id not in out


def test_cancel_of_a_queued_run_keeps_it_from_running(project: Path) -> None:
    """cancel marks a queued run cancelled; a worker then never runs it."""
    _, out, _ = invoke(submit, "flow.yaml", "--count", "2", "--store", journal(project))
    keep, drop = out.split()
    code, out, err = invoke(cancel, drop, "--store", journal(project))
    assert code == 0, err
    assert "cancelled before any worker started it" in out
    invoke(worker, "--store", journal(project), "--exit-when-idle", "--name", "w")
    assert dict((r, s) for r, s, _ in queue_of(project)) == {keep: "done", drop: "cancelled"}
    _, out, _ = invoke(runs, "--store", journal(project), "--json")
    assert {r["run_id"]: r["status"] for r in json.loads(out)} == {
        keep: "succeeded",
        drop: "cancelled",
    }
    code, out, _ = invoke(cancel, drop, "--store", journal(project))
    assert code == 0
    assert "already cancelled" in out


def test_worker_fails_a_run_whose_file_changed_since_submit(project: Path) -> None:
    """A run whose workflow file changed after submission is marked failed, not run."""
    _, out, _ = invoke(submit, "flow.yaml", "--store", journal(project))
    [run_id] = out.split()
    (project / "flow.yaml").write_text(FLOW.replace("notes on", "thoughts on"))
    code, _, err = invoke(worker, "--store", journal(project), "--exit-when-idle")
    assert code == 0
    assert "changed since the run was submitted" in err
    assert queue_of(project)[0][:2] == (run_id, "failed")


class _PlainStore:
    """A plugin store from before the run queue: everything else delegated to SQLite."""

    def __init__(self, url: str) -> None:
        self._inner = SqliteStore(f"sqlite:///{url.removeprefix('plain://')}")
        self.url = url

    def __getattr__(self, name: str) -> Any:
        if name in ("submit", "claim", "renew", "finish", "release", "list_queue", "get_queued"):
            raise AttributeError(name)
        return getattr(self._inner, name)


class _PlainStorePlugin:
    @cadenza.hookimpl
    def cadenza_stores(self, register: Any) -> None:
        register("plain", _PlainStore)


@pytest.mark.parametrize("command", ["submit", "worker"])
def test_a_store_without_a_queue_exits_2_saying_what_to_use(project: Path, command: str) -> None:
    """submit and worker on a store that cannot hold a queue say so (exit 2), naming Postgres."""
    state = CliState(plugins=load_plugins(entry_points=False, extra=[_PlainStorePlugin()]))
    url = f"plain://{project / 'plain.db'}"
    args = ["flow.yaml", "--store", url] if command == "submit" else ["--store", url]
    result = CliRunner().invoke(submit if command == "submit" else worker, args, obj=state)
    assert result.exit_code == 2
    assert "cannot hold a run queue" in result.stderr
    assert "postgresql://" in result.stderr


def test_status_of_a_queued_run_says_it_waits(project: Path) -> None:
    """status of a submitted run no worker started says so instead of 'no such run'."""
    _, out, _ = invoke(submit, "flow.yaml", "--store", journal(project))
    [run_id] = out.split()
    code, out, err = invoke(status, run_id, "--store", journal(project))
    assert code == 0, err
    assert f"run {run_id} (hello, {project / 'flow.yaml'}): queued" in out
    code, out, _ = invoke(status, run_id, "--store", journal(project), "--json")
    assert json.loads(out)["queue_state"] == "queued"
