"""A 2,000-item ``for_each`` step stays readable: status, runs, cancel, progress, report."""

from __future__ import annotations

import io
import json
import os
import socket
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner
from rich.console import Console

from cadenza._cli._cancel_cmd import finish_stopped_run
from cadenza._cli._common import CliState
from cadenza._cli._progress import Progress, summary_text
from cadenza._cli._report_cmd import render_report
from cadenza._cli._runs_cmd import runs
from cadenza._cli._status_cmd import render_status, status
from cadenza._insight._report import build_report
from cadenza._journal._readback import step_counts, step_states
from cadenza._journal._sqlite import SqliteStore
from cadenza._journal._store import RunRecord, WriteBatch
from cadenza._plugins._registry import load_plugins
from cadenza.testing import CapturedRun

from .mapped_helpers import mapped_run, mapped_workflow

ITEMS = 2000
FAILING = (3, 17, 42, 99, 500, 600, 700)


@pytest.fixture(scope="module")
def journal(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, CapturedRun]:
    """One journaled run: plan, a 2,000-item build with 7 failed items, review skipped."""
    url = str(tmp_path_factory.mktemp("mapped") / "journal.db")
    return url, mapped_run(url, items=ITEMS, failing=FAILING)


def invoke(command: click.Command, *args: str) -> tuple[int, str, str]:
    state = CliState(plugins=load_plugins(entry_points=False))
    result = CliRunner().invoke(command, list(args), obj=state)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.stdout, result.stderr


def events_of(url: str, run_id: str) -> list[dict[str, Any]]:
    store = SqliteStore(url)
    try:
        return store.read_events(run_id)
    finally:
        store.close()


def halfway(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The events up to the moment half the items had ended and the next one started."""
    ended = 0
    for n, e in enumerate(events):
        if e["kind"] in ("step_succeeded", "step_failed") and str(e["step_id"]).startswith("b"):
            ended += 1
        if ended == ITEMS // 2 and e["kind"] == "attempt_started":
            return events[: n + 1]
    raise AssertionError("the run ended fewer items than expected")


def test_status_shows_a_mapped_step_as_one_row_with_its_item_counts(
    journal: tuple[str, CapturedRun],
) -> None:
    """status prints one row for the 2,000-item step and names its first failed items."""
    url, run = journal
    code, out, _ = invoke(status, run.result.run_id, "--store", url)
    assert code == 0
    lines = out.splitlines()
    assert len(lines) < 30, out
    (build,) = [line for line in lines if line.startswith("build ")]
    assert "2,000/2,000 items done (7 failed)" in build
    assert build.split()[2] == str(ITEMS), "the step's attempts are its items' attempts"
    assert "7 of 2,000 items failed" in out
    for index in FAILING[:5]:
        assert f"build[{index}]" in out
        assert f"cannot compile src/f{index}.py" in out
    assert "build[600]" not in out
    assert "and 2 more" in out
    assert "--items build" in out
    assert "build[1000]" not in out


def test_status_items_flag_and_json_list_every_item(journal: tuple[str, CapturedRun]) -> None:
    """--items STEP lists all 2,000 items; --json keeps steps bounded and puts items apart."""
    url, run = journal
    code, out, _ = invoke(status, run.result.run_id, "--store", url, "--items", "build")
    assert code == 0
    assert sum(1 for line in out.splitlines() if line.lstrip().startswith("build[")) >= ITEMS
    code, out, _ = invoke(status, run.result.run_id, "--store", url, "--json")
    data = json.loads(out)
    assert list(data["steps"]) == ["plan", "build", "review"]
    tally = data["steps"]["build"]["items"]
    assert (tally["total"], tally["succeeded"], tally["failed"]) == (ITEMS, ITEMS - 7, 7)
    assert tally["failed_items"] == [f"build[{i}]" for i in FAILING]
    assert len(data["items"]["build"]) == ITEMS
    assert data["steps"]["plan"]["items"] is None
    assert data["counts"] == {"succeeded": 1, "failed": 1, "skipped": 1, "cancelled": 0}


def test_status_items_of_a_step_that_did_not_map_is_a_clear_error(
    journal: tuple[str, CapturedRun],
) -> None:
    """--items naming a plain step exits 2 and names the steps that have items."""
    url, run = journal
    code, _, err = invoke(status, run.result.run_id, "--store", url, "--items", "plan")
    assert code == 2
    assert "'plan' is no for_each step" in err
    assert "for_each steps with items: build" in err


def test_status_of_a_run_in_progress_counts_items_in_flight(
    journal: tuple[str, CapturedRun],
) -> None:
    """Halfway through, the step's row says how many items are done, and runs count 3 steps."""
    url, run = journal
    events = halfway(events_of(url, run.result.run_id))
    steps = step_states(events)
    record = RunRecord(run_id=run.result.run_id, workflow="mapped", started_at=events[0]["at"])
    text = render_status(record, "running", steps, now=events[-1]["at"])
    (build,) = [line for line in text.splitlines() if line.startswith("build ")]
    assert "1,000/2,000 items done" in build
    assert "in flight" in build
    assert len(text.splitlines()) < 30
    counts = step_counts(steps)
    assert sum(counts.values()) == 3
    assert counts["running"] == 1


def test_runs_counts_a_mapped_step_once(journal: tuple[str, CapturedRun]) -> None:
    """cadenza runs shows the run's three steps, not 2,002."""
    url, _ = journal
    code, out, _ = invoke(runs, "--store", url)
    assert code == 0
    assert "1 ok, 1 failed, 1 skipped" in out


def test_cancel_of_a_dead_run_counts_a_mapped_step_once(
    journal: tuple[str, CapturedRun], tmp_path: Path
) -> None:
    """Finishing a dead run cancels its unfinished items, and counts the steps of the workflow."""
    url, run = journal
    events = halfway(events_of(url, run.result.run_id))
    record = RunRecord(
        run_id="dead", workflow="mapped", started_at=events[0]["at"], pid=os.getpid(),
        host=socket.gethostname(),
    )  # fmt: skip
    store = SqliteStore(str(tmp_path / "dead.db"))
    try:
        store.write(WriteBatch(events=[e | {"run_id": "dead"} for e in events], runs=[record]))
        finished = finish_stopped_run(store, record)
        after = store.read_events("dead")
    finally:
        store.close()
    assert finished.counts == {"succeeded": 1, "failed": 0, "skipped": 0, "cancelled": 2}
    cancelled = {e["step_id"] for e in after if e["kind"] == "step_cancelled"}
    assert {"build", "review"} <= cancelled
    assert any(sid.startswith("build[") for sid in cancelled), "in-flight items end too"


def test_progress_keeps_one_row_per_step_and_few_lines(journal: tuple[str, CapturedRun]) -> None:
    """Plain progress prints the expansion, the first failed items and tenths, not 2,000 lines."""
    _, run = journal
    out = io.StringIO()
    console = Console(file=out, width=200, force_terminal=False)
    progress = Progress(workflow=mapped_workflow(), console=console, live=False)
    for event in run.events:
        progress.observe(event)
    lines = out.getvalue().splitlines()
    assert len(lines) < 30, out.getvalue()
    assert any("▶ build: 2,000 items" in line for line in lines)
    assert sum("✗ build[" in line for line in lines) == 5
    assert any("1,000/2,000 items done" in line for line in lines)
    assert list(progress.rows) == ["plan", "build", "review"]
    build = progress.rows["build"]
    assert build.note.startswith("7 of 2000 items failed")
    assert build.attempts == ITEMS
    assert build.items is not None
    assert build.items.tally().text() == ("2,000/2,000 items done (7 failed)")
    table = io.StringIO()
    Console(file=table, width=200).print(progress.render())
    assert "build[0]" not in table.getvalue()
    assert "build[1999]" not in table.getvalue()
    assert len(table.getvalue().splitlines()) == 5  # header line, column titles, three steps


def test_run_summary_counts_items_in_one_line(journal: tuple[str, CapturedRun]) -> None:
    """The summary after a run gives the mapped step one line with its items' outcomes."""
    _, run = journal
    text = summary_text(run.result, mapped_workflow())
    assert "▤ build: 2,000 items (1,993 succeeded, 7 failed)" in text
    assert "2 succeeded" not in text.splitlines()[0]
    assert len(text.splitlines()) < 10


def test_report_folds_items_into_their_step(journal: tuple[str, CapturedRun]) -> None:
    """The report has three step rows; build spans its items, and agents count every call."""
    url, run = journal
    report = build_report(events_of(url, run.result.run_id))
    assert list(report.steps) == ["plan", "build", "review"]
    build = report.steps["build"]
    assert (build.items, build.attempts, build.failed_attempts) == (ITEMS, ITEMS, 7)
    assert build.item_counts == {
        "succeeded": ITEMS - 7, "failed": 7, "skipped": 0, "cancelled": 0, "unfinished": 0,
    }  # fmt: skip
    assert build.failed_items == [f"build[{i}]" for i in FAILING]
    total = build.total
    assert total is not None
    assert build.run_time <= total + 1e-9
    assert abs(build.run_time + build.queue_wait - total) < 1e-6
    assert [e.step_id for e in report.critical_path] == ["plan", "build"]
    assert report.agents["coder"].calls == ITEMS
    assert report.agents["coder"].failures == 7
    text = render_report(report)
    assert "build[" not in text.replace("build[3], build[17], build[42] and 4 more", "")
    assert len(text.splitlines()) < 40


def test_report_of_a_run_in_progress_counts_unfinished_items(
    journal: tuple[str, CapturedRun],
) -> None:
    """Halfway, the mapped step's row counts the items not yet ended as unfinished."""
    url, run = journal
    report = build_report(halfway(events_of(url, run.result.run_id)))
    build = report.steps["build"]
    assert build.items == ITEMS
    assert build.item_counts is not None
    assert build.item_counts["unfinished"] == ITEMS - ITEMS // 2
    assert sum(build.item_counts.values()) == ITEMS


def test_progress_of_a_resumed_run_counts_restored_items_apart() -> None:
    """A resume that keeps 1,000 items says so once, and the step's row starts from them."""
    from cadenza import _events as ev

    out = io.StringIO()
    progress = Progress(
        workflow=mapped_workflow(), console=Console(file=out, width=200), live=False
    )
    kept = ("plan", *(f"build[{i}]" for i in range(1000)))
    resumed = ev.RunResumed(
        run_id="r", seq=0, at=0.0, workflow="mapped", source_hash="", restored=kept,
        rerun=("build", "review"),
    )  # fmt: skip
    progress.observe(resumed)
    mapped = ev.StepMapped(run_id="r", seq=1, at=0.0, step_id="build", items=ITEMS, restored=1000)
    progress.observe(mapped)
    text = out.getvalue()
    assert "1 steps restored (and 1,000 items of for_each steps), 2 to run" in text
    assert "▶ build: 2,000 items, 1,000 restored" in text
    assert progress.rows["build"].note == "1,000/2,000 items done"
