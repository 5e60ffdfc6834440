"""``cadenza approve`` and ``cadenza status`` on approval gates, from other processes too."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner

from cadenza import _events as ev
from cadenza._cli._approve_cmd import approve
from cadenza._cli._common import CliState
from cadenza._cli._status_cmd import status
from cadenza._errors import StoreReadOnlyError
from cadenza._journal._sqlite import SqliteStore
from cadenza._journal._store import RunRecord, WriteBatch
from cadenza._plugins._registry import load_plugins

from .durability_helpers import cadenza_argv, child_env

WORKFLOW = """\
agents:
  t: {kind: template, options: {output: "hello {name}"}}
steps:
  draft: {uses: t, with: {name: draft}}
  publish:
    uses: t
    needs: [draft]
    with: {name: publish}
    approval: {prompt: "Publish ${{ steps.draft.output }}?", timeout: 1h, approvers: [alice, bob]}
  announce: {uses: t, needs: [publish], with: {name: announce}}
"""


def invoke(command: click.Command, *args: str) -> tuple[int, str, str]:
    """Run a command in-process with the built-in plugins only."""
    state = CliState(plugins=load_plugins(entry_points=False))
    result = CliRunner().invoke(command, list(args), obj=state)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def journal(tmp_path: Path) -> Any:
    """A journal holding run r1, stopped with the gate of ``publish`` open (pid gone)."""
    url = f"sqlite:///{tmp_path / 'journal.db'}"
    store = SqliteStore(url)
    now = time.time()
    events = [
        ev.RunStarted(
            run_id="r1", seq=0, at=now, workflow="wf", source="wf.yaml", source_hash="h",
            inputs={}, steps=("draft", "publish", "announce"),
        ),
        ev.StepSucceeded(run_id="r1", seq=1, at=now, step_id="draft", attempt=1, agent="t",
                         output="hello draft", duration=0.1),
        ev.ApprovalRequested(run_id="r1", seq=2, at=now, step_id="publish",
                             prompt="Publish hello draft?", approvers=("alice", "bob"),
                             expires_at=now + 3600),
    ]  # fmt: skip
    record = RunRecord(run_id="r1", workflow="wf", started_at=now, pid=2**22 + 7, host="")
    store.write(WriteBatch(events=[e.to_dict() for e in events], runs=[record]))
    yield store
    store.close()


def test_approve_records_the_decision(journal: SqliteStore) -> None:
    """An approval by a listed approver is recorded against the open request."""
    code, out, err = invoke(approve, "r1", "publish", "--as", "alice", "--reason", "ok",
                            "--store", journal.url)  # fmt: skip
    assert (code, err) == (0, "")
    assert "step publish of run r1 approved by alice" in out
    assert "cadenza resume r1" in out  # its process is gone
    (decision,) = journal.read_decisions("r1")
    assert (decision.step_id, decision.request, decision.approved) == ("publish", 2, True)
    assert (decision.by, decision.reason) == ("alice", "ok")


def test_reject_records_a_rejection(journal: SqliteStore) -> None:
    """--reject records approved=false with the reason."""
    code, _, _ = invoke(approve, "r1", "publish", "--reject", "--reason", "no", "--as", "bob",
                        "--store", journal.url)  # fmt: skip
    assert code == 0
    (decision,) = journal.read_decisions("r1")
    assert (decision.approved, decision.by, decision.reason) == (False, "bob", "no")


def test_someone_not_listed_is_refused_naming_the_approvers(journal: SqliteStore) -> None:
    """A decider outside approvers: exit 2, the message names who may decide."""
    code, _, err = invoke(approve, "r1", "publish", "--as", "mallory", "--store", journal.url)
    assert code == 2
    assert "'mallory' may not decide" in err
    assert "alice, bob" in err
    assert "Traceback" not in err
    assert journal.read_decisions("r1") == []


def test_second_decision_is_refused(journal: SqliteStore) -> None:
    """The first decision wins; a later one says who decided first."""
    invoke(approve, "r1", "publish", "--as", "alice", "--store", journal.url)
    code, _, err = invoke(approve, "r1", "publish", "--reject", "--as", "bob",
                          "--store", journal.url)  # fmt: skip
    assert code == 2
    assert "already decided (approved by alice)" in err


@pytest.mark.parametrize(
    ("run_id", "step_id", "expected"),
    [
        ("nope", "publish", "no run 'nope'"),
        ("r1", "pubish", "run r1 has no step 'pubish' (its steps: draft, publish, announce)"),
        ("r1", "draft", "step 'draft' of run r1 is not waiting for approval"),
    ],
)
def test_no_open_gate_is_a_clear_error(
    journal: SqliteStore, run_id: str, step_id: str, expected: str
) -> None:
    """Unknown run, unknown step, a step without a gate: exit 2 and what is open."""
    code, _, err = invoke(approve, run_id, step_id, "--as", "alice", "--store", journal.url)
    assert code == 2
    assert expected in err
    assert "Traceback" not in err


def test_expired_gate_is_refused(journal: SqliteStore) -> None:
    """A gate past its expires_at takes no decision."""
    old = ev.ApprovalRequested(run_id="r1", seq=3, at=0.0, step_id="publish", prompt="?",
                               expires_at=1.0)  # fmt: skip
    journal.write(WriteBatch(events=[old.to_dict()]))
    code, _, err = invoke(approve, "r1", "publish", "--as", "alice", "--store", journal.url)
    assert code == 2
    assert "expired" in err


def test_status_shows_open_gates(journal: SqliteStore) -> None:
    """status lists the gate's prompt, approvers and expiry, and how to decide."""
    code, out, _ = invoke(status, "r1", "--store", journal.url)
    assert code == 0
    assert "waiting for approval:" in out
    assert "publish: Publish hello draft?" in out
    assert "approvers: alice, bob; expires" in out
    assert "cadenza approve r1 STEP" in out
    row = next(line for line in out.splitlines() if line.startswith("publish "))
    assert row.split()[1] == "approval"
    code, out, _ = invoke(status, "r1", "--store", journal.url, "--json")
    (gate,) = json.loads(out)["approvals"]
    assert (gate["step_id"], gate["approvers"]) == ("publish", ["alice", "bob"])


# -- across processes -------------------------------------------------------------


def _wait_for_gate(store_path: Path, proc: subprocess.Popen[str]) -> str:
    """The run id once the run's gate is journaled (the run is in another process)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        if store_path.exists():
            try:
                store = SqliteStore(f"sqlite:///{store_path}", read_only=True)
            except StoreReadOnlyError:  # the run is still creating its journal's tables
                time.sleep(0.1)
                continue
            try:
                for record in store.list_runs():
                    kinds = [e["kind"] for e in store.read_events(record.run_id)]
                    if "approval_requested" in kinds:
                        return record.run_id
            finally:
                store.close()
        time.sleep(0.1)
    raise AssertionError("the run never opened its gate")


def _start_run(tmp_path: Path) -> tuple[subprocess.Popen[str], Path]:
    wf = tmp_path / "wf.yaml"
    wf.write_text(WORKFLOW)
    store_path = tmp_path / "journal.db"
    proc = subprocess.Popen(
        cadenza_argv("run", str(wf), "--no-progress", "--store", str(store_path)),
        cwd=tmp_path, env=child_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    return proc, store_path


def _cadenza(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        cadenza_argv(*args), cwd=tmp_path, env=child_env(), capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip


@pytest.mark.slow
def test_gate_approved_from_another_process_while_the_run_waits(tmp_path: Path) -> None:
    """`cadenza run` waits at the gate; `cadenza approve` in another process lets it finish."""
    proc, store_path = _start_run(tmp_path)
    try:
        run_id = _wait_for_gate(store_path, proc)
        done = _cadenza(tmp_path, "approve", run_id, "publish", "--as", "bob", "--reason",
                        "reviewed", "--store", str(store_path))  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert "the run applies it within a second" in done.stdout
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    assert "SUCCEEDED" in out
    store = SqliteStore(f"sqlite:///{store_path}")
    try:
        decided = [e for e in store.read_events(run_id) if e["kind"] == "approval_decided"]
    finally:
        store.close()
    assert [(d["approved"], d["by"], d["reason"]) for d in decided] == [(True, "bob", "reviewed")]


@pytest.mark.slow
def test_gate_survives_kill_and_is_approved_before_resume(tmp_path: Path) -> None:
    """kill -9 while the gate is open; approve meanwhile; `cadenza resume` finishes the run."""
    proc, store_path = _start_run(tmp_path)
    try:
        run_id = _wait_for_gate(store_path, proc)
        os.kill(proc.pid, signal.SIGKILL)
        proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    shown = _cadenza(tmp_path, "status", run_id, "--store", str(store_path))
    assert "INTERRUPTED" in shown.stdout
    assert "waiting for approval:" in shown.stdout
    done = _cadenza(tmp_path, "approve", run_id, "publish", "--as", "alice",
                    "--store", str(store_path))  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert f"cadenza resume {run_id}" in done.stdout
    resumed = _cadenza(tmp_path, "resume", run_id, "--no-progress", "--store", str(store_path))
    assert resumed.returncode == 0, resumed.stderr
    assert 'announce: "hello announce"' in resumed.stdout
    store = SqliteStore(f"sqlite:///{store_path}")
    try:
        events = store.read_events(run_id)
    finally:
        store.close()
    kinds = [e["kind"] for e in events]
    assert kinds.count("approval_requested") == 1, "the resume reused the journaled request"
    assert kinds.count("approval_decided") == 1
    assert kinds.index("run_resumed") < kinds.index("approval_decided")


def test_approve_names_the_environment_user_by_default(
    journal: SqliteStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without --as the decision is recorded under the login user (LOGNAME/USER)."""
    for name in ("LOGNAME", "USER", "LNAME", "USERNAME"):
        monkeypatch.setenv(name, "alice")
    code, out, _ = invoke(approve, "r1", "publish", "--store", journal.url)
    assert code == 0, out
    assert journal.read_decisions("r1")[0].by == "alice"
