"""``cadenza validate``: check a workflow file and report every problem at once."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from cadenza._load._loader import FileReport, check_workflow_file
from cadenza._problems import Problem
from cadenza._spec._executors import DEFAULT_EXECUTOR

from ._common import echo_json, get_plugins, handle_errors
from ._exit import ExitCode


def problem_to_dict(problem: Problem) -> dict[str, Any]:
    """A problem as JSON-ready data (``file``/``line``/``column`` are null without a location)."""
    loc = problem.location
    return {
        "severity": problem.severity,
        "file": loc.file if loc else None,
        "line": loc.line if loc else None,
        "column": loc.column if loc else None,
        "path": problem.path,
        "message": problem.message,
        "hint": problem.hint,
    }


def _summary(report: FileReport) -> str:
    parts = [
        f"workflow {wf.name}: {len(wf.steps)} step{'s' if len(wf.steps) != 1 else ''}, "
        f"{len(wf.agents)} agent{'s' if len(wf.agents) != 1 else ''}"
        for wf in report.workflows
    ]
    return "; ".join(parts)


def _off_local(report: FileReport) -> list[str]:
    """A line per workflow whose agents run off the local executor: ``a, b on process``."""
    lines = []
    for wf in report.workflows:
        by_executor: dict[str, list[str]] = {}
        for name, config in wf.agents.items():
            if config.executor != DEFAULT_EXECUTOR:
                by_executor.setdefault(config.executor, []).append(name)
        if by_executor:
            groups = [f"{', '.join(names)} on {ex}" for ex, names in sorted(by_executor.items())]
            lines.append(f"  workflow {wf.name}, executors: {'; '.join(groups)}")
    return lines


@click.command("validate")
@click.argument("file", type=click.Path(dir_okay=True, path_type=Path))
@click.option(
    "--workflow", "workflow_name", metavar="NAME", help="Check only this workflow of the file."
)
@click.option("--json", "as_json", is_flag=True, help="Print {valid, problems} as JSON on stdout.")
@handle_errors
def validate(file: Path, workflow_name: str | None, as_json: bool) -> None:
    """Check the workflow file FILE without running anything.

    Every problem is reported at once, as file:line:col, the path of the value,
    what is wrong and how to fix it. A file with several workflows is checked
    whole unless --workflow picks one. Exit codes: 0 valid (warnings may be
    printed), 2 invalid, 3 plugin error.
    """
    report = check_workflow_file(file, plugins=get_plugins(), workflow=workflow_name)
    if as_json:
        echo_json(
            {
                "valid": report.valid,
                "file": str(file),
                "workflows": [
                    {
                        "name": wf.name,
                        "steps": len(wf.steps),
                        "agents": len(wf.agents),
                        "executors": {n: a.executor for n, a in wf.agents.items()},
                    }
                    for wf in report.workflows
                ],
                "problems": [problem_to_dict(p) for p in report.problems],
            }
        )
        if not report.valid:
            sys.exit(int(ExitCode.BAD_INPUT))
        return
    for problem in report.problems:
        click.echo(problem.render(), err=True)
    if not report.valid:
        errors = sum(p.severity == "error" for p in report.problems)
        warnings = len(report.problems) - errors
        tail = f", {warnings} warning{'s' if warnings != 1 else ''}" if warnings else ""
        click.echo(f"{file}: invalid ({errors} error{'s' if errors != 1 else ''}{tail})", err=True)
        sys.exit(int(ExitCode.BAD_INPUT))
    click.echo(f"{file}: ok ({_summary(report)})")
    for line in _off_local(report):
        click.echo(line)
