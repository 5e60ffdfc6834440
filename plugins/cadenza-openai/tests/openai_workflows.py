"""Workflow text and the secret the tests share (imported by test modules, unlike conftest)."""

from __future__ import annotations

API_KEY = "sk-test-cadenza-0123456789abcdef"
"""The key tests put in the environment; it must never show in a message, event or log."""

ENV = {"OPENAI_API_KEY": API_KEY}
"""The environment runs load the workflow with."""


def workflow(
    url: str,
    *,
    options: str = "",
    uses: str = "writer",
    with_: str = '{prompt: "Say hello."}',
    step: str = "",
    agent: str = "",
) -> str:
    """A one-step workflow whose agent ``writer`` points at ``url`` with key ``${OPENAI_API_KEY}``.

    ``options`` adds lines to the agent's options (flow style, comma-led);
    ``agent`` and ``step`` add keys to the agent and the step.
    """
    return f"""
agents:
  writer:
    kind: openai
    {agent}
    options: {{base_url: "{url}", model: fake-model, api_key: "${{OPENAI_API_KEY}}"{options}}}
steps:
  write:
    uses: {uses}
    retry: {{max_attempts: 3, backoff: 10ms, max_backoff: 1s}}
    with: {with_}
    {step}
"""
