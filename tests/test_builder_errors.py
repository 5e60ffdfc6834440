"""A workflow built in Python reports every problem at once, at the builder call that made it."""

from __future__ import annotations

import inspect
import os
from pathlib import Path

import pytest

import cadenza
from cadenza._plugins._registry import load_plugins

PLUGINS = load_plugins(entry_points=False)
HERE = os.path.relpath(__file__)
"""How problems name this file: relative to the working directory, as typed."""


def line_of(marker: str) -> int:
    """The line of this file holding ``marker`` (in a comment), so tests survive edits."""
    lines = inspect.getsource(inspect.getmodule(line_of)).splitlines()  # type: ignore[arg-type]
    return next(i for i, text in enumerate(lines, 1) if text.rstrip().endswith(marker))


def problems(wf: cadenza.WorkflowBuilder) -> dict[str, cadenza.Problem]:
    with pytest.raises(cadenza.WorkflowError) as info:
        wf.build(plugins=PLUGINS, environ={})
    return {p.path: p for p in info.value.problems}


def test_each_problem_is_at_the_call_that_made_it() -> None:
    """Unknown needs, an unknown key and a misspelt agent: each at its own wf.step line."""
    wf = cadenza.workflow("bad")
    wf.agent("writer", kind="template", options={"output": "x"})
    wf.step("draft", uses="writter")  # @uses
    wf.step("review", uses="writer", needs=["draftt"], retires=3)  # @needs
    found = problems(wf)
    uses = found["steps.draft.uses"]
    assert uses.location is not None
    assert (uses.location.file, uses.location.line) == (HERE, line_of("# @uses"))
    assert uses.location.column == 5  # where `wf.step(` starts
    assert "Did you mean 'writer'?" in uses.hint
    needs = found["steps.review.needs[0]"]
    assert needs.location is not None
    assert needs.location.line == line_of("# @needs")
    assert "Did you mean 'draft'?" in needs.hint
    retires = found["steps.review.retires"]
    assert retires.location == needs.location
    assert "Did you mean 'retry'?" in retires.hint


def test_the_error_message_lists_every_problem_with_file_and_line() -> None:
    """str(WorkflowError) is one block per problem, file:line:col first, no traceback needed."""
    wf = cadenza.workflow("bad")
    wf.step("a", uses="nobody")  # @a
    wf.step("b", uses="nobody", timeout="soon")  # @b
    with pytest.raises(cadenza.WorkflowError) as info:
        wf.build(plugins=PLUGINS)
    text = str(info.value)
    assert f"{HERE}:{line_of('# @a')}:5: steps.a.uses: unknown agent or capability" in text
    assert f"{HERE}:{line_of('# @b')}:5: steps.b.timeout:" in text
    assert len(info.value.problems) == 3


def test_agent_and_input_problems_point_at_their_calls() -> None:
    """A bad agent kind is at wf.agent, a conflicting input at the second wf.input."""
    wf = cadenza.workflow("bad")
    wf.agent("a", kind="telepathy")  # @agent
    wf.input("topic", "trio")
    wf.input("topic", "asyncio")  # @input
    wf.step("s", uses="a", with_={"t": wf.input("topic")})
    found = problems(wf)
    kind = found["agents.a.kind"]
    assert kind.location is not None
    assert kind.location.line == line_of("# @agent")
    twice = found["inputs.topic"]
    assert twice.location is not None
    assert twice.location.line == line_of("# @input")
    assert "defined twice (first at" in twice.message


def test_a_step_defined_twice_is_reported_not_overwritten() -> None:
    """The second wf.step with an id is a problem; the first definition stays."""
    wf = cadenza.workflow("twice")
    wf.agent("t", kind="template", options={"output": "x"})
    wf.step("a", uses="t")
    wf.step("a", uses="other")  # @again
    found = problems(wf)
    assert list(found) == ["steps.a"]
    assert found["steps.a"].location is not None
    assert found["steps.a"].location.line == line_of("# @again")
    assert wf.to_dict()["steps"]["a"] == {"uses": "t"}


def test_values_yaml_cannot_hold_are_problems_with_the_fix() -> None:
    """A set, a Path or a step handle in with_ is a problem naming the conversion to make."""
    wf = cadenza.workflow("values")
    wf.agent("t", kind="template", options={"output": "x"})
    first = wf.step("first", uses="t")
    wf.step("s", uses="t", needs=[first], with_={"tags": {"a"}, "dir": Path("/tmp"), "f": first})
    found = problems(wf)
    assert "sorted list" in found["steps.s.with.tags"].hint
    assert "str(path)" in found["steps.s.with.dir"].hint
    assert "first.output" in found["steps.s.with.f"].hint


def test_a_function_without_an_import_path_is_a_problem() -> None:
    """A lambda cannot be imported by the python kind: say to define it at module level."""
    wf = cadenza.workflow("fn")
    wf.agent("p", kind="python", options={"function": lambda: 1})
    wf.step("s", uses="p")
    found = problems(wf)
    assert "module level" in found["agents.p.options.function"].hint


def test_wrong_argument_types_are_problems_not_tracebacks() -> None:
    """needs=5, a non-string id, with_ that is a list: reported, all at once."""
    wf = cadenza.workflow("types")
    wf.agent("t", kind="template", options={"output": "x"})
    wf.step("a", uses="t", needs=5)  # type: ignore[arg-type]
    wf.step(3, uses="t")  # type: ignore[arg-type]
    wf.step("b", uses="t", with_=[1, 2])  # type: ignore[arg-type]
    with pytest.raises(cadenza.WorkflowError) as info:
        wf.build(plugins=PLUGINS)
    messages = [p.message for p in info.value.problems]
    assert any("needs must be a list of strings" in m for m in messages)
    assert any("a step id must be a non-empty string, got int 3" in m for m in messages)
    assert any(m.startswith("with must be a mapping") for m in messages)


def test_with_and_with_underscore_together_is_a_problem() -> None:
    """with_= and **{"with": ...} name the same key: reported, not silently merged."""
    wf = cadenza.workflow("w")
    wf.agent("t", kind="template", options={"output": "x"})
    wf.step("a", uses="t", with_={"x": 1}, **{"with": {"x": 2}})
    found = problems(wf)
    assert found["steps.a.with"].message == "with is given twice"


def test_check_returns_warnings_without_raising() -> None:
    """check() lists every problem, warnings included, and raises nothing."""
    wf = cadenza.workflow("warn")
    wf.agent("t", kind="template", options={"output": "x"})
    a = wf.step("a", uses="t")
    wf.step("b", uses="t", needs=[a, a])
    found = wf.check(plugins=PLUGINS)
    assert [p.severity for p in found] == ["warning"]
    assert wf.build(plugins=PLUGINS).steps["b"].needs == ("a",)


def test_unknown_and_missing_inputs_are_refused_before_running() -> None:
    """cadenza.run names an unknown input (with the known ones) and a missing required one."""
    wf = cadenza.workflow("inputs")
    wf.agent("t", kind="template", options={"output": "x"})
    wf.step("a", uses="t", with_={"x": wf.input("topic", required=True)})
    with pytest.raises(cadenza.WorkflowError) as info:
        cadenza.run(wf, inputs={"topik": "trio"}, plugins=PLUGINS)
    found = {p.message: p for p in info.value.problems}
    assert "Did you mean 'topic'?" in found["unknown input 'topik'"].hint
    assert found["input 'topic' is required but was not given"].hint == (
        "Pass inputs={'topic': ...}."
    )


def test_a_bare_first_use_of_an_input_is_completed_by_its_declaration() -> None:
    """wf.input("x") before wf.input("x", 5) is one input with default 5, not a conflict."""
    wf = cadenza.workflow("late")
    wf.agent("t", kind="template", options={"output": "{x}"})
    wf.step("a", uses="t", with_={"x": wf.input("x")})
    wf.input("x", 5)
    assert wf.build(plugins=PLUGINS).inputs["x"].default == 5


def test_an_agent_spec_that_is_not_a_mapping_is_a_problem() -> None:
    """wf.agent("a", "http") is reported with the form to use, not raised as a TypeError."""
    wf = cadenza.workflow("agent")
    wf.agent("a", "http")  # type: ignore[arg-type]
    wf.step("s", uses="a")
    found = problems(wf)
    assert "kind=..." in found["agents.a"].hint
