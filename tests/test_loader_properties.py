"""Property tests: random valid workflows round-trip; random junk only ever raises WorkflowError."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import cadenza
from cadenza._load._loader import load_workflow_data, load_workflow_text
from cadenza._problems import Problem

from .loader_helpers import PLUGINS


def problems_of(load: Callable[..., object], *args: Any, **kwargs: Any) -> tuple[Problem, ...]:
    """Call a loader; return its problems, () when it loaded. Anything else propagates."""
    try:
        load(*args, **kwargs)
    except cadenza.WorkflowError as exc:
        found = exc.problems
    else:
        return ()
    assert found, "a WorkflowError always carries at least one problem"
    return found


step_ids = st.text(
    alphabet=st.characters(codec="utf-8", categories=["L", "N"], include_characters="_- .:#\"'"),
    min_size=1,
    max_size=12,
).filter(lambda s: s.strip() == s and s.strip() != "")


@st.composite
def native_workflows(draw: st.DrawFn) -> dict[str, Any]:
    """A valid native workflow: a random DAG of steps, each using one of two agents."""
    ids = draw(st.lists(step_ids, min_size=1, max_size=15, unique=True))
    steps: dict[str, Any] = {}
    for i, step_id in enumerate(ids):
        step: dict[str, Any] = {"uses": draw(st.sampled_from(["writer", "prose"]))}
        needs: list[str] = draw(st.lists(st.sampled_from(ids[:i]), unique=True)) if i else []
        listed: bool = draw(st.booleans())
        if needs or listed:
            step["needs"] = needs
        if draw(st.booleans()):
            step["priority"] = draw(st.integers(min_value=-(2**31), max_value=2**31))
        if draw(st.booleans()):
            step["retry"] = draw(st.integers(min_value=1, max_value=10))
        if draw(st.booleans()):
            step["with"] = {"n": draw(st.integers()), "text": draw(st.text(max_size=20))}
        steps[step_id] = step
    order = draw(st.permutations(ids))
    return {
        "agents": {"writer": {"kind": "template", "capabilities": ["prose"]}},
        "steps": {step_id: steps[step_id] for step_id in order},
    }


@settings(suppress_health_check=[HealthCheck.too_slow], deadline=None, max_examples=60)
@given(native_workflows())
def test_valid_workflows_round_trip_through_yaml(data: dict[str, Any]) -> None:
    """yaml.safe_dump of a valid workflow loads back with the same steps, needs and priorities."""
    text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
    wf = load_workflow_text(text, plugins=PLUGINS, environ={}).workflow
    assert list(wf.steps) == list(data["steps"])
    for step_id, raw in data["steps"].items():
        step = wf.steps[step_id]
        assert step.uses == raw["uses"]
        assert step.needs == tuple(raw.get("needs", ()))
        assert step.priority == raw.get("priority", 0)
        assert step.retry.max_attempts == raw.get("retry", 3)
    flow = yaml.safe_dump(data, default_flow_style=True, sort_keys=False, allow_unicode=True)
    assert list(load_workflow_text(flow, plugins=PLUGINS).workflow.steps) == list(data["steps"])


scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-5, max_value=5)
    | st.floats(allow_nan=False, width=32)
    | st.sampled_from(
        [
            "",
            "writer",
            "template",
            "http",
            "testing",
            "a",
            "b",
            "1s",
            "-1",
            "${HOME}",
            "${NOPE}",
            "${{ steps.a.output }}",
            "${{ inputs.x }}",
            "${{ (",
            "true && ",
            "run",
            "skip",
        ]
    )
)
KEYS = [
    "name", "description", "inputs", "concurrency", "fail_fast", "defaults", "agents", "steps",
    "workflows", "kind", "options", "capabilities", "max_concurrent", "uses", "with", "needs",
    "priority", "when", "retry", "timeout", "if_needs_skipped", "max_attempts", "backoff",
    "jitter", "multiplier", "default", "required", "id", "type", "api_endpoint", "api_key",
    "max_concurrent_tasks", "agent_type", "dependencies", "data", "max_retries", "endpoint",
    "text", "delay", "tags", "mode", "a", "b", "writer",
]  # fmt: skip
keys = st.sampled_from(KEYS) | st.integers(min_value=0, max_value=3) | st.none() | st.booleans()
junk = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(keys, children, max_size=5),
    max_leaves=30,
)
top_level = st.dictionaries(st.sampled_from(KEYS), junk, max_size=6)


@settings(suppress_health_check=[HealthCheck.too_slow], deadline=None, max_examples=300)
@given(top_level)
def test_junk_mappings_only_raise_workflow_error(data: dict[Any, Any]) -> None:
    """Whatever the shape, loading from data either works or raises WorkflowError."""
    found = problems_of(load_workflow_data, data, plugins=PLUGINS, environ={"HOME": "/home/x"})
    assert all(p.message for p in found)


@settings(suppress_health_check=[HealthCheck.too_slow], deadline=None, max_examples=200)
@given(top_level)
def test_junk_yaml_only_raises_workflow_error_with_locations(data: dict[Any, Any]) -> None:
    """The same junk as YAML text: WorkflowError, and every problem has a location."""
    text = yaml.safe_dump(data, sort_keys=False)
    found = problems_of(load_workflow_text, text, plugins=PLUGINS, filename="junk.yaml", environ={})
    for problem in found:
        assert problem.location is not None, problem
        assert problem.location.file == "junk.yaml"
        assert 1 <= problem.location.line <= text.count("\n") + 1


@settings(deadline=None, max_examples=200)
@given(st.text(max_size=200))
def test_arbitrary_text_only_raises_workflow_error(text: str) -> None:
    """Any text at all, YAML or not, loads or raises WorkflowError."""
    problems_of(load_workflow_text, text, plugins=PLUGINS, environ={})
