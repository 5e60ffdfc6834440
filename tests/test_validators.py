"""The built-in validators: json_schema, required_keys and python_parses."""

from __future__ import annotations

import json
import re
import warnings
from functools import partial
from pathlib import Path
from typing import Any

import pytest
import trio
from hypothesis import given, settings
from hypothesis import strategies as st

import cadenza
from cadenza._strategies._validation import Quality, ValidationContext, Validator
from cadenza._strategies._validators import (
    BUILTIN_VALIDATORS,
    MAX_FINDINGS,
    THREAD_THRESHOLD,
    JsonSchemaValidator,
    PythonParsesValidator,
    RequiredKeysValidator,
)

CONTEXT = ValidationContext(step_id="draft", agent="writer")

PERSON = {
    "type": "object",
    "required": ["name"],
    "properties": {
        "name": {"type": "string"},
        "age": {"type": "integer", "minimum": 0},
        "tags": {"type": "array", "items": {"type": "string"}},
    },
}


def build(name: str, **options: Any) -> Validator:
    return BUILTIN_VALIDATORS[name](options)


async def check(
    name: str, output: Any, context: ValidationContext = CONTEXT, **options: Any
) -> Quality:
    return await build(name, **options).validate(output, context=context)


def check_sync(validator: Validator, output: Any) -> Quality:
    """Validate outside a trio run, for hypothesis tests."""
    return trio.run(partial(validator.validate, output, context=CONTEXT))


def test_builtin_names() -> None:
    """The kernel registers exactly the three documented built-ins."""
    assert sorted(BUILTIN_VALIDATORS) == ["json_schema", "python_parses", "required_keys"]


# -- json_schema ---------------------------------------------------------------------------


async def test_json_schema_passes_a_valid_output() -> None:
    """An output matching the schema scores 1.0 with no findings."""
    quality = await check("json_schema", {"name": "Ana", "age": 3}, schema=PERSON)
    assert quality == Quality(score=1.0)


async def test_json_schema_lists_errors_as_path_and_message_sorted_by_path() -> None:
    """Every error is a ``path: message`` finding, in path order; the score is 0.0."""
    output = {"tags": ["a", 2, "c", 4], "age": -1}
    quality = await check("json_schema", output, schema=PERSON)
    assert quality.score == 0.0
    assert quality.findings == (
        "(root): 'name' is a required property",
        "age: -1 is less than the minimum of 0",
        "tags.1: 2 is not of type 'string'",
        "tags.3: 4 is not of type 'string'",
    )


async def test_json_schema_caps_findings() -> None:
    """At most MAX_FINDINGS errors are listed, then a count of the rest."""
    schema = {"type": "array", "items": {"type": "string"}}
    quality = await check("json_schema", list(range(25)), schema=schema)
    assert len(quality.findings) == MAX_FINDINGS + 1
    assert quality.findings[0] == "0: 0 is not of type 'string'"
    assert quality.findings[-1] == f"... and {25 - MAX_FINDINGS} more"


async def test_json_schema_findings_quote_large_values_briefly() -> None:
    """A large value in an error message is shortened, so findings stay short."""
    output = {"name": {"essay": "word " * 10_000}}
    quality = await check("json_schema", output, schema=PERSON)
    (finding,) = quality.findings
    assert finding.startswith("name: {'essay': 'word word")
    assert finding.endswith("... is not of type 'string'")
    assert len(finding) <= 120


async def test_json_schema_decodes_a_json_string_output() -> None:
    """A string holding a JSON object is validated as the decoded object."""
    assert (await check("json_schema", '{"name": "Ana"}', schema=PERSON)).score == 1.0
    quality = await check("json_schema", '{"name": 7}', schema=PERSON)
    assert quality.findings == ("name: 7 is not of type 'string'",)


async def test_json_schema_decodes_fenced_json() -> None:
    """A JSON object inside one surrounding Markdown fence is decoded too."""
    output = '```json\n{"name": "Ana", "tags": ["x"]}\n```\n'
    assert (await check("json_schema", output, schema=PERSON)).score == 1.0


async def test_json_schema_keeps_other_strings_as_strings() -> None:
    """A string that is not a JSON object or array is validated as a string."""
    assert (await check("json_schema", "42", schema={"type": "string"})).score == 1.0
    quality = await check("json_schema", "{not json", schema=PERSON)
    assert quality.findings == ("(root): '{not json' is not of type 'object'",)


async def test_json_schema_field_validates_only_that_part() -> None:
    """With ``field``, only the value there is validated; paths start at the output."""
    output = {"meta": {"ok": True}, "result": {"people": [{"name": "Ana"}, {"age": 2}]}}
    schema = {"type": "array", "items": PERSON}
    quality = await check("json_schema", output, schema=schema, field="result.people")
    assert quality.findings == ("result.people.1: 'name' is a required property",)
    good = {"result": {"people": [{"name": "Ana"}]}}
    assert (await check("json_schema", good, schema=schema, field="result.people")).score == 1.0


async def test_json_schema_field_reaches_into_json_text() -> None:
    """A field can reach inside a string output that holds JSON, and a JSON string field."""
    text = json.dumps({"answer": json.dumps({"name": "Ana"})})
    assert (await check("json_schema", text, schema=PERSON, field="answer")).score == 1.0


async def test_json_schema_missing_field_is_a_finding() -> None:
    """A field that is not in the output fails with a finding naming where it stopped."""
    quality = await check("json_schema", {"result": {}}, schema=PERSON, field="result.person")
    assert quality == Quality.failed(
        "field 'result.person' not found: 'result' has no key 'person'"
    )


async def test_json_schema_boolean_schema() -> None:
    """A boolean schema is allowed: true accepts everything, false nothing."""
    assert (await check("json_schema", [1], schema=True)).score == 1.0
    assert (await check("json_schema", [1], schema=False)).score == 0.0


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"shema": PERSON}, "unknown option 'shema' (did you mean 'schema'?)"),
        ({"schema": PERSON, "color": 1}, "it takes field, schema, schema_file"),
        ({}, "json_schema needs schema:"),
        ({"schema": PERSON, "schema_file": "p.json"}, "not both"),
        ({"schema": {"type": "nope"}}, "schema is not a valid JSON schema: at type:"),
        ({"schema": {"$schema": "https://example.com/s"}}, "unknown $schema"),
        ({"schema": {"$schema": 3}}, "$schema must be a URI string"),
        ({"schema": ["type", "object"]}, "schema must be a JSON schema (a mapping), got a list"),
        ({"schema_file": 3}, "schema_file must be a path string"),
        ({"schema_file": "  "}, "schema_file must be a path string"),
        ({"schema": PERSON, "field": "a..b"}, "field: 'a..b' is not a dotted path"),
        ({"schema": PERSON, "field": 1}, "field must be a dotted path string"),
    ],
)
def test_json_schema_rejects_bad_options(options: dict[str, Any], message: str) -> None:
    """Bad options raise ValueError saying what is wrong, for the loader to report."""
    with pytest.raises(ValueError, match=re.escape(message)):
        build("json_schema", **options)


def test_options_must_be_a_mapping() -> None:
    """A factory given something other than a mapping says so."""
    with pytest.raises(ValueError, match="takes a mapping of options, got a list"):
        JsonSchemaValidator.from_options([])  # type: ignore[arg-type]


async def test_json_schema_file_is_relative_to_base_dir(tmp_path: Path) -> None:
    """``schema_file`` is read relative to the workflow's folder."""
    (tmp_path / "schemas").mkdir()
    (tmp_path / "schemas" / "person.json").write_text(json.dumps(PERSON))
    context = ValidationContext(step_id="s", agent="a", base_dir=tmp_path)
    validator = build("json_schema", schema_file="schemas/person.json")
    assert (await validator.validate({"name": "Ana"}, context=context)).score == 1.0
    quality = await validator.validate({"name": 1}, context=context)
    assert quality.findings == ("name: 1 is not of type 'string'",)


async def test_json_schema_file_may_be_yaml(tmp_path: Path) -> None:
    """A ``.yaml`` schema file is read as YAML."""
    (tmp_path / "person.yaml").write_text("type: object\nrequired: [name]\n")
    context = ValidationContext(step_id="s", agent="a", base_dir=tmp_path)
    quality = await check("json_schema", {}, context, schema_file="person.yaml")
    assert quality.findings == ("(root): 'name' is a required property",)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("type: !!set {object}\n", "unsupported YAML tag !!set on a mapping"),
        ("type: " + "[" * 100 + "]" * 100 + "\n", "nests deeper than 64 levels"),
    ],
)
async def test_json_schema_yaml_file_is_bounded_like_workflows(
    tmp_path: Path, text: str, message: str
) -> None:
    """A YAML schema file is parsed as workflow files are: JSON-shaped and bounded."""
    (tmp_path / "s.yaml").write_text(text)
    context = ValidationContext(step_id="s", agent="a", base_dir=tmp_path)
    with pytest.raises(cadenza.PermanentError) as info:
        await check("json_schema", {}, context, schema_file="s.yaml")
    assert "schema_file 's.yaml' is not valid YAML: " in str(info.value)
    assert message in str(info.value)


async def test_json_schema_file_is_loaded_once(tmp_path: Path) -> None:
    """A valid schema file is read at the first validation and kept."""
    path = tmp_path / "s.json"
    path.write_text('{"type": "string"}')
    context = ValidationContext(step_id="s", agent="a", base_dir=tmp_path)
    validator = build("json_schema", schema_file="s.json")
    assert (await validator.validate("x", context=context)).score == 1.0
    path.unlink()
    assert (await validator.validate("y", context=context)).score == 1.0


async def test_json_schema_missing_file_fails_permanently(tmp_path: Path) -> None:
    """A missing schema file is the workflow's fault: no retry, a message naming where it looked."""
    context = ValidationContext(step_id="s", agent="a", base_dir=tmp_path)
    with pytest.raises(cadenza.PermanentError) as info:
        await check("json_schema", {}, context, schema_file="nope.json")
    message = str(info.value)
    assert message.startswith("json_schema: schema_file 'nope.json' not found (looked for ")
    assert str(tmp_path / "nope.json") in message


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"type": "object",}', "schema_file 's.json' is not valid JSON: line 1, col 19:"),
        ('{"type": 12}', "schema_file 's.json' is not a valid JSON schema: at type:"),
        ('"just a string"', "schema_file 's.json' must be a JSON schema (a mapping)"),
    ],
)
async def test_json_schema_broken_file_fails_permanently(
    tmp_path: Path, text: str, message: str
) -> None:
    """A schema file that is not JSON or not a valid schema: a clear permanent error."""
    (tmp_path / "s.json").write_text(text)
    context = ValidationContext(step_id="s", agent="a", base_dir=tmp_path)
    with pytest.raises(cadenza.PermanentError) as info:
        await check("json_schema", {}, context, schema_file="s.json")
    assert str(info.value).startswith("json_schema: " + message)


async def test_json_schema_unresolvable_ref_is_a_finding() -> None:
    """A ``$ref`` that cannot be resolved fails with a finding instead of raising."""
    quality = await check("json_schema", {}, schema={"$ref": "other.json"})
    assert quality == Quality.failed("schema: cannot resolve $ref 'other.json'")


async def test_json_schema_large_output_is_checked() -> None:
    """A very large JSON text (checked in a worker thread) gives the same verdict."""
    output = json.dumps({"name": "x" * (THREAD_THRESHOLD + 1)})
    assert (await check("json_schema", output, schema=PERSON)).score == 1.0
    output = json.dumps({"name": 1, "pad": "x" * THREAD_THRESHOLD})
    quality = await check("json_schema", output, schema=PERSON)
    assert quality.findings == ("name: 1 is not of type 'string'",)


# -- required_keys ---------------------------------------------------------------------------


async def test_required_keys_passes_when_all_are_present() -> None:
    """Every key present with a non-null value scores 1.0."""
    quality = await check("required_keys", {"a": 0, "b": "", "c": []}, keys=["a", "b", "c"])
    assert quality == Quality(score=1.0)


async def test_required_keys_scores_the_fraction_present() -> None:
    """The score is the fraction of keys present and non-null; findings name the others."""
    quality = await check("required_keys", {"a": 1, "b": None}, keys=["a", "b", "c", "d"])
    assert quality.score == 0.25
    assert quality.findings == ("key 'b' is null", "missing key 'c'", "missing key 'd'")


async def test_required_keys_follows_dotted_paths() -> None:
    """Keys are dotted paths through mappings and list indices."""
    output = {"author": {"name": "Ana"}, "items": [{"id": 1}], "title": "T"}
    keys = ["author.name", "items.0.id", "items.1.id", "title.text", "author.email"]
    quality = await check("required_keys", output, keys=keys)
    assert quality.score == pytest.approx(2 / 5)
    assert quality.findings == (
        "missing key 'items.1.id': 'items' has 1 items, no index 1",
        "missing key 'title.text': 'title' is a string, not a mapping or list",
        "missing key 'author.email'",
    )


async def test_required_keys_non_mapping_output_scores_zero() -> None:
    """An output that is not a mapping scores 0.0 with a finding giving its type."""
    quality = await check("required_keys", ["a"], keys=["a"])
    assert quality == Quality.failed("the output is a list, not a mapping: ['a']")
    quality = await check("required_keys", "plain text", keys=["a"])
    assert quality == Quality.failed("the output is a string, not a mapping: 'plain text'")


async def test_required_keys_decodes_a_json_string_output() -> None:
    """A string holding a JSON object is checked as the decoded mapping."""
    quality = await check("required_keys", '{"a": 1, "b": null}', keys=["a", "b"])
    assert quality == Quality(score=0.5, findings=("key 'b' is null",))


async def test_required_keys_field() -> None:
    """With ``field``, keys are looked up in the mapping at that path."""
    output = {"result": {"title": "T"}, "title": None}
    assert (await check("required_keys", output, keys=["title"], field="result")).score == 1.0
    quality = await check("required_keys", output, keys=["title"], field="result.title")
    assert quality == Quality.failed("field 'result.title' is a string, not a mapping: 'T'")
    quality = await check("required_keys", output, keys=["title"], field="answer")
    assert quality == Quality.failed("field 'answer' not found: the output has no key 'answer'")


async def test_required_keys_caps_findings() -> None:
    """Many missing keys are listed up to MAX_FINDINGS, then counted."""
    keys = [f"k{i:02}" for i in range(30)]
    quality = await check("required_keys", {}, keys=keys)
    assert quality.score == 0.0
    assert quality.findings[: MAX_FINDINGS + 1] == (
        *(f"missing key {k!r}" for k in keys[:MAX_FINDINGS]),
        f"... and {30 - MAX_FINDINGS} more",
    )


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({}, "required_keys needs keys:"),
        ({"keys": "title"}, "keys must be a list of dotted paths, such as [title]"),
        ({"keys": {"a": 1}}, "keys must be a list of dotted paths"),
        ({"keys": []}, "keys must list at least one dotted path"),
        ({"keys": ["a", "b.", "c"]}, "keys[1]: 'b.' is not a dotted path"),
        ({"keys": ["a", 2]}, "keys[1] must be a dotted path string"),
        ({"keys": ["a", "a"]}, "keys lists 'a' twice"),
        ({"keys": ["a"], "key": 1}, "unknown option 'key' (did you mean 'keys'?)"),
    ],
)
def test_required_keys_rejects_bad_options(options: dict[str, Any], message: str) -> None:
    """Bad options raise ValueError saying what is wrong."""
    with pytest.raises(ValueError, match=re.escape(message)):
        build("required_keys", **options)


@settings(max_examples=60, deadline=None)
@given(
    st.dictionaries(st.sampled_from("abcdefgh"), st.none() | st.integers() | st.text(max_size=3)),
    st.lists(st.sampled_from("abcdefgh"), min_size=1, max_size=8, unique=True),
)
def test_required_keys_score_is_the_fraction_present(
    output: dict[str, Any], keys: list[str]
) -> None:
    """For any mapping, the score is the share of keys present with a non-null value."""
    quality = check_sync(RequiredKeysValidator.from_options({"keys": keys}), output)
    present = [k for k in keys if output.get(k) is not None]
    assert quality.score == pytest.approx(len(present) / len(keys))
    assert len(quality.findings) == len(keys) - len(present)


# -- python_parses ---------------------------------------------------------------------------


async def test_python_parses_passes_valid_code() -> None:
    """A string of valid Python scores 1.0."""
    assert await check("python_parses", "def f(x):\n    return x + 1\n") == Quality(score=1.0)


async def test_python_parses_reports_line_and_column() -> None:
    """A syntax error is one finding: ``line N, col M: message``."""
    quality = await check("python_parses", "x = 1\ny = (2,\n")
    assert quality == Quality.failed("line 2, col 5: '(' was never closed")


async def test_python_parses_strips_a_surrounding_fence() -> None:
    """A fenced block is parsed without its fence; lines count from the output's start."""
    assert (await check("python_parses", "```python\nprint('hi')\n```")).score == 1.0
    quality = await check("python_parses", "```python\nx = 1\nif x\n    pass\n```\n")
    assert quality == Quality.failed("line 3, col 5: expected ':'")


async def test_python_parses_checks_every_python_block() -> None:
    """Each python block is parsed; prose and other languages are ignored."""
    output = (
        "First the helper:\n"
        "```py\ndef helper():\n    return 1\n```\n"
        "Run it with:\n"
        "```bash\npython -m tool --flag\n```\n"
        "Then:\n"
        "```python\nhelper(\n```\n"
    )
    quality = await check("python_parses", output)
    assert quality == Quality.failed("line 12, col 7: '(' was never closed")
    fixed = output.replace("helper(\n```", "helper()\n```")
    assert (await check("python_parses", fixed)).score == 1.0


async def test_python_parses_uses_untagged_blocks_when_none_is_python() -> None:
    """Without a python-tagged block, untagged blocks are the code."""
    assert (await check("python_parses", "Code:\n```\nx = 1\n```\n")).score == 1.0
    quality = await check("python_parses", "Code:\n```\nx = = 1\n```\n")
    assert quality.score == 0.0


async def test_python_parses_needs_a_python_block_among_fences() -> None:
    """Fenced blocks in other languages only fail with a finding naming them."""
    quality = await check("python_parses", "```bash\nls\n```\n```json\n{}\n```\n")
    assert quality == Quality.failed("no Python code block among 2 fenced block(s) (bash, json)")


async def test_python_parses_indented_fence() -> None:
    """An indented fence (in a list item) has its indentation removed, columns kept."""
    output = "1. Do this:\n   ```python\n   if ready:\n       go(\n   ```\n"
    quality = await check("python_parses", output)
    assert quality == Quality.failed("line 4, col 10: '(' was never closed")


async def test_python_parses_empty_code_fails() -> None:
    """Empty code, or an empty block, is not accepted as code."""
    assert await check("python_parses", "  \n") == Quality.failed("the code is empty")
    quality = await check("python_parses", "Here:\n```python\n```\n")
    assert quality == Quality.failed("the code block opened on line 2 is empty")


async def test_python_parses_warnings_do_not_change_the_verdict() -> None:
    """Code that only triggers warnings (an invalid escape) parses, even when they are errors."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert (await check("python_parses", 'pattern = "\\d+"\n')).score == 1.0


async def test_python_parses_reads_the_code_key() -> None:
    """A mapping output's ``code`` key holds the code by default."""
    assert (await check("python_parses", {"code": "x = 1", "lang": "py"})).score == 1.0
    quality = await check("python_parses", {"code": "x ="})
    assert quality == Quality.failed("line 1, col 4: invalid syntax")


async def test_python_parses_field() -> None:
    """``field`` names where the code is; a JSON text output is decoded to reach it."""
    output = {"files": [{"path": "a.py", "source": "import os\n"}]}
    assert (await check("python_parses", output, field="files.0.source")).score == 1.0
    text = json.dumps({"answer": {"code": "def ("}})
    quality = await check("python_parses", text, field="answer.code")
    assert quality.score == 0.0
    quality = await check("python_parses", output, field="files.0.text")
    assert quality == Quality.failed("field 'files.0.text' not found: 'files.0' has no key 'text'")


async def test_python_parses_non_string_fails() -> None:
    """Code that is not a string fails with a finding naming its type."""
    quality = await check("python_parses", ["x = 1"])
    assert quality == Quality.failed(
        "the output is a list, not a string of code; name the code's place with field:"
    )
    quality = await check("python_parses", {"code": 3})
    assert quality.findings == (
        "key 'code' is a number, not a string of code; name the code's place with field:",
    )
    quality = await check("python_parses", {"src": None}, field="src")
    assert quality == Quality.failed("field 'src' is null, not a string of code")


async def test_python_parses_large_code() -> None:
    """Code above the threshold (parsed in a worker thread) gets the same verdict."""
    code = "x = 1\n" * (THREAD_THRESHOLD // 6 + 1)
    assert (await check("python_parses", code)).score == 1.0
    quality = await check("python_parses", code + "def (\n")
    assert quality.findings[0].startswith(f"line {THREAD_THRESHOLD // 6 + 2}, col 5:")


async def test_python_parses_deep_nesting_is_a_finding() -> None:
    """Code too deeply nested for the parser fails with a finding instead of crashing."""
    quality = await check("python_parses", "x = " + "-" * 100_000 + "1")
    assert quality.score == 0.0
    assert len(quality.findings) == 1


async def test_python_parses_findings_are_short() -> None:
    """A finding never quotes a long stretch of the output."""
    quality = await check("python_parses", "x = '" + "y" * 5000)
    (finding,) = quality.findings
    assert len(finding) < 120


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"fields": "code"}, "unknown option 'fields' (did you mean 'field'?)"),
        ({"field": ""}, "field: '' is not a dotted path"),
        ({"field": ["code"]}, "field must be a dotted path string"),
    ],
)
def test_python_parses_rejects_bad_options(options: dict[str, Any], message: str) -> None:
    """Bad options raise ValueError saying what is wrong."""
    with pytest.raises(ValueError, match=re.escape(message)):
        PythonParsesValidator.from_options(options)


_TOKENS = [
    "x", "y", "f", "1", "2.5", "'s'", "+", "-", "%", "=", "==", "(", ")", "[", "]", ",",
    ":", ".", "if", "else", "for", "in", "not", "pass", "\n", "    ",
]  # fmt: skip
"""A small Python vocabulary where parsing and compiling agree.

Left out: what only the compiler rejects (``return``/``break`` outside their
place, duplicate parameters of ``def``/``lambda``, misplaced starred targets).
"""


def _compiles(source: str) -> bool:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            compile(source, "<snippet>", "exec")
        except (SyntaxError, ValueError, MemoryError, RecursionError):
            return False
    return True


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.sampled_from(_TOKENS), min_size=1, max_size=14),
    st.sampled_from([" ", ""]),
    st.booleans(),
)
def test_python_parses_agrees_with_compile(tokens: list[str], sep: str, fenced: bool) -> None:
    """On snippets from a small grammar, the verdict is compile()'s, fenced or not."""
    source = sep.join(tokens)
    if not source.strip():
        source = "pass"
    output = f"```python\n{source}\n```" if fenced else source
    quality = check_sync(PythonParsesValidator(), output)
    assert (quality.score == 1.0) is _compiles(source)
    assert len(quality.findings) == (0 if quality.score == 1.0 else 1)


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=60).filter(lambda s: s.strip() and "```" not in s and "~~~" not in s))
def test_python_parses_agrees_with_compile_on_any_text(source: str) -> None:
    """Any unfenced text is accepted exactly when Python compiles it to an AST."""
    quality = check_sync(PythonParsesValidator(), source)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            compile(source, "<snippet>", "exec", flags=0x400)  # ast.PyCF_ONLY_AST
        except (SyntaxError, ValueError):
            expected = False
        else:
            expected = True
    assert (quality.score == 1.0) is expected
