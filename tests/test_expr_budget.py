"""The evaluation limit: a runaway expression fails its step, quickly and clearly.

Assertions are on the error, never on time: the limit counts evaluation steps,
so the same expression on the same data stops at the same point on any machine.
"""

from __future__ import annotations

import textwrap
from typing import Any

import celpy
import pytest

from cadenza import ExpressionError, WorkflowError
from cadenza import _events as ev
from cadenza._errors import ExpressionLimitError
from cadenza._expr import _expressions as _expr
from cadenza._expr._budget import (
    EVALUATION_LIMIT,
    BudgetedRunner,
    Cost,
    LimitExceeded,
    minimum_steps,
)
from cadenza._expr._expressions import ExpressionContext, compile_condition, compile_value
from cadenza._load._loader import load_workflow_text
from cadenza._plugins._registry import Plugins, load_plugins
from cadenza._scheduler._runner import run_workflow

HUNDRED = list(range(100))
NESTED = "inputs.xs.map(a, inputs.xs.map(b, inputs.xs.map(c, a + b + c))).size() > 0"


@pytest.fixture(scope="module")
def plugins() -> Plugins:
    return load_plugins(entry_points=False)


def ctx(**inputs: Any) -> ExpressionContext:
    return ExpressionContext(inputs=inputs, steps={})


def when(source: str, **inputs: Any) -> Any:
    condition, issues = compile_condition(source, path="steps.spin.when")
    assert issues == [], issues
    assert condition is not None
    return condition.evaluate(ctx(**inputs))


def render(value: Any, **inputs: Any) -> Any:
    template, issues = compile_value(value, path="steps.spin.with")
    assert issues == [], issues
    return template.render(ctx(**inputs))


def literal_list(n: int) -> str:
    return "[" + ", ".join(str(i) for i in range(n)) + "]"


def test_three_nested_maps_stop_at_the_limit_with_a_clear_error() -> None:
    """A million evaluations stop at the limit; the error names the field, the limit and a fix."""
    with pytest.raises(ExpressionLimitError) as caught:
        when(NESTED, xs=HUNDRED)
    error = caught.value
    assert isinstance(error, ExpressionError)
    assert error.limit == EVALUATION_LIMIT
    assert error.where == "steps.spin.when"
    assert error.expression == NESTED
    message = str(error)
    assert message.startswith("steps.spin.when: evaluation stopped at the limit of 50,000 steps")
    assert "iterate over fewer items" in message
    assert "compute the value in a step" in message
    assert "docs/expressions.md" in message


def test_a_runaway_with_value_names_its_field() -> None:
    """In with:, the error names the string whose expression ran out of steps."""
    with pytest.raises(ExpressionLimitError) as caught:
        render({"query": "x", "all": f"${{{{ {NESTED} }}}}"}, xs=HUNDRED)
    assert caught.value.where == "steps.spin.with.all"


def test_a_big_but_legal_expression_still_works() -> None:
    """Filtering and mapping a thousand records stays well within the limit."""
    items = [{"name": f"n{i}", "score": i / 1000} for i in range(1000)]
    names = render("${{ inputs.items.filter(i, i.score >= 0.9).map(i, i.name) }}", items=items)
    assert names == [f"n{i}" for i in range(900, 1000)]
    assert when("inputs.items.exists(i, i.name == 'n999')", items=items) is True


def test_one_with_shares_one_budget() -> None:
    """Expressions of one with: share its budget: each fits alone, together they do not."""
    xs = list(range(1000))
    one = "${{ inputs.xs.map(x, x * 2 + 1).size() }}"
    assert render({"a": one}, xs=xs) == {"a": 1000}
    with pytest.raises(ExpressionLimitError) as caught:
        render({"a": one, "b": one, "c": one, "d": one}, xs=xs)
    assert caught.value.where.startswith("steps.spin.with.")


def test_a_doubling_string_stops_at_the_limit() -> None:
    """Joining a string to itself a hundred times is charged by length, not let grow to 2**100."""
    with pytest.raises(ExpressionLimitError):
        when("inputs.xs.reduce(acc, x, 'ab', acc + acc).size() > 0", xs=HUNDRED)


def test_a_result_sharing_one_list_many_times_stops_at_the_limit() -> None:
    """A result that is small in memory but astronomically large as JSON stops at the limit."""
    with pytest.raises(ExpressionLimitError):
        render("${{ inputs.xs.reduce(acc, x, [0], [acc, acc]) }}", xs=HUNDRED)


def test_comparing_large_values_counts_their_size() -> None:
    """Thirty comparisons of a 20,000-item list are few nodes but a million values compared."""
    big = list(range(20_000))
    assert when("inputs.big == inputs.big", big=big) is True
    with pytest.raises(ExpressionLimitError):
        when("inputs.xs.all(x, inputs.big == inputs.big)", xs=list(range(30)), big=big)


def test_min_counts_the_list_it_goes_over() -> None:
    """xs.min() walks its list without evaluating a node per item: it is charged by length."""
    big = list(range(20_000))
    assert when("inputs.big.min() == 0", big=big) is True
    with pytest.raises(ExpressionLimitError):
        when("inputs.xs.all(x, inputs.big.min() == 0)", xs=HUNDRED, big=big)


def test_size_is_not_charged_by_length() -> None:
    """size() takes constant time, so asking it of a long list in a loop stays cheap."""
    big = list(range(20_000))
    assert when(
        "inputs.xs.all(x, size(inputs.big) > 0 && inputs.big.size() > 0)", xs=HUNDRED, big=big
    )


def test_explaining_a_failure_stays_within_a_limit_too() -> None:
    """A failure on a huge value is explained without converting all of it for the message."""
    with pytest.raises(ExpressionError) as caught:
        when("inputs.xs.reduce(acc, x, [0], [acc, acc]).nope == 1", xs=HUNDRED)
    assert not isinstance(caught.value, ExpressionLimitError)
    assert "is list, not a map, so it has no field 'nope'" in str(caught.value)


def test_cost_raises_once_the_limit_is_spent() -> None:
    """The budget counts steps, values and characters and stops at its limit."""
    cost = Cost(limit=10)
    cost.steps(9)
    cost.size("x" * 100)  # a hundred characters: one step
    assert cost.spent == 10
    with pytest.raises(LimitExceeded):
        cost.values(1)


def test_a_condition_that_can_never_fit_is_a_compile_issue() -> None:
    """Nested comprehensions over long list literals are reported before the run."""
    hundred = literal_list(100)
    source = f"{hundred}.map(a, {hundred}.map(b, {hundred}.map(c, a + b + c))).size() > 0"
    condition, issues = compile_condition(source, path="steps.spin.when")
    assert condition is None
    [issue] = issues
    assert issue.path == "steps.spin.when"
    assert "at least 3,030,300 steps" in issue.message
    assert f"more than the limit of {EVALUATION_LIMIT:,}" in issue.message
    assert "compute the value in a step" in issue.hint


@pytest.mark.parametrize(
    "source",
    [
        "[1, 2, 3].map(x, x * 2)",
        "[1, 2, 3].map(a, [4, 5].filter(b, a < b))",
        "[1, 2, 3].reduce(acc, x, 0, acc + x)",
        "[[1], [2, 3]].all(xs, xs.exists(x, x > 0))",
        "true ? [1, 2].map(x, x) : [1, 2, 3, 4].map(x, [5, 6].map(y, y))",
        "inputs.xs.map(x, [1, 2].map(y, x + y))",
    ],
)
def test_the_static_estimate_is_a_lower_bound(source: str) -> None:
    """What the loader predicts never exceeds what evaluating actually counts."""
    env = _expr._environment()
    tree = env.compile(source)
    cost = Cost(limit=10**9)
    BudgetedRunner(env, tree).evaluate({"inputs": celpy.json_to_cel({"xs": [1, 2, 3]})}, cost)
    assert minimum_steps(tree) <= cost.spent
    # A comprehension over an input iterates an unknown number of times: zero, statically.
    assert (minimum_steps(tree) > 0) == ("inputs" not in source)


def test_comprehensions_over_short_literals_compile() -> None:
    """The static check only rejects what cannot fit: small literal loops are fine."""
    ten = literal_list(10)
    assert when(f"{ten}.map(a, {ten}.map(b, a * b)).size() == 10") is True


def test_the_loader_reports_a_hopeless_when_with_its_line(plugins: Plugins) -> None:
    """cadenza validate shows the hopeless when: at its file:line."""
    hundred = literal_list(100)
    text = textwrap.dedent(
        f"""\
        agents:
          t: {{kind: template, options: {{output: x}}}}
        steps:
          spin:
            uses: t
            when: "{hundred}.all(a, {hundred}.all(b, {hundred}.all(c, a >= 0)))"
        """
    )
    with pytest.raises(WorkflowError) as caught:
        load_workflow_text(text, plugins=plugins, filename="wf.yaml")
    message = str(caught.value)
    assert "wf.yaml:6:" in message
    assert "steps.spin.when: evaluating this takes at least" in message


RUNAWAY = """
    inputs:
      xs: {default: []}
    agents:
      t: {kind: template, options: {output: done}}
    steps:
      spin:
        uses: t
        when: "NESTED"
      after_spin: {uses: t, needs: [spin]}
      other: {uses: t}
      later: {uses: t, needs: [other]}
""".replace("NESTED", NESTED)


async def test_a_runaway_when_fails_its_step_and_the_rest_of_the_run_goes_on(
    plugins: Plugins,
) -> None:
    """The runaway step fails with ExpressionLimitError; independent steps still run."""
    loaded = load_workflow_text(textwrap.dedent(RUNAWAY), plugins=plugins, filename="wf.yaml")
    events: list[ev.Event] = []
    result = await run_workflow(
        loaded.workflow, plugins=plugins, inputs={"xs": HUNDRED}, observers=[events.append]
    )
    [failed] = [e for e in events if isinstance(e, ev.StepFailed)]
    assert failed.step_id == "spin"
    assert failed.error_type == "ExpressionLimitError"
    assert failed.message.startswith("steps.spin.when: evaluation stopped at the limit")
    assert result.steps["spin"].status == "failed"
    assert result.steps["after_spin"].status == "skipped"
    assert result.steps["other"].status == "succeeded"
    assert result.steps["later"].status == "succeeded"
    assert result.status == "failed"
