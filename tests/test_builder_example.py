"""examples/python_workflow/digest.py: a workflow written in Python runs offline, as documented."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import attrs
import pytest

import cadenza
from cadenza._plugins._registry import load_plugins

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "python_workflow" / "digest.py"
PLUGINS = load_plugins(entry_points=False)


@pytest.fixture
def example(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """The example imported as a module (its functions then import by that module's name)."""
    spec = importlib.util.spec_from_file_location("python_workflow_digest", EXAMPLE)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def notes(tmp_path: Path) -> Path:
    (tmp_path / "a.md").write_text("Trio is nice.\nMore trio.\nUnrelated.\n", encoding="utf-8")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.md").write_text("About TRIO once.\n", encoding="utf-8")
    (tmp_path / "c.md").write_text("Nothing here.\n", encoding="utf-8")
    return tmp_path


def test_the_digest_ranks_the_files_that_mention_the_topic(
    example: ModuleType, notes: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """main() runs the workflow with cadenza.run and prints the Markdown digest."""
    assert example.main(["trio", "--root", str(notes), "--top", "5"]) == 0
    assert capsys.readouterr().out == (
        "# What the docs say about trio\n\n2 files mention it; the most:\n\n"
        "- **a.md** (2): Trio is nice.\n"
        "- **sub/b.md** (1): About TRIO once.\n"
    )


def test_no_match_skips_rank_and_still_writes(example: ModuleType, notes: Path) -> None:
    """rank's when: is false without matches; write runs anyway (if_needs_skipped: run)."""
    result = cadenza.run(
        example.digest(), inputs={"topic": "asyncio", "root": str(notes)}, plugins=PLUGINS
    )
    assert result.steps["rank"].status == "skipped"
    assert (
        result.steps["write"].output
        == "# What the docs say about asyncio\n\nNo file mentions it.\n"
    )


def test_its_yaml_form_loads_as_the_same_workflow(example: ModuleType, tmp_path: Path) -> None:
    """The example's to_yaml() is a valid workflow file, equal to the builder's workflow."""
    wf = example.digest()
    path = tmp_path / "digest.yaml"
    path.write_text(wf.to_yaml(), encoding="utf-8")
    plugins = PLUGINS
    loaded = cadenza.load_workflow(path, plugins=plugins).workflow
    built = wf.build(plugins=plugins)
    assert loaded.steps == built.steps
    assert loaded.inputs == built.inputs
    assert loaded == attrs_evolve_base_dir(built, path.parent)


def attrs_evolve_base_dir(workflow: cadenza.Workflow, base_dir: Path) -> cadenza.Workflow:
    """``workflow`` with every agent's base_dir set to ``base_dir`` (a file's is its folder)."""
    agents = {n: attrs.evolve(a, base_dir=base_dir) for n, a in workflow.agents.items()}
    return attrs.evolve(workflow, agents=agents)


@pytest.mark.slow
def test_the_example_runs_as_a_script(notes: Path) -> None:
    """python examples/python_workflow/digest.py TOPIC, as its docstring says."""
    result = subprocess.run(
        [sys.executable, str(EXAMPLE), "trio", "--root", str(notes), "--top", "1"],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.endswith("- **a.md** (2): Trio is nice.\n")
