"""End-to-end tests of ``cadenza run``, as a user runs it: a subprocess."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "project_report" / "workflow.yaml"

pytestmark = pytest.mark.slow


def cadenza(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cadenza", *args],
        cwd=cwd,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_example_workflow_runs_offline_and_writes_its_report(tmp_path: Path) -> None:
    """The README's main job: the example runs, prints a summary and writes the report."""
    out = tmp_path / "report.md"
    proc = cadenza(
        "run", str(EXAMPLE), "--set", f"root={ROOT / 'core'}", "--set", f"out={out}", cwd=tmp_path
    )
    assert proc.returncode == 0, proc.stderr
    assert "SUCCEEDED" in proc.stdout
    assert "5 succeeded, 0 failed" in proc.stdout
    text = out.read_text()
    assert text.startswith(f"# Project report: {ROOT / 'core'}")
    assert "| .py |" in text
    assert "Traceback" not in proc.stderr


def test_json_summary_and_when_skip(tmp_path: Path) -> None:
    """--json prints a machine-readable summary; a false when: skips the step, run succeeds."""
    out = tmp_path / "r.md"
    proc = cadenza(
        "run", str(EXAMPLE), "--json", "--no-progress",
        "--set", f"root={ROOT / 'examples'}", "--set", "include_docs=false", "--set", f"out={out}",
        cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert summary["status"] == "succeeded"
    assert summary["counts"] == {"succeeded": 4, "failed": 0, "skipped": 1, "cancelled": 0}
    assert summary["steps"]["words"]["status"] == "skipped"
    assert summary["steps"]["report"]["output"]["path"] == str(out)


def test_failed_step_exits_1_and_names_the_error(tmp_path: Path) -> None:
    """A step that fails for good gives exit code 1 and its error in the summary."""
    wf = tmp_path / "wf.yaml"
    wf.write_text(
        textwrap.dedent(
            """
            agents:
              t: {kind: template, options: {output: "hello {name}"}}
            steps:
              greet: {uses: t, with: {}}
              after: {uses: t, needs: [greet], with: {name: x}}
            """
        )
    )
    proc = cadenza("run", str(wf), "--no-progress", cwd=tmp_path)
    assert proc.returncode == 1
    assert "greet failed after 1 attempt(s)" in proc.stdout
    assert "name" in proc.stdout
    assert "after skipped: needs 'greet', which failed" in proc.stdout


def test_no_progress_logs_failures_as_human_lines(tmp_path: Path) -> None:
    """--no-progress: failed attempts and steps are logged on stderr, one readable line each."""
    wf = tmp_path / "wf.yaml"
    wf.write_text(
        "agents:\n  t: {kind: template, options: {output: 'hello {name}'}}\n"
        "steps:\n  greet: {uses: t, with: {}}\n"
    )
    proc = cadenza("run", str(wf), "--no-progress", "--no-journal", cwd=tmp_path)
    assert proc.returncode == 1
    lines = proc.stderr.splitlines()
    assert len(lines) == 2, proc.stderr
    assert re.match(r"\d\d:\d\d:\d\d \[warning\] attempt_failed .*duration=\d+\.\d\ds ", lines[0])
    assert re.match(r"\d\d:\d\d:\d\d \[warning\] step_failed attempts=1 ", lines[1])
    assert "step_id=greet" in lines[1]
    assert not re.search(r"\d\.\d{6,}", proc.stderr)  # no 0.00011435300257289782
    assert "=None" not in proc.stderr


def test_invalid_file_exits_2_without_traceback(tmp_path: Path) -> None:
    """Running an invalid file prints file:line problems and exits 2."""
    wf = tmp_path / "wf.yaml"
    wf.write_text("agents:\n  t: {kind: template}\nsteps:\n  a: {uses: t, needs: [nope]}\n")
    proc = cadenza("run", str(wf), cwd=tmp_path)
    assert proc.returncode == 2
    assert f"{wf}:4:" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_bad_set_exits_2(tmp_path: Path) -> None:
    """--set without '=' or naming an unknown input is a usage error, exit 2."""
    proc = cadenza("run", str(EXAMPLE), "--set", "rooot=.", cwd=tmp_path)
    assert proc.returncode == 2
    assert "rooot" in proc.stderr
    proc = cadenza("run", str(EXAMPLE), "--set", "novalue", cwd=tmp_path)
    assert proc.returncode == 2


def test_ctrl_c_cancels_in_flight_calls_and_exits_130(tmp_path: Path) -> None:
    """SIGINT during a run cancels every in-flight call promptly and exits 130."""
    wf = tmp_path / "slow.yaml"
    wf.write_text(
        textwrap.dedent(
            """
            agents:
              slow: {kind: template, max_concurrent: 10, options: {output: done, delay: 1h}}
            steps:
            """
        )
        + "".join(f"  s{i}: {{uses: slow}}\n" for i in range(10))
        + "  last: {uses: slow, needs: [s0]}\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "cadenza", "run", str(wf), "--json"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None
    seen = ""
    deadline = time.monotonic() + 60
    while "started" not in seen and time.monotonic() < deadline:
        seen += proc.stderr.readline()
    time.sleep(0.5)  # let the attempts start; the run itself would take an hour
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 130, stderr
    summary = json.loads(stdout)
    assert summary["status"] == "cancelled"
    assert summary["counts"]["cancelled"] == 11
    assert "interrupted by SIGINT" in summary["reason"]
    assert "Traceback" not in stderr


def test_ctrl_c_in_plain_progress_prints_each_cancelled_step(tmp_path: Path) -> None:
    """Without a terminal, Ctrl-C prints one line per cancelled step; the summary counts them."""
    wf = tmp_path / "slow.yaml"
    wf.write_text(
        "agents:\n  slow: {kind: template, options: {output: done, delay: 1h}}\n"
        "steps:\n  a: {uses: slow}\n  b: {uses: slow}\n  c: {uses: slow, needs: [a]}\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "cadenza", "run", str(wf), "--no-journal"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None
    seen = ""
    deadline = time.monotonic() + 60
    while "started" not in seen and time.monotonic() < deadline:
        seen += proc.stderr.readline()
    time.sleep(0.5)  # let the attempts start; the run itself would take an hour
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 130, stderr
    cancelled = sorted(line.split("] ", 1)[1] for line in stderr.splitlines() if "■" in line)
    assert len(cancelled) == 3, stderr
    assert re.fullmatch(r"■ a \[slow\] in \d+\.\d\ds: interrupted by SIGINT", cancelled[0])
    assert cancelled[2] == "■ c: interrupted by SIGINT"
    assert "0 succeeded, 0 failed, 0 skipped, 3 cancelled" in stdout


def test_cost_and_budgets_show_in_the_summary_and_json(tmp_path: Path) -> None:
    """Priced agents: the summary prints what the run spent; --json carries it per budget."""
    flow = tmp_path / "priced.yaml"
    flow.write_text(
        textwrap.dedent(
            """\
            name: priced
            budget: {usd: 0.025}
            agents:
              writer:
                kind: template
                price: {per_call: 0.01}
                options: {output: "draft {n}"}
            steps:
              a: {uses: writer, with: {n: 1}}
              b: {uses: writer, with: {n: 2}}
              c: {uses: writer, with: {n: 3}, needs: [a, b]}
            """
        )
    )
    proc = cadenza("run", str(flow), "--no-journal", cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    assert "cost: $0.0200, 0 tokens" in proc.stdout
    assert "run budget: $0.0200 of $0.025" in proc.stdout
    assert "✗ c failed" in proc.stdout
    assert "run budget of $0.025" in proc.stdout
    assert "Traceback" not in proc.stderr

    proc = cadenza("run", str(flow), "--no-journal", "--json", cwd=tmp_path)
    summary = json.loads(proc.stdout)
    assert summary["cost"]["usd"] == pytest.approx(0.02)
    assert summary["cost"]["budgets"]["run"]["spent_usd"] == pytest.approx(0.02)
    assert summary["steps"]["a"]["cost_usd"] == pytest.approx(0.01)
    assert summary["steps"]["c"]["status"] == "failed"
