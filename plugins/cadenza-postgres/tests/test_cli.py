"""Whole workflows through the CLI on a Postgres journal: run, list, resume, two processes at once.

Each test runs ``python -m cadenza`` in subprocesses against the session's
throwaway server, as a user would with ``--store postgresql://...``.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from cadenza_postgres import PostgresStore
from cadenza_postgres.testing import Server

pytestmark = pytest.mark.slow

SECRET = "cli-secret-pw"
HANG_GUARD = 120

TASKS = """
from pathlib import Path

HERE = Path(__file__).parent


def note(name):
    with (HERE / "calls.log").open("a") as fh:
        fh.write(name + "\\n")


def fetch(topic):
    note("fetch")
    return {"topic": topic, "big": 1e300, "text": "caf\\u00e9 \\u65e5\\u672c"}


def check(data):
    note("check")
    if (HERE / "fail").exists():
        raise ValueError("told to fail")
    return "checked " + data["topic"]


def hang(data):
    note("hang")
    import time

    while (HERE / "hang").exists():
        time.sleep(0.05)
    return "done"


def work(n):
    note(f"work{n}")
    return n * n
"""

FLOW = """\
name: pgflow
inputs:
  topic: {default: trio}
agents:
  fetch: {kind: python, options: {function: "tasks:fetch"}}
  check: {kind: python, options: {function: "tasks:check"}}
steps:
  fetch:
    uses: fetch
    with: {topic: "${{ inputs.topic }}"}
  check:
    uses: check
    needs: [fetch]
    with: {data: "${{ steps.fetch.output }}"}
"""


CRASH_FLOW = """\
name: crash
agents:
  fetch: {kind: python, options: {function: "tasks:fetch"}}
  hang: {kind: python, options: {function: "tasks:hang"}}
steps:
  fetch:
    uses: fetch
    with: {topic: crash}
  hang:
    uses: hang
    needs: [fetch]
    with: {data: "${{ steps.fetch.output }}"}
"""


def fan_out(width: int) -> str:
    """A workflow of ``width`` independent steps."""
    steps = "".join(f"  w{i}:\n    uses: work\n    with: {{n: {i}}}\n" for i in range(width))
    return (
        'name: fan\nagents:\n  work: {kind: python, options: {function: "tasks:work"}}\n'
        f"steps:\n{steps}"
    )


def cadenza(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cadenza", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
        timeout=HANG_GUARD,
    )


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "tasks.py").write_text(TASKS)
    (tmp_path / "flow.yaml").write_text(FLOW)
    return tmp_path


def calls(project: Path) -> list[str]:
    """The agent calls made so far, in order."""
    log = project / "calls.log"
    return log.read_text().split() if log.exists() else []


def test_run_fails_then_resume_finishes_without_rerunning(project: Path, database_url: str) -> None:
    """A failed run is listed from Postgres; resume re-runs only the failed step."""
    (project / "fail").touch()
    first = cadenza(
        "run", "flow.yaml", "--store", database_url, "--json", "--no-progress", cwd=project
    )
    assert first.returncode == 1, first.stderr
    run_id = json.loads(first.stdout)["run_id"]
    listed = cadenza("runs", "--store", database_url, "--json", cwd=project)
    assert listed.returncode == 0, listed.stderr
    [run] = json.loads(listed.stdout)
    assert (run["run_id"], run["status"]) == (run_id, "failed")
    (project / "fail").unlink()
    resumed = cadenza("resume", run_id, "--store", database_url, "--json", cwd=project)
    assert resumed.returncode == 0, resumed.stderr
    summary: dict[str, Any] = json.loads(resumed.stdout)
    assert summary["status"] == "succeeded"
    assert summary["steps"]["fetch"]["output"] == {
        "topic": "trio",
        "big": 1e300,
        "text": "caf\u00e9 \u65e5\u672c",
    }
    assert summary["steps"]["check"]["output"] == "checked trio"
    assert calls(project) == ["fetch", "check", "check"]  # fetch's success was kept


def test_success_journaled_before_a_kill_is_not_rerun(project: Path, database_url: str) -> None:
    """kill -9 while a dependant runs: the journaled success is on the server, resume keeps it."""
    (project / "crash.yaml").write_text(CRASH_FLOW)
    (project / "hang").touch()
    argv = [sys.executable, "-m", "cadenza", "run", "crash.yaml", "--store", database_url]
    proc = subprocess.Popen(argv, cwd=project, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    store = PostgresStore(database_url)
    try:
        deadline = time.monotonic() + HANG_GUARD
        while "hang" not in calls(project):
            assert time.monotonic() < deadline, "the dependant never started"
            time.sleep(0.05)
        [run] = store.list_runs()
        succeeded = [
            e["step_id"] for e in store.read_events(run.run_id) if e["kind"] == "step_succeeded"
        ]
        assert succeeded == ["fetch"]  # committed before its dependant started
    finally:
        proc.kill()  # SIGKILL: no cleanup, no final flush
        proc.wait(timeout=HANG_GUARD)
        store.close()
    (project / "hang").unlink()
    resumed = cadenza("resume", run.run_id, "--store", database_url, "--json", cwd=project)
    assert resumed.returncode == 0, resumed.stderr
    assert json.loads(resumed.stdout)["steps"]["hang"]["output"] == "done"
    assert calls(project) == ["fetch", "hang", "hang"]


def test_two_processes_write_their_runs_at_once(project: Path, database_url: str) -> None:
    """Two ``cadenza run`` processes on one journal each record a whole, separate run."""
    width = 40
    (project / "fan.yaml").write_text(fan_out(width))
    argv = [sys.executable, "-m", "cadenza", "run", "fan.yaml", "--store", database_url, "--json"]
    procs = [
        subprocess.Popen(
            argv, cwd=project, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    outputs = [proc.communicate(timeout=HANG_GUARD) for proc in procs]
    for proc, (_out, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err
    run_ids = {json.loads(out)["run_id"] for out, _err in outputs}
    assert len(run_ids) == 2
    listed = cadenza("runs", "--store", database_url, "--json", cwd=project)
    runs = {r["run_id"]: r for r in json.loads(listed.stdout)}
    assert set(runs) == run_ids
    for run_id in run_ids:
        assert runs[run_id]["status"] == "succeeded"
        assert runs[run_id]["counts"]["succeeded"] == width
        status = cadenza("status", run_id, "--store", database_url, "--json", cwd=project)
        assert status.returncode == 0, status.stderr
    assert sorted(calls(project)) == sorted([f"work{i}" for i in range(width)] * 2)


def test_cli_never_shows_the_password(project: Path, server: Server, database_url: str) -> None:
    """`cadenza runs` on an empty journal, and on an unreachable server, hide the password."""
    database = database_url.rsplit("/", 1)[1]
    server.sql(f"CREATE ROLE carl LOGIN PASSWORD '{SECRET}'")
    server.sql(f'ALTER DATABASE "{database}" OWNER TO carl')
    try:
        url = server.url(database, user="carl", password=SECRET)
        empty = cadenza("runs", "--store", url, cwd=project)
        assert empty.returncode == 0, empty.stderr
        assert f"carl:***@127.0.0.1:{server.port}/{database}" in empty.stderr
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        down = cadenza(
            "runs", "--store", f"postgresql://carl:{SECRET}@127.0.0.1:{port}/x", cwd=project
        )
        assert down.returncode == 2
        assert "cannot connect to the PostgreSQL server" in down.stderr
        assert "Traceback" not in down.stderr
        for output in (empty.stdout, empty.stderr, down.stdout, down.stderr):
            assert SECRET not in output
    finally:
        server.sql(f'DROP DATABASE "{database}"')
        server.sql("DROP ROLE carl")
