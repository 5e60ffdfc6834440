"""The loader, seed format: the seed's config file loads unchanged, and its own rules."""

from __future__ import annotations

from pathlib import Path

import pytest

import cadenza
from cadenza._load._loader import check_workflow_file, load_workflow
from cadenza._plugins._registry import load_plugins
from cadenza._spec._workflow import RetryPolicy

from .loader_helpers import PLUGINS, FakeHttpOptions, errors, load, one_error, where

ROOT = Path(__file__).resolve().parents[1]
SEED = ROOT / "examples" / "seed" / "ai_workflow_config.yaml"
ENV = {"OPENAI_API_KEY": "sk-test-openai-0001", "ASSET_OPTIMIZER_KEY": "ao-test-key-0002"}

TWO = """\
agents:
  - id: gen
    type: code_generator
    api_endpoint: https://gen.example.com/v1
workflows:
  build:
    steps:
      - {name: a, agent_type: code_generator}
  release:
    description: ship it
    steps:
      - {name: b, agent_type: code_generator}
"""


def test_seed_file_is_the_seed_yaml_block_verbatim() -> None:
    """examples/seed/ai_workflow_config.yaml is the seed document's YAML block, unchanged."""
    text = SEED.read_text()
    assert text.startswith("# ai_workflow_config.yaml\nagents:\n")
    assert '    api_key: "${OPENAI_API_KEY}"\n' in text
    assert "coverage_target: 80\n" in text


def test_seed_file_loads_unchanged_with_the_builtin_http_kind() -> None:
    """The seed config loads with the real built-ins: 2 http agents, 4 steps, 2 warnings."""
    plugins = load_plugins(entry_points=False)
    result = load_workflow(SEED, plugins=plugins, environ=ENV)
    wf = result.workflow
    assert result.workflows == ("unity_feature_development",)
    assert wf.name == "unity_feature_development"
    assert wf.description == "Complete Unity feature development pipeline"

    gen = wf.agents["unity_code_generator"]
    assert gen.kind == "http"
    assert gen.capabilities == frozenset({"code_generator"})
    assert gen.max_concurrent == 2
    assert gen.options.endpoint == "https://api.openai.com/v1/chat/completions"
    assert gen.options.api_key == "sk-test-openai-0001"
    assert gen.secrets == frozenset({"sk-test-openai-0001"})
    assert wf.agents["unity_asset_optimizer"].max_concurrent == 5
    assert wf.secrets == frozenset(ENV.values())

    assert list(wf.steps) == [
        "generate_component_code",
        "optimize_assets",
        "generate_documentation",
        "generate_tests",
    ]
    assert [s.priority for s in wf.steps.values()] == [10, 8, 5, 7]
    assert [s.uses for s in wf.steps.values()] == [
        "code_generator",
        "asset_optimizer",
        "documentation",
        "testing",
    ]
    assert wf.steps["generate_component_code"].needs == ()
    assert wf.steps["generate_tests"].needs == ("generate_component_code",)
    seed_retry = RetryPolicy(max_attempts=4, backoff=2.0, multiplier=2.0, max_backoff=300.0)
    assert all(s.retry == seed_retry for s in wf.steps.values())
    assert wf.steps["optimize_assets"].inputs.is_static

    assert [(w.severity, w.path, where(w)) for w in result.warnings] == [
        ("warning", "workflows.unity_feature_development.steps[2].agent_type", (36, 21)),
        ("warning", "workflows.unity_feature_development.steps[3].agent_type", (44, 21)),
    ]
    assert "'documentation'" in result.warnings[0].message
    assert "'testing'" in result.warnings[1].message


def test_seed_file_without_env_vars_names_both() -> None:
    """Without the keys in the environment, both missing variables are reported."""
    with pytest.raises(cadenza.WorkflowError) as info:
        load_workflow(SEED, plugins=PLUGINS, environ={})
    found = [p for p in info.value.problems if p.severity == "error"]
    assert [(p.path, p.message, where(p)[0]) for p in found] == [
        ("agents[0].api_key", "environment variable OPENAI_API_KEY is not set", 6),
        ("agents[1].api_key", "environment variable ASSET_OPTIMIZER_KEY is not set", 12),
    ]
    # warnings are part of the error's list too, in file order
    assert [p.severity for p in info.value.problems] == ["error", "error", "warning", "warning"]


def test_seed_defaults() -> None:
    """priority defaults to 5, max_retries to 3, max_concurrent_tasks to 3."""
    wf = load(
        """\
        agents:
          - {id: g, type: code_generator, api_endpoint: "https://x", api_key: k-literal}
        workflows:
          w:
            steps:
              - {name: a, agent_type: code_generator, data: {x: 1}}
              - {name: b, agent_type: g, dependencies: a, max_retries: 0}
        """
    ).workflow
    assert wf.agents["g"].max_concurrent == 3
    assert wf.agents["g"].options == FakeHttpOptions(endpoint="https://x", api_key="k-literal")
    assert wf.agents["g"].secrets == frozenset({"k-literal"})
    assert wf.steps["a"].priority == 5
    assert wf.steps["a"].retry.max_attempts == 4
    assert wf.steps["b"].needs == ("a",)
    assert wf.steps["b"].retry.max_attempts == 1
    assert wf.steps["b"].uses == "g"  # an agent id works too


def test_several_workflows_need_a_selection() -> None:
    """A file with several workflows and no --workflow lists them and says how to pick."""
    problem = one_error(TWO)
    assert problem.message == "this file has 2 workflows: build, release"
    assert problem.hint == "Pick one with --workflow NAME."
    assert where(problem) == (5, 1)
    result = load(TWO, workflow="release")
    assert result.workflows == ("build", "release")
    assert result.workflow.name == "release"
    assert result.workflow.description == "ship it"


def test_unknown_workflow_selection_suggests() -> None:
    """--workflow naming no workflow suggests the closest and lists them."""
    problem = one_error(TWO, workflow="relase")
    assert problem.message == "no workflow named 'relase' in this file"
    assert problem.hint == "Did you mean 'release'? Workflows in this file: build, release."


def test_check_workflow_file_validates_every_workflow(tmp_path: Path) -> None:
    """validate checks all workflows of a file when none is selected."""
    path = tmp_path / "two.yaml"
    path.write_text(TWO + "  broken:\n    steps:\n      - {name: c, agent_type: nobody}\n")
    report = check_workflow_file(path, plugins=PLUGINS)
    assert not report.valid
    assert report.names == ("build", "release", "broken")
    assert [p.path for p in report.problems] == ["workflows.broken.steps[0].agent_type"]
    path.write_text(TWO)
    report = check_workflow_file(path, plugins=PLUGINS)
    assert report.valid
    assert [wf.name for wf in report.workflows] == ["build", "release"]


def test_duplicate_step_name() -> None:
    """Two seed steps with one name: the second is reported, naming the first's line."""
    problem = one_error(
        """\
        agents: []
        workflows:
          w:
            steps:
              - {name: a, agent_type: testing}
              - {name: a, agent_type: testing}
        """,
    )
    assert problem.message == "duplicate step name 'a' (first defined on line 5)"
    assert problem.path == "workflows.w.steps[1].name"
    assert where(problem)[0] == 6


def test_duplicate_agent_id() -> None:
    """Two seed agents with one id are an error."""
    problem = one_error(
        """\
        agents:
          - {id: g, type: testing, api_endpoint: "https://x"}
          - {id: g, type: testing, api_endpoint: "https://y"}
        workflows:
          w: {steps: [{name: a, agent_type: testing}]}
        """
    )
    assert problem.message == "duplicate agent id 'g' (first defined on line 2)"


def test_unknown_dependency_suggests() -> None:
    """An unknown dependency gets the closest step name and the list of steps."""
    problem = one_error(
        """\
        agents: []
        workflows:
          w:
            steps:
              - {name: generate_code, agent_type: testing}
              - {name: b, agent_type: testing, dependencies: [generate_cod]}
        """
    )
    assert problem.path == "workflows.w.steps[1].dependencies[0]"
    assert problem.hint == "Did you mean 'generate_code'? Known steps: b, generate_code."


def test_unknown_agent_type_is_an_error() -> None:
    """An agent_type that is no agent, no capability and not a seed type is an error."""
    problem = one_error(
        """\
        agents:
          - {id: g, type: code_generator, api_endpoint: "https://x"}
        workflows:
          w: {steps: [{name: a, agent_type: code_generater}]}
        """
    )
    assert problem.message == "unknown agent type 'code_generater'"
    assert problem.hint.startswith("Did you mean 'code_generator'?")


def test_seed_agent_rules() -> None:
    """Seed agents: required keys, types, max_concurrent_tasks >= 1, endpoint checked by http."""
    found = errors(
        """\
        agents:
          - {id: a, type: testing, api_endpoint: "https://x", max_concurrent_tasks: 0}
          - {id: b, type: testing, api_endpoint: 5}
          - {id: c, type: testing}
          - {id: d, type: testing, api_endpoint: "https://x", api_key: 7, extra: 1}
        workflows:
          w: {steps: [{name: s, agent_type: testing}]}
        """
    )
    assert [(p.path, p.message) for p in found] == [
        ("agents[0].max_concurrent_tasks", "max_concurrent_tasks must be at least 1, got 0"),
        ("agents[1].api_endpoint", "api_endpoint must be a string, got an integer 5"),
        ("agents[2]", "missing required key 'api_endpoint'"),
        ("agents[3].api_key", "expected a string, got an integer 7"),
        ("agents[3].extra", "unknown key 'extra' in a seed-format agent"),
    ]


def test_seed_step_rules() -> None:
    """Seed steps: required keys, unknown keys, data must be a mapping, max_retries >= 0."""
    found = errors(
        """\
        agents: []
        workflows:
          w:
            steps:
              - {agent_type: testing}
              - {name: b, agent_typ: testing}
              - {name: c, agent_type: testing, data: [1], max_retries: -1}
              - nope
        """
    )
    assert [(p.path, p.message) for p in found] == [
        ("workflows.w.steps[0]", "missing required key 'name'"),
        ("workflows.w.steps[1]", "missing required key 'agent_type'"),
        ("workflows.w.steps[1].agent_typ", "unknown key 'agent_typ' in a seed-format step"),
        ("workflows.w.steps[2].data", "data must be a mapping, got a list [1]"),
        ("workflows.w.steps[2].max_retries", "max_retries must be at least 0, got -1"),
        ("workflows.w.steps[3]", "workflows.w.steps[3] must be a mapping, got a string 'nope'"),
    ]


def test_seed_structure_rules() -> None:
    """agents must be a list, workflows a non-empty mapping, steps a list."""
    assert one_error(
        "agents: {}\nworkflows: {w: {steps: [{name: a, agent_type: testing}]}}\n"
    ).message.startswith("agents must be a list in a seed-format file")
    assert one_error("workflows: {}\n").message == "workflows is empty"
    assert one_error("workflows: {w: {steps: {a: 1}}}\n").message.startswith(
        "steps must be a list in a seed-format workflow"
    )
    assert one_error("workflows: {w: {steps: []}}\n").message == "the workflow has no steps"
    assert one_error("workflows: {w: {description: x}}\n").message == (
        "missing required key 'steps'"
    )


def test_seed_without_http_kind() -> None:
    """Seed agents need the http kind; without it the problem says so."""
    plugins = load_plugins(entry_points=False, builtins=False)
    problem = one_error(
        "agents: [{id: g, type: t, api_endpoint: 'https://x'}]\n"
        "workflows: {w: {steps: [{name: a, agent_type: g}]}}\n",
        plugins=plugins,
    )
    assert problem.message == "unknown agent kind 'http'"


SEED_WITH_KINDS = """\
agents:
  - id: coder
    type: code_generator
    kind: template
    api_endpoint: "https://api.example.com/v1/chat/completions"
    options: {output: "class {feature} {{}}"}
  - id: remote
    type: reviewer
    api_endpoint: "https://agents.example.com/v1/tasks"
workflows:
  build:
    steps:
      - {name: gen, agent_type: code_generator, data: {feature: Jump}}
      - {name: review, agent_type: reviewer, dependencies: [gen]}
"""


def test_seed_agents_may_name_a_kind_and_its_options() -> None:
    """Our extension of the seed format: kind: (default http) and options: per agent."""
    plugins = load_plugins(entry_points=False)
    loaded = cadenza.load_workflow_text(SEED_WITH_KINDS, plugins=plugins)
    coder = loaded.workflow.agents["coder"]
    assert coder.kind == "template"
    assert "code_generator" in coder.capabilities
    assert loaded.workflow.agents["remote"].kind == "http"
    # The template kind has no endpoint option: the seed's api_endpoint is ignored, said so.
    (warning,) = loaded.warnings
    assert "agent kind 'template' has no 'endpoint' option: api_endpoint is ignored" in (
        warning.render()
    )
    assert ":5:" in warning.render()


def test_seed_agent_with_an_unknown_kind_names_the_plugin_to_install() -> None:
    plugins = load_plugins(entry_points=False)
    text = SEED_WITH_KINDS.replace("kind: template", "kind: openai")
    with pytest.raises(cadenza.WorkflowError) as info:
        cadenza.load_workflow_text(text, plugins=plugins)
    assert "unknown agent kind 'openai'" in str(info.value)
    assert "pip install cadenza-openai" in str(info.value)
