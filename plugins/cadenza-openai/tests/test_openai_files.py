"""Code replies become files in the step's output folder, under safe names."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from openai_workflows import ENV, workflow

import cadenza
import cadenza.events
from cadenza.testing import run_captured
from cadenza_openai._messages import FILE_INSTRUCTIONS
from cadenza_openai.testing import FakeOpenAI, Reply

CODE_REPLY = """Here you go.

```python movement/player.py
class Player:
    speed = 5
```

```csharp
// file: Assets/Scripts/Player.cs
public class Player { }
```

```python
print("unnamed")
```

```python ../../../escape.py
raise SystemExit
```

```python /etc/cron.d/evil.py
raise SystemExit
```
"""


async def run_to(
    text: str, plugins: cadenza.plugins.Plugins, out: Path
) -> tuple[cadenza.RunResult, list[cadenza.events.Event]]:
    loaded = cadenza.load_workflow_text(text, plugins=plugins, environ=ENV)
    events: list[cadenza.events.Event] = []
    result = await cadenza.run_workflow(
        loaded.workflow, plugins=plugins, observers=[events.append], output_dir=out
    )
    return result, events


def files_under(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): p.read_text() for p in sorted(root.rglob("*")) if p.is_file()}


async def test_code_task_writes_files(
    server: FakeOpenAI, plugins: cadenza.plugins.Plugins, tmp_path: Path
) -> None:
    """A `code` step writes every fenced block under <out>/<step>, with safe names."""
    server.default = Reply(text=CODE_REPLY)
    result, _ = await run_to(workflow(server.url, uses="code"), plugins, tmp_path)
    assert result.status == "succeeded", result.steps["write"].error
    step_dir = tmp_path / "write"
    assert files_under(step_dir) == {
        "movement/player.py": "class Player:\n    speed = 5\n",
        "Assets/Scripts/Player.cs": "public class Player { }\n",
        "escape.py": "raise SystemExit\n",
        "etc/cron.d/evil.py": "raise SystemExit\n",
        "write.py": 'print("unnamed")\n',
    }
    assert files_under(tmp_path) == {f"write/{k}": v for k, v in files_under(step_dir).items()}
    output: dict[str, Any] = result.steps["write"].output
    assert output["text"] == CODE_REPLY
    assert output["model"] == "fake-model"
    assert output["finish_reason"] == "stop"
    assert output["dir"] == str(step_dir)
    sizes = {path: len(text.encode()) for path, text in files_under(step_dir).items()}
    expected = [
        {"path": "movement/player.py", "language": "python"},
        {"path": "Assets/Scripts/Player.cs", "language": "csharp"},
        {"path": "escape.py", "language": "python", "requested_path": "../../../escape.py"},
        {
            "path": "etc/cron.d/evil.py",
            "language": "python",
            "requested_path": "/etc/cron.d/evil.py",
        },
        {"path": "write.py", "language": "python"},
    ]
    assert output["files"] == [{**e, "bytes": sizes[str(e["path"])]} for e in expected]


async def test_code_task_asks_the_model_to_name_files(
    server: FakeOpenAI, plugins: cadenza.plugins.Plugins, tmp_path: Path
) -> None:
    """For file-writing calls the system prompt says how to name files."""
    text = workflow(server.url, uses="tests", options=', system: "Be brief."')
    await run_to(text, plugins, tmp_path)
    (call,) = server.chat_calls
    assert call.json["messages"][0] == {
        "role": "system",
        "content": f"Be brief.\n\n{FILE_INSTRUCTIONS}",
    }


async def test_testing_task_writes_files_like_tests(
    server: FakeOpenAI, plugins: cadenza.plugins.Plugins, tmp_path: Path
) -> None:
    """A `testing` step (the seed's name for tests) writes every block, as a tests step does.

    The unnamed block is named after the public class it declares, not the step.
    """
    server.default = Reply(text="```csharp\npublic class PlayerMovementTests { }\n```\n")
    result, _ = await run_to(workflow(server.url, uses="testing"), plugins, tmp_path)
    assert files_under(tmp_path / "write") == {
        "PlayerMovementTests.cs": "public class PlayerMovementTests { }\n"
    }
    assert result.steps["write"].output["files"][0]["path"] == "PlayerMovementTests.cs"
    (call,) = server.chat_calls
    assert call.json["messages"][0] == {"role": "system", "content": FILE_INSTRUCTIONS}


async def test_documentation_returns_text(
    server: FakeOpenAI, plugins: cadenza.plugins.Plugins, tmp_path: Path
) -> None:
    """A documentation step's output is the text; unnamed blocks are not written."""
    reply = "# Guide\n\n```bash\npip install x\n```\n"
    server.default = Reply(text=reply)
    result, _ = await run_to(workflow(server.url, uses="documentation"), plugins, tmp_path)
    assert result.steps["write"].output == reply
    assert not (tmp_path / "write").exists()
    (call,) = server.chat_calls
    assert call.json["messages"][0]["role"] == "user"  # no file instructions


async def test_documentation_writes_named_files(
    server: FakeOpenAI, plugins: cadenza.plugins.Plugins, tmp_path: Path
) -> None:
    """A documentation reply that names files writes them and returns the mapping."""
    server.default = Reply(text="Intro.\n\n```markdown docs/guide.md\n# Guide\n```\n")
    result, _ = await run_to(workflow(server.url, uses="documentation"), plugins, tmp_path)
    assert files_under(tmp_path / "write") == {"docs/guide.md": "# Guide\n"}
    assert [f["path"] for f in result.steps["write"].output["files"]] == ["docs/guide.md"]


async def test_write_files_option(
    server: FakeOpenAI, plugins: cadenza.plugins.Plugins, tmp_path: Path
) -> None:
    """write_files: true writes for any task; false never writes."""
    server.default = Reply(text="```go\npackage main\n```\n")
    result, _ = await run_to(workflow(server.url, options=", write_files: true"), plugins, tmp_path)
    assert files_under(tmp_path / "write") == {"write.go": "package main\n"}
    assert result.steps["write"].output["files"][0]["language"] == "go"

    text = workflow(server.url, uses="code", options=", write_files: false")
    result, _ = await run_to(text, plugins, tmp_path / "other")
    assert result.steps["write"].output == "```go\npackage main\n```\n"
    assert not (tmp_path / "other").exists()


async def test_no_output_folder_reports_blocks(
    server: FakeOpenAI, plugins: cadenza.plugins.Plugins
) -> None:
    """With no output folder nothing is written; the files come back with their content."""
    server.default = Reply(text="```python app.py\nx = 1\n```\n")
    captured = await run_captured(workflow(server.url, uses="code"), plugins=plugins, environ=ENV)
    output = captured.result.steps["write"].output
    assert output["dir"] is None
    assert output["files"] == [
        {"path": "app.py", "language": "python", "bytes": 6, "content": "x = 1\n"}
    ]


async def test_truncated_reply_marks_the_file(
    server: FakeOpenAI, plugins: cadenza.plugins.Plugins, tmp_path: Path
) -> None:
    """A reply cut by max_tokens inside a block writes what came, marked truncated."""
    server.default = Reply(text="```python app.py\ndef f():\n", finish_reason="length")
    result, _ = await run_to(workflow(server.url, uses="code"), plugins, tmp_path)
    output = result.steps["write"].output
    assert output["finish_reason"] == "length"
    assert output["files"][0]["truncated"] is True
    assert (tmp_path / "write" / "app.py").read_text() == "def f():\n"


async def test_symlink_out_of_the_folder_is_refused(
    server: FakeOpenAI, plugins: cadenza.plugins.Plugins, tmp_path: Path
) -> None:
    """A symlink in the output folder cannot lead a write outside it."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (tmp_path / "out" / "write").mkdir(parents=True)
    (tmp_path / "out" / "write" / "link").symlink_to(outside)
    server.default = Reply(text="```python link/x.py\nx = 1\n```\n")
    result, _ = await run_to(workflow(server.url, uses="code"), plugins, tmp_path / "out")
    outcome = result.steps["write"]
    assert outcome.status == "failed"
    assert outcome.attempts == 1
    assert "resolves outside" in (outcome.error or "")
    assert list(outside.iterdir()) == []


UNITY_REPLY = """Here is the component and its tests.

```csharp generate_component_code.cs
using UnityEngine;

/// <summary>Moves the player.</summary>
public class PlayerMovement : MonoBehaviour { }

/// <summary>Tuning values.</summary>
public class PlayerMovementSettings : ScriptableObject { }
```

```csharp
using System.Collections;
using NUnit.Framework;
using UnityEngine.TestTools;

public class PlayerMovementTests
{
    [UnityTest]
    public IEnumerator FallsUnderGravity() { yield return new WaitForFixedUpdate(); }
}
```
"""


async def test_csharp_files_are_named_after_their_types_and_tests_laid_out_for_unity(
    server: FakeOpenAI, plugins: cadenza.plugins.Plugins, tmp_path: Path
) -> None:
    """The output's files list is exactly what is on disk, each path relative to dir."""
    server.default = Reply(text=UNITY_REPLY)
    result, _ = await run_to(workflow(server.url, uses="code"), plugins, tmp_path)
    output = result.steps["write"].output
    on_disk = files_under(tmp_path / "write")
    assert [f["path"] for f in output["files"]] == [
        "PlayerMovement.cs",
        "PlayerMovementSettings.cs",
        "Assets/Tests/PlayMode/PlayerMovementTests.cs",
        "Assets/Scripts/Scripts.asmdef",
        "Assets/Tests/PlayMode/Tests.PlayMode.asmdef",
    ]
    assert set(on_disk) == {f["path"] for f in output["files"]}
    assert output["dir"] == str(tmp_path / "write")
    assert output["text"] == UNITY_REPLY
    entries = {f["path"]: f for f in output["files"]}
    assert entries["PlayerMovement.cs"]["requested_path"] == "generate_component_code.cs"
    assert "requested_path" not in entries["Assets/Tests/PlayMode/PlayerMovementTests.cs"]
    assert entries["Assets/Scripts/Scripts.asmdef"]["language"] == "json"
    for path, entry in entries.items():
        assert entry["bytes"] == len(on_disk[path].encode("utf-8"))
    assert "ScriptableObject" not in on_disk["PlayerMovement.cs"]
    assert "/// <summary>Tuning values.</summary>" in on_disk["PlayerMovementSettings.cs"]


async def test_csharp_naming_without_an_output_folder(
    server: FakeOpenAI, plugins: cadenza.plugins.Plugins
) -> None:
    """With no folder the renamed parts come back inline, each with its own content."""
    server.default = Reply(text=UNITY_REPLY)
    loaded = cadenza.load_workflow_text(
        workflow(server.url, uses="code"), plugins=plugins, environ=ENV
    )
    result = await cadenza.run_workflow(loaded.workflow, plugins=plugins)
    output = result.steps["write"].output
    assert output["dir"] is None
    contents = {f["path"]: f["content"] for f in output["files"]}
    assert "public class PlayerMovementSettings" in contents["PlayerMovementSettings.cs"]
    assert "public class PlayerMovement " in contents["PlayerMovement.cs"]
