"""Planned files renamed by their language's rules: C# after its public type, Python as a module."""

from __future__ import annotations

import json

import pytest

from cadenza_openai._codeblocks import PlannedFile, extract_blocks, plan_files
from cadenza_openai._naming import FileLayout, arrange, module_name

TWO = (
    "using UnityEngine;\n\n"
    "public class PlayerMovement : MonoBehaviour { }\n\n"
    "public class PlayerMovementSettings : ScriptableObject { }\n"
)
EDIT_TEST = (
    "using NUnit.Framework;\n\n"
    "public class JumpBufferTests\n{\n    [Test]\n    public void Keeps() { Assert.Pass(); }\n}\n"
)
PLAY_TEST = (
    "using System.Collections;\nusing NUnit.Framework;\nusing UnityEngine.TestTools;\n\n"
    "public class PlayerMovementTests\n{\n    [UnityTest]\n"
    "    public IEnumerator Falls() { yield return new WaitForFixedUpdate(); }\n}\n"
)


def planned(reply: str, *, stem: str = "generate_component_code") -> list[PlannedFile]:
    return arrange(plan_files(extract_blocks(reply), stem=stem), FileLayout())


def paths(files: list[PlannedFile]) -> list[str]:
    return [f.path for f in files]


def test_a_block_with_two_public_classes_becomes_two_files_named_after_them() -> None:
    files = planned(f"```csharp generate_component_code.cs\n{TWO}```\n")
    assert paths(files) == ["PlayerMovement.cs", "PlayerMovementSettings.cs"]
    first, second = files
    assert first.content.startswith("using UnityEngine;\n")
    assert "Settings" not in first.content
    assert second.content.startswith("using UnityEngine;\n")
    assert "MonoBehaviour" not in second.content
    assert first.requested == second.requested == "generate_component_code.cs"


def test_an_unnamed_block_is_named_after_its_type_without_a_requested_name() -> None:
    (file,) = planned("```csharp\npublic struct Cell<T> { }\n```\n")
    assert file.path == "Cell.cs"  # Foo<T> -> Foo.cs, as Unity names generic scripts
    assert file.requested is None


def test_a_fence_path_that_agrees_keeps_its_folder_for_every_part() -> None:
    files = planned(f"```csharp Assets/Scripts/PlayerMovement.cs\n{TWO}```\n")
    assert paths(files) == [
        "Assets/Scripts/PlayerMovement.cs",
        "Assets/Scripts/PlayerMovementSettings.cs",
    ]
    assert files[0].requested is None
    assert files[1].requested == "Assets/Scripts/PlayerMovement.cs"


def test_a_fence_path_that_disagrees_gives_way_to_the_type() -> None:
    (file,) = planned("```csharp Assets/Scripts/Player.cs\npublic class Hero { }\n```\n")
    assert file.path == "Hero.cs"
    assert file.requested == "Assets/Scripts/Player.cs"


def test_a_block_with_no_public_type_keeps_todays_name() -> None:
    files = planned("```csharp\ninternal static class Util { }\n```\n```csharp Notes.cs\n// x\n```")
    assert paths(files) == ["Notes.cs", "generate_component_code.cs"]


def test_nunit_tests_go_to_their_mode_folder_with_asmdefs() -> None:
    reply = (
        f"```csharp generate_tests.cs\n{EDIT_TEST}```\n\n"
        f"```csharp Assets/Tests/PlayerMovementTests.cs\n{PLAY_TEST}```\n"
    )
    files = planned(reply, stem="generate_tests")
    assert paths(files) == [
        "Assets/Tests/EditMode/JumpBufferTests.cs",
        "Assets/Tests/PlayMode/PlayerMovementTests.cs",
        "Assets/Scripts/Scripts.asmdef",
        "Assets/Tests/EditMode/Tests.EditMode.asmdef",
        "Assets/Tests/PlayMode/Tests.PlayMode.asmdef",
    ]
    edit = json.loads(files[3].content)
    assert edit["name"] == "Tests.EditMode"
    assert edit["references"] == ["Scripts", "UnityEngine.TestRunner", "UnityEditor.TestRunner"]
    assert edit["includePlatforms"] == ["Editor"]
    play = json.loads(files[4].content)
    assert play["references"] == ["Scripts", "UnityEngine.TestRunner"]
    assert play["includePlatforms"] == []
    for test_assembly in (edit, play):
        assert test_assembly["overrideReferences"] is True
        assert test_assembly["precompiledReferences"] == ["nunit.framework.dll"]
        assert test_assembly["defineConstraints"] == ["UNITY_INCLUDE_TESTS"]
        assert test_assembly["autoReferenced"] is False
    runtime = json.loads(files[2].content)
    assert runtime["name"] == "Scripts"
    assert runtime["autoReferenced"] is True
    assert all(f.language == "json" for f in files[2:])


def test_a_reply_of_scripts_only_writes_no_asmdef() -> None:
    assert not [f for f in planned(f"```csharp\n{TWO}```\n") if f.path.endswith(".asmdef")]


def test_the_layout_options_move_and_name_everything() -> None:
    layout = FileLayout(tests_dir="Game/Tests", scripts_dir="Game/Code", assembly="Game.Runtime")
    files = arrange(plan_files(extract_blocks(f"```cs\n{EDIT_TEST}```"), stem="t"), layout)
    assert paths(files) == [
        "Game/Tests/EditMode/JumpBufferTests.cs",
        "Game/Code/Game.Runtime.asmdef",
        "Game/Tests/EditMode/Tests.EditMode.asmdef",
    ]
    assert json.loads(files[2].content)["references"][0] == "Game.Runtime"


def test_no_assembly_means_no_runtime_asmdef_and_no_reference() -> None:
    layout = FileLayout(assembly=None)
    files = arrange(plan_files(extract_blocks(f"```cs\n{EDIT_TEST}```"), stem="t"), layout)
    assert paths(files) == [
        "Assets/Tests/EditMode/JumpBufferTests.cs",
        "Assets/Tests/EditMode/Tests.EditMode.asmdef",
    ]
    assert json.loads(files[1].content)["references"] == [
        "UnityEngine.TestRunner",
        "UnityEditor.TestRunner",
    ]


def test_no_tests_dir_leaves_tests_where_their_name_puts_them() -> None:
    files = arrange(
        plan_files(extract_blocks(f"```cs\n{EDIT_TEST}```"), stem="t"), FileLayout(tests_dir=None)
    )
    assert paths(files) == ["JumpBufferTests.cs"]


@pytest.mark.parametrize(
    ("stem", "module"),
    [
        ("PlayerMovement", "player_movement"),
        ("player-movement", "player_movement"),
        ("build[0]", "build_0"),
        ("HTTPServer", "http_server"),
        ("2d_tools", "module_2d_tools"),
        ("class", "class_"),
        ("__init__", "__init__"),
        ("already_fine", "already_fine"),
        ("my.module", "my_module"),
    ],
)
def test_module_names(stem: str, module: str) -> None:
    assert module_name(stem) == module
    assert module.isidentifier()


def test_python_files_get_module_names_and_keep_their_folder() -> None:
    reply = "```python src/PlayerMovement.py\nx = 1\n```\n```python\ny = 2\n```\n"
    files = planned(reply, stem="build[0]")
    assert paths(files) == ["src/player_movement.py", "build_0.py"]
    assert files[0].requested == "src/PlayerMovement.py"
    assert files[1].requested is None
