"""The unity_layout step: outputs laid into a Unity project tree, never over the user's work.

The step function is called directly on real files in tmp folders (what it
places where, what it refuses), and the example workflow runs through the
CLI twice (``-m slow``): laid out, then left alone when the user edits a file.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import cadenza

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "tools"))

import unity_layout  # noqa: E402  (tools/ is the agent's search_path, not a package)

RUNTIME_ASMDEF = {"name": "Game.Generated", "references": []}
TESTS_ASMDEF = {
    "name": "Game.Generated.Tests.EditMode",
    "references": ["Game.Generated", "UnityEngine.TestRunner", "UnityEditor.TestRunner"],
    "includePlatforms": ["Editor"],
    "overrideReferences": True,
    "precompiledReferences": ["nunit.framework.dll"],
    "defineConstraints": ["UNITY_INCLUDE_TESTS"],
}
PLAYMODE_TEST = """using System.Collections;
using NUnit.Framework;
using UnityEngine.TestTools;

public class JumpPlayTests
{
    [UnityTest]
    public IEnumerator Jumps() { yield return null; }
}
"""


def write(path: Path, text: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def outputs(tmp_path: Path) -> dict[str, Any]:
    """Real files shaped like the openai, docgen and assets steps' outputs, and those outputs."""
    out = tmp_path / "out"
    code = out / "generate_component_code"
    write(code / "PlayerMovement.cs", "public class PlayerMovement : MonoBehaviour {}\n")
    write(code / "Game.Generated.asmdef", json.dumps(RUNTIME_ASMDEF))
    tests = out / "generate_tests"
    write(tests / "PlayerMovementTests.cs", "using NUnit.Framework;\npublic class T {}\n")
    write(tests / "JumpPlayTests.cs", PLAYMODE_TEST)
    write(tests / "Game.Generated.Tests.asmdef", json.dumps(TESTS_ASMDEF))
    planned = out / "build"
    write(planned / "Assets/Scripts/Movement/JumpBuffer.cs", "public class JumpBuffer {}\n")
    docs = out / "generate_documentation"
    write(docs / "index.md", "# API\n")
    write(docs / "Assets/Scripts/PhysicsController.md", "# PhysicsController\n")
    textures = out / "optimize_assets"
    write(textures / "Assets/Textures/ground.jpg", b"\xff\xd8small")
    return {
        "scripts": [
            {"dir": str(code), "files": [{"path": "PlayerMovement.cs"},
                                         {"path": "Game.Generated.asmdef"}]},
            {"dir": str(tests), "degraded": True,
             "files": [{"path": "PlayerMovementTests.cs"}, {"path": "JumpPlayTests.cs"},
                       {"path": "Game.Generated.Tests.asmdef"}]},
            [{"dir": str(planned), "files": [{"path": "Assets/Scripts/Movement/JumpBuffer.cs"}]}],
        ],
        "docs": {
            "dir": str(docs),
            "index": str(docs / "index.md"),
            "files": [{"page": "Assets/Scripts/PhysicsController.md"}, {"page": None}],
        },
        "textures": {
            "preset": "mobile",
            "files": [
                {"path": "Assets/Textures/ground.png", "status": "optimized",
                 "output": str(textures / "Assets/Textures/ground.jpg")},
                {"path": "Assets/Textures/broken.png", "status": "failed", "output": None},
            ],
        },
    }  # fmt: skip


def lay_out(project: Path | None, inputs: dict[str, Any], output_dir: Path | None = None) -> Any:
    """Call the step as the python agent does with ``pass_request: true``."""
    given = dict(inputs)
    if project is not None:
        given["project"] = str(project)
    request = cadenza.AgentRequest(
        run_id="r",
        step_id="unity_project",
        task_type="",
        inputs=given,
        attempt=1,
        idempotency_key="k",
        output_dir=output_dir,
    )
    return unity_layout.lay_out(request)


def tree(project: Path) -> dict[str, bytes]:
    return {
        p.relative_to(project).as_posix(): p.read_bytes()
        for p in sorted(project.rglob("*"))
        if p.is_file()
    }


EXPECTED = [
    ".cadenza/unity-layout.json",
    "Assets/Scripts/Game.Generated.asmdef",
    "Assets/Scripts/Movement/JumpBuffer.cs",
    "Assets/Scripts/PlayerMovement.cs",
    "Assets/Tests/EditMode/Game.Generated.Tests.asmdef",
    "Assets/Tests/EditMode/PlayerMovementTests.cs",
    "Assets/Tests/PlayMode/JumpPlayTests.cs",
    "Assets/Textures/Optimized/mobile/ground.jpg",
    "Documentation~/Assets/Scripts/PhysicsController.md",
    "Documentation~/index.md",
]


def test_first_run_lays_everything_out(outputs: dict[str, Any], tmp_path: Path) -> None:
    """Scripts, tests by mode, assembly definitions, docs and textures land where Unity wants
    them; no .meta files are written."""
    project = tmp_path / "Game"
    result = lay_out(project, outputs)
    assert sorted(tree(project)) == EXPECTED
    assert result["project"] == str(project)
    assert sorted(result["written"]) == EXPECTED[1:]
    assert result["unchanged"] == []
    assert result["stale"] == []
    kinds = {f["path"]: f["kind"] for f in result["files"]}
    assert kinds["Assets/Tests/EditMode/Game.Generated.Tests.asmdef"] == "assembly"
    assert kinds["Assets/Tests/PlayMode/JumpPlayTests.cs"] == "test"
    assert kinds["Documentation~/index.md"] == "docs"
    degraded = sorted(f["path"] for f in result["files"] if f.get("degraded"))
    assert degraded == [
        "Assets/Tests/EditMode/Game.Generated.Tests.asmdef",
        "Assets/Tests/EditMode/PlayerMovementTests.cs",
        "Assets/Tests/PlayMode/JumpPlayTests.cs",
    ]
    manifest = json.loads((project / ".cadenza/unity-layout.json").read_text())
    assert sorted(manifest["files"]) == EXPECTED[1:]


def test_the_project_defaults_to_the_steps_own_folder(
    outputs: dict[str, Any], tmp_path: Path
) -> None:
    """Without ``project`` the tree is built in the step's folder under --out."""
    step_dir = tmp_path / "out" / "unity_project"
    lay_out(None, outputs, output_dir=step_dir)
    assert sorted(tree(step_dir)) == EXPECTED


def test_a_second_run_without_changes_succeeds(outputs: dict[str, Any], tmp_path: Path) -> None:
    """Same bytes: nothing rewritten; new bytes for a file we wrote: replaced."""
    project = tmp_path / "Game"
    lay_out(project, outputs)
    again = lay_out(project, outputs)
    assert again["written"] == []
    assert sorted(again["unchanged"]) == EXPECTED[1:]
    write(tmp_path / "out/generate_component_code/PlayerMovement.cs", "public class V2 {}\n")
    third = lay_out(project, outputs)
    assert third["written"] == ["Assets/Scripts/PlayerMovement.cs"]
    assert (project / "Assets/Scripts/PlayerMovement.cs").read_text() == "public class V2 {}\n"


def test_files_a_later_run_no_longer_makes_are_left_and_listed(
    outputs: dict[str, Any], tmp_path: Path
) -> None:
    """Nothing is deleted: a file from an earlier run is reported as stale."""
    project = tmp_path / "Game"
    lay_out(project, outputs)
    outputs["scripts"].pop()  # the planned JumpBuffer.cs is gone from this run
    result = lay_out(project, outputs)
    assert result["stale"] == ["Assets/Scripts/Movement/JumpBuffer.cs"]
    assert (project / "Assets/Scripts/Movement/JumpBuffer.cs").is_file()


def test_a_file_the_user_changed_is_refused_and_nothing_is_written(
    outputs: dict[str, Any], tmp_path: Path
) -> None:
    """The error lists each file and says how to overwrite; no file changes, none appears."""
    project = tmp_path / "Game"
    lay_out(project, outputs)
    write(project / "Assets/Scripts/PlayerMovement.cs", "// my tuning\n")
    write(project / "Documentation~/index.md", "# my notes\n")
    write(tmp_path / "out/generate_documentation/index.md", "# API v2\n")
    write(tmp_path / "out/generate_tests/PlayerMovementTests.cs", "// v2\n")
    write(tmp_path / "out/generate_component_code/Extra.cs", "public class Extra {}\n")
    outputs["scripts"][0]["files"].append({"path": "Extra.cs"})
    before = tree(project)
    with pytest.raises(cadenza.PermanentError) as caught:
        lay_out(project, outputs)
    message = str(caught.value)
    assert "refusing to overwrite 2 files" in message
    assert "  Assets/Scripts/PlayerMovement.cs: changed since cadenza wrote it\n" in message
    assert "  Documentation~/index.md: changed since cadenza wrote it\n" in message
    assert "Nothing was written." in message
    assert "overwrite: true" in message
    assert "--set overwrite=true" in message
    assert tree(project) == before  # not even the unconflicted test file or Extra.cs


def test_overwrite_replaces_changed_and_foreign_files(
    outputs: dict[str, Any], tmp_path: Path
) -> None:
    """``overwrite: true`` takes the files over, and the manifest then owns them."""
    project = tmp_path / "Game"
    lay_out(project, outputs)
    write(project / "Assets/Scripts/PlayerMovement.cs", "// my tuning\n")
    result = lay_out(project, {**outputs, "overwrite": True})
    assert result["written"] == ["Assets/Scripts/PlayerMovement.cs"]
    assert (project / "Assets/Scripts/PlayerMovement.cs").read_text().startswith("public class")
    assert lay_out(project, outputs)["written"] == []  # ours again: no conflict


def test_a_file_we_did_not_write_is_refused(outputs: dict[str, Any], tmp_path: Path) -> None:
    """A real project's own script at a target path is never replaced unasked."""
    project = tmp_path / "Game"
    write(project / "Assets/Scripts/PlayerMovement.cs", "// the user's own\n")
    with pytest.raises(cadenza.PermanentError, match="1 file in the Unity project") as caught:
        lay_out(project, outputs)
    assert "  Assets/Scripts/PlayerMovement.cs: not written by cadenza\n" in str(caught.value)
    assert sorted(tree(project)) == ["Assets/Scripts/PlayerMovement.cs"]
    assert not (project / ".cadenza").exists()


def test_a_folder_in_the_way_is_refused_even_with_overwrite(
    outputs: dict[str, Any], tmp_path: Path
) -> None:
    """overwrite replaces files, never folders."""
    project = tmp_path / "Game"
    (project / "Assets/Scripts/PlayerMovement.cs").mkdir(parents=True)
    with pytest.raises(cadenza.PermanentError, match=r"PlayerMovement\.cs: is a folder") as caught:
        lay_out(project, {**outputs, "overwrite": True})
    assert "Move the files in the way" in str(caught.value)


def test_a_corrupt_manifest_is_an_error_not_a_takeover(
    outputs: dict[str, Any], tmp_path: Path
) -> None:
    """Without a readable manifest nothing can be known to be ours: refuse, say how to fix."""
    project = tmp_path / "Game"
    lay_out(project, outputs)
    write(project / ".cadenza/unity-layout.json", "{not json")
    with pytest.raises(cadenza.PermanentError, match="cannot read the layout manifest"):
        lay_out(project, outputs)


def test_textures_beside_the_originals_with_a_suffix(
    outputs: dict[str, Any], tmp_path: Path
) -> None:
    """``texture_placement: suffix`` keeps the folder and puts the platform in the name."""
    project = tmp_path / "Game"
    write(project / "Assets/Textures/ground.png", b"original")
    lay_out(project, {**outputs, "texture_placement": "suffix", "platform": "android"})
    assert (project / "Assets/Textures/ground.android.jpg").read_bytes() == b"\xff\xd8small"
    assert (project / "Assets/Textures/ground.png").read_bytes() == b"original"


@pytest.mark.parametrize(
    ("inputs", "message"),
    [
        ({"scriptz": []}, "unknown input 'scriptz'"),
        ({"overwrite": "yes"}, "input 'overwrite' must be true or false, got 'yes'"),
        ({"texture_placement": "replace"}, "must be one of folder, suffix, got 'replace'"),
        ({"scripts": "PlayerMovement.cs"}, "input 'scripts' must be a step's output"),
        ({"scripts": {"dir": "/x", "files": [{"name": "a.cs"}]}}, "a files entry has no 'path'"),
        ({"scripts": {"dir": "/x", "files": [{"path": "../a.cs"}]}}, "unsafe target path"),
        ({"scripts": {"dir": None, "files": []}}, "nothing to lay out"),
    ],
)
def test_bad_inputs_say_what_to_fix(inputs: dict[str, Any], message: str, tmp_path: Path) -> None:
    """Mistakes are permanent errors naming the input, never a traceback."""
    with pytest.raises(cadenza.PermanentError, match="unity_layout: ") as caught:
        lay_out(tmp_path / "Game", inputs)
    assert message in str(caught.value)


def test_without_project_or_output_folder_it_says_so(outputs: dict[str, Any]) -> None:
    with pytest.raises(cadenza.PermanentError, match="no project folder"):
        lay_out(None, outputs)


def test_a_missing_source_is_refused_before_anything_is_written(
    outputs: dict[str, Any], tmp_path: Path
) -> None:
    """An output naming a file that is gone fails the step with an empty project."""
    (tmp_path / "out/generate_documentation/index.md").unlink()
    with pytest.raises(cadenza.PermanentError, match="files that are not there") as caught:
        lay_out(tmp_path / "Game", outputs)
    assert "(for Documentation~/index.md)" in str(caught.value)
    assert not (tmp_path / "Game").exists()


def test_two_files_for_one_place_are_refused(outputs: dict[str, Any], tmp_path: Path) -> None:
    """Two steps writing different PlayerMovement.cs would silently lose one: refused."""
    other = tmp_path / "other"
    write(other / "PlayerMovement.cs", "public class PlayerMovement : Other {}\n")
    outputs["scripts"].append({"dir": str(other), "files": [{"path": "PlayerMovement.cs"}]})
    with pytest.raises(cadenza.PermanentError, match="two files would go to the same place"):
        lay_out(tmp_path / "Game", outputs)
    assert not (tmp_path / "Game").exists()


def test_one_file_listed_twice_or_twins_are_placed_once(
    outputs: dict[str, Any], tmp_path: Path
) -> None:
    """for_each items each list the asmdef they share: the same file, or the same bytes
    written by another item, goes to its place once."""
    twin = tmp_path / "item1"
    asmdef = (tmp_path / "out/generate_component_code/Game.Generated.asmdef").read_bytes()
    write(twin / "Game.Generated.asmdef", asmdef)
    outputs["scripts"].append(outputs["scripts"][0])
    outputs["scripts"].append({"dir": str(twin), "files": [{"path": "Game.Generated.asmdef"}]})
    placed = lay_out(tmp_path / "Game", outputs)
    targets = [f["path"] for f in placed["files"]]
    assert len(targets) == len(set(targets))
    assert (tmp_path / "Game/Assets/Scripts/Game.Generated.asmdef").read_bytes() == asmdef


def run_example(out: Path, *options: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI_")}
    return subprocess.run(
        [sys.executable, "-m", "cadenza", "run", str(HERE / "workflow.yaml"), "--no-journal",
         "--no-progress", "--json", "--out", str(out), *options],
        capture_output=True, text=True, env=env, timeout=300, cwd=HERE,
    )  # fmt: skip


@pytest.mark.slow
def test_the_example_lays_out_a_project_and_keeps_the_users_edits(tmp_path: Path) -> None:
    """The workflow's unity_project step, run twice by the CLI into one project folder."""
    project = tmp_path / "MyGame"
    first = run_example(tmp_path / "out1", "--set", f"project={project}")
    assert first.returncode == 0, first.stderr
    step = json.loads(first.stdout)["steps"]["unity_project"]["output"]
    assert "Assets/Scripts/PlayerMovement.cs" in step["written"]
    assert (project / "Assets/Tests/EditMode/PlayerMovementTests.cs").is_file()
    assert (project / "Documentation~/index.md").is_file()
    assert len(list((project / "Assets/Textures/Optimized/mobile").iterdir())) == 4
    assert not list(project.rglob("*.meta"))
    for page in (project / "Documentation~").rglob("*.md"):  # docs hold no machine paths
        assert str(tmp_path) not in page.read_text(encoding="utf-8"), page
        assert str(HERE) not in page.read_text(encoding="utf-8"), page
    write(project / "Assets/Scripts/PlayerMovement.cs", "// tuned by hand\n")
    second = run_example(tmp_path / "out2", "--set", f"project={project}")
    assert second.returncode != 0
    summary = json.loads(second.stdout)
    error = summary["steps"]["unity_project"]["error"]
    assert "Assets/Scripts/PlayerMovement.cs: changed since cadenza wrote it" in error
    assert "Traceback" not in second.stderr
    assert (project / "Assets/Scripts/PlayerMovement.cs").read_text() == "// tuned by hand\n"


def test_the_projects_own_assembly_definition_is_kept(
    outputs: dict[str, Any], tmp_path: Path
) -> None:
    """The project already defines the assembly the tests reference: its asmdef stays."""
    game = tmp_path / "Game"
    own = json.dumps({**RUNTIME_ASMDEF, "references": ["Unity.InputSystem"]})
    write(game / "Assets/Scripts/Game.Generated.asmdef", own)
    placed = lay_out(game, outputs)
    assert placed["kept"] == ["Assets/Scripts/Game.Generated.asmdef"]
    assert (game / "Assets/Scripts/Game.Generated.asmdef").read_text() == own
    assert (game / "Assets/Scripts/PlayerMovement.cs").is_file()


def test_a_second_assembly_definition_in_a_folder_is_refused(
    outputs: dict[str, Any], tmp_path: Path
) -> None:
    """Unity allows one asmdef per folder: the project's MyGame.asmdef in Assets/Scripts
    means the tests must reference MyGame; nothing is written."""
    game = tmp_path / "Game"
    write(game / "Assets/Scripts/MyGame.asmdef", json.dumps({"name": "MyGame"}))
    with pytest.raises(
        cadenza.PermanentError, match="one assembly definition per folder"
    ) as caught:
        lay_out(game, outputs)
    assert "set `assembly: MyGame`" in str(caught.value)
    assert sorted(p.name for p in game.rglob("*") if p.is_file()) == ["MyGame.asmdef"]
