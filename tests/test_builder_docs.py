"""docs/python-workflows.md and the quickstart's Python section work: each example runs, and
each Python twin of a YAML example builds a Workflow equal to the one the YAML loads."""

from __future__ import annotations

import subprocess
import sys
import types
from pathlib import Path
from typing import Any

import pytest

import cadenza
from cadenza._load._loader import load_workflow_text
from cadenza._plugins._registry import load_plugins

from .docs_code import CodeBlock, examples
from .test_docs_examples import ENVIRON, blocks, marked

PAGE = "python-workflows.md"
PLUGINS = load_plugins(entry_points=False)
TWIN = "# Same workflow as the YAML above."
QUICKSTART_TWIN = "# Same workflow as hello.yaml above."
REFERENCE_TWIN = "# Same workflow as the reference's complete example."
SCRIPT = "# digest.py"


def run_block(block: CodeBlock, name: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Run an example as module ``name`` (so the python kind can import its functions)."""
    module = types.ModuleType(name)
    monkeypatch.setitem(sys.modules, name, module)
    exec(compile(block.text, block.id, "exec"), module.__dict__)
    return module.__dict__


def yaml_before(block: CodeBlock) -> str:
    """The ```yaml block right before ``block`` on its page."""
    before = [b for b in blocks(block.page, lang="yaml") if b.line < block.line]
    return before[-1].text


PYTHON = [
    *(b for b in examples(PAGE) if not b.text.startswith(SCRIPT)),
    *(b for b in examples("quickstart.md") if b.text.startswith((QUICKSTART_TWIN, TWIN))),
]


def test_the_page_has_twins_and_the_script() -> None:
    """The page shows YAML and Python side by side, and the script with its errors."""
    starts = [b.text.splitlines()[0] for b in examples(PAGE)]
    assert TWIN in starts
    assert REFERENCE_TWIN in starts
    assert SCRIPT in starts
    assert any(b.text.startswith(QUICKSTART_TWIN) for b in examples("quickstart.md"))


@pytest.mark.parametrize("block", PYTHON, ids=lambda b: b.id)
def test_example_runs(
    block: CodeBlock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    """Each example runs offline; a twin builds the Workflow its YAML loads."""
    monkeypatch.chdir(tmp_path)
    for name, value in ENVIRON.items():
        monkeypatch.setenv(name, value)
    name = f"docs_{Path(block.page).stem}_{block.line}"
    namespace = run_block(block, name, monkeypatch)
    first = block.text.splitlines()[0]
    if first in (TWIN, QUICKSTART_TWIN, REFERENCE_TWIN):
        if first != REFERENCE_TWIN:
            text = yaml_before(block)
        else:
            [ref] = [b for b in marked("valid") if b.page == "workflow-reference.md"][:1]
            text = ref.text
        expected = load_workflow_text(
            text, plugins=PLUGINS, base_dir=tmp_path, environ=ENVIRON
        ).workflow
        wf: cadenza.WorkflowBuilder = namespace["wf"]
        wf.base_dir = tmp_path
        assert wf.build(plugins=PLUGINS, environ=ENVIRON) == expected
    printed = capsys.readouterr().out
    for line in block.text.splitlines():  # shown results are what the example prints
        if line.lstrip().startswith("print(") and "  # " in line:
            assert line.split("  # ", 1)[1] + "\n" in printed


def test_the_shown_errors_are_what_the_script_prints(tmp_path: Path) -> None:
    """The error text on the page is the script's output, file:line:col included."""
    [script] = [b for b in examples(PAGE) if b.text.startswith(SCRIPT)]
    (tmp_path / "digest.py").write_text(script.text, encoding="utf-8")
    shown = next(b for b in blocks(PAGE, lang="text") if "digest.py:" in b.text).text
    result = subprocess.run(
        [sys.executable, "digest.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout == shown
