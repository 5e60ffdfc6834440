"""YAML with positions: values, keys, duplicate keys, syntax errors, aliases."""

from __future__ import annotations

import pytest

from cadenza._yaml import (
    MAX_DEPTH,
    MAX_NODES,
    MAX_SOURCE_CHARS,
    SIZE_LIMIT_VARIABLE,
    parse_yaml,
)

TEXT = """\
a: 1
b:
  - x: 2
  - [p, q]
c: 'text'
"""


def test_values_and_keys_have_one_based_positions() -> None:
    """Each value and each mapping key maps to its 1-based line and column."""
    doc = parse_yaml(TEXT, filename="f.yaml")
    assert doc.data == {"a": 1, "b": [{"x": 2}, ["p", "q"]], "c": "text"}
    assert doc.problems == ()
    assert doc.values[("a",)] == (1, 4)
    assert doc.keys[("a",)] == (1, 1)
    assert doc.values[("b", 0, "x")] == (3, 8)
    assert doc.keys[("b", 0, "x")] == (3, 5)
    assert doc.values[("b", 1, 1)] == (4, 9)
    assert doc.values[("c",)] == (5, 4)


def test_locate_falls_back_to_the_nearest_ancestor() -> None:
    """A path that is not in the file is located at its closest existing parent."""
    doc = parse_yaml(TEXT, filename="f.yaml")
    loc = doc.locate(("b", 0, "missing", "deeper"))
    assert loc is not None
    assert (loc.file, loc.line, loc.column) == ("f.yaml", 3, 5)
    key_loc = doc.locate(("b", 0, "x"), key=True)
    assert key_loc is not None
    assert key_loc.column == 5


def test_duplicate_keys_are_problems() -> None:
    """PyYAML would keep the last of two equal keys; we report the second and keep the first."""
    doc = parse_yaml("a: 1\nb:\n  c: 1\n  c: 2\na: 3\n", filename="f.yaml")
    assert doc.data == {"a": 1, "b": {"c": 1}}
    found = sorted(doc.problems, key=lambda p: p.sort_key())
    assert [(p.path, p.message, p.location.line if p.location else 0) for p in found] == [
        ("b.c", "duplicate key 'c' (first defined on line 3)", 4),
        ("a", "duplicate key 'a' (first defined on line 1)", 5),
    ]


def test_syntax_error_has_the_mark_position() -> None:
    """A YAML syntax error becomes one problem at the parser's mark."""
    doc = parse_yaml("a: [1, 2\nb: 3\n", filename="f.yaml")
    (problem,) = doc.problems
    assert doc.data is None
    assert problem.message.startswith("invalid YAML: ")
    assert problem.location is not None
    assert (problem.location.line, problem.location.column) == (2, 2)


def test_several_documents_are_rejected() -> None:
    """A second document gets a hint to remove the separator."""
    (problem,) = parse_yaml("a: 1\n---\nb: 2\n", filename="f.yaml").problems
    assert "remove the extra '---'" in problem.hint


def test_merge_keys_and_aliases_work() -> None:
    """Anchors, aliases and << merge keys build plain data; written keys win over merged ones."""
    text = "base: &b {x: 1, y: 2}\nuse:\n  <<: *b\n  y: 3\nagain:\n  <<: [*b, {z: 0}]\n"
    doc = parse_yaml(text, filename="f.yaml")
    assert doc.data == {
        "base": {"x": 1, "y": 2},
        "use": {"x": 1, "y": 3},
        "again": {"x": 1, "y": 2, "z": 0},
    }
    assert doc.problems == ()


def test_recursive_alias_is_a_problem() -> None:
    """An alias to its own container is reported instead of looping forever."""
    doc = parse_yaml("a: &x [1, *x]\n", filename="f.yaml")
    (problem,) = doc.problems
    assert "recursive" in problem.message


def test_alias_bomb_is_cut_short() -> None:
    """A billion-laughs document stops at MAX_NODES values with a problem."""
    lines = ['a0: &a0 ["x", "x", "x", "x", "x", "x", "x", "x", "x", "x"]']
    for i in range(1, 9):
        refs = ", ".join([f"*a{i - 1}"] * 10)
        lines.append(f"a{i}: &a{i} [{refs}]")
    doc = parse_yaml("\n".join(lines) + "\n", filename="f.yaml")
    (problem,) = doc.problems
    assert problem.message == f"the document expands to more than {MAX_NODES:,} values"


def test_unsafe_tags_are_refused() -> None:
    """Python tags are not constructed; they become problems."""
    doc = parse_yaml("a: !!python/name:os.system\nb: 1\n", filename="f.yaml")
    (problem,) = doc.problems
    assert problem.message == "unsupported YAML tag !!python/name:os.system on a value"
    assert doc.data == {"a": None, "b": 1}


def test_invalid_characters_have_a_position() -> None:
    """A control character in the text is reported with its line and column."""
    (problem,) = parse_yaml("a: 1\nb: x\x07\n", filename="f.yaml").problems
    assert problem.location is not None
    assert (problem.location.line, problem.location.column) == (2, 5)


def test_non_scalar_keys_are_problems() -> None:
    """A list or mapping used as a key is reported."""
    doc = parse_yaml("? [a, b]\n: 1\nc: 2\n", filename="f.yaml")
    (problem,) = doc.problems
    assert problem.message == "mapping keys must be plain scalars, not lists or mappings"
    assert doc.data == {"c": 2}


def test_dates_stay_text() -> None:
    """Timestamps are kept as written, so workflow data stays JSON-shaped."""
    assert parse_yaml("d: 2024-05-06\n", filename="f.yaml").data == {"d": "2024-05-06"}


def test_empty_document() -> None:
    """An empty document parses to None without problems."""
    doc = parse_yaml("# nothing\n", filename="f.yaml")
    assert doc.data is None
    assert doc.problems == ()


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("a: !!binary aGVsbG8=\n", "!!binary on a value"),
        ("a: !!set {x, y}\n", "!!set on a mapping"),
        ("a: !!omap [{x: 1}]\n", "!!omap on a list"),
        ("a: !!pairs [{x: 1}]\n", "!!pairs on a list"),
        ("a: !include other.yaml\n", "!include on a value"),
        ("a: !custom {x: 1}\n", "!custom on a mapping"),
        ("? !!binary aGVsbG8=\n: 1\n", "!!binary on a value"),
    ],
)
def test_tags_beyond_json_are_problems_with_positions(text: str, shown: str) -> None:
    """Only JSON-shaped YAML is accepted: every other tag is a problem with line and column."""
    doc = parse_yaml(text, filename="f.yaml")
    (problem,) = doc.problems
    assert problem.message == f"unsupported YAML tag {shown}"
    assert problem.location is not None
    assert problem.location.line == 1


def test_plain_tags_still_build_their_values() -> None:
    """Explicit JSON-shaped tags (!!str, !!int, !!float, !!bool, !!null) are fine."""
    text = "a: !!str 1\nb: !!int '2'\nc: !!float 3\nd: !!bool 'true'\ne: !!null ''\nf: =\n"
    doc = parse_yaml(text, filename="f.yaml")
    assert doc.problems == ()
    assert doc.data == {"a": "1", "b": 2, "c": 3.0, "d": True, "e": None, "f": "="}


def test_tagged_alias_bomb_is_refused_unbuilt() -> None:
    """A bomb of !!pairs/!!omap levels is refused at its first tag, nothing expanded."""
    lines = ["l0: &l0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 9):
        tag = "!!pairs" if i % 2 else "!!omap"
        lines.append(f"l{i}: &l{i} {tag} [" + ", ".join([f"{{k: *l{i - 1}}}"] * 10) + "]")
    doc = parse_yaml("\n".join(lines) + "\n", filename="f.yaml")
    assert [p.location.line for p in doc.problems if p.location] == list(range(2, 10))
    assert doc.data["l8"] is None
    assert doc.data["l0"] == ["x"] * 10


def test_nesting_deeper_than_the_limit_is_a_problem_not_a_recursion_error() -> None:
    """500 nested lists give one problem at the first level past MAX_DEPTH."""
    doc = parse_yaml("a: " + "[" * 500 + "]" * 500 + "\n", filename="f.yaml")
    (problem,) = doc.problems
    assert problem.message == f"the document nests deeper than {MAX_DEPTH} levels"
    assert problem.location is not None
    assert (problem.location.line, problem.location.column) == (1, 4 + MAX_DEPTH - 1)


def test_nesting_at_the_limit_builds() -> None:
    """A document exactly MAX_DEPTH levels deep is accepted."""
    text = "a: " + "[" * (MAX_DEPTH - 1) + "]" * (MAX_DEPTH - 1) + "\n"
    doc = parse_yaml(text, filename="f.yaml")
    assert doc.problems == ()


def test_deep_block_mappings_are_refused_too() -> None:
    """Block-style nesting is measured like flow-style nesting."""
    text = "".join(f"{'  ' * i}k{i}:\n" for i in range(300)) + "  " * 300 + "v\n"
    (problem,) = parse_yaml(text, filename="f.yaml").problems
    assert problem.message == f"the document nests deeper than {MAX_DEPTH} levels"


def test_too_many_plain_values_are_refused_before_building() -> None:
    """A document with more than MAX_NODES written values is refused while scanning."""
    text = "".join(f"k{i}: {i}\n" for i in range(MAX_NODES))
    (problem,) = parse_yaml(text, filename="f.yaml").problems
    assert problem.message == f"the document expands to more than {MAX_NODES:,} values"
    assert problem.location is not None
    assert problem.location.line > 1


def test_text_over_the_size_limit_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """Text longer than the limit is refused without parsing; the variable raises the limit."""
    monkeypatch.setenv(SIZE_LIMIT_VARIABLE, "100")
    text = "a: " + "x" * 200 + "\n"
    (problem,) = parse_yaml(text, filename="f.yaml").problems
    assert problem.message == "the file is too large (204 characters; the limit is 100 bytes)"
    assert SIZE_LIMIT_VARIABLE in problem.hint
    monkeypatch.setenv(SIZE_LIMIT_VARIABLE, "1000")
    assert parse_yaml(text, filename="f.yaml").problems == ()


def test_a_bad_size_limit_variable_is_a_problem(monkeypatch: pytest.MonkeyPatch) -> None:
    """A size limit that is not a positive number says so instead of being ignored."""
    monkeypatch.setenv(SIZE_LIMIT_VARIABLE, "ten")
    (problem,) = parse_yaml("a: 1\n", filename="f.yaml").problems
    assert problem.message == f"{SIZE_LIMIT_VARIABLE} must be a positive number of bytes, got 'ten'"


def test_default_size_limit_is_ten_mebibytes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without the variable the documented default applies."""
    monkeypatch.delenv(SIZE_LIMIT_VARIABLE, raising=False)
    assert MAX_SOURCE_CHARS == 10 * 1024 * 1024
    (problem,) = parse_yaml("#" * (MAX_SOURCE_CHARS + 1), filename="f.yaml").problems
    assert "the limit is 10,485,760 bytes" in problem.message
