"""Tests for cadenza._expr._expressions: ``when:`` conditions and ``${{ }}`` in ``with:`` values."""

from __future__ import annotations

import json
import string
import sys
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cadenza import ExpressionError
from cadenza._expr import _expressions as _expr
from cadenza._expr._expressions import (
    Condition,
    ExpressionContext,
    ExprIssue,
    StepView,
    ValueTemplate,
    compile_condition,
    compile_value,
)

CTX = ExpressionContext(
    inputs={
        "topic": "trio",
        "count": 3,
        "ratio": 0.5,
        "publish": True,
        "tags": ["a", "b"],
        "meta": {"lang": "en"},
        "nothing": None,
        "dry-run": False,
    },
    steps={
        "build": StepView(
            status="succeeded",
            output={"ok": True, "url": "https://x.test", "files": ["a.py", "b.py"], "n": None},
        ),
        "build-docs": StepView(status="succeeded", output="docs built"),
        "lint": StepView(status="skipped", output=None),
    },
)


def value_of(value: Any, path: str = "steps.t.with") -> ValueTemplate:
    """Compile ``value``, asserting it compiles cleanly."""
    template, issues = compile_value(value, path=path)
    assert issues == []
    return template


def render(value: Any, ctx: ExpressionContext = CTX) -> Any:
    return value_of(value).render(ctx)


def issues_of(value: Any, path: str = "steps.t.with.v") -> list[ExprIssue]:
    _template, issues = compile_value(value, path=path)
    assert issues, f"expected issues for {value!r}"
    return issues


def condition_of(source: str) -> Condition:
    condition, issues = compile_condition(source, path="steps.t.when")
    assert issues == []
    assert condition is not None
    return condition


def strictly_equal(a: Any, b: Any) -> bool:
    """Equal and of the same JSON types all the way down (1 != 1.0 != True)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(strictly_equal(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(strictly_equal(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


# --------------------------------------------------------------------------- whole-string values


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("${{ inputs.count }}", 3),
        ("${{ inputs.ratio }}", 0.5),
        ("${{ inputs.publish }}", True),
        ("${{ inputs.topic }}", "trio"),
        ("${{ inputs.tags }}", ["a", "b"]),
        ("${{ inputs.meta }}", {"lang": "en"}),
        ("${{ inputs.nothing }}", None),
        ("${{ steps.build.output.files }}", ["a.py", "b.py"]),
        ("${{ inputs.count * 2 }}", 6),
        ("${{ inputs.count > 2 }}", True),
        ("${{ size(inputs.tags) }}", 2),
        ("${{ inputs.tags.map(t, t + '!') }}", ["a!", "b!"]),
        ("${{ {'k': [1, 2.5, null, true]} }}", {"k": [1, 2.5, None, True]}),
        ("${{ 7u }}", 7),
    ],
)
def test_whole_string_keeps_the_type(source: str, expected: Any) -> None:
    """A string that is exactly one ${{ }} renders as the expression's typed value."""
    assert strictly_equal(render(source), expected)


def test_whole_string_allows_surrounding_whitespace() -> None:
    """Whitespace around a lone ${{ }} (YAML block scalars add a newline) keeps the type."""
    assert strictly_equal(render("  ${{ inputs.tags }}\n"), ["a", "b"])


def test_results_are_plain_python_types() -> None:
    """celpy's wrapper types never leak out: results are exactly bool, int, str, dict..."""
    result = render("${{ {'b': true, 'i': 1, 's': 'x', 'l': [1.5]} }}")
    assert type(result) is dict
    assert [type(v) for v in result.values()] == [bool, int, str, list]
    assert type(result["l"][0]) is float
    assert all(type(k) is str for k in result)


def test_timestamps_and_durations_render_as_text() -> None:
    """Values without a JSON type become their CEL text form."""
    assert render("${{ duration('90m') }}") == "5400s"
    assert render("${{ timestamp('2024-05-01T10:00:00Z') }}") == "2024-05-01T10:00:00Z"


def test_non_string_map_keys_become_json_text() -> None:
    """Map keys are strings in the result, written as JSON would write them."""
    assert render("${{ {1: 'one', 2: 'two'}[1] }}") == "one"
    assert render("${{ {1: 'one'} }}") == {"1": "one"}
    assert render("${{ {true: 'yes'} }}") == {"true": "yes"}


# --------------------------------------------------------------------------- interpolation


def test_interpolation_joins_text_and_values() -> None:
    """Text around expressions makes a string: strings as they are, others as compact JSON."""
    source = (
        "topic=${{ inputs.topic }} n=${{ inputs.count }} ok=${{ inputs.publish }} "
        "tags=${{ inputs.tags }} meta=${{ inputs.meta }} none=${{ inputs.nothing }}"
    )
    assert render(source) == ('topic=trio n=3 ok=true tags=["a","b"] meta={"lang":"en"} none=null')


def test_adjacent_expressions_interpolate() -> None:
    """Two expressions with nothing between them still make one string."""
    assert render("${{ inputs.topic }}${{ inputs.count }}") == "trio3"


def test_interpolation_keeps_unicode() -> None:
    """Non-ASCII text in values is not escaped when interpolated."""
    ctx = ExpressionContext(inputs={"m": {"name": "Zoë"}}, steps={})
    assert render("m=${{ inputs.m }}", ctx) == 'm={"name":"Zoë"}'


def test_closing_braces_inside_string_literals_and_maps() -> None:
    """}} inside a CEL string or a nested map literal does not end the expression."""
    assert render("${{ '}}' + inputs.topic }}") == "}}trio"
    assert render("${{ {'a': {'b': 1}} }}") == {"a": {"b": 1}}
    assert render('x${{ "a}}b" }}y') == "xa}}by"


# --------------------------------------------------------------------------- nested structures


def test_nested_structures_render_every_string() -> None:
    """Expressions anywhere in nested dicts and lists are rendered; other values pass through."""
    source = {
        "prompt": "Write about ${{ inputs.topic }}",
        "files": ["README.md", "${{ steps.build.output.files }}"],
        "options": {"temperature": 0.2, "count": "${{ inputs.count }}", "stop": None},
        "flag": True,
    }
    template = value_of(source)
    assert not template.is_static
    assert template.render(CTX) == {
        "prompt": "Write about trio",
        "files": ["README.md", ["a.py", "b.py"]],
        "options": {"temperature": 0.2, "count": 3, "stop": None},
        "flag": True,
    }
    assert source["options"] == {"temperature": 0.2, "count": "${{ inputs.count }}", "stop": None}


def test_rendering_twice_gives_the_same_result() -> None:
    """A template (and its compiled programs) can be rendered again with new values."""
    template = value_of({"n": "${{ inputs.count + 1 }}"})
    assert template.render(CTX) == {"n": 4}
    other = ExpressionContext(inputs={"count": 10}, steps={})
    assert template.render(other) == {"n": 11}
    assert template.render(CTX) == {"n": 4}


def test_mapping_keys_are_not_evaluated() -> None:
    """An expression in a key is an issue: keys are plain text."""
    [issue] = issues_of({"${{ inputs.topic }}": 1}, path="steps.t.with")
    assert issue.path == 'steps.t.with["${{ inputs.topic }}"]'
    assert "keys are plain text" in issue.message


# --------------------------------------------------------------------------- escaping


def test_double_dollar_escapes_an_opening() -> None:
    """$${{ renders as a literal ${{ and is not evaluated."""
    template = value_of("write $${{ inputs.topic }} literally")
    assert not template.is_static
    assert template.step_refs == template.input_refs == frozenset()
    assert template.render(CTX) == "write ${{ inputs.topic }} literally"


def test_escape_next_to_a_real_expression() -> None:
    """An escaped opening and a real expression can share one string."""
    assert render("$${{ x }} is ${{ inputs.topic }}") == "${{ x }} is trio"


def test_escape_consumes_one_dollar() -> None:
    """Only the dollar directly before ${{ is consumed: $$${{ gives $${{."""
    assert render("$$${{ x }}") == "$${{ x }}"


def test_escape_in_keys() -> None:
    """Keys are plain text but honour the escape."""
    assert render({"$${{ k }}": "v"}) == {"${{ k }}": "v"}


def test_a_lone_escape_is_not_a_whole_expression() -> None:
    """'$${{ inputs.count }}' is text, not the typed value of an expression."""
    assert render("$${{ inputs.count }}") == "${{ inputs.count }}"


def test_plain_dollars_and_braces_pass_through() -> None:
    """Dollar signs and braces that do not form ${{ are left alone, statically."""
    template = value_of("costs $5 {not} ${x} $$ {{ y }}")
    assert template.is_static
    assert template.render(CTX) == "costs $5 {not} ${x} $$ {{ y }}"


# --------------------------------------------------------------------------- references


def test_references_with_dots() -> None:
    """steps.X and inputs.X are collected as references."""
    template = value_of("${{ steps.build.output.ok && inputs.publish }}")
    assert template.step_refs == frozenset({"build"})
    assert template.input_refs == frozenset({"publish"})


def test_references_with_index_form() -> None:
    """steps["X"] and inputs['X'] (any quote style) name the same references."""
    template = value_of("${{ steps[\"build-docs\"].output + inputs['topic'] }}")
    assert template.step_refs == frozenset({"build-docs"})
    assert template.input_refs == frozenset({"topic"})
    assert template.render(CTX) == "docs builttrio"
    assert value_of("${{ inputs[r'dry-run'] }}").input_refs == frozenset({"dry-run"})


def test_references_collected_across_nested_lists() -> None:
    """References from every string of a nested value are merged."""
    template = value_of(
        {"a": ["x", ["${{ steps.build.output.url }}"]], "b": {"c": "${{ steps.lint.status }}"}}
    )
    assert template.step_refs == frozenset({"build", "lint"})
    assert template.render(CTX) == {"a": ["x", ["https://x.test"]], "b": {"c": "skipped"}}


def test_references_inside_functions_and_macros() -> None:
    """References in function arguments, macros and has() are found."""
    template = value_of(
        "${{ has(steps.build.output.url) && inputs.tags.exists(t, t == inputs.topic) }}"
    )
    assert template.step_refs == frozenset({"build"})
    assert template.input_refs == frozenset({"tags", "topic"})
    assert template.render(CTX) is False


def test_macro_variables_are_not_unknown_names() -> None:
    """Loop variables of map/filter/all/exists/reduce are in scope inside the macro only."""
    assert render("${{ inputs.tags.filter(t, t != 'a') }}") == ["b"]
    assert render("${{ [1, 2, 3].reduce(acc, x, 0, acc + x) }}") == 6
    [issue] = issues_of("${{ inputs.tags.map(t, t) + [t] }}")
    assert "unknown name 't'" in issue.message


def test_type_names_are_allowed() -> None:
    """CEL type names (int, string, ...) are not unknown names."""
    assert render("${{ type(inputs.count) == int }}") is True


def test_conditions_collect_references() -> None:
    """A condition reports the steps and inputs it reads."""
    condition = condition_of('inputs.publish && steps["build"].output.ok')
    assert condition.step_refs == frozenset({"build"})
    assert condition.input_refs == frozenset({"publish"})


# --------------------------------------------------------------------------- compile-time issues


def test_unknown_root_name_is_an_issue() -> None:
    """Only inputs and steps exist; anything else is reported with its path."""
    [issue] = issues_of({"files": ["a", "${{ foo.bar }}"]}, path="steps.build.with")
    assert issue.path == "steps.build.with.files[1]"
    assert "unknown name 'foo'" in issue.message
    assert "expressions can use inputs and steps" in issue.message


def test_unknown_name_hints() -> None:
    """Near misses and Python spellings get a specific hint."""
    [issue] = issues_of("${{ input.topic }}")
    assert "did you mean inputs?" in issue.hint
    [issue] = issues_of("${{ True }}")
    assert "true" in issue.hint
    [issue] = issues_of("${{ success }}")
    assert '"success"' in issue.hint


def test_hyphenated_id_with_dots_is_explained() -> None:
    """steps.build-docs parses as subtraction: one issue, hinting the index form."""
    [issue] = issues_of("${{ steps.build-docs.output }}")
    assert "steps.build-docs" in issue.message
    assert "minus docs" in issue.message
    assert issue.hint == 'write steps["build-docs"] instead'


def test_bare_root_is_an_issue() -> None:
    """steps on its own cannot be checked against needs."""
    [issue] = issues_of("${{ steps }}")
    assert 'steps["x"]' in issue.message


def test_dynamic_index_is_an_issue() -> None:
    """steps[<expression>] is rejected: references must be static."""
    [issue] = issues_of("${{ steps[inputs.topic].output }}")
    assert "needs a quoted name" in issue.message


def test_unknown_step_field_is_an_issue() -> None:
    """A step has only output and status."""
    [issue] = issues_of("${{ steps.build.outputs.url }}")
    assert "no field 'outputs'" in issue.message
    assert issue.hint == "did you mean steps.build.output?"


def test_unknown_function_is_an_issue() -> None:
    """Misspelt or foreign function names are caught before the run."""
    [issue] = issues_of("${{ len(inputs.tags) }}")
    assert "unknown function 'len'" in issue.message
    assert "size()" in issue.hint


def test_syntax_error_names_the_column() -> None:
    """A CEL syntax error says what and where in the expression, with a caret."""
    [issue] = issues_of("prefix ${{ steps.build.output. }}")
    assert issue.path == "steps.t.with.v"
    assert "syntax error at column 20" in issue.message
    assert "unexpected end of expression" in issue.message
    assert "expected a name" in issue.message
    assert "${{ steps.build.output. }}" in issue.message
    assert issue.hint.endswith("steps.build.output.\n                   ^")


def test_syntax_error_hints_common_mistakes() -> None:
    """= for ==, and/or/not, and nested ${{ }} each get a specific hint."""
    assert "==" in issues_of("${{ inputs.count = 3 }}")[0].hint
    assert "&&" in issues_of("${{ inputs.publish and inputs.publish }}")[0].hint
    issues = issues_of("${{ not inputs.publish }}")
    assert "&&" in issues[0].hint
    assert "missing operator before 'inputs'" in issues[1].message
    [issue] = issues_of("${{ ${{ inputs.topic }} }}")
    assert "unexpected character '$'" in issue.message
    assert "write names directly" in issue.hint


def test_unterminated_opening_is_an_issue() -> None:
    """${{ without a closing }} is reported with its column."""
    [issue] = issues_of("text ${{ inputs.topic")
    assert issue.message == "unterminated '${{' at column 6: no matching '}}'"
    assert "$${{" in issue.hint


def test_unterminated_string_inside_expression_is_an_issue() -> None:
    """An unclosed quote swallows the closing braces; the message says so."""
    [issue] = issues_of("${{ 'abc }}")
    assert "string literal at column 5 is not closed" in issue.message


def test_empty_expression_is_an_issue() -> None:
    """${{ }} with nothing inside is reported."""
    [issue] = issues_of("a ${{  }} b")
    assert issue.message == "empty '${{ }}' at column 3"


def test_every_issue_is_reported() -> None:
    """Issues from several strings and several names come back together."""
    issues = issues_of({"a": "${{ foo }}", "b": ["${{ bar + baz }}"], "c": "${{"}, path="w")
    assert [i.path for i in issues] == ["w.a", "w.b[0]", "w.b[0]", "w.c"]


def test_too_deep_nesting_is_an_issue() -> None:
    """An expression too deep for celpy's recursive evaluator is refused when compiled."""
    [issue] = issues_of("${{ " + " + ".join(["inputs.count"] * 100) + " }}")
    assert "nested too deeply" in issue.message
    assert render("${{ " + " + ".join(["inputs.count"] * 50) + " }}") == 150
    assert render("${{ " + "(" * 12 + "inputs.count" + ")" * 12 + " }}") == 3


def test_compiling_leaves_the_recursion_limit_alone() -> None:
    """celpy raises the interpreter's recursion limit; the compiler puts it back."""
    before = sys.getrecursionlimit()
    _expr._environment.cache_clear()
    _expr._compile_expression.cache_clear()
    value_of("${{ inputs.count }}")
    assert sys.getrecursionlimit() == before


def test_opening_inside_a_condition_string_literal_is_text() -> None:
    """A when: that merely mentions ${{ in a CEL string is compiled as it is."""
    ctx = ExpressionContext(inputs={"text": "use ${{ x }}"}, steps={})
    assert condition_of("inputs.text.contains('${{')").evaluate(ctx) is True


def test_condition_issues_make_no_condition() -> None:
    """A condition with issues compiles to None plus the issues."""
    condition, issues = compile_condition("inputs.publish &&", path="steps.t.when")
    assert condition is None
    [issue] = issues
    assert issue.path == "steps.t.when"
    assert "syntax error" in issue.message


def test_empty_condition_is_an_issue() -> None:
    """A blank when: is reported rather than treated as true or false."""
    for source in ("", "  ", "${{ }}"):
        condition, issues = compile_condition(source, path="steps.t.when")
        assert condition is None
        assert [i.message for i in issues] == ["the condition is empty"]


# --------------------------------------------------------------------------- conditions


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("inputs.publish && steps.build.output.ok", True),
        ("inputs.count > 5 || steps.lint.status == 'skipped'", True),
        ("!inputs.publish", False),
        ("'a' in inputs.tags", True),
        ("${{ inputs.publish }}", True),
        ("steps.lint.output == null", True),
    ],
)
def test_condition_evaluates_to_bool(source: str, expected: bool) -> None:
    """Conditions return a plain bool."""
    result = condition_of(source).evaluate(CTX)
    assert type(result) is bool
    assert result is expected


def test_non_bool_condition_is_an_error() -> None:
    """A condition giving anything but true or false raises ExpressionError saying so."""
    condition = condition_of("inputs.topic")
    with pytest.raises(ExpressionError, match="must evaluate to true or false") as info:
        condition.evaluate(CTX)
    assert 'string "trio"' in str(info.value)
    assert info.value.where == "steps.t.when"
    assert info.value.expression == "inputs.topic"


def test_null_condition_mentions_skipped_outputs() -> None:
    """A null result points at the usual cause: a skipped step's output."""
    with pytest.raises(ExpressionError, match="skipped step's output is null"):
        condition_of("steps.lint.output").evaluate(CTX)


# --------------------------------------------------------------------------- runtime errors


def test_missing_key_is_an_expression_error() -> None:
    """A missing key names the container, the key and the keys it does have."""
    template = value_of({"u": "${{ steps.build.output.link }}"}, path="steps.deploy.with")
    with pytest.raises(ExpressionError) as info:
        template.render(CTX)
    error = info.value
    assert error.where == "steps.deploy.with.u"
    assert error.expression == "steps.build.output.link"
    assert "steps.build.output has no key 'link' (it has: files, n, ok, url)" in str(error)


def test_missing_key_in_index_form() -> None:
    """m['k'] on a map without k is reported like m.k."""
    with pytest.raises(ExpressionError, match=r"inputs\.meta has no key 'size' \(it has: lang\)"):
        render("${{ inputs.meta['size'] }}")


def test_field_of_null_output_is_an_expression_error() -> None:
    """Reading a field of a skipped step's null output says the value is null."""
    with pytest.raises(ExpressionError, match=r"steps\.lint\.output is null, so it has no field"):
        render("${{ steps.lint.output.report }}")


def test_missing_input_is_an_expression_error() -> None:
    """An input with no value names the inputs that were given."""
    ctx = ExpressionContext(inputs={"a": 1}, steps={})
    with pytest.raises(ExpressionError, match=r"input 'b' has no value \(inputs given: a\)"):
        render("${{ inputs.b }}", ctx)


def test_missing_step_is_an_expression_error() -> None:
    """A step absent from the context is reported as not available."""
    ctx = ExpressionContext(inputs={}, steps={})
    with pytest.raises(ExpressionError, match="step 'build' is not available here"):
        render("${{ steps.build.output }}", ctx)


def test_type_mismatch_is_an_expression_error() -> None:
    """An operator applied to the wrong types names the operator and the types."""
    with pytest.raises(ExpressionError, match="'\\+' cannot be applied to int and string"):
        render("${{ inputs.count + inputs.topic }}")


def test_index_out_of_range_is_an_expression_error() -> None:
    """A list index past the end says how many items there are."""
    with pytest.raises(ExpressionError, match=r"inputs\.tags has no item at index 5 \(it has 2"):
        render("${{ inputs.tags[5] }}")


def test_division_by_zero_is_an_expression_error() -> None:
    """Division by zero is an ExpressionError, not a ZeroDivisionError."""
    with pytest.raises(ExpressionError, match="division by zero"):
        render("n=${{ inputs.count / 0 }}")


def test_bytes_result_is_an_expression_error() -> None:
    """A result with no JSON form is refused with a way out."""
    with pytest.raises(ExpressionError, match="bytes, which have no JSON form"):
        render("${{ b'abc' }}")


def test_unusable_input_value_is_an_expression_error() -> None:
    """A referenced value CEL cannot hold (here a 65-bit integer) is an ExpressionError."""
    ctx = ExpressionContext(inputs={"big": 2**70}, steps={})
    with pytest.raises(ExpressionError, match=r"inputs\.big holds a value expressions cannot use"):
        render("${{ inputs.big }}", ctx)


def test_unreferenced_values_are_not_converted() -> None:
    """Only referenced inputs reach CEL, so an odd unreferenced value is harmless."""
    ctx = ExpressionContext(inputs={"odd": object(), "topic": "x"}, steps={})
    assert render("${{ inputs.topic }}", ctx) == "x"


def test_rendering_a_template_with_issues_raises() -> None:
    """A template with compile issues refuses to render instead of guessing."""
    template, issues = compile_value("${{ foo }}", path="p")
    assert issues
    with pytest.raises(ExpressionError, match="unknown name 'foo'"):
        template.render(CTX)


# --------------------------------------------------------------------------- static fast path


@pytest.fixture
def no_cel(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make any use of the CEL compiler fail the test."""

    def refuse(text: str) -> Any:
        raise AssertionError(f"celpy was asked to compile {text!r}")

    monkeypatch.setattr(_expr, "_compile_expression", refuse)
    monkeypatch.setattr(_expr, "_environment", refuse)


@pytest.mark.usefixtures("no_cel")
def test_static_values_never_touch_celpy() -> None:
    """Values without ${{ compile and render without the CEL compiler."""
    source = {"a": ["x", 1, 2.5, None, True], "b": {"c": "plain $ { } text"}}
    template = value_of(source)
    assert template.is_static
    assert template.step_refs == template.input_refs == frozenset()
    assert template.render(CTX) is source


@pytest.mark.usefixtures("no_cel")
def test_static_constructor_never_touches_celpy() -> None:
    """ValueTemplate.static keeps even ${{ literally and renders the value itself."""
    source = {"x": "${{ inputs.topic }}"}
    template = ValueTemplate.static(source)
    assert template.is_static
    assert template.render(CTX) is source


@pytest.mark.usefixtures("no_cel")
def test_escapes_alone_never_touch_celpy() -> None:
    """A string with only escaped openings is unescaped without compiling anything."""
    assert value_of("$${{ x }}").render(CTX) == "${{ x }}"


def test_same_expression_compiles_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """Many steps using the same expression text share one compiled program."""
    calls: list[str] = []
    env = _expr._environment()
    real_compile = env.compile

    def counting(text: str) -> Any:
        calls.append(text)
        return real_compile(text)

    monkeypatch.setattr(env, "compile", counting)
    _expr._compile_expression.cache_clear()
    for i in range(200):
        compile_value({"p": "${{ inputs.count + 41 }}"}, path=f"steps.s{i}.with")
        compile_condition("inputs.count + 41 > 0", path=f"steps.s{i}.when")
    assert calls == ["inputs.count + 41", "inputs.count + 41 > 0"]


def test_templates_compare_by_value_and_path() -> None:
    """Two compilations of the same value at the same path are equal and hash alike."""
    a = value_of({"p": "${{ inputs.topic }}"})
    b = value_of({"p": "${{ inputs.topic }}"})
    assert a == b
    assert hash(a) == hash(b)
    assert a != value_of({"p": "${{ inputs.count }}"})


# --------------------------------------------------------------------------- properties

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
identifiers = st.text(
    alphabet=string.ascii_letters + string.digits + "_", min_size=1, max_size=12
).filter(lambda s: not s[0].isdigit() and s not in {"true", "false", "null", "in"})


def _without_openings(value: Any) -> bool:
    return "${{" not in json.dumps(value, ensure_ascii=False)


@given(json_values.filter(_without_openings))
def test_values_without_expressions_render_unchanged(value: Any) -> None:
    """Any JSON value without ${{ is static and renders as itself."""
    template, issues = compile_value(value, path="p")
    assert issues == []
    assert template.is_static
    assert strictly_equal(template.render(CTX), value)


@given(identifiers, json_values)
def test_input_reference_renders_the_value_exactly(name: str, value: Any) -> None:
    """'${{ inputs.<name> }}' renders the input's value exactly, whatever JSON it is."""
    template, issues = compile_value(f"${{{{ inputs.{name} }}}}", path="p")
    assert issues == []
    assert template.input_refs == frozenset({name})
    ctx = ExpressionContext(inputs={name: value}, steps={})
    assert strictly_equal(template.render(ctx), value)
