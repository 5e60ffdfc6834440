"""Calls through a real workflow: streaming, progress, whole replies, usage and cost."""

from __future__ import annotations

import pytest
from openai_workflows import API_KEY, ENV, workflow

import cadenza
from cadenza.testing import run_captured
from cadenza_openai._messages import task_prompt
from cadenza_openai.testing import FakeOpenAI, Reply


async def test_streamed_reply_is_the_output(
    server: FakeOpenAI, plugins: cadenza.plugins.Plugins
) -> None:
    """A streamed reply's deltas are joined into the step's output."""
    server.default = Reply(text="Hello there, workflow.")
    captured = await run_captured(workflow(server.url), plugins=plugins, environ=ENV)
    assert captured.result.status == "succeeded"
    assert captured.result.steps["write"].output == "Hello there, workflow."
    (call,) = server.chat_calls
    assert call.json["stream"] is True
    assert call.json["stream_options"] == {"include_usage": True}
    assert call.json["model"] == "fake-model"
    assert call.json["messages"] == [{"role": "user", "content": "Say hello."}]
    assert call.authorization == f"Bearer {API_KEY}"
    assert call.headers["accept"] == "text/event-stream"
    assert call.headers["user-agent"].startswith("cadenza-openai/")


async def test_progress_events_while_streaming(
    server: FakeOpenAI, plugins: cadenza.plugins.Plugins
) -> None:
    """Observers see attempt_progress with a growing token count as chunks arrive."""
    pieces = ("one ", "two ", "three ", "four")
    server.default = Reply(text="".join(pieces), chunks=pieces, usage=(5, 4), pause=0.3)
    captured = await run_captured(workflow(server.url), plugins=plugins, environ=ENV)
    assert captured.result.steps["write"].output == "one two three four"
    progress = captured.of("attempt_progress")
    assert len(progress) >= 3  # the kernel passes on at most one per 0.25s
    tokens = [e.tokens for e in progress]
    assert tokens == sorted(tokens)
    assert tokens[0] == 1
    assert tokens[-1] == 4
    assert all(e.message == f"{e.tokens} tokens" for e in progress)
    assert {(e.step_id, e.agent, e.attempt) for e in progress} == {("write", "writer", 1)}


async def test_every_chunk_reports_progress(
    server: FakeOpenAI, plugins: cadenza.plugins.Plugins
) -> None:
    """The agent reports each content chunk (the kernel throttles what observers see)."""
    from cadenza_openai._agent import OpenAIAgent

    server.default = Reply(text="a b c", usage=(3, 3))
    loaded = cadenza.load_workflow_text(workflow(server.url), plugins=plugins, environ=ENV)
    agent = OpenAIAgent.from_config(loaded.workflow.agents["writer"])
    reported: list[tuple[str, int | None]] = []
    request = cadenza.AgentRequest(
        run_id="r",
        step_id="write",
        task_type="writer",
        inputs={"prompt": "hi"},
        attempt=1,
        idempotency_key="k",
        progress=lambda message, tokens: reported.append((message, tokens)),
    )
    try:
        result = await agent.run(request)
    finally:
        await agent.aclose()
    assert result.output == "a b c"
    assert reported == [("1 tokens", 1), ("2 tokens", 2), ("3 tokens", 3), ("3 tokens", 3)]


async def test_usage_and_cost_from_price(
    server: FakeOpenAI, plugins: cadenza.plugins.Plugins
) -> None:
    """The server's usage is reported; the kernel prices it with the agent's price:."""
    server.default = Reply(text="priced", usage=(1000, 500))
    text = workflow(server.url, agent="price: {input_per_1k: 0.5, output_per_1k: 2.0}")
    captured = await run_captured(text, plugins=plugins, environ=ENV)
    (cost,) = captured.of("cost_incurred")
    assert (cost.input_tokens, cost.output_tokens) == (1000, 500)
    assert cost.cost_usd == pytest.approx(0.5 + 1.0)
    (done,) = captured.of("step_succeeded")
    assert (done.input_tokens, done.output_tokens) == (1000, 500)
    assert captured.result.cost_usd == pytest.approx(1.5)


async def test_whole_reply_without_streaming(
    server: FakeOpenAI, plugins: cadenza.plugins.Plugins
) -> None:
    """stream: false sends one request and reads the whole reply, usage included."""
    server.default = Reply(text="not streamed", usage=(8, 2))
    text = workflow(server.url, options=", stream: false, temperature: 0.1, max_tokens: 50")
    captured = await run_captured(text, plugins=plugins, environ=ENV)
    assert captured.result.steps["write"].output == "not streamed"
    (call,) = server.chat_calls
    assert call.json["stream"] is False
    assert "stream_options" not in call.json
    assert (call.json["temperature"], call.json["max_tokens"]) == (0.1, 50)
    (done,) = captured.of("step_succeeded")
    assert (done.input_tokens, done.output_tokens) == (8, 2)


async def test_missing_usage_is_estimated(
    server: FakeOpenAI, plugins: cadenza.plugins.Plugins
) -> None:
    """A server that sends no usage gets an estimate: chunks out, characters / 4 in."""
    server.default = Reply(text="x y z", usage=None)
    captured = await run_captured(workflow(server.url), plugins=plugins, environ=ENV)
    (done,) = captured.of("step_succeeded")
    assert done.output_tokens == 3
    assert done.input_tokens == 3  # len("Say hello.") / 4, rounded up


async def test_templates_render_system_and_prompt(
    server: FakeOpenAI, plugins: cadenza.plugins.Plugins
) -> None:
    """system: and prompt: templates are filled in with the step's inputs."""
    options = ', system: "You write {language}.", prompt: "Write {component} with {limits}."'
    with_ = '{language: "C#", component: PlayerMovement, limits: {speed: 5}}'
    text = workflow(server.url, options=options, with_=with_)
    captured = await run_captured(text, plugins=plugins, environ=ENV)
    assert captured.result.status == "succeeded"
    (call,) = server.chat_calls
    assert call.json["messages"] == [
        {"role": "system", "content": "You write C#."},
        {"role": "user", "content": 'Write PlayerMovement with {"speed": 5}.'},
    ]


async def test_without_a_prompt_the_task_is_the_prompt(
    server: FakeOpenAI, plugins: cadenza.plugins.Plugins
) -> None:
    """Without a prompt input or template the user message is the task type and its inputs."""
    with_ = "{feature_description: Player movement, language: csharp, coverage_target: 80}"
    text = workflow(server.url, uses="documentation", options=', system: "Be brief."', with_=with_)
    captured = await run_captured(text, plugins=plugins, environ=ENV)
    assert captured.result.steps["write"].status == "succeeded"
    (call,) = server.chat_calls
    assert call.json["messages"] == [
        {"role": "system", "content": "Be brief."},
        {
            "role": "user",
            "content": "Task: documentation\n\n"
            "feature_description: Player movement\nlanguage: csharp\ncoverage_target: 80",
        },
    ]


def test_task_prompt_renders_inputs_like_yaml() -> None:
    """Strings as they are, nested values as JSON, multi-line strings indented, YAML literals."""
    inputs = {
        "code_files": ["PlayerMovement.cs", "PhysicsController.cs"],
        "limits": {"speed": 5},
        "strict": True,
        "owner": None,
        "notes": "line one\n\nline two",
        "format": "markdown",
    }
    assert task_prompt("documentation", inputs) == (
        "Task: documentation\n"
        "\n"
        'code_files: ["PlayerMovement.cs", "PhysicsController.cs"]\n'
        'limits: {"speed": 5}\n'
        "strict: true\n"
        "owner: null\n"
        "notes:\n"
        "  line one\n"
        "\n"
        "  line two\n"
        "format: markdown"
    )
    assert task_prompt("testing", {}) == "Task: testing"


async def test_missing_placeholder_fails_permanently(
    server: FakeOpenAI, plugins: cadenza.plugins.Plugins
) -> None:
    """A prompt placeholder without an input names it and the inputs there are."""
    text = workflow(server.url, options=', prompt: "Write {component}"', with_="{name: x}")
    captured = await run_captured(text, plugins=plugins, environ=ENV)
    error = captured.result.steps["write"].error or ""
    assert "no input for placeholder {component} of the prompt template" in error
    assert "inputs available: name" in error


async def test_server_ignoring_stream_true(
    server: FakeOpenAI, plugins: cadenza.plugins.Plugins
) -> None:
    """A server that answers stream: true with a whole JSON reply is still understood."""
    server.default = Reply(text="whole anyway", whole=True)
    captured = await run_captured(workflow(server.url), plugins=plugins, environ=ENV)
    assert captured.result.steps["write"].output == "whole anyway"


async def test_connections_are_reused(server: FakeOpenAI, plugins: cadenza.plugins.Plugins) -> None:
    """Steps share the agent's connection pool: after [DONE] the connection is reused."""
    text = workflow(server.url, step="") + (
        "  again: {uses: writer, needs: [write], with: {prompt: again}}\n"
    )
    captured = await run_captured(text, plugins=plugins, environ=ENV)
    assert captured.result.status == "succeeded"
    assert len(server.chat_calls) == 2
    assert server.connections == 1


async def test_concurrent_steps_share_the_agent(
    server: FakeOpenAI, plugins: cadenza.plugins.Plugins
) -> None:
    """Independent steps run at once through the agent's one pool."""
    server.default = Reply(text="ok", pause=0.05)
    steps = "".join(f"  s{i}: {{uses: writer, with: {{prompt: p{i}}}}}\n" for i in range(4))
    text = workflow(server.url) + steps
    captured = await run_captured(text, plugins=plugins, environ=ENV)
    assert captured.result.status == "succeeded"
    assert sorted(c.prompt for c in server.chat_calls) == ["Say hello.", "p0", "p1", "p2", "p3"]
    assert server.connections <= 5


async def test_step_timeout_cancels_a_stream(
    server: FakeOpenAI, plugins: cadenza.plugins.Plugins
) -> None:
    """The step's timeout cancels a stream mid-way; the retry gets a fresh reply."""
    server.replies = [Reply(text="very slow reply", pause=2.0)]
    server.default = Reply(text="quick")
    captured = await run_captured(
        workflow(server.url, step="timeout: 300ms"), plugins=plugins, environ=ENV
    )
    assert captured.result.steps["write"].output == "quick"
    (failed,) = captured.of("attempt_failed")
    assert failed.error_type == "AgentTimeoutError"
