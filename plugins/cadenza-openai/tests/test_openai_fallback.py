"""The openai_template fallback writes an honest stub when no model could answer."""

from __future__ import annotations

from pathlib import Path

import pytest
import trio
from openai_workflows import ENV, workflow

import cadenza
from cadenza.testing import run_captured
from cadenza_openai._fallback import MARKER, StubFallback, render_stub
from cadenza_openai.testing import FakeOpenAI, Status

FALLBACK_STEP = "fallback: [{strategy: openai_template, language: csharp}]"


async def test_fallback_stands_in_marked_and_degraded(
    server: FakeOpenAI, plugins: cadenza.plugins.Plugins
) -> None:
    """When every attempt fails, the step gets a stub marked as fallback output, degraded."""
    server.default = Status(500, message="down")
    text = workflow(
        server.url,
        uses="code",
        with_='{prompt: "x", component: "player movement"}',
        step=FALLBACK_STEP,
    )
    captured = await run_captured(text, plugins=plugins, environ=ENV)
    outcome = captured.result.steps["write"]
    assert outcome.status == "succeeded"
    assert outcome.degraded
    assert outcome.source == "fallback openai_template: stub PlayerMovement.cs, not model output"
    assert captured.result.degraded == ["write"]
    (started,) = captured.of("fallback_started")
    assert "HTTP 500: down" in started.error
    (done,) = captured.of("step_succeeded")
    assert done.degraded is True

    output = outcome.output
    assert output["degraded"] is True
    assert output["finish_reason"] == "fallback"
    assert "HTTP 500: down" in output["reason"]
    (entry,) = output["files"]
    assert (entry["path"], entry["language"]) == ("PlayerMovement.cs", "csharp")
    # Written when the kernel gives fallbacks an output folder, else returned inline.
    content = entry.get("content") or await trio.Path(output["dir"], entry["path"]).read_text()
    assert content.startswith(f"// {MARKER}\n")
    assert "public class PlayerMovement" in content
    assert "NotImplementedException" in content


async def test_fallback_writes_into_the_output_folder(tmp_path: Path) -> None:
    """Given an output folder, the stub is written there and listed with its size."""
    request = cadenza.AgentRequest(
        run_id="r",
        step_id="build",
        task_type="code",
        inputs={"component": "Inventory", "language": "python"},
        attempt=3,
        idempotency_key="k",
        output_dir=tmp_path / "build",
    )

    class Context:
        error = "every agent failed"

    result = await StubFallback().run(request, context=Context())
    assert result.degraded
    written = tmp_path / "build" / "inventory.py"
    content = written.read_text()
    assert content.startswith(f"# {MARKER}\n")
    assert result.output["dir"] == str(tmp_path / "build")
    assert result.output["files"] == [
        {"path": "inventory.py", "language": "python", "bytes": len(content.encode())}
    ]
    assert result.output["reason"] == "every agent failed"


async def test_fallback_without_an_output_folder(
    server: FakeOpenAI, plugins: cadenza.plugins.Plugins
) -> None:
    """With no output folder the stub comes back in the output, still marked."""
    server.default = Status(401)
    text = workflow(server.url, uses="code", step="fallback: [openai_template]")
    captured = await run_captured(text, plugins=plugins, environ=ENV)
    outcome = captured.result.steps["write"]
    assert outcome.degraded
    (entry,) = outcome.output["files"]
    assert entry["path"] == "write.py"
    assert entry["content"].startswith(f"# {MARKER}\n")
    assert "raise NotImplementedError" in entry["content"]


def test_bad_fallback_option_is_reported_when_loading(plugins: cadenza.plugins.Plugins) -> None:
    """An unknown option of the strategy is a load problem."""
    text = workflow(
        "http://127.0.0.1:8000/v1", step="fallback: [{strategy: openai_template, lang: go}]"
    )
    with pytest.raises(cadenza.WorkflowError) as caught:
        cadenza.load_workflow_text(text, plugins=plugins, environ=ENV)
    assert "unknown option(s) lang for the openai_template fallback" in str(caught.value)


def test_option_types_are_checked() -> None:
    """language and component must be non-empty strings."""
    with pytest.raises(ValueError, match="language must be a non-empty string"):
        StubFallback.from_options({"language": 3})


@pytest.mark.parametrize(
    ("language", "path", "comment", "refusal"),
    [
        ("python", "player_movement.py", "#", "raise NotImplementedError"),
        ("py", "player_movement.py", "#", "raise NotImplementedError"),
        ("C#", "PlayerMovement.cs", "//", "throw new System.NotImplementedException"),
        ("typescript", "PlayerMovement.ts", "//", "throw new Error"),
        ("javascript", "PlayerMovement.js", "//", "throw new Error"),
        ("java", "PlayerMovement.java", "//", "throw new UnsupportedOperationException"),
        ("go", "player_movement.go", "//", "panic("),
        ("rust", "player_movement.rs", "//", "unimplemented!("),
        ("cpp", "player_movement.cpp", "//", "throw std::logic_error"),
        ("cobol", "player_movement.txt", None, "TODO:"),
    ],
)
def test_stub_per_language(language: str, path: str, comment: str | None, refusal: str) -> None:
    """Each language gets its naming convention, a marker comment and code that refuses to run."""
    stub = render_stub(language, "PlayerMovement", step_id="build")
    assert stub.path == path
    first = stub.content.splitlines()[0]
    assert first == (f"{comment} {MARKER}" if comment else MARKER)
    assert refusal in stub.content
    assert "'build'" in stub.content


def test_component_names_become_identifiers() -> None:
    """Odd component names still give valid identifiers."""
    stub = render_stub("python", "3d HTTPServer-thing", step_id="s")
    assert stub.path == "component_3d_http_server_thing.py"
    assert "class Component3dHttpServerThing:" in stub.content


async def test_an_empty_key_for_a_remote_server_falls_back_without_calling_it(
    plugins: cadenza.plugins.Plugins, tmp_path: Path
) -> None:
    """`api_key: ${OPENAI_API_KEY:-}` with the variable unset: the file loads, no request is
    sent (this test has no server at all), and the fallback serves the step, degraded."""
    text = f"""
name: offline
agents:
  coder:
    kind: openai
    capabilities: [code_generator]
    options:
      base_url: "https://api.openai.com/v1"
      api_key: "${{OPENAI_API_KEY:-}}"
      model: gpt-4o-mini
steps:
  write:
    uses: code_generator
    retry: 3
    with: {{prompt: "A player controller", component: "player movement"}}
    {FALLBACK_STEP}
"""
    captured = await run_captured(text, plugins=plugins, environ={}, output_dir=tmp_path)
    outcome = captured.result.steps["write"]
    assert outcome.status == "succeeded"
    assert outcome.degraded
    (failed,) = captured.of("attempt_failed")  # permanent: no retry was spent on it
    assert failed.error_type == "PermanentError"
    assert "no API key for https://api.openai.com/v1" in failed.message
    (stub,) = list((tmp_path / "write").rglob("*.cs"))
    assert stub.read_text().startswith(f"// {MARKER}\n")
