"""The seed's own config runs with the plugins: the CLI, offline, against a loopback model.

Run by ``nox -s example`` (the kernel and the first-party plugins in one
virtualenv). ``ai_workflow_config.plugins.yaml`` runs as its README says,
with OPENAI_BASE_URL pointing at ``cadenza_openai.testing.FakeOpenAI`` (the
plugin's public loopback server) on 127.0.0.1: no test here reaches a
network or needs a real key.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import trio
import yaml

from cadenza_openai.testing import Call, FakeOpenAI, Reply

HERE = Path(__file__).resolve().parent
SEED = HERE / "ai_workflow_config.yaml"
CONFIG = HERE / "ai_workflow_config.plugins.yaml"
TEXTURES = HERE.parent / "unity-feature" / "Assets" / "Textures"
API_KEY = "sk-test-seed-0123456789abcdef"
COMPONENT = """\
using UnityEngine;

/// <summary>Moves the player with physics.</summary>
[RequireComponent(typeof(Rigidbody))]
public class PlayerMovement : MonoBehaviour
{
    [SerializeField] private float speed = 5f;
}
"""
TESTS = """\
using NUnit.Framework;

public class PlayerMovementTests
{
    [Test]
    public void SpeedIsPositive() => Assert.Pass();
}
"""
DOCS = "# PlayerMovement\n\nMoves the player with physics. `speed` sets how fast.\n"
REPLIES = {
    "code_generator": f"Here is the component.\n\n```csharp PlayerMovement.cs\n{COMPONENT}```\n",
    "testing": f"The tests:\n\n```csharp PlayerMovementTests.cs\n{TESTS}```\n",
}
"""The model's reply per task type; any other task gets :data:`DOCS`."""
STEPS = ("generate_component_code", "optimize_assets", "generate_documentation", "generate_tests")


def task(call: Call) -> str:
    """The task type the user message names on its first line (``Task: <type>``)."""
    return call.message("user").partition("\n")[0].removeprefix("Task: ")


def reply(call: Call) -> Reply:
    """C# in a named block for the code and tests tasks, Markdown for the others."""
    return Reply(text=REPLIES.get(task(call), DOCS), usage=(120, 80))


def environment(**values: str) -> dict[str, str]:
    """This process's environment without the file's variables, plus ``values``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "ASSET_"))}
    return {**env, **values}


def digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def validate(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cadenza", "validate", str(CONFIG)],
        capture_output=True, text=True, env=env, timeout=120, cwd=HERE,
    )  # fmt: skip


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One `cadenza run` of the file against the fake server: its summary, output and calls."""
    out = tmp_path_factory.mktemp("seed") / "out"
    before = digest(TEXTURES)
    server = FakeOpenAI(api_key=API_KEY, handler=reply)

    async def main() -> subprocess.CompletedProcess[bytes]:
        with trio.fail_after(300):
            async with trio.open_nursery() as nursery:
                await nursery.start(server.serve)
                env = environment(
                    OPENAI_BASE_URL=server.url, OPENAI_API_KEY=API_KEY, ASSET_OPTIMIZER_KEY=""
                )
                proc = await trio.run_process(
                    [sys.executable, "-m", "cadenza", "run", str(CONFIG), "--no-journal",
                     "--no-progress", "--json", "--out", str(out)],
                    capture_stdout=True, capture_stderr=True, check=False, env=env, cwd=HERE,
                )  # fmt: skip
                nursery.cancel_scope.cancel()
        return proc

    proc = trio.run(main)
    stdout, stderr = proc.stdout.decode(), proc.stderr.decode()
    assert proc.returncode == 0, stderr
    assert "Traceback" not in stderr
    assert digest(TEXTURES) == before, "the originals must never be touched"
    return {
        "summary": json.loads(stdout),
        "stdout": stdout,
        "stderr": stderr,
        "out": out,
        "calls": {task(call): call for call in server.calls},
        "requests": len(server.calls),
    }


def test_the_file_is_the_seed_plus_kinds_and_options() -> None:
    """Every line of the seed is in the file, in order; without kind and options it is the seed."""
    lines = iter(line.rstrip() for line in CONFIG.read_text(encoding="utf-8").splitlines())
    for line in SEED.read_text(encoding="utf-8").splitlines():
        assert any(ours == line.rstrip() for ours in lines), f"seed line missing: {line!r}"
    ours = yaml.safe_load(CONFIG.read_text(encoding="utf-8"))
    added = [{k: agent.pop(k) for k in ("kind", "options")} for agent in ours["agents"]]
    assert ours == yaml.safe_load(SEED.read_text(encoding="utf-8"))
    assert [a["kind"] for a in added] == ["openai", "assets"]


def test_validate_passes_with_warnings_for_the_ignored_endpoints() -> None:
    """`cadenza validate` finds no error; the endpoints the kinds cannot use are warnings."""
    done = validate(environment(OPENAI_API_KEY=API_KEY, ASSET_OPTIMIZER_KEY=""))
    assert done.returncode == 0, done.stderr
    assert "ok (workflow unity_feature_development: 4 steps, 2 agents)" in done.stdout
    warnings = [line for line in done.stderr.splitlines() if ": warning: " in line]
    assert [w.split(": warning: ")[1] for w in warnings] == [
        "agents[0].api_endpoint: agent kind 'openai' has no 'endpoint' option: "
        "api_endpoint is ignored",
        "agents[1].api_endpoint: agent kind 'assets' has no 'endpoint' option: "
        "api_endpoint is ignored",
        "agents[1].api_key: agent kind 'assets' has no 'api_key' option: api_key is ignored",
    ]


def test_the_seed_variables_must_be_set_to_run_even_where_ignored() -> None:
    """`${...}` expands before the kind is known: validate warns, run needs both set (README)."""
    checked = validate(environment())
    assert checked.returncode == 0, checked.stderr
    for name, index in (("OPENAI_API_KEY", 0), ("ASSET_OPTIMIZER_KEY", 1)):
        assert (
            f"warning: agents[{index}].api_key: environment variable {name} is not set "
            "(cadenza run will need it)"
        ) in checked.stderr
    ran = subprocess.run(
        [sys.executable, "-m", "cadenza", "run", str(CONFIG), "--no-journal", "--no-progress"],
        capture_output=True, text=True, env=environment(), timeout=120, cwd=HERE,
    )  # fmt: skip
    assert ran.returncode == 2, ran.stderr
    assert "agents[0].api_key: environment variable OPENAI_API_KEY is not set\n" in ran.stderr
    assert "agents[1].api_key: environment variable ASSET_OPTIMIZER_KEY is not set\n" in ran.stderr


def test_every_step_succeeds_and_none_is_degraded(run: dict[str, Any]) -> None:
    """All four seed steps succeed with real work: no fallback, nothing degraded."""
    summary = run["summary"]
    assert summary["status"] == "succeeded"
    assert summary["degraded"] == []
    assert set(summary["steps"]) == set(STEPS)
    for step in STEPS:
        outcome = summary["steps"][step]
        assert outcome["status"] == "succeeded", outcome["error"]
        assert not outcome["degraded"]
        assert outcome["attempts"] == 1
    assert summary["steps"]["optimize_assets"]["agent"] == "unity_asset_optimizer"
    for step in ("generate_component_code", "generate_documentation", "generate_tests"):
        assert summary["steps"][step]["agent"] == "unity_code_generator"


def test_the_code_generator_wrote_player_movement(run: dict[str, Any]) -> None:
    """The model's fenced PlayerMovement.cs block became a file in the step's folder."""
    output = run["summary"]["steps"]["generate_component_code"]["output"]
    assert [f["path"] for f in output["files"]] == ["PlayerMovement.cs"]
    written = run["out"] / "generate_component_code" / "PlayerMovement.cs"
    assert written.read_text(encoding="utf-8") == COMPONENT


def test_textures_shrink_and_models_are_skipped_with_a_warning(run: dict[str, Any]) -> None:
    """The agent's paths are optimised for mobile; models is a warning in the report."""
    report = run["summary"]["steps"]["optimize_assets"]["output"]
    assert report["preset"] == "mobile"
    assert report["warnings"] == ["models: not supported by cadenza-assets, skipped"]
    totals = report["totals"]
    assert totals["files"] == len(list(TEXTURES.iterdir()))
    assert totals["failed"] == 0
    assert totals["bytes_before"] == sum(p.stat().st_size for p in TEXTURES.iterdir())
    written = [p for p in (run["out"] / "optimize_assets").rglob("*") if p.is_file()]
    assert sum(p.stat().st_size for p in written) == totals["bytes_after"]
    assert totals["bytes_after"] < totals["bytes_before"] / 2


def test_the_docs_and_tests_steps_got_model_replies(run: dict[str, Any]) -> None:
    """Documentation is the model's Markdown; testing writes its test file, like code.

    The NUnit file goes where Unity's Test Runner finds it (edit mode), with
    the assembly definitions it needs (the openai plugin's README).
    """
    steps = run["summary"]["steps"]
    assert steps["generate_documentation"]["output"] == DOCS
    tests = steps["generate_tests"]["output"]
    assert [f["path"] for f in tests["files"]] == [
        "Assets/Tests/EditMode/PlayerMovementTests.cs",
        "Assets/Scripts/Scripts.asmdef",
        "Assets/Tests/EditMode/Tests.EditMode.asmdef",
    ]
    written = run["out"] / "generate_tests" / "Assets/Tests/EditMode/PlayerMovementTests.cs"
    assert written.read_text(encoding="utf-8") == TESTS


def test_the_model_is_asked_each_seed_task(run: dict[str, Any]) -> None:
    """One call per model step, with the key, the default model and the step's data as prompt."""
    calls = run["calls"]
    assert run["requests"] == 3
    assert set(calls) == {"code_generator", "documentation", "testing"}
    for call in calls.values():
        assert call.headers["authorization"] == f"Bearer {API_KEY}"
        assert call.json["model"] == "gpt-4o-mini"
        assert call.message("system").startswith("You are a senior Unity developer")
    assert calls["code_generator"].message("user") == (
        "Task: code_generator\n\n"
        "feature_description: Player movement system with physics\n"
        "language: csharp\n"
        "framework: unity"
    )
    assert calls["documentation"].message("user") == (
        'Task: documentation\n\ncode_files: ["PlayerMovement.cs", "PhysicsController.cs"]\n'
        "format: markdown"
    )
    assert calls["testing"].message("user") == (
        "Task: testing\n\ntest_framework: unity_test_runner\ncoverage_target: 80"
    )


def test_the_api_key_is_never_printed(run: dict[str, Any]) -> None:
    """Neither the summary nor the messages show the key."""
    assert API_KEY not in run["stdout"]
    assert API_KEY not in run["stderr"]
    assert "sk-test" not in run["stdout"] + run["stderr"]
