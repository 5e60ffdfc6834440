"""Option problems are reported when the workflow loads, with file:line and a fix."""

from __future__ import annotations

import pytest

import cadenza
from cadenza_openai._options import is_local_url

KEY = "sk-options-test-0001"


def agent_file(*options: str, base_url: str = "https://api.openai.com/v1") -> str:
    lines = "\n".join(f"      {o}" for o in options)
    return f"""
agents:
  writer:
    kind: openai
    options:
      model: gpt-4o-mini
      base_url: "{base_url}"
{lines}
steps:
  write: {{uses: writer, with: {{prompt: hi}}}}
"""


def problems(plugins: cadenza.plugins.Plugins, text: str, **environ: str) -> list[cadenza.Problem]:
    with pytest.raises(cadenza.WorkflowError) as caught:
        cadenza.load_workflow_text(text, plugins=plugins, environ=environ)
    return list(caught.value.problems)


@pytest.mark.parametrize(
    ("option", "path", "message"),
    [
        ("temperature: hot", "temperature", "expected a number, got a string 'hot'"),
        ("temperature: 3", "temperature", "expected a number from 0 to 2, got 3.0"),
        ("max_tokens: 0", "max_tokens", "expected a whole number >= 1, got 0"),
        ("modle: gpt-4o", "modle", "unknown field 'modle'"),
        ("timeout: forever", "timeout", "expected a duration"),
        ("stream: 'yes'", "stream", "expected true or false"),
        ('system: "You write {lang.name}"', "system", "attribute or index lookup"),
        ('prompt: "Write {"', "prompt", "Single '{' encountered"),
        ("extra_body: {messages: []}", "extra_body", "'messages' is set by the agent itself"),
        ("extra_body: {max_tokens: 5}", "extra_body", "'max_tokens' has its own option"),
        ('headers: {"X Team": a}', "headers", "not a valid HTTP header name"),
    ],
)
def test_bad_option_is_reported_at_its_line(
    plugins: cadenza.plugins.Plugins, option: str, path: str, message: str
) -> None:
    """Each bad option is one problem at its own line (line 9 of the file), naming the option."""
    text = agent_file(f'api_key: "{KEY}"', option)
    (problem,) = problems(plugins, text)
    assert problem.path == f"agents.writer.options.{path}"
    assert problem.location is not None
    assert problem.location.line == 9
    assert message in problem.message


def test_base_url_must_be_the_api_root(plugins: cadenza.plugins.Plugins) -> None:
    """A base_url ending in /chat/completions is refused with the fix."""
    text = agent_file(base_url="http://127.0.0.1:8000/v1/chat/completions")
    (problem,) = problems(plugins, text)
    assert problem.path == "agents.writer.options.base_url"
    assert problem.location is not None
    assert problem.location.line == 7
    assert "Drop /chat/completions" in problem.hint


def test_base_url_must_be_http(plugins: cadenza.plugins.Plugins) -> None:
    """A base_url that is not http(s) is refused with an example."""
    (problem,) = problems(plugins, agent_file(base_url="ftp://models.example.com/v1"))
    assert problem.path == "agents.writer.options.base_url"
    assert "https://api.openai.com/v1" in problem.hint


def test_missing_model_is_reported(plugins: cadenza.plugins.Plugins) -> None:
    """model: is required."""
    text = """
agents:
  local: {kind: openai, options: {base_url: "http://127.0.0.1:11434/v1"}}
steps:
  write: {uses: local, with: {prompt: hi}}
"""
    (problem,) = problems(plugins, text)
    assert problem.message == "missing required field 'model'"
    assert problem.location is not None
    assert problem.location.line == 3


def test_api_key_required_for_a_remote_server(plugins: cadenza.plugins.Plugins) -> None:
    """Without api_key, a remote base_url is refused with how to pass the key."""
    (problem,) = problems(plugins, agent_file())
    assert problem.path == "agents.writer.options.api_key"
    assert "not a local server" in problem.message
    assert "${OPENAI_API_KEY}" in problem.hint


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8000/v1",
        "http://localhost:11434/v1",
        "http://[::1]:1234/v1",
        "http://10.0.0.7:8000/v1",
        "http://ollama:11434/v1",
        "http://gpu-box.local:8080/v1",
    ],
)
def test_api_key_optional_for_a_local_server(plugins: cadenza.plugins.Plugins, url: str) -> None:
    """Local and private-network servers (vLLM, Ollama, llama.cpp) need no key."""
    loaded = cadenza.load_workflow_text(agent_file(base_url=url), plugins=plugins, environ={})
    assert loaded.workflow.agents["writer"].options.api_key is None


def test_is_local_url_refuses_public_hosts() -> None:
    """Public names and addresses are not local."""
    assert not is_local_url("https://api.openai.com/v1")
    assert not is_local_url("http://8.8.8.8/v1")
    assert not is_local_url("http://[2606:4700::1111]/v1")


def test_authorization_header_replaces_api_key(plugins: cadenza.plugins.Plugins) -> None:
    """A remote server may take its credentials from headers: instead of api_key."""
    text = agent_file('headers: {Authorization: "Bearer ${TOKEN}"}')
    loaded = cadenza.load_workflow_text(text, plugins=plugins, environ={"TOKEN": "tok-123456"})
    assert "tok-123456" in loaded.workflow.secrets


def test_api_key_from_the_environment_is_a_secret(plugins: cadenza.plugins.Plugins) -> None:
    """${OPENAI_API_KEY} is expanded, kept secret, and hidden from reprs."""
    text = agent_file('api_key: "${OPENAI_API_KEY}"')
    loaded = cadenza.load_workflow_text(text, plugins=plugins, environ={"OPENAI_API_KEY": KEY})
    config = loaded.workflow.agents["writer"]
    assert config.options.api_key == KEY
    assert KEY in loaded.workflow.secrets
    assert KEY not in repr(config)
    assert KEY not in repr(config.options)


def test_unset_api_key_variable_is_reported(plugins: cadenza.plugins.Plugins) -> None:
    """A missing environment variable is a load problem at the api_key line."""
    (problem,) = problems(plugins, agent_file('api_key: "${OPENAI_API_KEY}"'))
    assert problem.message == "environment variable OPENAI_API_KEY is not set"
    assert problem.location is not None
    assert problem.location.line == 8


def test_key_with_a_newline_is_refused_without_quoting_it(plugins: cadenza.plugins.Plugins) -> None:
    """A key with whitespace is refused, and the message does not contain it."""
    text = agent_file('api_key: "${OPENAI_API_KEY}"')
    (problem,) = problems(plugins, text, OPENAI_API_KEY=KEY + "\n")
    assert problem.path == "agents.writer.options.api_key"
    assert KEY not in problem.render()


def test_defaults(plugins: cadenza.plugins.Plugins) -> None:
    """Unset options take their documented defaults."""
    text = agent_file(f'api_key: "{KEY}"')
    options = cadenza.load_workflow_text(text, plugins=plugins).workflow.agents["writer"].options
    assert options.stream is True
    assert options.timeout == 300.0
    assert options.connect_timeout == 10.0
    assert options.temperature is None
    assert options.max_tokens is None
    assert options.write_files is None
    assert options.file_instructions is True
    assert options.chat_url == "https://api.openai.com/v1/chat/completions"
    assert options.models_url == "https://api.openai.com/v1/models"
