"""per-file.yaml end to end through the CLI: planner -> one coder call per file -> review, docs.

Run by ``nox -s example`` (the kernel and the first-party plugins in one
virtualenv). Two runs, neither reaching a network: offline (no
OPENAI_API_KEY), where every model step falls back and says so; and against
``cadenza_openai.testing.FakeOpenAI`` on 127.0.0.1, where the model plans,
writes and reviews, so nothing may be degraded.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import trio

from cadenza_openai.testing import Call, FakeOpenAI, Reply

HERE = Path(__file__).resolve().parent
FLOW = HERE / "per-file.yaml"
API_KEY = "sk-test-per-file-0123456789abcdef"
MODEL_STEPS = ["build", "plan", "review"]
"""The steps a model serves: offline, exactly these are degraded."""

PLAN = {
    "files": [
        {"path": "Assets/Scripts/PlayerMovement.cs", "class": "PlayerMovement"},
        {"path": "Assets/Scripts/JumpBuffer.cs", "class": "JumpBuffer"},
        {"path": "Assets/Tests/EditMode/PlayerMovementTests.cs", "class": "PlayerMovementTests"},
        {"path": "Assets/Tests/EditMode/JumpBufferTests.cs", "class": "JumpBufferTests"},
    ]
}
"""What the fake model plans (four files, not the offline plan's three)."""
REVIEW = "PlayerMovement.cs: moves the body in FixedUpdate, good. Verdict: approve."
_ASKED = re.compile(r"Write (?P<path>Assets/\S+\.cs), the class (?P<cls>\w+),")


def code_for(cls: str) -> str:
    """The C# the fake model writes for ``cls``: documented, so docgen counts it.

    Test classes are NUnit tests, as a model writes them: JumpBufferTests
    checks plain logic (edit mode); PlayerMovementTests waits for physics
    steps in a ``[UnityTest]`` coroutine (play mode).
    """
    if cls == "PlayerMovementTests":
        return (
            "using System.Collections;\nusing NUnit.Framework;\nusing UnityEngine;\n"
            "using UnityEngine.TestTools;\n\n"
            f"/// <summary>{cls}, written by the fake model.</summary>\n"
            f"public class {cls}\n{{\n"
            "    /// <summary>The body moves after a physics step.</summary>\n"
            "    [UnityTest]\n    public IEnumerator Moves()\n    {\n"
            '        var player = new GameObject("p").AddComponent<PlayerMovement>();\n'
            "        yield return new WaitForFixedUpdate();\n"
            "        Assert.IsNotNull(player);\n    }\n}\n"
        )
    if cls.endswith("Tests"):
        return (
            "using NUnit.Framework;\n\n"
            f"/// <summary>{cls}, written by the fake model.</summary>\n"
            f"public class {cls}\n{{\n"
            "    /// <summary>A new buffer holds no jump.</summary>\n"
            "    [Test]\n"
            "    public void StartsEmpty() => Assert.IsFalse(new JumpBuffer().Pending);\n}\n"
        )
    return (
        "using UnityEngine;\n\n"
        f"/// <summary>{cls}, written by the fake model.</summary>\n"
        f"public class {cls} : MonoBehaviour\n{{\n"
        f"    /// <summary>How fast {cls} goes.</summary>\n"
        "    [SerializeField] private float speed = 5f;\n}\n"
    )


WRITTEN_AS = {
    "Assets/Scripts/PlayerMovement.cs": "Assets/Scripts/PlayerMovement.cs",
    "Assets/Scripts/JumpBuffer.cs": "Assets/Scripts/JumpBuffer.cs",
    "Assets/Tests/EditMode/PlayerMovementTests.cs": "Assets/Tests/PlayMode/PlayerMovementTests.cs",
    "Assets/Tests/EditMode/JumpBufferTests.cs": "Assets/Tests/EditMode/JumpBufferTests.cs",
}
"""Where each planned file is written: a [UnityTest] test moves to the PlayMode folder."""
ASMDEFS = {
    "Assets/Scripts/Scripts.asmdef",
    "Assets/Tests/EditMode/Tests.EditMode.asmdef",
    "Assets/Tests/PlayMode/Tests.PlayMode.asmdef",
}


def model(call: Call) -> Reply:
    """Plan as JSON, write the one file a coder call names, review the rest."""
    system = call.message("system")
    if "JSON only" in system:
        return Reply(text=json.dumps(PLAN), usage=(200, 60))
    if (asked := _ASKED.search(call.prompt)) is not None:
        block = f"```csharp {asked['path']}\n{code_for(asked['cls'])}```"
        return Reply(text=f"Here is {asked['cls']}.\n\n{block}\n", usage=(300, 120))
    assert "reviewing" in system, system
    return Reply(text=REVIEW, usage=(900, 40))


def environment(**values: str) -> dict[str, str]:
    """This process's environment without OPENAI_* variables, plus ``values``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI_")}
    return {**env, **values}


def command(out: Path) -> list[str]:
    return [sys.executable, "-m", "cadenza", "run", str(FLOW), "--no-journal", "--no-progress",
            "--json", "--out", str(out)]  # fmt: skip


def written(summary: dict[str, Any], *, suffix: str = ".cs") -> dict[Path, str]:
    """Every ``suffix`` file the build items say they wrote, absolute path to content.

    Only the assembly definitions may be written by two items (the same
    file with the same content, by each item that wrote tests).
    """
    files: dict[Path, str] = {}
    for item in summary["steps"]["build"]["items"]:
        output = item["output"]
        for entry in output["files"]:
            path = Path(output["dir"]) / entry["path"]
            if path.suffix != suffix:
                continue
            text = path.read_text(encoding="utf-8")
            assert path not in files or (suffix == ".asmdef" and files[path] == text), path
            files[path] = text
    return files


@pytest.fixture(scope="module")
def offline(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """`cadenza run per-file.yaml` with no key: its JSON summary and output folder."""
    out = tmp_path_factory.mktemp("per-file-offline") / "out"
    proc = subprocess.run(
        command(out), capture_output=True, text=True, env=environment(), timeout=300, cwd=HERE
    )
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    return {"summary": json.loads(proc.stdout), "out": out}


@pytest.fixture(scope="module")
def online(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The same run against the fake model: summary, output folder and the calls it got."""
    out = tmp_path_factory.mktemp("per-file-online") / "out"
    server = FakeOpenAI(api_key=API_KEY, handler=model)

    async def main() -> subprocess.CompletedProcess[bytes]:
        with trio.fail_after(300):
            async with trio.open_nursery() as nursery:
                await nursery.start(server.serve)
                env = environment(OPENAI_BASE_URL=server.url, OPENAI_API_KEY=API_KEY)
                proc = await trio.run_process(
                    command(out), capture_stdout=True, capture_stderr=True, check=False,
                    env=env, cwd=HERE,
                )  # fmt: skip
                nursery.cancel_scope.cancel()
        return proc

    proc = trio.run(main)
    stderr = proc.stderr.decode()
    assert proc.returncode == 0, stderr
    assert "Traceback" not in stderr
    assert API_KEY not in stderr + proc.stdout.decode()
    return {"summary": json.loads(proc.stdout), "out": out, "calls": server.chat_calls}


def test_offline_every_step_succeeds_and_exactly_the_model_steps_are_degraded(
    offline: dict[str, Any],
) -> None:
    """plan, build and review fall back, each saying why; docs and report do real work."""
    summary = offline["summary"]
    assert summary["status"] == "succeeded"
    assert sorted(summary["degraded"]) == MODEL_STEPS
    steps = summary["steps"]
    for step in ("plan", "review"):
        assert steps[step]["source"] == "fallback template"
        assert "no API key" in steps[step]["reason"]
    for step in ("docs", "report"):
        assert steps[step]["status"] == "succeeded"
        assert not steps[step]["degraded"]
    assert "No review: no model answered, so the 3 files were not reviewed." in json.dumps(
        steps["review"]["output"]
    )


def test_offline_build_ran_one_item_per_planned_file(offline: dict[str, Any]) -> None:
    """The fallback plan lists three files; build ran three items, in plan order."""
    steps = offline["summary"]["steps"]
    planned = steps["plan"]["output"]["files"]
    assert [f["class"] for f in planned] == [
        "PlayerMovement",
        "PlayerMovementSettings",
        "PlayerMovementTests",
    ]
    items = steps["build"]["items"]
    assert len(items) == len(planned)
    assert steps["build"]["output"] == [item["output"] for item in items]
    for item, file in zip(items, planned, strict=True):
        assert item["status"] == "succeeded"
        assert item["degraded"]
        assert (
            item["source"] == f"fallback openai_template: stub {file['class']}.cs, not model output"
        )
        assert "no API key" in item["reason"]


def test_offline_each_item_wrote_its_own_stub_that_says_it_is_not_model_output(
    offline: dict[str, Any],
) -> None:
    """One stub per item, none overwritten, each marked and named after its planned class."""
    summary = offline["summary"]
    files = written(summary)
    planned = [f["class"] for f in summary["steps"]["plan"]["output"]["files"]]
    assert sorted(p.name for p in files) == sorted(f"{cls}.cs" for cls in planned)
    for path, text in files.items():
        assert path.is_relative_to(offline["out"])
        assert "GENERATED BY FALLBACK — NOT MODEL OUTPUT" in text
        assert f"public class {path.stem}\n" in text
        assert "NotImplementedException" in text


def test_offline_docs_read_every_written_file(offline: dict[str, Any]) -> None:
    """docgen documented each stub the items wrote, and the report counts them as stubs."""
    summary = offline["summary"]
    docs = summary["steps"]["docs"]["output"]
    assert {Path(f["path"]) for f in docs["files"]} == set(written(summary))
    assert all(Path(f["markdown"]).is_file() for f in docs["files"])
    report = summary["steps"]["report"]["output"]
    assert report.startswith("Planned 3 files; wrote 3, of which 3 are fallback stubs")


def test_with_a_model_nothing_is_degraded(online: dict[str, Any]) -> None:
    """Against a model every step succeeds first time and no fallback serves any of them."""
    summary = online["summary"]
    assert summary["status"] == "succeeded"
    assert summary["degraded"] == []
    for step, outcome in summary["steps"].items():
        assert not outcome["degraded"], step
        assert outcome["source"] == "", step
    assert summary["steps"]["plan"]["output"] == PLAN
    assert summary["cost"]["usd"] > 0


def test_with_a_model_the_plan_asks_for_json_and_each_file_gets_one_call(
    online: dict[str, Any],
) -> None:
    """One JSON-mode planner call, one coder call per planned file, one review call."""
    calls: list[Call] = online["calls"]
    plans = [c for c in calls if "response_format" in c.json]
    assert len(plans) == 1
    assert plans[0].json["response_format"] == {"type": "json_object"}
    coded = [m["path"] for c in calls if (m := _ASKED.search(c.prompt)) is not None]
    assert sorted(coded) == sorted(f["path"] for f in PLAN["files"])
    assert len(calls) == 1 + len(PLAN["files"]) + 1
    items = online["summary"]["steps"]["build"]["items"]
    assert [i["agent"] for i in items] == ["coder"] * len(PLAN["files"])
    assert [i["attempts"] for i in items] == [1] * len(PLAN["files"])


def test_with_a_model_each_file_is_written_where_its_item_says(online: dict[str, Any]) -> None:
    """The model's named blocks became the planned files, one per item, none overwritten.

    Scripts stay where the plan put them (their names agree with their
    classes); each test goes to the Test Runner folder of its mode, beside
    its assembly definition, and the items that wrote tests add the asmdefs.
    """
    summary = online["summary"]
    files = written(summary)
    assert len(files) == len(PLAN["files"])
    by_class = {path.stem: text for path, text in files.items()}
    assert by_class == {f["class"]: code_for(f["class"]) for f in PLAN["files"]}
    for item, planned in zip(summary["steps"]["build"]["items"], PLAN["files"], strict=True):
        paths = [f["path"] for f in item["output"]["files"]]
        assert paths[0] == WRITTEN_AS[planned["path"]]
        assert set(paths[1:]) <= ASMDEFS
    root = Path(summary["steps"]["build"]["items"][0]["output"]["dir"])
    assert {str(p.relative_to(root)) for p in written(summary, suffix=".asmdef")} == ASMDEFS
    for path, text in written(summary, suffix=".asmdef").items():
        assembly = json.loads(text)
        assert assembly["name"] == path.stem
        if assembly["name"].startswith("Tests."):
            assert assembly["references"][0] == "Scripts"
            assert assembly["precompiledReferences"] == ["nunit.framework.dll"]
            assert assembly["defineConstraints"] == ["UNITY_INCLUDE_TESTS"]
            assert assembly["includePlatforms"] == (["Editor"] if "Edit" in path.stem else [])


def test_with_a_model_the_review_read_every_file_and_docs_cover_them(
    online: dict[str, Any],
) -> None:
    """The review prompt holds every file's code; docgen documented every written file."""
    summary = online["summary"]
    (review,) = [c for c in online["calls"] if "reviewing" in c.message("system")]
    for file in PLAN["files"]:
        assert f"public class {file['class']}" in review.prompt
    assert summary["steps"]["review"]["output"] == REVIEW
    docs = summary["steps"]["docs"]["output"]
    assert {Path(f["path"]) for f in docs["files"]} == set(written(summary))
    assert docs["documented"] == docs["total"] == 2 * len(PLAN["files"])
    report = summary["steps"]["report"]["output"]
    assert report.startswith("Planned 4 files; wrote 4, of which 0 are fallback stubs")
