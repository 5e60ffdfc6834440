"""``cadenza graph``: Mermaid and DOT output, workflow selection, bad input."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from cadenza._cli._common import CliState
from cadenza._cli._graph_cmd import graph
from cadenza._plugins._registry import load_plugins

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(__file__).resolve().parent / "data"
REPORT = DATA / "workflows" / "report.yaml"
TWO = DATA / "workflows" / "two_workflows.yaml"


def invoke(*args: str) -> tuple[int, str, str]:
    """Run the graph command in-process with the built-in plugins only."""
    state = CliState(plugins=load_plugins(entry_points=False))
    result = CliRunner().invoke(graph, list(args), obj=state)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.stdout, result.stderr


def test_mermaid_is_the_default() -> None:
    """Without --format the graph is a Mermaid flowchart with uses and when."""
    code, out, err = invoke(str(REPORT))
    assert code == 0
    assert err == ""
    assert out == (
        "flowchart TD\n"
        '    s0["outline<br/>uses: writer"]\n'
        '    s1["draft<br/>uses: text"]\n'
        '    s2["publish<br/>uses: writer<br/>when: inputs.publish"]\n'
        "    s0 --> s1\n"
        "    s1 --> s2\n"
    )


def test_dot_format() -> None:
    """--format dot prints a Graphviz digraph named after the workflow."""
    code, out, _ = invoke(str(REPORT), "--format", "dot")
    assert code == 0
    assert out.startswith('digraph "report" {\n')
    assert '    "outline" -> "draft";\n' in out
    assert '    "draft" [label="draft\\nuses: text"];\n' in out
    assert out.endswith("}\n")


def test_several_workflows_need_workflow_option() -> None:
    """A file with several workflows needs --workflow; with it, that one is drawn."""
    code, out, err = invoke(str(TWO))
    assert code == 2
    assert f"{TWO}:7:1: workflows: this file has 2 workflows: build, release" in err
    assert "Pick one with --workflow NAME." in err
    code, out, err = invoke(str(TWO), "--workflow", "build")
    assert code == 0
    assert '["generate<br/>uses: code_generator"]' in out
    assert "warning:" in err  # documentation has no agent: still drawn, with the warning


def test_invalid_file_exits_2() -> None:
    """An invalid file prints its problems and exits 2."""
    code, out, err = invoke(str(DATA / "bad" / "cycle.yaml"))
    assert code == 2
    assert out == ""
    assert "steps form a cycle: a -> c -> b -> a" in err


def test_unknown_format_is_a_usage_error() -> None:
    """--format accepts mermaid, dot, svg and html, and names them when given another."""
    code, _, err = invoke(str(REPORT), "--format", "png")
    assert code == 2
    assert "'png' is not one of 'mermaid', 'dot', 'svg', 'html'" in err


@pytest.mark.slow
def test_graph_end_to_end() -> None:
    """`python -m cadenza graph` prints the graph on stdout and exits 0."""
    proc = subprocess.run(
        [sys.executable, "-m", "cadenza", "graph", str(REPORT), "--format", "dot"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith('digraph "report" {')


def test_graph_needs_no_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    """The seed file draws with its variables unset: they are warnings, as in validate."""
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("ASSET_OPTIMIZER_KEY", raising=False)
    code, out, err = invoke(str(ROOT / "examples" / "seed" / "ai_workflow_config.yaml"))
    assert code == 0, err
    assert out.startswith("flowchart TD\n")
    assert "warning: agents[0].api_key: environment variable OPENAI_API_KEY is not set" in err
