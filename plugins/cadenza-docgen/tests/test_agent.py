"""The docgen agent end to end: workflows run with the kernel, files written, enrichment."""

from __future__ import annotations

import re
import urllib.parse
from pathlib import Path
from typing import Any

import pytest
import trio
import trio.lowlevel

import cadenza
import cadenza.events
import cadenza_docgen
from cadenza.testing import ScriptedAgent, scripted_agent_kind
from cadenza_docgen import _parse


def plugins(*extra: object) -> cadenza.plugins.Plugins:
    """The kernel's built-ins, this plugin and ``extra``; installed plugins stay out."""
    return cadenza.plugins.load_plugins(entry_points=False, extra=[cadenza_docgen, *extra])


async def run(
    text: str,
    base_dir: Path,
    *,
    output_dir: Path | None = None,
    extra: tuple[object, ...] = (),
    events: list[cadenza.events.Event] | None = None,
) -> cadenza.RunResult:
    loaded = plugins(*extra)
    workflow = cadenza.load_workflow_text(text, plugins=loaded, base_dir=base_dir).workflow
    return await cadenza.run_workflow(
        workflow,
        plugins=loaded,
        output_dir=output_dir,
        observers=[events.append] if events is not None else [],
    )


def output(result: cadenza.RunResult, step: str = "docs") -> dict[str, Any]:
    outcome = result.steps[step]
    assert outcome.status == "succeeded", outcome.error
    data: dict[str, Any] = outcome.output
    return data


WORKFLOW = """
agents:
  docgen: {kind: docgen, options: {title: "Game API"}}
steps:
  docs: {uses: docgen, with: {files: [unity, python]}}
"""


async def test_writes_pages_and_index(project: Path, tmp_path: Path) -> None:
    """A page per source file mirroring the tree, an index, counts and warnings in the output."""
    events: list[cadenza.events.Event] = []
    result = await run(WORKFLOW, project, output_dir=tmp_path / "out", events=events)
    data = output(result)
    step_dir = tmp_path / "out" / "docs"
    assert data["index"] == str(step_dir / "index.md")
    assert data["dir"] == str(step_dir)
    files = {f["source"]: f for f in data["files"]}
    assert list(files) == [
        "unity/Broken.cs",
        "unity/Items/Inventory.cs",
        "unity/Items/WeaponData.cs",
        "unity/Player/PlayerController.cs",
        "python/broken.py",
        "python/shop/inventory.py",
        "python/shop/pricing.py",
    ]
    player = files["unity/Player/PlayerController.cs"]
    assert player == {
        "source": "unity/Player/PlayerController.cs",
        "path": str(project / "unity" / "Player" / "PlayerController.cs"),
        "language": "csharp",
        "markdown": str(step_dir / "unity" / "Player" / "PlayerController.md"),
        "page": "unity/Player/PlayerController.md",
        "types": 4,
        "members": 26,
        "documented": 21,
        "undocumented": 9,
        "generated": 0,
        "errors": [],
    }
    page = (step_dir / "unity" / "Player" / "PlayerController.md").read_text()
    assert "## `PlayerController` class" in page
    broken = files["python/broken.py"]
    assert broken["markdown"] is None
    assert broken["errors"] == ["line 8: syntax error: invalid syntax"]
    assert data["warnings"] == [
        "unity/Broken.cs:14: syntax error: missing ';' (and 1 more); "
        "documented what could be parsed",
        "python/broken.py:8: syntax error: invalid syntax; the file is not documented",
    ]
    assert data["coverage"] == round(75 / 106, 4)
    written = sorted(p.relative_to(step_dir).as_posix() for p in step_dir.rglob("*.md"))
    assert written == [
        "index.md",
        "python/shop/inventory.md",
        "python/shop/pricing.md",
        "unity/Broken.md",
        "unity/Items/Inventory.md",
        "unity/Items/WeaponData.md",
        "unity/Player/PlayerController.md",
    ]
    index = (step_dir / "index.md").read_text()
    assert index.startswith("# Game API\n")
    assert "[unity/Player/PlayerController.cs](unity/Player/PlayerController.md)" in index
    progress = [e.message for e in events if isinstance(e, cadenza.events.AttemptProgress)]
    assert progress
    assert all(m.endswith("/7 files") for m in progress)


async def test_without_output_dir_markdown_is_returned(project: Path) -> None:
    """Nothing is written; each file entry carries its Markdown text."""
    result = await run(WORKFLOW, project)
    data = output(result)
    assert data["index"] is None
    first = data["files"][0]
    assert first["markdown"].startswith("# `Broken.cs`\n")
    assert not (project / "index.md").exists()


async def test_one_file_and_step_overrides(project: Path, tmp_path: Path) -> None:
    """``one_file`` writes only index.md; step inputs override options."""
    text = """
agents:
  docgen: {kind: docgen}
steps:
  docs:
    uses: documentation                # the capability every docgen agent has
    with: {paths: "unity/Player", one_file: true, title: "Player", include_private: true}
"""
    data = output(await run(text, project, output_dir=tmp_path / "out"))
    step_dir = tmp_path / "out" / "docs"
    assert [p.name for p in step_dir.rglob("*.md")] == ["index.md"]
    assert data["files"][0]["markdown"] == str(step_dir / "index.md")
    page = (step_dir / "index.md").read_text()
    assert page.startswith("# Player\n")
    assert "## `PlayerController.cs`" in page
    assert "[unity/Player/PlayerController.cs](#playercontrollercs)" in page
    assert "`controller`" in page  # private, shown with include_private


async def test_enrichment_with_a_template_agent(project: Path, tmp_path: Path) -> None:
    """The kernel's template kind stands in for an LLM: summaries are marked and counted."""
    text = """
agents:
  docgen:
    kind: docgen
    options: {enrich_with: writer, max_enrich: 3, enrich_concurrency: 2}
  writer:
    kind: template
    options: {output: {text: "Handles {member} ({language})."}}
steps:
  docs: {uses: docgen, with: {files: unity/Player/PlayerController.cs}}
"""
    data = output(await run(text, project, output_dir=tmp_path / "out"))
    [entry] = data["files"]
    assert (entry["documented"], entry["generated"], entry["undocumented"]) == (21, 3, 6)
    assert data["warnings"] == [
        "6 undocumented elements were not sent to 'writer' (max_enrich is 3)"
    ]
    page = await trio.Path(entry["markdown"]).read_text()
    assert (
        "> Handles PlayerController.Respawn (csharp).\n>\n"
        "> *Summary generated by `writer` — not from the source's doc comments.*"
    ) in page
    assert data["coverage"] == round(21 / 30, 4)  # generated summaries are not coverage


async def test_enrichment_asks_with_a_focused_prompt(project: Path, tmp_path: Path) -> None:
    """A scripted LLM sees task type ``documentation``, the member and its source."""
    llm = ScriptedAgent("llm", lambda request: {"text": f"Does {request.inputs['member']}."})
    text = """
agents:
  docgen: {kind: docgen}
  llm: {kind: scripted}
steps:
  docs:
    uses: docgen
    with: {files: python/shop/pricing.py, enrich_with: llm}
"""
    data = output(
        await run(text, project, output_dir=tmp_path / "out", extra=(scripted_agent_kind(llm),))
    )
    assert [c.inputs["member"] for c in llm.calls] == ["PriceRule.apply"]
    call = llm.calls[0]
    assert call.task_type == "documentation"
    assert call.inputs["language"] == "python"
    assert "def apply(self, price):" in call.inputs["prompt"]
    assert data["files"][0]["generated"] == 1
    assert data["generated"] == 1
    page = await trio.Path(data["files"][0]["markdown"]).read_text()
    assert "> Does PriceRule.apply.\n>\n> *Summary generated by `llm`" in page


async def test_failing_enrichment_only_warns(project: Path, tmp_path: Path) -> None:
    """The step succeeds; members stay undocumented; each failure is a warning."""
    llm = ScriptedAgent("llm", [cadenza.PermanentError("content filter")], default="Fine.")
    text = """
agents:
  docgen: {kind: docgen, options: {enrich_with: llm, enrich_concurrency: 1}}
  llm: {kind: scripted}
steps:
  docs: {uses: docgen, with: {files: unity/Items/WeaponData.cs}}
"""
    data = output(
        await run(text, project, output_dir=tmp_path / "out", extra=(scripted_agent_kind(llm),))
    )
    [entry] = data["files"]
    assert (entry["documented"], entry["generated"], entry["undocumented"]) == (13, 6, 1)
    assert data["warnings"][0].startswith(
        "unity/Items/WeaponData.cs: WeaponData.cooldown: no summary from 'llm': "
    )
    assert "content filter" in data["warnings"][0]


async def test_unknown_enrichment_agent_gives_up_quickly(project: Path) -> None:
    """A typo in ``enrich_with`` costs a few failed asks, then a clear warning."""
    text = """
agents:
  docgen: {kind: docgen, options: {enrich_with: nosuch}}
steps:
  docs: {uses: docgen, with: {files: unity}}
"""
    data = output(await run(text, project))
    assert data["generated"] == 0
    assert "which this workflow does not define" in data["warnings"][2]
    assert data["warnings"][-1].startswith("stopped asking 'nosuch' for summaries after 5 failed")


@pytest.mark.parametrize(
    ("inputs", "message"),
    [
        ("{}", "no sources given"),
        ("{files: [Asets]}", "no such file or folder: 'Asets'"),
        ("{fils: unity}", "unknown input 'fils'"),
        ("{files: unity, one_file: 'yes'}", "input 'one_file' must be true or false"),
        ("{files: unity, languages: [cobol]}", "input 'languages': unknown language 'cobol'"),
        ("{files: unity, max_enrich: -2}", "input 'max_enrich': expected an integer >= 0, got -2"),
        ("{files: unity, enrich_with: docgen}", "enrich_with names this agent itself"),
        ("{files: python, languages: csharp}", "no csharp source files in 'python'"),
        ("{files: unity, root: Nowhere}", "root: no such folder 'Nowhere'"),
        ("{files: unity, root: 3}", "input 'root' must be a string, got 3"),
    ],
)
async def test_bad_inputs_fail_the_step_with_a_clear_message(
    project: Path, inputs: str, message: str
) -> None:
    """Mistakes in a step's inputs are permanent errors that say what to fix."""
    text = f"""
agents:
  docgen: {{kind: docgen}}
steps:
  docs: {{uses: docgen, with: {inputs}, retry: {{max_attempts: 1}}}}
"""
    outcome = (await run(text, project)).steps["docs"]
    assert outcome.status == "failed"
    assert outcome.error is not None
    assert message in outcome.error


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ("{titel: x}", "options.titel: unknown field 'titel'"),
        ("{languages: [cobol]}", "options.languages: unknown language 'cobol'"),
        (
            "{languages: csharp}",
            "options.languages: expected a list, got a string 'csharp'; write [csharp]",
        ),
        ("{max_enrich: -1}", "options.max_enrich: expected an integer >= 0, got -1"),
        ("{enrich_concurrency: 0}", "options.enrich_concurrency: expected an integer >= 1"),
        ("{root: ''}", "options.root: expected a folder, got an empty string"),
    ],
)
def test_bad_options_are_reported_when_the_workflow_loads(
    project: Path, options: str, message: str
) -> None:
    """Options are checked by the kernel's converter, with file, line and path."""
    text = f"""
agents:
  docgen: {{kind: docgen, options: {options}}}
steps:
  docs: {{uses: docgen, with: {{files: unity}}}}
"""
    with pytest.raises(cadenza.WorkflowError, match="<string>:3:") as caught:
        cadenza.load_workflow_text(text, plugins=plugins(), base_dir=project)
    assert message in str(caught.value)


async def test_parsing_large_file_sets_keeps_the_loop_responsive(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Other tasks run while a docgen step parses in worker threads."""
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await trio.lowlevel.checkpoint()

    monkeypatch.setattr(_parse, "INLINE_BYTES", 0)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(ticker)
        data = output(await run(WORKFLOW, project))
        nursery.cancel_scope.cancel()
    assert len(data["files"]) == 7
    assert ticks > 7


LINK = re.compile(r"\]\(([^)]*)\)")


def assert_no_machine_paths(step_dir: Path, *folders: Path) -> None:
    """No page names a folder of this machine, and every link leads to a page that exists."""
    pages = sorted(step_dir.rglob("*.md"))
    assert pages
    for page in pages:
        text = page.read_text(encoding="utf-8")
        for folder in folders:
            assert str(folder) not in text, f"{page} shows {folder}"
            assert str(folder.resolve()) not in text, f"{page} shows {folder}"
        for link in LINK.findall(text):
            assert not link.startswith("/"), f"{page}: absolute link {link}"
            target = urllib.parse.unquote(link.split("#", 1)[0])
            if target:
                assert (page.parent / target).is_file(), f"{page}: broken link {link}"


async def test_docs_show_no_machine_paths(
    project: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Sources from the workflow folder and a distant generated folder: relative paths only."""
    out = tmp_path_factory.mktemp("elsewhere") / "out"
    generated = out / "u" / "generate_component_code"
    generated.mkdir(parents=True)
    (generated / "PlayerMovement.cs").write_text(
        "/// <summary>Moves.</summary>\npublic class PlayerMovement : MonoBehaviour {}\n"
    )
    (generated / "bad.py").write_text("def broken(:\n    pass\n")
    text = f"""
agents:
  docgen: {{kind: docgen}}
steps:
  docs:
    uses: docgen
    with:
      files: [unity, "{generated}", "{out / "nothing" / "*.cs"}"]
"""
    data = output(await run(text, project, output_dir=out / "u"))
    step_dir = out / "u" / "docs"
    sources = [f["source"] for f in data["files"]]
    assert "generate_component_code/PlayerMovement.cs" in sources
    assert "unity/Player/PlayerController.cs" in sources
    assert (step_dir / "generate_component_code" / "PlayerMovement.md").is_file()
    assert (step_dir / "unity" / "Player" / "PlayerController.md").is_file()
    index = (step_dir / "index.md").read_text()
    assert (
        "[generate_component_code/PlayerMovement.cs](generate_component_code/PlayerMovement.md)"
        in index
    )
    assert "generate_component_code/bad.py:1: syntax error" in index
    assert "'nothing/*.cs' matched no files" in index
    assert_no_machine_paths(step_dir, out, project, project.parent)


async def test_a_declared_root_is_what_paths_are_relative_to(project: Path, tmp_path: Path) -> None:
    """``root: unity`` drops the ``unity/`` prefix from names and pages."""
    text = """
agents:
  docgen: {kind: docgen, options: {root: unity}}
steps:
  docs: {uses: docgen, with: {files: [unity/Player, unity/Items]}}
"""
    data = output(await run(text, project, output_dir=tmp_path / "out"))
    step_dir = tmp_path / "out" / "docs"
    assert [f["source"] for f in data["files"]] == [
        "Player/PlayerController.cs",
        "Items/Inventory.cs",
        "Items/WeaponData.cs",
    ]
    assert [f["page"] for f in data["files"]] == [
        "Player/PlayerController.md",
        "Items/Inventory.md",
        "Items/WeaponData.md",
    ]
    page = (step_dir / "Player" / "PlayerController.md").read_text()
    assert "`Player/PlayerController.cs`" in page
    assert_no_machine_paths(step_dir, tmp_path, project)
