"""The template agent: deterministic output formatted from the step's inputs."""

from __future__ import annotations

from typing import Any

import pytest
import trio

from cadenza import AgentConfig, AgentRequest, PermanentError, WorkflowError
from cadenza._agents._template import TemplateAgent, TemplateOptions
from cadenza._load._loader import load_workflow_text
from cadenza._spec._workflow import Duration
from cadenza.plugins import load_plugins


def make_request(**inputs: Any) -> AgentRequest:
    return AgentRequest(
        run_id="run-1",
        step_id="docs",
        task_type="documentation",
        inputs=inputs,
        attempt=1,
        idempotency_key="run-1/docs",
    )


def make_agent(**options: Any) -> TemplateAgent:
    config = AgentConfig(
        name="offline",
        kind="template",
        options=TemplateOptions(**options),
        capabilities=frozenset({"documentation"}),
    )
    return TemplateAgent.from_config(config)


async def test_every_string_in_the_structure_is_formatted() -> None:
    """Strings at any depth are formatted; keys, numbers, booleans and null are kept."""
    agent = make_agent(
        output={
            "title": "Docs for {feature}",
            "sections": ["{feature!r} overview", {"score": "{score:.2f}", "n": 3}],
            "draft": True,
            "note": None,
            "{feature}": "keys stay literal",
        }
    )
    result = await agent.run(make_request(feature="jump", score=0.5))
    assert result.output == {
        "title": "Docs for jump",
        "sections": ["'jump' overview", {"score": "0.50", "n": 3}],
        "draft": True,
        "note": None,
        "{feature}": "keys stay literal",
    }
    assert not result.degraded
    assert agent.capabilities == frozenset({"documentation"})


async def test_literal_braces_are_kept() -> None:
    """Doubled braces render as single literal braces."""
    agent = make_agent(output="{{not a field}} {x}")
    assert (await agent.run(make_request(x=1))).output == "{not a field} 1"


async def test_without_output_the_inputs_are_echoed() -> None:
    """Omitting output returns {"inputs": <inputs>}."""
    agent = make_agent()
    assert (await agent.run(make_request(a=1, b=[2]))).output == {"inputs": {"a": 1, "b": [2]}}


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("{x.__class__}", r"placeholder \{x.__class__\} .* attribute or index lookup"),
        ("{x[0]}", r"placeholder \{x\[0\]\} .* attribute or index lookup"),
        ("{}", "positional placeholder"),
        ("{0}", "positional placeholder"),
        ("{x:{width}}", "nested field in its format spec"),
        ("{x!z}", "unknown conversion"),
        ("oops }", "literal brace"),
    ],
)
def test_unsafe_or_malformed_placeholders_are_refused_when_loaded(
    template: str, message: str
) -> None:
    """Attribute/index lookups and other non-plain fields fail when the options are built."""
    with pytest.raises(ValueError, match=message) as info:
        make_agent(output={"items": ["ok", template]})
    assert "output.items[1]" in str(info.value)


def test_bad_placeholder_is_a_validation_problem_with_its_location() -> None:
    """cadenza validate reports a sandbox-escaping placeholder at file:line, before any run."""
    text = 'agents:\n  t: {kind: template, options: {output: "hi {x.y}"}}\nsteps:\n  a: {uses: t}\n'
    with pytest.raises(WorkflowError) as info:
        load_workflow_text(text, plugins=load_plugins(entry_points=False), filename="wf.yaml")
    (problem,) = info.value.problems
    assert problem.path == "agents.t.options.output"
    assert problem.location is not None
    assert problem.location.line == 2
    assert "attribute or index lookup" in problem.message


def test_non_json_output_is_refused_when_built() -> None:
    """Values that are not JSON in output are refused with their path."""
    with pytest.raises(ValueError, match=r"output.when: set is not JSON"):
        make_agent(output={"when": {1, 2}})


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("reviewer: {who}", "reviewer: null"),
        ("reviewer: {who!s}", "reviewer: null"),
        ("reviewer: {who!r}", "reviewer: null"),
        ("reviewer: {who!a}", "reviewer: null"),
        ("[{who:>6}]", "[  null]"),
    ],
)
async def test_null_input_renders_as_json_null(template: str, expected: str) -> None:
    """A null input renders as JSON's null, never Python's None, with any conversion or spec."""
    agent = make_agent(output={"text": template, "kept": None})
    result = await agent.run(make_request(who=None))
    assert result.output == {"text": expected, "kept": None}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (True, "publish: true"),
        (False, "publish: false"),
        (["a.cs", "b.cs"], 'publish: ["a.cs", "b.cs"]'),
        ({"to": "été"}, 'publish: {"to": "été"}'),
        ("text", "publish: text"),
        (3, "publish: 3"),
    ],
)
async def test_inputs_render_as_json(value: object, expected: str) -> None:
    """Booleans, lists and mappings render as JSON (true, ["a"]), never Python's True or ['a']."""
    agent = make_agent(output="publish: {flag}")
    result = await agent.run(make_request(flag=value))
    assert result.output == expected


async def test_null_input_with_a_numeric_spec_is_permanent() -> None:
    """A numeric spec on a null input fails permanently, naming the input as null."""
    agent = make_agent(output="{score:.2f}")
    with pytest.raises(PermanentError, match=r"cannot format input 'score' \(null\)"):
        await agent.run(make_request(score=None))


async def test_missing_placeholder_names_it_and_the_inputs_available() -> None:
    """A placeholder without an input is a PermanentError listing what is available."""
    agent = make_agent(output={"a": "{feature} in {lang}", "b": "{zone}"})
    with pytest.raises(PermanentError) as info:
        await agent.run(make_request(feature="jump", platform="ios"))
    message = str(info.value)
    assert "placeholder {lang}, {zone}" in message
    assert "inputs available: feature, platform" in message
    assert info.value.step_id == "docs"


async def test_bad_format_spec_for_the_value_is_permanent() -> None:
    """A spec that does not fit the input's type fails the call permanently."""
    agent = make_agent(output="{name:.2f}")
    with pytest.raises(PermanentError, match="cannot format input 'name'"):
        await agent.run(make_request(name="text"))


async def test_degraded_marks_the_result_as_a_template_stand_in() -> None:
    """degraded: true marks results degraded with source "template"."""
    agent = make_agent(output="fallback for {x}", degraded=True)
    result = await agent.run(make_request(x="a"))
    assert result.output == "fallback for a"
    assert result.degraded
    assert result.source == "template"


async def test_delay_sleeps_on_the_trio_clock(autojump_clock: trio.abc.Clock) -> None:
    """delay waits that long before answering."""
    agent = make_agent(output="done", delay=Duration(2.5))
    start = trio.current_time()
    assert (await agent.run(make_request())).output == "done"
    assert trio.current_time() - start == pytest.approx(2.5)


async def test_results_are_deterministic() -> None:
    """The same inputs always give the same output."""
    agent = make_agent(output={"k": "{x}-{y}"})
    outputs = [(await agent.run(make_request(x=1, y=2))).output for _ in range(3)]
    assert outputs == [{"k": "1-2"}] * 3
    await agent.aclose()


def test_from_config_requires_template_options() -> None:
    """A config whose options are not TemplateOptions is a TypeError."""
    with pytest.raises(TypeError, match="options must be TemplateOptions"):
        TemplateAgent.from_config(AgentConfig(name="t", kind="template", options={}))
