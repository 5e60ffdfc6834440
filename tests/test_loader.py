"""The loader, native format: what loads, and every validation rule with its location and hint."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest

import cadenza
from cadenza._load._loader import (
    check_workflow_file,
    load_workflow,
    load_workflow_data,
    load_workflow_text,
    parse_input_value,
    resolve_inputs,
)
from cadenza._spec._workflow import Duration, RetryPolicy

from .loader_helpers import PLUGINS, FakeTemplateOptions, errors, load, one_error, problems, where

GOOD = """\
name: report
description: Write a report
inputs:
  topic: trio
  count: {default: 3, description: how many}
  publish: {required: true}
concurrency: 4
fail_fast: true
defaults:
  retry: {max_attempts: 5, backoff: 2s, max_backoff: 1m, multiplier: 3, jitter: none}
  timeout: 30s
agents:
  writer:
    kind: template
    capabilities: [text]
    max_concurrent: 2
    options: {text: hello, delay: 500ms, tags: [a, b], mode: upper}
  docs:
    kind: docgen
    options: {anything: [1, 2]}
steps:
  outline:
    uses: writer
    with: {topic: "${{ inputs.topic }}", n: 3}
    priority: 5
  draft:
    uses: text
    needs: outline
    with: {outline: "${{ steps.outline.output }}"}
    retry: 2
    timeout: 1m
  manual:
    uses: docs
    needs: [outline, draft]
    when: "inputs.publish && steps.draft.output != ''"
    if_needs_skipped: run
    description: write the manual
    retry: {backoff: 0}
"""


def test_native_workflow_loads_with_every_field() -> None:
    """A file using every native key loads into the spec classes with the right values."""
    result = load(GOOD)
    wf = result.workflow
    assert result.workflows == ("report",)
    assert result.warnings == ()
    assert wf.name == "report"
    assert wf.description == "Write a report"
    assert wf.concurrency == 4
    assert wf.fail_fast is True
    assert list(wf.steps) == ["outline", "draft", "manual"]
    assert wf.inputs["topic"] == cadenza.InputSpec(name="topic", default="trio")
    assert wf.inputs["count"] == cadenza.InputSpec(name="count", default=3, description="how many")
    assert wf.inputs["publish"].required is True

    writer = wf.agents["writer"]
    assert writer.kind == "template"
    assert writer.capabilities == frozenset({"text"})
    assert writer.max_concurrent == 2
    assert writer.options == FakeTemplateOptions(
        text="hello", delay=Duration(0.5), tags=["a", "b"], mode="upper"
    )
    assert writer.location is not None
    assert writer.location.line == 13
    docs = wf.agents["docs"]
    assert docs.options == {"anything": [1, 2]}
    assert docs.capabilities == frozenset({"docs"})  # declared by the kind

    outline, draft, manual = wf.steps.values()
    assert outline.uses == "writer"
    assert outline.priority == 5
    assert outline.needs == ()
    assert outline.inputs.input_refs == frozenset({"topic"})
    assert outline.retry == RetryPolicy(
        max_attempts=5, backoff=2.0, max_backoff=60.0, multiplier=3.0, jitter="none"
    )
    assert outline.timeout == 30.0
    assert outline.location is not None
    assert outline.location.line == 22
    assert draft.needs == ("outline",)
    assert draft.inputs.step_refs == frozenset({"outline"})
    assert draft.retry.max_attempts == 2
    assert draft.retry.backoff == 2.0  # the defaults still apply to the other fields
    assert draft.timeout == 60.0
    assert manual.needs == ("outline", "draft")
    assert manual.condition is not None
    assert manual.condition.step_refs == frozenset({"draft"})
    assert manual.if_needs_skipped == "run"
    assert manual.retry.backoff == 0.0
    assert manual.retry.max_attempts == 5


def test_minimal_workflow_uses_defaults_and_file_stem(tmp_path: Path) -> None:
    """Without name, the file stem names the workflow; unset fields take their defaults."""
    path = tmp_path / "nightly.yaml"
    path.write_text("agents: {a: {kind: template}}\nsteps: {s: {uses: a}}\n")
    wf = load_workflow(path, plugins=PLUGINS, environ={}).workflow
    assert wf.name == "nightly"
    assert wf.concurrency == 16
    assert wf.fail_fast is False
    step = wf.steps["s"]
    assert step.priority == 0
    assert step.retry == RetryPolicy()
    assert step.timeout is None
    assert step.condition is None
    assert step.inputs.is_static
    assert wf.source == path.resolve()
    assert wf.agents["a"].base_dir == tmp_path.resolve()


def test_source_hash_is_sha256_of_the_file_bytes(tmp_path: Path) -> None:
    """Workflow.source_hash is the hex sha256 of the file (of the text for text loads)."""
    text = "agents: {a: {kind: template}}\nsteps: {s: {uses: a}}\n"
    path = tmp_path / "wf.yaml"
    path.write_bytes(text.encode())
    digest = hashlib.sha256(text.encode()).hexdigest()
    assert load_workflow(path, plugins=PLUGINS).workflow.source_hash == digest
    assert load_workflow_text(text, plugins=PLUGINS).workflow.source_hash == digest


def test_load_workflow_data_has_no_locations() -> None:
    """Loading from a dict works and its problems carry paths but no locations."""
    data: dict[str, Any] = {
        "agents": {"a": {"kind": "template"}},
        "steps": {"s": {"uses": "a", "needs": ["x"]}},
    }
    with pytest.raises(cadenza.WorkflowError) as info:
        load_workflow_data(data, plugins=PLUGINS)
    (problem,) = info.value.problems
    assert problem.location is None
    assert problem.path == "steps.s.needs[0]"
    data["steps"]["s"]["needs"] = []
    assert load_workflow_data(data, plugins=PLUGINS).workflow.name == "workflow"


def test_every_problem_is_reported_at_once_in_file_order() -> None:
    """Problems in different sections all come back in one error, sorted by location."""
    found = problems(
        """\
        concurency: 3
        agents:
          a: {kind: nope}
        steps:
          s: {uses: a, needs: [ghost], priority: high}
        """
    )
    assert [(p.path, where(p)[0]) for p in found] == [
        ("concurency", 1),
        ("agents.a.kind", 3),
        ("steps.s.needs[0]", 5),
        ("steps.s.priority", 5),
    ]
    rendered = cadenza.WorkflowError(found).render()
    assert rendered.startswith("wf.yaml:1:1: concurency: unknown key 'concurency'")


def test_unknown_top_level_key_suggests_and_lists_allowed() -> None:
    """An unknown key points at the key, suggests the closest one and lists those allowed."""
    problem = one_error(
        """\
        agents: {a: {kind: template}}
        stepz: {}
        steps: {s: {uses: a}}
        """
    )
    assert problem.path == "stepz"
    assert where(problem) == (2, 1)
    assert "unknown key 'stepz'" in problem.message
    assert "Did you mean 'steps'?" in problem.hint
    assert "name, description, inputs, concurrency" in problem.hint


@pytest.mark.parametrize(
    ("text", "path"),
    [
        ("steps: {s: {uses: a, need: [x]}}", "steps.s.need"),
        ("steps: {s: {uses: a, retry: {max_attemps: 2}}}", "steps.s.retry.max_attemps"),
        ("agents: {a: {kind: template, option: {}}}\nsteps: {s: {uses: a}}", "agents.a.option"),
        ("inputs: {x: {default: 1, requird: true}}\nsteps: {s: {uses: a}}", "inputs.x.requird"),
        ("defaults: {timout: 3s}\nsteps: {s: {uses: a}}", "defaults.timout"),
    ],
)
def test_unknown_nested_keys_are_reported(text: str, path: str) -> None:
    """Unknown keys in steps, retry, agents, inputs and defaults are errors with a suggestion."""
    found = errors("agents: {a: {kind: template}}\n" + text if "agents" not in text else text)
    assert [p.path for p in found] == [path]
    assert "Did you mean" in found[0].hint


def test_wrong_types_name_what_was_expected() -> None:
    """Wrong types say what was expected and what arrived."""
    found = errors(
        """\
        name: [x]
        concurrency: many
        fail_fast: "yes"
        agents: {a: {kind: template, capabilities: 3}}
        steps:
          s: {uses: 12, with: [1], needs: [1], when: 5}
        """
    )
    messages = {p.path: p.message for p in found}
    assert messages["name"] == "name must be a string, got a list ['x']"
    assert messages["concurrency"] == "concurrency must be an integer, got a string 'many'"
    assert messages["fail_fast"] == "fail_fast must be true or false, got a string 'yes'"
    assert "capabilities must be a list of strings" in messages["agents.a.capabilities"]
    assert messages["steps.s.uses"] == "uses must be a string, got an integer 12"
    assert messages["steps.s.with"].startswith("with must be a mapping")
    assert messages["steps.s.needs[0]"] == "needs entries must be strings, got an integer 1"
    assert messages["steps.s.when"].startswith("when must be an expression string")


def test_steps_as_a_list_points_to_the_seed_format() -> None:
    """A native file with a steps list is told about the mapping form and the seed format."""
    problem = one_error("agents: {a: {kind: template}}\nsteps:\n  - {name: x, uses: a}\n")
    assert problem.message == "steps must be a mapping of step id -> step, got a list"
    assert "seed format" in problem.hint


def test_unknown_need_suggests_and_lists_known_steps() -> None:
    """A need naming no step says so at the entry, with the closest id and the known ones."""
    problem = one_error(
        """\
        agents: {a: {kind: template}}
        steps:
          build: {uses: a}
          lint: {uses: a}
          package: {uses: a, needs: [lint, buidl]}
        """
    )
    assert problem.path == "steps.package.needs[1]"
    assert where(problem) == (5, 36)
    assert problem.message == "unknown step 'buidl'"
    assert problem.hint == "Did you mean 'build'? Known steps: build, lint, package."


def test_self_dependency() -> None:
    """A step that needs itself is an error at that need."""
    problem = one_error("agents: {a: {kind: template}}\nsteps:\n  s: {uses: a, needs: s}\n")
    assert problem.message == "step 's' needs itself"
    assert problem.path == "steps.s.needs"


def test_cycle_prints_the_cycle_path() -> None:
    """A cycle is reported once, with its path a -> b -> c -> a."""
    problem = one_error(
        """\
        agents: {x: {kind: template}}
        steps:
          a: {uses: x, needs: [c]}
          b: {uses: x, needs: [a]}
          c: {uses: x, needs: [b]}
          d: {uses: x, needs: [a]}
        """
    )
    assert problem.message == "steps form a cycle: a -> c -> b -> a"
    assert problem.path == "steps.a.needs[0]"
    assert where(problem)[0] == 3


def test_two_independent_cycles_are_both_reported() -> None:
    """Each independent cycle gets its own problem."""
    found = errors(
        """\
        agents: {x: {kind: template}}
        steps:
          a: {uses: x, needs: [b]}
          b: {uses: x, needs: [a]}
          c: {uses: x, needs: [d]}
          d: {uses: x, needs: [c]}
        """
    )
    assert [p.message for p in found] == [
        "steps form a cycle: a -> b -> a",
        "steps form a cycle: c -> d -> c",
    ]


def test_duplicate_need_is_a_warning() -> None:
    """Listing a need twice loads, with a warning."""
    result = load(
        "agents: {x: {kind: template}}\nsteps: {a: {uses: x}, b: {uses: x, needs: [a, a]}}"
    )
    assert result.workflow.steps["b"].needs == ("a",)
    (warning,) = result.warnings
    assert warning.message == "step 'a' is listed twice"


def test_duplicate_yaml_key_is_an_error() -> None:
    """Two equal keys in one mapping are reported where the second one is."""
    problem = one_error(
        """\
        agents: {a: {kind: template}}
        steps:
          build: {uses: a}
          build: {uses: a, priority: 3}
        """
    )
    assert problem.message == "duplicate key 'build' (first defined on line 3)"
    assert where(problem) == (4, 3)


def test_unknown_agent_kind_suggests_a_known_kind_not_a_package() -> None:
    """An unknown kind lists the known ones; a typo gets no guessed ``pip install``."""
    problem = one_error("agents: {a: {kind: templat}}\nsteps: {s: {uses: a}}\n")
    assert problem.path == "agents.a.kind"
    assert problem.message == "unknown agent kind 'templat'"
    assert problem.hint == "Did you mean 'template'? Known kinds: docgen, http, template."


def test_missing_kind() -> None:
    """An agent without kind: says which kinds there are."""
    problem = one_error("agents: {a: {options: {}}}\nsteps: {s: {uses: a}}\n")
    assert problem.message == "missing required key 'kind'"
    assert problem.hint == "Add kind: one of docgen, http, template."
    assert where(problem) == (1, 10)


def test_unknown_uses_is_an_error_with_suggestion() -> None:
    """uses naming neither an agent nor a capability is an error with the closest name."""
    problem = one_error(
        "agents: {writer: {kind: template, capabilities: [prose]}}\nsteps: {s: {uses: wrtier}}"
    )
    assert problem.path == "steps.s.uses"
    assert problem.message == "unknown agent or capability 'wrtier'"
    assert problem.hint == "Did you mean 'writer'? Agents: writer; capabilities: prose."


def test_uses_a_capability_served_by_an_agent() -> None:
    """uses may name a capability, declared in the config or by the agent's kind."""
    wf = load(
        """\
        agents:
          w: {kind: template, capabilities: [prose]}
          d: {kind: docgen}
        steps: {a: {uses: prose}, b: {uses: docs}}
        """
    ).workflow
    assert wf.agents_for("prose") == ("w",)
    assert wf.agents_for("docs") == ("d",)


@pytest.mark.parametrize("capability", ["documentation", "testing", "docs"])
def test_well_known_or_plugin_capability_without_agent_is_a_warning(capability: str) -> None:
    """A seed capability or one a kind declares, served by no agent, only warns."""
    result = load(f"agents: {{a: {{kind: template}}}}\nsteps: {{s: {{uses: {capability}}}}}\n")
    (warning,) = result.warnings
    assert warning.severity == "warning"
    assert warning.message == (
        f"no configured agent serves {capability!r}, so step 's' will fail when it runs"
    )
    assert result.workflow.steps["s"].uses == capability


def test_bad_durations() -> None:
    """Bad step timeouts, retry backoffs and defaults are errors that show accepted forms."""
    found = errors(
        """\
        defaults: {timeout: soon}
        agents: {a: {kind: template}}
        steps:
          s: {uses: a, timeout: 0, retry: {backoff: -1, max_backoff: 5 minutes}}
        """
    )
    messages = {p.path: p.message for p in found}
    assert set(messages) == {
        "defaults.timeout",
        "steps.s.timeout",
        "steps.s.retry.backoff",
        "steps.s.retry.max_backoff",
    }
    assert "like 30s, 500ms, 5m or 1h30m" in messages["defaults.timeout"]
    assert messages["steps.s.timeout"] == "timeout must be greater than 0, got 0"
    assert "cannot be negative" in messages["steps.s.retry.backoff"]


def test_retry_rules() -> None:
    """max_attempts below 1, multiplier below 1 and unknown jitter are errors."""
    found = errors(
        """\
        agents: {a: {kind: template}}
        steps:
          s: {uses: a, retry: 0}
          t: {uses: a, retry: {max_attempts: 0, multiplier: 0.5, jitter: half}}
          u: {uses: a, retry: forever}
        """
    )
    assert [(p.path, p.message) for p in found] == [
        ("steps.s.retry", "max_attempts must be at least 1, got 0"),
        ("steps.t.retry.max_attempts", "max_attempts must be at least 1, got 0"),
        ("steps.t.retry.multiplier", "multiplier must be a number >= 1, got a number 0.5"),
        ("steps.t.retry.jitter", "jitter must be 'full' or 'none', got a string 'half'"),
        ("steps.u.retry", "retry must be a mapping, got a string 'forever'"),
    ]


def test_concurrency_and_max_concurrent_must_be_positive() -> None:
    """concurrency and max_concurrent below 1 are errors with a hint."""
    found = errors(
        """\
        concurrency: 0
        agents: {a: {kind: template, max_concurrent: 0}}
        steps: {s: {uses: a}}
        """
    )
    assert [(p.path, p.message) for p in found] == [
        ("concurrency", "concurrency must be at least 1, got 0"),
        ("agents.a.max_concurrent", "max_concurrent must be at least 1, got 0"),
    ]
    assert all(p.hint for p in found)


def test_empty_steps() -> None:
    """A workflow needs at least one step."""
    for text in ["agents: {}\nsteps: {}\n", "agents: {}\nsteps:\n"]:
        problem = one_error(text)
        assert problem.message == "the workflow has no steps"
        assert problem.path == "steps"


def test_missing_steps() -> None:
    """A file without steps: says to add them."""
    problem = one_error("agents: {a: {kind: template}}\n")
    assert problem.message == "missing required key 'steps'"


def test_if_needs_skipped_must_be_skip_or_run() -> None:
    """if_needs_skipped accepts only skip and run."""
    problem = one_error(
        "agents: {a: {kind: template}}\nsteps: {s: {uses: a, if_needs_skipped: always}}\n"
    )
    assert problem.path == "steps.s.if_needs_skipped"


def test_priority_must_be_an_integer_not_a_bool() -> None:
    """true is not a priority."""
    problem = one_error("agents: {a: {kind: template}}\nsteps: {s: {uses: a, priority: true}}\n")
    assert problem.message == "priority must be an integer, got a boolean True"


def test_step_ids_must_be_strings() -> None:
    """A YAML key like 1 or yes cannot be a step id; the hint says to quote it."""
    problem = one_error("agents: {a: {kind: template}}\nsteps: {1: {uses: a}, b: {uses: a}}\n")
    assert problem.message == "a step id must be a string, got an integer 1"
    assert problem.hint == "Quote it to make it a string: '1'."


def test_missing_env_var_says_what_to_export() -> None:
    """A ${NAME} that is not set is an error at the string, with an export hint."""
    problem = one_error(
        """\
        agents:
          h: {kind: http, options: {endpoint: "https://x", api_key: "${API_TOKEN}"}}
        steps: {s: {uses: h}}
        """
    )
    assert problem.path == "agents.h.options.api_key"
    assert problem.message == "environment variable API_TOKEN is not set"
    assert problem.hint.startswith("export API_TOKEN=...")


def test_missing_env_var_is_a_warning_when_nothing_runs(tmp_path: Path) -> None:
    """With missing_env="warning" an unset ${NAME} is a warning and the workflow loads."""
    path = tmp_path / "wf.yaml"
    path.write_text(
        'agents:\n  h: {kind: http, options: {endpoint: "https://x", api_key: "${API_TOKEN}"}}\n'
        "steps: {s: {uses: h}}\n",
        encoding="utf-8",
    )
    plugins = PLUGINS
    result = load_workflow(path, plugins=plugins, environ={}, missing_env="warning")
    (warning,) = result.warnings
    assert warning.message == "environment variable API_TOKEN is not set (cadenza run will need it)"
    report = check_workflow_file(path, plugins=plugins, environ={})
    assert report.valid
    assert [p.severity for p in report.problems] == ["warning"]


def test_env_vars_expand_in_agents_and_become_secrets() -> None:
    """${NAME} expands from environ; expanded values and literal api_keys are secrets."""
    result = load(
        """\
        agents:
          h: {kind: http, options: {endpoint: "https://${HOST}/v1", api_key: "${TOKEN}"}}
          k: {kind: http, options: {endpoint: "https://y", api_key: literal-key}}
          t: {kind: template, options: {text: "cost $${PRICE} at ${HOST}"}}
        steps: {s: {uses: h, with: {keep: "${HOST}"}}}
        """,
        environ={"HOST": "api.example.com", "TOKEN": "tok-123456"},
    )
    agents = result.workflow.agents
    assert agents["h"].options.endpoint == "https://api.example.com/v1"
    assert agents["h"].options.api_key == "tok-123456"
    assert agents["h"].secrets == frozenset({"api.example.com", "tok-123456"})
    assert agents["k"].secrets == frozenset({"literal-key"})
    assert agents["t"].options.text == "cost ${PRICE} at api.example.com"
    assert result.workflow.secrets >= {"tok-123456", "literal-key"}
    # steps are not the agents section: ${NAME} stays as written there
    assert result.workflow.steps["s"].inputs.is_static


def test_secrets_never_appear_in_problems() -> None:
    """A secret value that would show in a message is redacted."""
    found = errors(
        """\
        agents:
          h: {kind: http, options: {endpoint: "https://x", timeout: "${TOKEN}"}}
          k: {kind: http, options: {endpoint: 5, api_key: "my-literal-secret"}}
        steps: {s: {uses: h}}
        """,
        environ={"TOKEN": "tok-987654"},
    )
    text = "\n".join(p.render() for p in found)
    assert "tok-987654" not in text
    assert "***" in text
    assert "my-literal-secret" not in text


def test_agent_options_are_checked_by_the_kind_options_class() -> None:
    """Unknown options, wrong types, bad values and failed validators each get a problem."""
    found = errors(
        """\
        agents:
          t:
            kind: template
            options:
              txt: hi
              delay: soon
              tags: [a, 3]
              mode: loud
              retries: -1
              headers: {x: 1}
          h: {kind: http, options: {timeout: 3s}}
          d: {kind: docgen, options: [1]}
        steps: {s: {uses: t}}
        """
    )
    got = {(p.path, where(p)[0]): p for p in found}
    assert set(got) == {
        ("agents.t.options.txt", 5),
        ("agents.t.options.delay", 6),
        ("agents.t.options.tags[1]", 7),
        ("agents.t.options.mode", 8),
        ("agents.t.options.headers.x", 10),
        ("agents.h.options", 11),
        ("agents.d.options", 12),
    }
    unknown = got["agents.t.options.txt", 5]
    assert unknown.message == "unknown field 'txt'"
    assert unknown.hint.startswith("Did you mean 'text'? Allowed: delay, headers, mode,")
    assert where(unknown) == (5, 7)  # the key, not its value
    assert "like 30s" in got["agents.t.options.delay", 6].message
    assert got["agents.t.options.tags[1]", 7].message == "expected a string, got an integer 3"
    assert got["agents.t.options.mode", 8].message == (
        "expected one of 'plain', 'upper', got a string 'loud'"
    )
    assert got["agents.h.options", 11].message == "missing required field 'endpoint'"
    assert got["agents.d.options", 12].message == "options must be a mapping, got a list [1]"


def test_option_validators_run_once_fields_parse() -> None:
    """An attrs validator's failure is reported at its field."""
    problem = one_error(
        "agents: {t: {kind: template, options: {retries: -1}}}\nsteps: {s: {uses: t}}\n"
    )
    assert problem.path == "agents.t.options.retries"
    assert problem.message == "'retries' must be >= 0: -1"


def test_expression_issues_point_at_the_string() -> None:
    """A CEL syntax error inside with: is reported at the string that holds it."""
    found = errors(
        """\
        agents: {a: {kind: template}}
        steps:
          s:
            uses: a
            with:
              nested: {list: [ok, "${{ inputs.x + }}"]}
        """
    )
    paths = [p.path for p in found]
    assert "steps.s.with.nested.list[1]" in paths
    problem = found[paths.index("steps.s.with.nested.list[1]")]
    assert where(problem) == (6, 27)
    assert "syntax error" in problem.message


def test_when_syntax_error() -> None:
    """A when: that does not parse is an error at the when: value."""
    problem = one_error("agents: {a: {kind: template}}\nsteps: {s: {uses: a, when: 'true &&'}}\n")
    assert problem.path == "steps.s.when"
    assert "syntax error" in problem.message


def test_step_reference_must_be_in_needs() -> None:
    """${{ steps.X }} and when: on a step not in needs say to add X to needs."""
    found = errors(
        """\
        agents: {a: {kind: template}}
        steps:
          fetch: {uses: a}
          other: {uses: a}
          sum:
            uses: a
            needs: [other]
            with:
              text: "${{ steps.fetch.output }}"
            when: "steps.fetch.status == 'succeeded'"
        """
    )
    assert [(p.path, where(p)[0], p.hint) for p in found] == [
        (
            "steps.sum.with.text",
            9,
            "Add fetch to needs, so it finishes first: needs: [other, fetch].",
        ),
        ("steps.sum.when", 10, "Add fetch to needs, so it finishes first: needs: [other, fetch]."),
    ]
    assert found[0].message == (
        "with: uses the output of step 'fetch', which step 'sum' does not need"
    )


def test_reference_to_unknown_step_or_own_output() -> None:
    """Referring to a step that does not exist, or to the step itself, is an error."""
    found = errors(
        """\
        agents: {a: {kind: template}}
        steps:
          fetch: {uses: a}
          s: {uses: a, with: {x: "${{ steps.fecth.output }}", y: "${{ steps.s.output }}"}}
        """
    )
    messages = sorted(p.message for p in found)
    assert messages == [
        "step 's' refers to its own output in with:",
        "with: refers to unknown step 'fecth'",
    ]
    assert "Did you mean 'fetch'?" in next(p.hint for p in found if "fecth" in p.message)


def test_reference_to_unknown_input() -> None:
    """${{ inputs.X }} for an undeclared input is an error listing the known inputs."""
    problem = one_error(
        """\
        inputs: {topic: trio}
        agents: {a: {kind: template}}
        steps: {s: {uses: a, with: {t: "${{ inputs.topik }}"}}}
        """
    )
    assert problem.message == "with: refers to unknown input 'topik'"
    assert problem.hint == (
        "Did you mean 'topic'? Known inputs: topic; declare new ones under inputs:."
    )


def test_required_input_with_default_is_an_error() -> None:
    """required: true together with a default is contradictory."""
    problem = one_error(
        "inputs: {x: {default: 1, required: true}}\nagents: {}\nsteps: {s: {uses: testing}}\n"
    )
    assert problem.path == "inputs.x.required"


def test_selecting_another_workflow_of_a_native_file_fails() -> None:
    """--workflow must name the file's one workflow."""
    problem = one_error(
        "name: report\nagents: {a: {kind: template}}\nsteps: {s: {uses: a}}\n", workflow="reprot"
    )
    assert problem.message == "no workflow named 'reprot' in this file"
    assert problem.hint == "Did you mean 'report'? This file defines one workflow, 'report'."
    assert load(
        "name: report\nagents: {a: {kind: template}}\nsteps: {s: {uses: a}}\n", workflow="report"
    )


@pytest.mark.parametrize(
    ("text", "message", "line"),
    [
        ("", "the workflow file is empty", 1),
        ("# only a comment\n", "the workflow file is empty", 1),
        ("- a\n- b\n", "a workflow file must be a mapping at the top level, got a list", 1),
        ("steps: {a: 1}\n---\nsteps: {}\n", "invalid YAML: but found another document", 2),
        ("steps:\n  a: [1\n  b: 2\n", "invalid YAML: ", 3),
        ("steps:\n\ta: 1\n", "invalid YAML: found character '\\t'", 2),
        ("x: !!python/object:os.system 1\nsteps: {}\n", "unsupported YAML tag", 1),
    ],
)
def test_document_level_problems(text: str, message: str, line: int) -> None:
    """Empty files, non-mappings, syntax errors, extra documents and tags are located errors."""
    found = errors(text)
    problem = next((p for p in found if p.message.startswith(message)), None)
    assert problem is not None, found
    assert where(problem)[0] == line


def test_unreadable_files_give_a_clear_error(tmp_path: Path) -> None:
    """A missing file, a directory and non-UTF-8 bytes are WorkflowErrors, not tracebacks."""
    with pytest.raises(cadenza.WorkflowError, match="no such file"):
        load_workflow(tmp_path / "missing.yaml", plugins=PLUGINS)
    with pytest.raises(cadenza.WorkflowError, match="it is a directory"):
        load_workflow(tmp_path, plugins=PLUGINS)
    bad = tmp_path / "latin1.yaml"
    bad.write_bytes(b"name: x\ndescription: caf\xe9\n")
    with pytest.raises(cadenza.WorkflowError) as info:
        load_workflow(bad, plugins=PLUGINS)
    (problem,) = info.value.problems
    assert problem.message == "the file is not UTF-8 text"
    assert where(problem) == (2, 17)


def test_yaml_dates_stay_as_written() -> None:
    """A date in with: stays the string it was (workflow data is JSON-shaped)."""
    wf = load("agents: {a: {kind: template}}\nsteps: {s: {uses: a, with: {d: 2024-01-02}}}\n")
    assert wf.workflow.steps["s"].inputs.step_refs == frozenset()


def test_resolve_inputs_merges_defaults_and_parses_values() -> None:
    """--set values parse as YAML scalars and override defaults."""
    wf = load(GOOD).workflow
    values = resolve_inputs(wf, {"publish": "true", "count": "5"})
    assert values == {"topic": "trio", "count": 5, "publish": True}


def test_resolve_inputs_reports_unknown_and_missing_required() -> None:
    """Unknown inputs get a suggestion; missing required ones say to pass --set."""
    wf = load(GOOD).workflow
    with pytest.raises(cadenza.WorkflowError) as info:
        resolve_inputs(wf, {"topik": "x"})
    unknown, missing = info.value.problems
    assert unknown.message == "unknown input 'topik'"
    assert unknown.hint == "Did you mean 'topic'? Known inputs: count, publish, topic."
    assert missing.message == "input 'publish' is required but was not given"
    assert missing.hint == "Pass --set publish=VALUE."


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("3", 3),
        ("2.5", 2.5),
        ("true", True),
        ("no", False),
        ("null", None),
        ("a b", "a b"),
        ("", ""),
        ("a: b", "a: b"),
        ("[1, 2", "[1, 2"),
        ("[1, 2]", "[1, 2]"),
        ("2024-01-02", "2024-01-02"),
        ("'quoted'", "quoted"),
    ],
)
def test_parse_input_value(text: str, value: object) -> None:
    """--set values are YAML scalars; anything else stays the raw string."""
    assert parse_input_value(text) == value


def test_env_reference_with_a_default_is_used_when_the_variable_is_unset() -> None:
    """``${NAME:-default}``: the shell's fallback form, so a file can run without a variable."""
    from cadenza._plugins._registry import load_plugins

    text = (
        "name: t\n"
        "agents:\n"
        '  a: {kind: template, options: {output: "${GREETING:-hello} {who}"}}\n'
        "steps:\n"
        "  s: {uses: a, with: {who: x}}\n"
    )
    plugins = load_plugins(entry_points=False)
    unset = cadenza.load_workflow_text(text, plugins=plugins, environ={})
    assert unset.workflow.agents["a"].options.output == "hello {who}"
    assert unset.workflow.agents["a"].secrets == frozenset()  # written in the file: no secret
    empty = cadenza.load_workflow_text(text, plugins=plugins, environ={"GREETING": ""})
    assert empty.workflow.agents["a"].options.output == "hello {who}"
    given = cadenza.load_workflow_text(text, plugins=plugins, environ={"GREETING": "hi"})
    assert given.workflow.agents["a"].options.output == "hi {who}"
    assert given.workflow.agents["a"].secrets == frozenset({"hi"})
