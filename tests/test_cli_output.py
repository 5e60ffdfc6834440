"""What ``cadenza run`` shows: progress lines, the live header, the summary, log lines, --set.

In-process: the progress display is fed events directly, the summary is built
from a ``RunResult``, the log is configured onto a string buffer, and the
``run`` command is invoked with click's runner. The subprocess checks of the
same behaviours are in test_cli_run.py.
"""

from __future__ import annotations

import io
import json
import logging
import re
import textwrap
from pathlib import Path
from typing import Any

import pytest
import structlog
from click.testing import CliRunner
from rich.console import Console

from cadenza import _events as ev
from cadenza._cli._common import CliState
from cadenza._cli._console import PlainConsole, stderr_console
from cadenza._cli._progress import Progress, summary_text
from cadenza._cli._run_cmd import run
from cadenza._journal._sqlite import SqliteStore
from cadenza._logging import configure_logging
from cadenza._plugins._registry import load_plugins
from cadenza._spec._outcome import RunResult, StepOutcome
from tests.scheduler_helpers import make_workflow

RUN_ID = "20261122-000000-abcdef"


class Feed:
    """Sends events to a progress display with consecutive ``seq`` numbers."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.seq = 0

    def __call__(self, cls: type[ev.Event], **fields: Any) -> Feed:
        self.progress.observe(cls(run_id=RUN_ID, seq=self.seq, at=0.0, **fields))
        self.seq += 1
        return self


def progress_of(steps: tuple[str, ...], *, live: bool) -> tuple[Progress, io.StringIO]:
    out = io.StringIO()
    console = Console(file=out, width=200, color_system=None, force_terminal=False)
    workflow = make_workflow({s: {} for s in steps})
    return Progress(workflow=workflow, console=console, live=live), out


def interrupted(progress: Progress) -> None:
    """Two steps in flight and one pending, then Ctrl-C cancels all three."""
    feed = Feed(progress)
    feed(ev.RunStarted, workflow="wf", source="", source_hash="h", inputs={}, steps=("a", "b", "c"))
    for step_id in ("a", "b"):
        feed(ev.StepReady, step_id=step_id)(
            ev.AttemptStarted, step_id=step_id, attempt=1, agent="t", idempotency_key="k",
            queue_wait=0.0,
        )  # fmt: skip
    for step_id in ("a", "b", "c"):
        feed(
            ev.StepCancelled,
            step_id=step_id,
            reason="interrupted by SIGINT",
            in_flight=step_id != "c",
        )


def rendered(renderable: Any) -> str:
    console = Console(file=io.StringIO(), width=200, color_system=None, record=True)
    console.print(renderable)
    return console.export_text()


def test_live_header_counts_cancelled_steps() -> None:
    """After Ctrl-C the live table's header says how many steps were cancelled."""
    progress, _ = progress_of(("a", "b", "c"), live=True)
    interrupted(progress)
    header = rendered(progress.render()).splitlines()[0]
    assert "■ 3 cancelled" in header


def test_plain_progress_prints_a_line_per_cancelled_step() -> None:
    """Without a terminal, each cancelled step gets its own line, with its agent if it ran."""
    progress, out = progress_of(("a", "b", "c"), live=False)
    interrupted(progress)
    lines = [line.split("] ", 1)[1] for line in out.getvalue().splitlines()]
    cancelled = [line for line in lines if line.startswith("■")]
    assert len(cancelled) == 3
    assert re.fullmatch(r"■ a \[t\] in \d+\.\d\ds: interrupted by SIGINT", cancelled[0])
    assert cancelled[2] == "■ c: interrupted by SIGINT"


@pytest.mark.parametrize(
    "text",
    [
        "✓ leaf0063 [noop] in 0.00s",
        "✓ 中文 [noop] in 0.00s" + " wide" * 60,
        "✗ bell\x07 and \r and \x1b[31mcolour\x1b[0m [noop]",
        "[bold]not markup[/bold] 'quoted' 1.5 http//x",
        "✗ a [t] in 0.10s: ValueError: :warning: and\ttab",
    ],
)
def test_plain_lines_are_what_rich_would_print(text: str) -> None:
    """Plain progress lines skip rich's rendering but come out exactly as rich prints them."""
    progress, out = progress_of(("a",), live=False)
    progress._line(text)
    expected, _ = progress_of(("a",), live=False)
    expected.started = progress.started
    expected.console.print(
        f"[{progress.elapsed():7.2f}s] {text}", markup=False, highlight=False, soft_wrap=True
    )
    got = out.getvalue()
    assert got.split("] ", 1)[1] == expected.console.file.getvalue().split("] ", 1)[1]


@pytest.mark.parametrize(
    "text",
    [
        "✓ leaf0063 [noop] in 0.00s",
        "✗ bell\x07 and \r and \x1b[31mcolour\x1b[0m [noop]",
        "✗ a [t] in 0.10s: ValueError: :warning: and\ttab",
    ],
)
def test_plain_console_prints_lines_as_rich_does(text: str) -> None:
    """Without a terminal the display writes through PlainConsole, with rich's output."""
    progress, rich_out = progress_of(("a",), live=False)
    plain_out = io.StringIO()
    plain = Progress(workflow=progress.workflow, console=PlainConsole(plain_out), live=False)
    plain.started = progress.started
    progress._line(text)
    plain._line(text)
    assert plain_out.getvalue().split("] ", 1)[1] == rich_out.getvalue().split("] ", 1)[1]


def test_stderr_console_is_plain_for_a_pipe(monkeypatch: pytest.MonkeyPatch) -> None:
    """stderr that is not a terminal gets a PlainConsole; FORCE_COLOR gets rich's console."""
    monkeypatch.delenv("TTY_COMPATIBLE", raising=False)
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    monkeypatch.setattr("sys.stderr", io.StringIO())
    assert isinstance(stderr_console(), PlainConsole)
    monkeypatch.setenv("FORCE_COLOR", "1")
    assert isinstance(stderr_console(), Console)


def degraded(step_id: str, reason: str) -> StepOutcome:
    return StepOutcome(
        step_id=step_id,
        status="succeeded",
        output=f"stub {step_id}",
        attempts=1,
        agent="coder",
        degraded=True,
        source="fallback stub",
        reason=reason,
    )


def test_summary_gives_a_shared_degraded_reason_once() -> None:
    """Steps degraded for the same reason: the reason is printed once, then referred to."""
    why = "openai agent 'coder': no API key for https://api.openai.com/v1 (api_key is empty)"
    steps = {
        "code": degraded("code", why),
        "tests": degraded("tests", why),
        "docs": degraded("docs", "docgen agent 'd': timed out"),
    }
    result = RunResult(run_id=RUN_ID, workflow="wf", status="succeeded", steps=steps, duration=1.0)
    text = summary_text(result, make_workflow({s: {} for s in steps}))
    assert text.count(why) == 1
    assert f"⚠ code degraded: fallback stub, because {why}" in text
    assert "⚠ tests degraded: fallback stub, for the same reason as code" in text
    assert "⚠ docs degraded: fallback stub, because docgen agent 'd': timed out" in text


def test_log_lines_are_human() -> None:
    """Seconds read 0.12s, other floats are rounded, None fields are left out."""
    out = io.StringIO()
    configure_logging(level=logging.WARNING, stream=out)
    structlog.get_logger().warning(
        "attempt_failed",
        step_id="a",
        duration=0.00011435300257289782,
        retry_in=None,
        queue_wait=12.3456789,
        cost_usd=0.012345678901234567,
    )
    line = out.getvalue().strip()
    assert re.fullmatch(r"\d\d:\d\d:\d\d \[warning\] attempt_failed .*", line), line
    assert "duration=0.00s" in line
    assert "queue_wait=12.3s" in line
    assert "cost_usd=0.0123" in line
    assert "retry_in" not in line
    assert not re.search(r"\d\.\d{6,}", line)


# -- --set values against the input's type -------------------------------------------


FLOW = textwrap.dedent(
    """\
    name: typed
    inputs:
      publish: false
      count: {default: 3, description: how many}
      ratio: 0.5
      topic: trio
    agents:
      t: {kind: template, options: {output: "about {topic}"}}
    steps:
      draft: {uses: t, with: {topic: "${{ inputs.topic }}"}}
      post: {uses: t, needs: [draft], when: inputs.publish, with: {topic: x}}
    """
)


def invoke_run(tmp_path: Path, *args: str) -> tuple[int, str, str]:
    flow = tmp_path / "typed.yaml"
    flow.write_text(FLOW)
    state = CliState(plugins=load_plugins(entry_points=False))
    url = f"sqlite:///{tmp_path / 'journal.db'}"
    result = CliRunner().invoke(run, [str(flow), "--store", url, "--no-progress", *args], obj=state)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.stdout, result.stderr


def test_set_of_the_wrong_type_is_refused_before_the_run(tmp_path: Path) -> None:
    """--set publish=1 for a boolean input: exit 2 naming input, type, value and fix; no run."""
    code, out, err = invoke_run(tmp_path, "--set", "publish=1")
    assert code == 2, err
    assert out == ""
    assert f"{tmp_path / 'typed.yaml'}:3:12: --set publish: input 'publish' is a boolean" in err
    assert "(its default is false), but the value '1' is an integer" in err
    assert "Pass --set publish=true or --set publish=false." in err
    assert not (tmp_path / "journal.db").exists()  # nothing ran, nothing was journaled


def test_every_mistyped_set_is_reported_at_once(tmp_path: Path) -> None:
    """Integer and number inputs are checked too, and all problems come in one message."""
    code, _, err = invoke_run(tmp_path, "--set", "count=2.5", "--set", "ratio=yes")
    assert code == 2
    assert "input 'count' is an integer (its default is 3), but the value '2.5'" in err
    assert "Pass a whole number, e.g. --set count=3." in err
    assert "input 'ratio' is a number (its default is 0.5), but the value 'yes' is a boolean" in err


@pytest.mark.parametrize(
    ("setting", "expected"),
    [("publish=true", True), ("count=7", 7), ("ratio=2", 2.0), ("topic=42", "42")],
)
def test_set_values_that_fit_are_taken_as_the_inputs_type(
    tmp_path: Path, setting: str, expected: Any
) -> None:
    """A value of the input's type runs; an integer for a number input and any text for a
    string input are converted, so a string input set to 42 is the text '42'."""
    code, out, err = invoke_run(tmp_path, "--set", setting, "--json")
    assert code == 0, err
    name = setting.split("=")[0]
    assert json.loads(out)["status"] == "succeeded"
    store = SqliteStore(f"sqlite:///{tmp_path / 'journal.db'}")
    try:
        (record,) = store.list_runs()
    finally:
        store.close()
    assert record.inputs[name] == expected
    assert type(record.inputs[name]) is type(expected)
