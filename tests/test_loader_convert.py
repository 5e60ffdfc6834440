"""The kernel's cattrs converter: strict primitives, durations, and issues with paths."""

from __future__ import annotations

from typing import Literal

import attrs
import cattrs
import pytest

from cadenza._paths import render_path
from cadenza._spec._convert import (
    ConvertIssue,
    converter,
    describe_type,
    structure,
    suggest,
)
from cadenza._spec._workflow import Duration


@attrs.frozen(kw_only=True)
class Inner:
    n: int


@attrs.frozen(kw_only=True)
class Options:
    url: str
    timeout: Duration = Duration(5.0)
    grace: Duration | None = None
    ratio: float = 1.0
    verbose: bool = False
    mode: Literal["a", "b"] = "a"
    inner: Inner | None = None
    items: list[Inner] = attrs.field(factory=list)
    limits: dict[str, int] = attrs.field(factory=dict)
    level: int = attrs.field(default=1, validator=attrs.validators.ge(0))


def test_converter_is_not_the_global_one() -> None:
    """The kernel owns its converter and forbids extra keys."""
    assert converter is not cattrs.global_converter
    assert converter.forbid_extra_keys


def test_structures_durations_and_numbers() -> None:
    """Durations parse from strings; ints are accepted for floats."""
    obj, issues = structure({"url": "u", "timeout": "1m30s", "grace": 2, "ratio": 3}, Options)
    assert issues == []
    assert obj == Options(url="u", timeout=Duration(90.0), grace=Duration(2.0), ratio=3.0)


U = {"url": "u"}


@pytest.mark.parametrize(
    ("data", "path", "message"),
    [
        ({"url": 5}, ("url",), "expected a string, got an integer 5"),
        (U | {"verbose": "false"}, ("verbose",), "expected true or false, got a string 'false'"),
        (U | {"ratio": True}, ("ratio",), "expected a number, got a boolean True"),
        (U | {"level": 2.5}, ("level",), "expected an integer, got a number 2.5"),
        (U | {"limits": {"x": "3"}}, ("limits", "x"), "expected an integer, got a string '3'"),
        (U | {"items": [{"n": "2"}]}, ("items", 0, "n"), "expected an integer, got a string '2'"),
        (U | {"mode": "c"}, ("mode",), "expected one of 'a', 'b', got a string 'c'"),
        (U | {"items": 3}, ("items",), "expected a list, got an integer 3"),
        (U | {"level": -1}, ("level",), "'level' must be >= 0: -1"),
    ],
)
def test_no_silent_coercion(
    data: dict[str, object], path: tuple[object, ...], message: str
) -> None:
    """Strings are not numbers, numbers are not strings, 'false' is not a bool."""
    obj, issues = structure(data, Options)
    assert obj is None
    assert [(i.path, i.message) for i in issues] == [(path, message)]


def test_every_issue_is_reported_with_its_path() -> None:
    """Missing fields, unknown keys (also nested) and bad values all come back at once."""
    _, issues = structure(
        {"timeout": "soon", "urll": "x", "inner": {"n": 1, "m": 2}, "items": [{}]}, Options
    )
    by_path = {i.path: i for i in issues}
    assert set(by_path) == {(), ("timeout",), ("inner", "m"), ("items", 0), ("urll",)}
    assert by_path[()].message == "missing required field 'url'"
    assert by_path[("items", 0)].message == "missing required field 'n'"
    assert by_path[("urll",)] == ConvertIssue(
        path=("urll",),
        message="unknown field 'urll'",
        hint="Did you mean 'url'? Allowed: grace, inner, items, level, limits, mode, ratio, "
        "timeout, url, verbose.",
        at_key=True,
    )
    assert by_path[("inner", "m")].at_key


def test_non_mapping_input() -> None:
    """Structuring a non-mapping into an attrs class is one issue at the root."""
    assert structure([1], Options) == (
        None,
        [ConvertIssue(path=(), message="expected a mapping, got a list [1]")],
    )


def test_render_path_and_helpers() -> None:
    """Paths render like steps.a.needs[0]; odd keys are JSON-quoted."""
    assert render_path(("steps", "build", "needs", 0)) == "steps.build.needs[0]"
    assert render_path(("steps", "a b", 1)) == 'steps["a b"][1]'
    assert render_path((3,)) == "[3]"
    assert render_path(()) == ""
    assert suggest("buidl", ["build", "lint"]) == "Did you mean 'build'? "
    assert suggest("zzz", ["build"]) == ""
    assert describe_type(Duration) == "a duration like 30s, 5m or 1h30m"
    assert describe_type(int | None) == "an integer or null"


def test_a_string_is_never_split_into_a_list() -> None:
    """cattrs would iterate 'csharp' into its letters; the loader refuses it instead."""
    import attrs

    from cadenza._spec._convert import structure

    @attrs.frozen(kw_only=True)
    class Options:
        languages: tuple[str, ...] = ()
        tags: list[str] = attrs.field(factory=list)
        kinds: frozenset[str] = frozenset()

    _, issues = structure({"languages": "csharp"}, Options)
    assert [(i.path, i.message) for i in issues] == [
        (("languages",), "expected a list, got a string 'csharp'; write [csharp] for a list of one")
    ]
    _, issues = structure({"tags": {"a": 1}}, Options)
    assert issues[0].message.startswith("expected a list, got a mapping")
    _, issues = structure({"languages": ["a", 3]}, Options)
    assert issues[0].path == ("languages", 1)
    ok, issues = structure({"languages": ["cs"], "tags": ["x"], "kinds": ["k", "k"]}, Options)
    assert not issues
    assert ok == Options(languages=("cs",), tags=["x"], kinds=frozenset({"k"}))
