"""``cadenza validate`` refuses what ``cadenza run`` refuses before a first step (issue 18).

A corpus of files, each refused at run start: both commands exit 2 with the
same problem lines (file:line, message, hint). A scan of the scheduler keeps
the corpus complete: every place the runner refuses a workflow before its
first step uses a check the loader makes too (``_plugins._start_checks``).
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import cadenza
from cadenza._cli import _add_builtin_commands, cli
from cadenza._cli._common import CliState

SCHEDULER = Path(cadenza.__file__).parent / "_scheduler"
SHARED = ("WorkflowError", "too_many_at_once", "make_agents")
"""What the runner refuses a workflow with, and the shared checks it calls."""


class Hollow:
    """What a broken factory returns: no ``run()``, so not an agent."""

    def __repr__(self) -> str:
        return "Hollow()"


class Kinds:
    """Agent kinds whose factories refuse: the kind of refusal only a run used to find."""

    @cadenza.hookimpl
    def cadenza_agent_kinds(self, register: Any) -> None:
        def picky(config: Any) -> Any:
            raise ValueError("picky agents need options.model")

        register("picky", picky)
        register("hollow", lambda config: Hollow())


THREE = """agents:
  a: {kind: template, capabilities: [work]}
  b: {kind: template, capabilities: [work]}
  c: {kind: template, capabilities: [work]}
"""

CORPUS = {
    "fan-out-over-concurrency": "concurrency: 2\n"
    + THREE
    + "steps:\n  vote: {uses: work, agents: 3}\n",
    "named-fan-out-over-concurrency": "concurrency: 1\n"
    + THREE
    + "steps:\n  vote: {uses: work, agents: [a, b]}\n",
    "factory-raises": "agents:\n  p: {kind: picky}\nsteps:\n  s: {uses: p}\n",
    "factory-returns-no-agent": "agents:\n  h: {kind: hollow}\nsteps:\n  s: {uses: h}\n",
}
"""File name -> text of a workflow the run refuses before its first step."""

EXPECTED = {
    "fan-out-over-concurrency": "asks 3 agents at once but the workflow's concurrency is 2",
    "named-fan-out-over-concurrency": "asks 2 agents at once but the workflow's concurrency is 1",
    "factory-raises": "could not be created: picky agents need options.model",
    "factory-returns-no-agent": "agent 'h' (kind hollow) could not be created",
}


def _invoke(*args: str) -> Any:
    _add_builtin_commands()
    state = CliState(plugins=cadenza.plugins.load_plugins(extra=[Kinds()], entry_points=False))
    return CliRunner().invoke(cli, list(args), obj=state)


def _problem_lines(output: str, path: Path) -> list[str]:
    """The lines naming a problem (file:line: ...) and their hints, without the summary."""
    return [line for line in output.splitlines() if line.startswith(("  ", str(path) + ":"))]


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_validate_and_run_refuse_alike(name: str, tmp_path: Path) -> None:
    """Both exit 2 with the same located problem; the run starts no step."""
    path = tmp_path / f"{name}.yaml"
    path.write_text(CORPUS[name], encoding="utf-8")
    checked = _invoke("validate", str(path))
    ran = _invoke("run", str(path), "--no-journal", "--no-progress")
    assert checked.exit_code == 2, checked.output
    assert ran.exit_code == 2, ran.output
    problems = [line for line in _problem_lines(checked.output, path) if "invalid (" not in line]
    assert problems, checked.output
    assert EXPECTED[name] in problems[0]
    assert problems[0].startswith(f"{path}:")  # file:line:col
    assert problems == _problem_lines(ran.output, path)
    assert "Traceback" not in checked.output + ran.output


def test_a_hedging_aggregator_needs_one_slot(tmp_path: Path) -> None:
    """agents: 3 with a hedging aggregator asks one agent at a time: valid, and it runs."""
    path = tmp_path / "hedged.yaml"
    path.write_text(
        "concurrency: 1\n" + THREE + "steps:\n  s: {uses: work, agents: 3, aggregate: hedged}\n",
        encoding="utf-8",
    )
    assert _invoke("validate", str(path)).exit_code == 0
    ran = _invoke("run", str(path), "--no-journal", "--no-progress")
    assert ran.exit_code == 0, ran.output


def _refusals(tree: ast.AST) -> set[str]:
    """Functions that raise ``WorkflowError`` or fail a step with a start-time check's message."""
    found: set[str] = set()
    for func in ast.walk(tree):
        if not isinstance(func, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        for node in ast.walk(func):
            called = node.func if isinstance(node, ast.Call) else None
            if isinstance(called, ast.Name) and called.id in SHARED:
                found.add(f"{func.name}:{called.id}")
    return found


def test_every_start_time_refusal_of_the_runner_is_a_loader_check() -> None:
    """The runner's refusals before a first step are the shared checks, nothing else.

    A new ``WorkflowError`` in the scheduler must either use a check of
    ``_plugins._start_checks`` that the loader makes too (and get a corpus
    file above), or be listed here with the reason validate cannot make it.
    """
    found = {
        f"{path.stem}.{name}"
        for path in sorted(SCHEDULER.glob("*.py"))
        for name in _refusals(ast.parse(path.read_text(encoding="utf-8")))
    }
    assert found == {
        "_runner._make_agents:make_agents",  # the loader builds every agent too
        "_runner._make_agents:WorkflowError",
        "_run._start_ready:too_many_at_once",  # the loader refuses it at steps.<id>.agents
        # The loader calls each executor's factory (_load/_executors.py):
        "_executors._build:WorkflowError",
    }
