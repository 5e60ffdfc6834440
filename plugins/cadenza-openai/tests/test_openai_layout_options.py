"""tests_dir, scripts_dir and assembly: defaults, and bad values reported at their line."""

from __future__ import annotations

import pytest

import cadenza
from cadenza_openai._naming import FileLayout


def agent_file(*options: str) -> str:
    lines = "\n".join(f"      {o}" for o in options)
    return f"""
agents:
  writer:
    kind: openai
    options:
      model: gpt-4o-mini
      base_url: "http://127.0.0.1:9/v1"
{lines}
steps:
  write: {{uses: writer, with: {{prompt: hi}}}}
"""


def options_of(plugins: cadenza.plugins.Plugins, *options: str) -> object:
    loaded = cadenza.load_workflow_text(agent_file(*options), plugins=plugins)
    return loaded.workflow.agents["writer"].options


def test_defaults(plugins: cadenza.plugins.Plugins) -> None:
    """Unity's own folders, and a runtime assembly named Scripts."""
    options = options_of(plugins)
    assert options.layout == FileLayout(  # type: ignore[attr-defined]
        tests_dir="Assets/Tests", scripts_dir="Assets/Scripts", assembly="Scripts"
    )


def test_overrides_and_nulls(plugins: cadenza.plugins.Plugins) -> None:
    options = options_of(plugins, "tests_dir: Game/Tests/", "scripts_dir: Game", "assembly: null")
    assert options.layout == FileLayout(  # type: ignore[attr-defined]
        tests_dir="Game/Tests", scripts_dir="Game", assembly=None
    )
    assert options_of(plugins, "tests_dir: null").layout.tests_dir is None  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("option", "path", "message"),
    [
        ("tests_dir: ../Tests", "tests_dir", "expected a relative folder such as 'Assets/Tests'"),
        ("tests_dir: /abs/Tests", "tests_dir", "expected a relative folder"),
        ('scripts_dir: ""', "scripts_dir", "expected a relative folder"),
        ("scripts_dir: 'C:/Game'", "scripts_dir", "expected a relative folder"),
        ("assembly: My Game", "assembly", "expected an assembly name such as 'Game.Scripts'"),
        ("assembly: Assembly-CSharp", "assembly", "expected an assembly name"),
        ("assembly: UnityEngine.Game", "assembly", "is a name Unity uses itself"),
        ("assembly: 5", "assembly", "expected a string"),
    ],
)
def test_bad_layout_option_is_reported_at_its_line(
    plugins: cadenza.plugins.Plugins, option: str, path: str, message: str
) -> None:
    with pytest.raises(cadenza.WorkflowError) as caught:
        cadenza.load_workflow_text(agent_file(option), plugins=plugins)
    (problem,) = caught.value.problems
    assert problem.path == f"agents.writer.options.{path}"
    assert problem.location is not None
    assert problem.location.line == 8
    assert message in problem.message
    assert problem.hint
