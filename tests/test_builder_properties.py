"""Property: for random DAGs, the builder's workflow equals the one its YAML text loads.

Each example is drawn once as a plain description (steps, needs, inputs,
references, options); the YAML side writes ``${{ }}`` strings by hand, the
Python side uses handles and references, so the two are written independently.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import attrs
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import cadenza
from cadenza._load._loader import load_workflow_text
from cadenza._plugins._registry import load_plugins

PLUGINS = load_plugins(entry_points=False)
BASE = Path(__file__).resolve().parent

RESERVED = {"as", "for", "if", "in", "let", "var", "null", "true", "false", "loop"}
"""CEL's reserved words (some of them): a YAML author writes these in the index form."""
IDS = st.from_regex(r"[a-z][a-z0-9]{0,5}(-[a-z0-9]{1,3})?", fullmatch=True).filter(
    lambda k: k not in RESERVED
)
KEYS = st.from_regex(r"[a-z][a-z0-9_]{0,6}", fullmatch=True).filter(lambda k: k not in RESERVED)
"""Names a YAML author writes after a dot."""
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-5, 5), st.text("abc xyz", max_size=6))


@attrs.frozen
class Use:
    """A reference in a with: value: an input, or a needed step's output (maybe a part)."""

    kind: str  # "input" or "step"
    name: str
    part: tuple[str, ...] = ()
    embedded: bool = False  # inside text ("v${{ ... }}!") instead of the whole value


@attrs.frozen
class StepPlan:
    id: str
    agent: str
    needs: tuple[str, ...]
    values: dict[str, Any | Use]
    options: dict[str, Any]
    when: str | None


@attrs.frozen
class Plan:
    inputs: dict[str, Any]
    agents: tuple[str, ...]
    steps: tuple[StepPlan, ...]


@st.composite
def plans(draw: st.DrawFn) -> Plan:
    inputs = draw(st.dictionaries(KEYS, SCALARS, max_size=3))
    agents = tuple(draw(st.lists(KEYS, min_size=1, max_size=3, unique=True)))
    ids = draw(st.lists(IDS, min_size=1, max_size=7, unique=True))
    steps: list[StepPlan] = []
    for i, step_id in enumerate(ids):
        needs = tuple(draw(st.lists(st.sampled_from(ids[:i]), unique=True)) if i else [])
        sources = [Use("input", n) for n in inputs] + [Use("step", n) for n in needs]
        values: dict[str, Any] = {}
        for key in draw(st.lists(KEYS, max_size=3, unique=True)):
            if sources and draw(st.booleans()):
                use = draw(st.sampled_from(sources))
                part = tuple(draw(st.lists(KEYS, max_size=2))) if use.kind == "step" else ()
                values[key] = attrs.evolve(use, part=part, embedded=draw(st.booleans()))
            else:
                values[key] = draw(SCALARS)
        options: dict[str, Any] = {}
        if draw(st.booleans()):
            options["priority"] = draw(st.integers(-3, 3))
        if draw(st.booleans()):
            options["retry"] = draw(st.integers(1, 4))
        if draw(st.booleans()):
            options["timeout"] = draw(st.sampled_from(["5s", "1m", 30]))
        if needs and draw(st.booleans()):
            options["if_needs_skipped"] = draw(st.sampled_from(["skip", "run"]))
        bools = [n for n, v in inputs.items() if isinstance(v, bool)]
        when = draw(st.sampled_from(bools)) if bools and draw(st.booleans()) else None
        steps.append(StepPlan(step_id, draw(st.sampled_from(agents)), needs, values, options, when))
    return Plan(inputs, agents, tuple(steps))


def _expression(use: Use) -> str:
    """The CEL text a person writes in YAML for ``use``."""
    if use.kind == "input":
        base = f"inputs.{use.name}"
    elif "-" in use.name:
        base = f'steps["{use.name}"].output'
    else:
        base = f"steps.{use.name}.output"
    return base + "".join(f".{k}" for k in use.part)


def _yaml_value(value: Any) -> Any:
    if not isinstance(value, Use):
        return value
    text = "${{ " + _expression(value) + " }}"
    return f"v{text}!" if value.embedded else text


def as_yaml(plan: Plan) -> str:
    steps: dict[str, Any] = {}
    for s in plan.steps:
        body: dict[str, Any] = {"uses": s.agent}
        if s.needs:
            body["needs"] = list(s.needs)
        if s.values:
            body["with"] = {k: _yaml_value(v) for k, v in s.values.items()}
        if s.when:
            body["when"] = f"inputs.{s.when}"
        body.update(s.options)
        steps[s.id] = body
    data = {
        "name": "prop",
        "inputs": dict(plan.inputs),
        "agents": {a: {"kind": "template", "options": {"output": "x"}} for a in plan.agents},
        "steps": steps,
    }
    return yaml.safe_dump(data, sort_keys=False)


def as_builder(plan: Plan) -> cadenza.WorkflowBuilder:
    wf = cadenza.workflow("prop", base_dir=BASE)
    refs = {name: wf.input(name, default) for name, default in plan.inputs.items()}
    agents = {a: wf.agent(a, kind="template", options={"output": "x"}) for a in plan.agents}
    handles: dict[str, Any] = {}
    for s in plan.steps:
        with_: dict[str, Any] = {}
        for key, value in s.values.items():
            if isinstance(value, Use):
                ref = refs[value.name] if value.kind == "input" else handles[value.name].output
                for part in value.part:
                    ref = ref[part]
                with_[key] = f"v{ref}!" if value.embedded else ref
            else:
                with_[key] = value
        handles[s.id] = wf.step(
            s.id,
            uses=agents[s.agent],
            needs=[handles[n] for n in s.needs] or None,
            with_=with_ or None,
            when=refs[s.when] if s.when else None,
            **s.options,
        )
    return wf


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(plans())
def test_builder_and_yaml_of_a_random_dag_are_equal(plan: Plan) -> None:
    """Whatever the DAG, the builder's Workflow equals the YAML file's."""
    expected = load_workflow_text(as_yaml(plan), plugins=PLUGINS, base_dir=BASE).workflow
    wf = as_builder(plan)
    assert wf.build(plugins=PLUGINS) == expected
    exported = load_workflow_text(wf.to_yaml(), plugins=PLUGINS, base_dir=BASE).workflow
    assert exported == expected  # ... and so does its YAML export
