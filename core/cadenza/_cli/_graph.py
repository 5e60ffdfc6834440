"""``cadenza graph``: draw a workflow's DAG as Mermaid or Graphviz DOT."""

from __future__ import annotations

from pathlib import Path

import click

from cadenza._graph import to_dot, to_mermaid
from cadenza._loader import load_workflow

from ._common import get_plugins, handle_errors


@click.command("graph")
@click.argument("file", type=click.Path(dir_okay=True, path_type=Path))
@click.option(
    "--workflow", "workflow_name", metavar="NAME", help="Workflow to draw, for files with several."
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["mermaid", "dot"]),
    default="mermaid",
    show_default=True,
    help="Mermaid (renders on GitHub) or Graphviz DOT (pipe to `dot -Tsvg`).",
)
@handle_errors
def graph(file: Path, workflow_name: str | None, fmt: str) -> None:
    """Print the step graph of the workflow in FILE: each step with what it uses, arrows from a
    step to the steps that need it.

    Exit codes: 0 printed, 2 invalid file, 3 plugin error.
    """
    loaded = load_workflow(file, plugins=get_plugins(), workflow=workflow_name)
    for warning in loaded.warnings:
        click.echo(warning.render(), err=True)
    render = to_dot if fmt == "dot" else to_mermaid
    click.echo(render(loaded.workflow), nl=False)
