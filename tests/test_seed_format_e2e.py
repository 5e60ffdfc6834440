"""The seed's own config file, unchanged but for its endpoints, runs against loopback agents."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest
import trio

from cadenza.testing import Ok, SeedAgentServer, Status, open_seed_agent_server, run_captured

ROOT = Path(__file__).resolve().parents[1]
SEED = ROOT / "examples" / "seed" / "ai_workflow_config.yaml"
ENV = {"OPENAI_API_KEY": "sk-seed-test-key-0001", "ASSET_OPTIMIZER_KEY": "ao-seed-test-key-0002"}


def seed_text(code_url: str, asset_url: str) -> str:
    """The seed file with only its two internet endpoints pointed at loopback servers."""
    text = SEED.read_text()
    text = text.replace("https://api.openai.com/v1/chat/completions", code_url)
    return text.replace("https://api.unity-asset-optimizer.com/v1/optimize", asset_url)


async def test_seed_workflow_runs_against_loopback_seed_agents() -> None:
    """Code generation then asset optimisation run over the seed protocol; unserved steps fail."""
    async with (
        open_seed_agent_server() as code_server,
        open_seed_agent_server(faults=[Status(503, retry_after=0.05)]) as asset_server,
    ):
        captured = await run_captured(
            seed_text(code_server.url + "/v1/chat", asset_server.url + "/v1/optimize"),
            environ=ENV,
        )
    steps = captured.result.steps
    assert steps["generate_component_code"].status == "succeeded"
    assert steps["optimize_assets"].status == "succeeded"
    assert steps["optimize_assets"].attempts == 2  # the 503 was retried after Retry-After
    for unserved, capability in (
        ("generate_documentation", "documentation"),
        ("generate_tests", "testing"),
    ):
        assert steps[unserved].status == "failed"
        assert f"no agent serves {capability!r}" in (steps[unserved].error or "")

    (code_call,) = code_server.calls
    assert code_call.path == "/v1/chat"
    assert code_call.authorization == f"Bearer {ENV['OPENAI_API_KEY']}"
    assert code_call.json == {
        "task_id": "generate_component_code",
        "task_type": "code_generator",
        "data": {
            "feature_description": "Player movement system with physics",
            "language": "csharp",
            "framework": "unity",
        },
        "priority": 10,
    }
    first, second = asset_server.calls
    assert first.idempotency_key == second.idempotency_key
    assert second.json["data"]["target_platform"] == "mobile"
    assert second.at >= code_call.at  # needs generate_component_code

    dumped = json.dumps([e.to_dict() for e in captured.events])
    for secret in ENV.values():
        assert secret not in dumped


@pytest.mark.slow
def test_seed_file_runs_from_the_cli(tmp_path: Path) -> None:
    """`cadenza run` on the seed file reports the served steps and the unserved ones."""
    seed_file = tmp_path / "ai_workflow_config.yaml"
    result: dict[str, object] = {}

    async def main() -> None:
        async with trio.open_nursery() as nursery:
            server: SeedAgentServer = await nursery.start(
                SeedAgentServer(default=Ok({"output": {"ok": True}})).serve
            )
            seed_file.write_text(seed_text(server.url, server.url))
            proc = await trio.run_process(
                [sys.executable, "-m", "cadenza", "run", str(seed_file), "--json"],
                env={**os.environ, **ENV},
                capture_stdout=True,
                capture_stderr=True,
                check=False,
            )
            result["code"] = proc.returncode
            result["stdout"] = proc.stdout.decode()
            result["stderr"] = proc.stderr.decode()
            result["calls"] = len(server.calls)
            nursery.cancel_scope.cancel()

    trio.run(main)
    assert result["code"] == 1, result["stderr"]
    summary = json.loads(str(result["stdout"]))
    assert summary["counts"] == {"succeeded": 2, "failed": 2, "skipped": 0, "cancelled": 0}
    assert summary["steps"]["generate_component_code"]["output"] == {"ok": True}
    assert result["calls"] == 2
    stderr = str(result["stderr"])
    assert "warning" in stderr
    assert "documentation" in stderr
    for secret in ENV.values():
        assert secret not in stderr
        assert secret not in str(result["stdout"])
