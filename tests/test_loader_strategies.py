"""Loading routing, aggregation, validation and budget keys: good files, and every mistake.

Each bad file must be reported at the line of the mistake with a hint, and
all problems at once, like every other loader error.
"""

from __future__ import annotations

import textwrap

import pytest

from cadenza import Budget, Price, WorkflowError, load_workflow_text
from cadenza._plugins._registry import load_plugins
from cadenza.strategies import StrategySpec

PLUGINS = load_plugins(entry_points=False)

AGENTS = """\
agents:
  fast: {kind: template, capabilities: [answer], weight: 2, tags: [small], options: {output: a}}
  smart:
    kind: template
    capabilities: [answer]
    price: {input_per_1k: 0.003, output_per_1k: 0.015, expected_output_tokens: 800}
    budget: {usd: 2}
    options: {output: b}
  judge: {kind: template, options: {output: c}}
"""


def load(steps: str, top: str = "") -> object:
    text = "name: t\n" + top + AGENTS + "steps:\n" + textwrap.indent(textwrap.dedent(steps), "  ")
    return load_workflow_text(text, plugins=PLUGINS).workflow


def problems(steps: str, top: str = "") -> str:
    with pytest.raises(WorkflowError) as info:
        load(steps, top)
    return str(info.value)


def test_every_key_loads_into_the_spec() -> None:
    workflow = load(
        """
        ask:
          uses: answer
          route: {strategy: weighted, weights: {fast: 3}}
          agents: 2
          aggregate: {strategy: consensus, threshold: 0.75}
          on_conflict: judge
          judge: judge
          validate: [{validator: required_keys, keys: [title]}, python_parses]
          min_quality: 0.5
          budget: {usd: 0.25, tokens: 5000}
        """,
        top="route: cheapest\nbudget: {usd: 10}\n",
    )
    step = workflow.steps["ask"]  # type: ignore[attr-defined]
    assert step.route == StrategySpec(name="weighted", options={"weights": {"fast": 3}})
    assert step.fan_out == 2
    assert step.aggregate == StrategySpec(name="consensus", options={"threshold": 0.75})
    assert (step.on_conflict, step.judge) == ("judge", "judge")
    assert [v.name for v in step.validate] == ["required_keys", "python_parses"]
    assert step.min_quality == 0.5
    assert step.budget == Budget(usd=0.25, tokens=5000)
    assert workflow.route == StrategySpec(name="cheapest")  # type: ignore[attr-defined]
    assert workflow.budget == Budget(usd=10)  # type: ignore[attr-defined]
    smart = workflow.agents["smart"]  # type: ignore[attr-defined]
    assert smart.price == Price(input_per_1k=0.003, output_per_1k=0.015, expected_output_tokens=800)
    assert smart.budget == Budget(usd=2)
    fast = workflow.agents["fast"]  # type: ignore[attr-defined]
    assert (fast.weight, fast.tags) == (2.0, frozenset({"small"}))


def test_named_agents_make_a_multi_agent_step_with_the_default_vote() -> None:
    step = load("ask: {uses: answer, agents: [fast, smart]}").steps["ask"]  # type: ignore[attr-defined]
    assert step.fan_out == ("fast", "smart")
    assert step.aggregate.name == "majority_vote"


@pytest.mark.parametrize(
    ("steps", "expected"),
    [
        (
            "ask: {uses: answer, route: cheepest}",
            [":12:", "unknown routing strategy 'cheepest'", "cheapest"],
        ),
        (
            "ask: {uses: answer, route: {strategy: weighted, wieghts: {}}}",
            [":12:", "weighted", "wieghts"],
        ),
        ("ask: {uses: answer, agents: 3}", [":12:", "only 2 serve 'answer'"]),
        ("ask: {uses: answer, agents: [fast, fats]}", [":12:", "unknown agent 'fats'", "fast"]),
        ("ask: {uses: answer, aggregate: majority_vote}", [":12:", "add agents: 3"]),
        (
            "ask: {uses: answer, agents: 2, aggregate: avg}",
            [":12:", "unknown aggregation strategy 'avg'"],
        ),
        ("ask: {uses: answer, agents: 2, on_conflict: judge}", [":12:", "judge: <agent name>"]),
        ("ask: {uses: answer, agents: 2, on_conflict: vote}", [":12:", "fail, best or judge"]),
        (
            "ask: {uses: answer, validate: [json_shema]}",
            [":12:", "unknown validator 'json_shema'", "json_schema"],
        ),
        (
            "ask: {uses: answer, validate: [{validator: json_schema, schema: {type: 7}}]}",
            [":12:", "json_schema"],
        ),
        ("ask: {uses: answer, validate: [python_parses], min_quality: 2}", [":12:", "from 0 to 1"]),
        ("ask: {uses: answer, min_quality: 0.5}", [":12:", "needs validators"]),
        ("ask: {uses: answer, budget: {usd: -1}}", [":12:", "usd"]),
        ("ask: {uses: answer, budget: {dollars: 1}}", [":12:", "dollars"]),
    ],
)
def test_mistakes_are_reported_at_their_line(steps: str, expected: list[str]) -> None:
    message = problems(steps)
    lowered = message.lower()
    for fragment in expected:
        assert fragment.lower() in lowered, message


def test_agent_and_workflow_mistakes_are_reported_together() -> None:
    text = textwrap.dedent(
        """\
        name: t
        route: fastestt
        budget: {usd: cheap}
        agents:
          a:
            kind: template
            capabilities: [x]
            weight: -1
            price: {per_call: -2}
            options: {output: a}
        steps:
          s: {uses: x}
        """
    )
    with pytest.raises(WorkflowError) as info:
        load_workflow_text(text, plugins=PLUGINS)
    message = str(info.value)
    assert ":2:" in message
    assert "fastestt" in message
    assert ":3:" in message
    assert "usd" in message
    assert "weight must be a number >= 0" in message
    assert "per_call" in message
    assert len(info.value.problems) == 4


def test_router_options_naming_strangers_and_unpriced_cheapest_are_reported() -> None:
    text = textwrap.dedent(
        """\
        name: t
        route: {strategy: weighted, weights: {fsat: 2}}
        agents:
          fast: {kind: template, capabilities: [x], options: {output: a}}
          slow: {kind: template, capabilities: [x], price: {per_call: 0.1}, options: {output: b}}
        steps:
          s: {uses: x}
          t: {uses: x}
        """
    )
    with pytest.raises(WorkflowError) as info:
        load_workflow_text(text, plugins=PLUGINS)
    assert len(info.value.problems) == 1  # once, not once per step
    assert "weights names 'fsat', which is not an agent" in str(info.value)
    assert "did you mean 'fast'?" in str(info.value).lower()

    loaded = load_workflow_text(
        text.replace("{strategy: weighted, weights: {fsat: 2}}", "cheapest"), plugins=PLUGINS
    )
    (warning,) = loaded.warnings
    assert "fast has no price" in warning.render()
