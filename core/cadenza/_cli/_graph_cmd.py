"""``cadenza graph``: draw a workflow's DAG as Mermaid, Graphviz DOT, SVG or an HTML page."""

from __future__ import annotations

from pathlib import Path
from typing import Literal, cast

import click

from cadenza._graph._dag import to_dot, to_mermaid
from cadenza._graph._svg import Engine, render_html, render_svg
from cadenza._load._loader import load_workflow

from ._common import get_plugins, handle_errors


@click.command("graph")
@click.argument("file", type=click.Path(dir_okay=True, path_type=Path))
@click.option(
    "--workflow", "workflow_name", metavar="NAME", help="Workflow to draw, for files with several."
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["mermaid", "dot", "svg", "html"]),
    default="mermaid",
    show_default=True,
    help="Mermaid (renders on GitHub), Graphviz DOT, an SVG image, or a self-contained HTML page.",
)
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="Write to this file instead of stdout.",
)
@click.option(
    "--engine",
    type=click.Choice(["auto", "graphviz", "builtin"]),
    default="auto",
    show_default=True,
    help="Who draws svg/html: Graphviz's `dot` (auto: when on PATH) or the built-in renderer.",
)
@click.option(
    "--direction",
    type=click.Choice(["TB", "LR"]),
    default="TB",
    show_default=True,
    help="Needs above their steps (TB) or to their left (LR).",
)
@handle_errors
def graph(
    file: Path,
    workflow_name: str | None,
    fmt: str,
    output: Path | None,
    engine: str,
    direction: str,
) -> None:
    """Print the step graph of the workflow in FILE: each step with what it uses, arrows from a
    step to the steps that need it.

    Exit codes: 0 printed, 2 invalid file (or Graphviz failed with --engine graphviz),
    3 plugin error.
    """
    # Drawing runs nothing, so it needs no secrets: an unset ${NAME} is only a warning.
    loaded = load_workflow(
        file, plugins=get_plugins(), workflow=workflow_name, missing_env="warning"
    )
    for warning in loaded.warnings:
        click.echo(warning.render(), err=True)
    workflow = loaded.workflow
    way = cast("Literal['TB', 'LR']", direction)
    how = cast("Engine", engine)
    if fmt == "dot":
        text = to_dot(workflow, direction=way)
    elif fmt == "mermaid":
        text = to_mermaid(workflow, direction=way)
    else:
        render = render_svg if fmt == "svg" else render_html
        drawn = render(workflow, engine=how, direction=way)
        for message in drawn.warnings:
            click.echo(message, err=True)
        text = drawn.text
    if output is None:
        click.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8", newline="\n")
