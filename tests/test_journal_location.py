"""Where the journal is, and what the CLI says when that place is read-only or full.

Without ``--store`` every command finds the project's ``.cadenza/journal.db``
upward from the working directory, as git finds ``.git``. A journal in a
read-only place is still read by ``runs``, ``status`` and ``report``;
commands that must write exit 2 naming the absolute path before anything
runs. A journal that fills up mid-run stops the run with exit 2, keeping
everything committed before.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import attrs
import pytest
from click.testing import CliRunner, Result

import cadenza
from cadenza._cli import _add_builtin_commands, cli
from cadenza._cli._common import CliState
from cadenza._journal._store import RunRecord, WriteBatch

from .durability_helpers import cadenza_argv, child_env, file_hash, opened, store_url
from .journal_helpers import CappedStores, read_only

WORKFLOW = """\
agents:
  t: {kind: template, options: {output: 'step {n}'}}
steps:
  a: {uses: t, with: {n: 1}}
  b: {uses: t, needs: [a], with: {n: 2}}
"""
FAILING = WORKFLOW.replace("with: {n: 2}", "with: {m: 2}")  # b has no {n}: it fails
HANG_GUARD = 120
"""Seconds before a subprocess test gives up: a hang guard, never a timing assertion."""


def invoke(*args: str, extra: Sequence[object] = ()) -> Result:
    """``cadenza ARGS`` in-process, with the built-in plugins (and ``extra``) only."""
    _add_builtin_commands()
    state = CliState(plugins=cadenza.plugins.load_plugins(extra=extra, entry_points=False))
    result = CliRunner().invoke(cli, list(args), obj=state)
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(
        result.exception
    )
    assert "Traceback" not in result.output
    return result


def run_ids(result: Result) -> list[str]:
    import json

    assert result.exit_code == 0, result.output
    return [run["run_id"] for run in json.loads(result.stdout)]


@attrs.frozen
class Project:
    """A project folder with a workflow, a subfolder, and a journal holding one run."""

    root: Path
    deep: Path
    run_id: str

    @property
    def journal(self) -> Path:
        return self.root / ".cadenza" / "journal.db"


def make_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str) -> Project:
    monkeypatch.setenv("HOME", str(tmp_path))  # the search stops below here
    root = tmp_path / "proj"
    deep = root / "src" / "deep"
    deep.mkdir(parents=True)
    (root / "wf.yaml").write_text(text)
    monkeypatch.chdir(root)
    result = invoke("run", "wf.yaml", "--no-progress")
    assert result.exit_code in (0, 1), result.output
    with opened(root / ".cadenza" / "journal.db") as store:
        (record,) = store.list_runs()
    return Project(root=root, deep=deep, run_id=record.run_id)


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Project:
    return make_project(tmp_path, monkeypatch, WORKFLOW)


# -- finding the journal -------------------------------------------------------------


def test_runs_are_found_from_a_subfolder(project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    """After ``cd src/deep`` the project's runs are still listed, shown and reported."""
    monkeypatch.chdir(project.deep)
    assert run_ids(invoke("runs", "--json")) == [project.run_id]
    assert invoke("status", project.run_id).exit_code == 0
    assert invoke("report", project.run_id).exit_code == 0
    assert not (project.deep / ".cadenza").exists()


def test_a_run_started_in_a_subfolder_joins_the_project_journal(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``cadenza run`` from a subfolder journals into the project's journal, not a new one."""
    monkeypatch.chdir(project.deep)
    result = invoke("run", str(project.root / "wf.yaml"), "--no-progress")
    assert result.exit_code == 0, result.output
    assert not (project.deep / ".cadenza" / "journal.db").exists()
    monkeypatch.chdir(project.root)
    assert len(run_ids(invoke("runs", "--json"))) == 2


def test_messages_name_the_journal_by_its_absolute_path(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The found journal, and a relative --store, appear absolute in what commands say."""
    monkeypatch.chdir(project.deep)
    result = invoke("status", "no-such-run")
    assert result.exit_code == 2
    assert f"in the journal sqlite:///{project.journal}." in result.output
    result = invoke("runs", "--store", "sqlite:///rel.db")
    assert f"no runs in the journal sqlite:///{project.deep / 'rel.db'}." in result.output


# -- a read-only journal -------------------------------------------------------------


@pytest.fixture(params=["folder", "file"])
def read_only_place(request: pytest.FixtureRequest, project: Project) -> Path:
    """What is made read-only: the journal's folder or the journal file itself."""
    return project.journal.parent if request.param == "folder" else project.journal


def test_reading_commands_read_a_read_only_journal(project: Project, read_only_place: Path) -> None:
    """``runs``, ``status`` and ``report`` work on a healthy journal in a read-only place."""
    with read_only(read_only_place):
        assert run_ids(invoke("runs", "--json")) == [project.run_id]
        result = invoke("status", project.run_id)
        assert result.exit_code == 0, result.output
        assert "damaged" not in result.output
        result = invoke("report", project.run_id)
        assert result.exit_code == 0, result.output


def test_run_into_a_read_only_journal_exits_2_before_anything_runs(
    project: Project, read_only_place: Path
) -> None:
    """``cadenza run`` names the journal and why it is read-only, and runs no step."""
    before = file_hash(project.journal)
    with read_only(read_only_place):
        result = invoke("run", "wf.yaml", "--no-progress")
    assert result.exit_code == 2, result.output
    assert result.output.startswith(f"error: the journal at {project.journal} is read-only (")
    assert "run needs write access" in result.output
    assert "SUCCEEDED" not in result.output
    assert file_hash(project.journal) == before
    assert run_ids(invoke("runs", "--json")) == [project.run_id]


def test_run_where_no_journal_can_be_created_exits_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A read-only folder with no journal yet: exit 2 saying it cannot be created, and why."""
    folder = tmp_path / "ro"
    folder.mkdir()
    (tmp_path / "wf.yaml").write_text(WORKFLOW)
    monkeypatch.chdir(tmp_path)
    with read_only(folder):
        result = invoke("run", "wf.yaml", "--no-progress", "--store", "ro/journal.db")
    assert result.exit_code == 2, result.output
    assert f"cannot create the journal at {folder / 'journal.db'}: " in result.output
    assert list(folder.iterdir()) == []


def test_resume_on_a_read_only_journal_exits_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``cadenza resume`` of a failed run in a read-only journal says resume needs write access."""
    project = make_project(tmp_path, monkeypatch, FAILING)
    before = file_hash(project.journal)
    with read_only(project.journal.parent):
        result = invoke("resume", project.run_id, "--no-progress")
    assert result.exit_code == 2, result.output
    assert f"the journal at {project.journal} is read-only" in result.output
    assert "resume needs write access" in result.output
    assert file_hash(project.journal) == before


def exited_pid() -> int:
    """The pid of a process that has exited."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


@pytest.mark.parametrize("process", ["alive", "gone"])
def test_cancel_on_a_read_only_journal_says_it_needs_write_access(
    process: str, project: Project
) -> None:
    """Cancelling a running (or interrupted) run needs a write: exit 2 saying so exactly."""
    pid = os.getpid() if process == "alive" else exited_pid()
    running = RunRecord(
        run_id="r-running", workflow="wf", started_at=2e9, pid=pid, host=socket.gethostname()
    )
    with opened(project.journal) as store:
        store.write(WriteBatch(runs=[running]))
    before = file_hash(project.journal)
    with read_only(project.journal.parent):
        result = invoke("cancel", "r-running")
    assert result.exit_code == 2, result.output
    assert result.output.startswith(f"error: the journal at {project.journal} is read-only (")
    assert "cancel needs write access" in result.output
    assert file_hash(project.journal) == before


def test_cancel_of_a_finished_run_on_a_read_only_journal_needs_no_write(
    project: Project,
) -> None:
    """A finished run needs no cancelling, so a read-only journal is no obstacle."""
    with read_only(project.journal.parent):
        result = invoke("cancel", project.run_id)
    assert result.exit_code == 0, result.output
    assert "already succeeded; nothing to cancel" in result.output


# -- a full journal ------------------------------------------------------------------

BIG_STEP = """\
agents:
  t: {kind: template, options: {output: 'step {n}'}}
  big: {kind: python, options: {function: "journal_full_tasks:big"}}
steps:
  a: {uses: t, with: {n: 1}}
  b: {uses: big, needs: [a], with: {size: 300000}}
  c: {uses: t, needs: [b], with: {n: 3}}
"""


def test_a_full_journal_mid_run_exits_2_and_keeps_committed_steps(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SQLITE_FULL mid-run: exit 2 naming the full disk; step a stays, resume finishes the run."""
    (tmp_path / "wf.yaml").write_text(BIG_STEP)
    (tmp_path / "journal_full_tasks.py").write_text("def big(size):\n    return 'x' * size\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delitem(sys.modules, "journal_full_tasks", raising=False)
    monkeypatch.setattr(sys, "path", list(sys.path))  # the agent puts the file's folder first
    journal = tmp_path / "journal.db"
    result = invoke(
        "run", "wf.yaml", "--no-progress", "--store", f"capped://{journal}",
        extra=[CappedStores(headroom=16)],
    )  # fmt: skip
    assert result.exit_code == 2, result.output
    assert result.output.startswith(f"error: the disk holding the journal at {journal} is full")
    assert "rollback" not in result.output
    with opened(journal) as store:
        (record,) = store.list_runs()
        events = store.read_events(record.run_id)
    assert record.status == "running"  # shown as interrupted: the process is gone
    succeeded = [e["step_id"] for e in events if e["kind"] == "step_succeeded"]
    assert succeeded == ["a"]
    result = invoke("resume", record.run_id, "--store", store_url(journal), "--no-progress")
    assert result.exit_code == 0, result.output
    with opened(journal) as store:
        events = store.read_events(record.run_id)
    succeeded = [e["step_id"] for e in events if e["kind"] == "step_succeeded"]
    assert succeeded == ["a", "b", "c"]  # a was restored, not run again


# -- from the command line -----------------------------------------------------------


def cadenza_cli(*args: str, cwd: Path, home: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        cadenza_argv(*args),
        cwd=cwd,
        capture_output=True,
        text=True,
        env=child_env(HOME=str(home)),
        timeout=HANG_GUARD,
        check=False,
    )


@pytest.mark.slow
def test_journal_location_from_the_command_line(tmp_path: Path) -> None:
    """End to end: a run from a subfolder joins the project journal; read-only it is still read."""
    root = tmp_path / "proj"
    deep = root / "src" / "deep"
    deep.mkdir(parents=True)
    (root / "wf.yaml").write_text(WORKFLOW)
    (root / ".cadenza").mkdir()  # marks the project before its first run
    first = cadenza_cli("run", "../../wf.yaml", "--no-progress", cwd=deep, home=tmp_path)
    assert first.returncode == 0, first.stderr
    journal = root / ".cadenza" / "journal.db"
    with opened(journal) as store:
        (record,) = store.list_runs()
    with read_only(journal.parent):
        for args in (("runs",), ("status", record.run_id), ("report", record.run_id)):
            proc = cadenza_cli(*args, cwd=deep, home=tmp_path)
            assert proc.returncode == 0, proc.stderr
            assert record.run_id in proc.stdout
        proc = cadenza_cli("run", "../../wf.yaml", "--no-progress", cwd=deep, home=tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert proc.stdout == ""
    assert proc.stderr.startswith(f"error: the journal at {journal} is read-only (")
    assert "run needs write access" in proc.stderr
    assert "Traceback" not in proc.stderr
