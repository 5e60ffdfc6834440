"""The built-in validators: ``json_schema``, ``required_keys`` and ``python_parses``.

Each is an attrs class whose ``from_options(options)`` factory receives a
``validate:`` entry's mapping without its ``validator`` key and raises
``ValueError`` for unknown keys, wrong types and bad values (an invalid inline
JSON schema included), so the loader reports them with the file's position.
``validate(output, *, context)`` returns a :class:`~cadenza.strategies.Quality` and does
not raise for anything an output or a schema file can contain.

Shared conventions:

- ``field`` is a dotted path (``result.items.0.name``) into the output: keys
  of mappings, decimal indices of lists. To reach inside a string output,
  the string is decoded first when it is a JSON object or array.
- ``json_schema`` and ``required_keys`` check a string that holds a JSON
  object or array (optionally inside one surrounding Markdown code fence,
  as models often answer) as that decoded value; other strings stay strings.
- Findings are short: values are quoted in at most about 80 characters, and
  at most :data:`MAX_FINDINGS` are listed, then ``... and N more``.
"""

from __future__ import annotations

import ast
import difflib
import json
import re
import reprlib
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Self, final

import attrs

from .._errors import PermanentError
from .._problems import Problem
from .._source_file import read_source
from .._yaml import parse_yaml
from ._validation import Quality, ValidationContext, Validator

MAX_FINDINGS = 10
"""Findings listed per validation at most; the rest are counted in one more line."""

THREAD_THRESHOLD = 200_000
"""Texts longer than this (characters) are parsed in a worker thread, not on the trio thread."""

_MAX_VALUE = 80
_MAX_MESSAGE = 160
_PYTHON_LANGS = frozenset({"python", "py", "python3", "py3"})

DottedPath = tuple[str, ...]


# -- options ---------------------------------------------------------------------------


def _check_keys(
    validator: str,
    options: Mapping[str, Any],
    allowed: Sequence[str],
) -> None:
    if not isinstance(options, Mapping):
        raise ValueError(
            f"the {validator} validator takes a mapping of options, got {_type_name(options)}"
        )
    unknown = sorted(str(key) for key in options if key not in allowed)
    if not unknown:
        return
    hints = []
    for key in unknown:
        close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
        hints.append(f"{key!r} (did you mean {close[0]!r}?)" if close else repr(key))
    takes = ", ".join(allowed) if allowed else "no options"
    raise ValueError(
        f"unknown option{'s' if len(unknown) > 1 else ''} {', '.join(hints)} "
        f"for the {validator} validator; it takes {takes}"
    )


def _parse_path(value: Any, option: str) -> DottedPath:
    """Split a dotted path option, or raise ``ValueError`` saying what is wrong with it."""
    if not isinstance(value, str):
        raise ValueError(
            f"{option} must be a dotted path string such as 'result.items.0', "
            f"got {_type_name(value)} {_short(value)}"
        )
    parts = tuple(value.split("."))
    if not value or any(not part for part in parts):
        raise ValueError(
            f"{option}: {value!r} is not a dotted path (it has an empty part); "
            "write keys separated by single dots, such as 'result.items.0'"
        )
    return parts


def _optional_field(options: Mapping[str, Any]) -> DottedPath:
    field = options.get("field")
    return () if field is None else _parse_path(field, "field")


# -- values ----------------------------------------------------------------------------

_REPR = reprlib.Repr()
_REPR.maxstring = _MAX_VALUE
_REPR.maxother = _MAX_VALUE
_REPR.maxlevel = 2
_REPR.maxdict = 4
_REPR.maxlist = 4


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _short(value: Any) -> str:
    """``repr(value)`` in at most about 80 characters, without building a huge repr first."""
    return _cut(_REPR.repr(value), _MAX_VALUE)


def _type_name(value: Any) -> str:
    """The JSON-ish name of a value's type, with an article: ``a string``, ``null``."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list"
    return f"a {type(value).__name__}"


def _render_path(path: Iterable[str | int]) -> str:
    text = ".".join(str(part) for part in path)
    return text or "(root)"


def _capped(findings: Sequence[str]) -> tuple[str, ...]:
    if len(findings) <= MAX_FINDINGS:
        return tuple(findings)
    return (*findings[:MAX_FINDINGS], f"... and {len(findings) - MAX_FINDINGS} more")


@attrs.frozen
class _Missing:
    """Why a dotted path did not resolve: at which part, and a readable reason."""

    depth: int
    reason: str
    absent: bool
    """True when the container was right but lacked the key or index."""


def _lookup(value: Any, path: DottedPath) -> Any:
    """The value at ``path`` in ``value``, or a :class:`_Missing` saying why there is none."""
    for depth, part in enumerate(path):
        where = f"{_render_path(path[:depth])!r}" if depth else "the output"
        if isinstance(value, Mapping):
            if part not in value:
                return _Missing(depth, f"{where} has no key {part!r}", absent=True)
            value = value[part]
        elif isinstance(value, list | tuple):
            if not part.isdecimal():
                return _Missing(depth, f"{where} is a list, so {part!r} is no index", False)
            index = int(part)
            if index >= len(value):
                return _Missing(depth, f"{where} has {len(value)} items, no index {index}", True)
            value = value[index]
        else:
            return _Missing(depth, f"{where} is {_type_name(value)}, not a mapping or list", False)
        if depth + 1 < len(path):
            value = _decode_json(value)
    return value


def _select(output: Any, field: DottedPath) -> Any:
    """The part of ``output`` at ``field`` (decoding JSON text on the way), or a _Missing."""
    if not field:
        return output
    return _lookup(_decode_json(output), field)


def _field_finding(field: DottedPath, missing: _Missing) -> str:
    return f"field {_render_path(field)!r} not found: {missing.reason}"


# -- Markdown code fences ---------------------------------------------------------------

_FENCE_OPEN = re.compile(r"^( {0,3})(`{3,}|~{3,})(.*)$")


@attrs.frozen
class _Block:
    """One fenced code block: its info-string language, code, and where the code starts."""

    lang: str
    code: str
    first_line: int
    """1-based line number, in the whole text, of the block's first code line."""
    indent: int
    """Spaces removed from the start of each code line (the opening fence's indentation)."""
    closed_at: int
    """0-based index of the line after the block."""


def _fenced_blocks(text: str) -> list[_Block]:
    """The fenced code blocks of Markdown ``text``, CommonMark style (an unclosed one runs on)."""
    lines = text.splitlines()
    blocks = []
    i = 0
    while i < len(lines):
        match = _FENCE_OPEN.match(lines[i])
        if match is None or (match.group(2)[0] == "`" and "`" in match.group(3)):
            i += 1  # not a fence: CommonMark forbids backticks in a backtick fence's info
            continue
        indent, fence, info = len(match.group(1)), match.group(2), match.group(3).split()
        lang = info[0].lower() if info else ""
        close = re.compile(rf"^ {{0,3}}{re.escape(fence[0])}{{{len(fence)},}}[ \t]*$")
        body = []
        j = i + 1
        while j < len(lines) and not close.match(lines[j]):
            line = lines[j]
            strip = len(line) - len(line.lstrip(" "))
            body.append(line[min(strip, indent) :])
            j += 1
        blocks.append(_Block(lang, "\n".join(body), i + 2, indent, j + 1))
        i = j + 1
    return blocks


def _unfence(text: str) -> str:
    """The code of one Markdown fence surrounding all of ``text``, else ``text`` itself."""
    stripped = text.strip()
    if not stripped.startswith(("```", "~~~")):
        return text
    blocks = _fenced_blocks(stripped)
    if (
        len(blocks) == 1
        and blocks[0].first_line == 2
        and blocks[0].closed_at >= len(stripped.splitlines())
    ):
        return blocks[0].code
    return text


def _decode_json(value: Any) -> Any:
    """A string holding a JSON object or array (maybe fenced) as that value; else ``value``."""
    if not isinstance(value, str):
        return value
    text = _unfence(value).strip()
    if not text.startswith(("{", "[")):
        return value
    try:
        return json.loads(text)
    except ValueError:
        return value


# -- json_schema -----------------------------------------------------------------------


def _compile_schema(schema: Any, where: str) -> Any:
    """A jsonschema validator for ``schema``, or ``ValueError`` saying why it is not valid."""
    import jsonschema  # here, not at import: a CLI command that never checks a schema is faster

    if not isinstance(schema, Mapping | bool):
        raise ValueError(f"{where} must be a JSON schema (a mapping), got {_type_name(schema)}")
    dialect = schema.get("$schema") if isinstance(schema, Mapping) else None
    if dialect is not None and not isinstance(dialect, str):
        raise ValueError(f"{where}: $schema must be a URI string, got {_type_name(dialect)}")
    # default=None asks "is $schema known?"; the stubs only allow a validator class there.
    cls: Any = jsonschema.validators.validator_for(schema, default=None)  # type: ignore[arg-type]
    if cls is None:
        if dialect is not None:
            raise ValueError(
                f"{where}: unknown $schema {dialect!r}; use a JSON Schema draft such as "
                "'https://json-schema.org/draft/2020-12/schema', or leave $schema out"
            )
        cls = jsonschema.Draft202012Validator
    try:
        cls.check_schema(schema)
    except jsonschema.SchemaError as exc:
        at = _render_path(exc.absolute_path)
        raise ValueError(
            f"{where} is not a valid JSON schema: at {at}: {_cut(exc.message, _MAX_MESSAGE)}"
        ) from None
    return cls(schema)


def _path_key(path: Iterable[str | int]) -> tuple[tuple[int, int, str], ...]:
    return tuple((0, part, "") if isinstance(part, int) else (1, 0, part) for part in path)


def _schema_findings(checker: Any, value: Any, field: DottedPath) -> tuple[str, ...]:
    """Every way ``value`` breaks the schema, as ``path: message``, sorted by path."""
    import referencing.exceptions  # jsonschema's, imported with it when a schema is compiled

    try:
        errors = list(checker.iter_errors(value))
    except referencing.exceptions.Unresolvable as exc:
        return (f"schema: cannot resolve $ref {_cut(str(exc.ref), _MAX_VALUE)!r}",)
    errors.sort(key=lambda e: (_path_key(e.absolute_path), e.message))
    findings = []
    for error in errors:
        message = error.message
        if len(message) > _MAX_VALUE:  # it may quote a long value: shorten that first
            message = message.replace(repr(error.instance), _short(error.instance))
        path = _render_path((*field, *error.absolute_path))
        findings.append(f"{path}: {_cut(message, _MAX_MESSAGE)}")
    return _capped(findings)


def _read_schema(path: Path, where: str) -> Any:
    """The schema in the file at ``path`` (JSON, or YAML by suffix), or a finding string.

    Read as workflow files are (:func:`read_source`): regular files within the
    size limit, YAML only JSON-shaped and bounded in depth and values.
    """
    raw = read_source(path, what="schema file")
    if isinstance(raw, Problem):
        if raw.message.endswith("no such file"):
            return f"{where} not found (looked for {path})"
        return f"{where} cannot be read: {_cut(raw.message, _MAX_MESSAGE)}"
    text = raw[0]
    if path.suffix.lower() in {".yaml", ".yml"}:
        doc = parse_yaml(text, filename=str(path))
        if doc.problems:
            first = doc.problems[0]
            at = (
                f"line {first.location.line}, col {first.location.column}: "
                if first.location
                else ""
            )
            return f"{where} is not valid YAML: {at}{_cut(first.message, _MAX_MESSAGE)}"
        return _Schema(doc.data)
    try:
        return _Schema(json.loads(text))
    except json.JSONDecodeError as exc:
        return f"{where} is not valid JSON: line {exc.lineno}, col {exc.colno}: {exc.msg}"
    except RecursionError:
        return f"{where} nests too deeply to be a schema"


@attrs.frozen
class _Schema:
    """A schema read from a file (so a finding string and a schema never look alike)."""

    value: Any


@final
@attrs.define(eq=False, kw_only=True)
class JsonSchemaValidator:
    """``json_schema``: the output (or its ``field``) must match a JSON schema.

    ``schema`` is checked when the workflow loads. ``schema_file`` is a path
    relative to the workflow's folder, read at the first validation and kept
    once it is a valid schema; a missing or broken file fails the attempt with
    a :class:`~cadenza.PermanentError` that says so: it is the workflow's fault,
    not the output's, so no other agent or retry could help.
    """

    field: DottedPath = ()
    checker: Any = None
    """The jsonschema validator for an inline ``schema``."""
    schema_file: str | None = None
    _loaded: dict[Path, Any] = attrs.field(factory=dict, init=False, repr=False)

    OPTIONS = ("field", "schema", "schema_file")

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> Self:
        _check_keys("json_schema", options, cls.OPTIONS)
        field = _optional_field(options)
        schema, schema_file = options.get("schema"), options.get("schema_file")
        if schema is not None and schema_file is not None:
            raise ValueError(
                "json_schema takes schema: (inline) or schema_file: (a path), not both"
            )
        if schema_file is not None:
            if not isinstance(schema_file, str) or not schema_file.strip():
                raise ValueError(
                    f"schema_file must be a path string, relative to the workflow file, "
                    f"got {_type_name(schema_file)} {_short(schema_file)}"
                )
            return cls(field=field, schema_file=schema_file)
        if schema is None:
            raise ValueError(
                "json_schema needs schema: (an inline JSON schema) "
                "or schema_file: (a path to one, relative to the workflow file)"
            )
        return cls(field=field, checker=_compile_schema(schema, "schema"))

    async def _file_checker(self, base_dir: Path) -> Any:
        """The checker for ``schema_file`` under ``base_dir``, or a finding saying what is wrong."""
        assert self.schema_file is not None
        path = (base_dir / self.schema_file).resolve()
        if path in self._loaded:
            return self._loaded[path]
        where = f"schema_file {self.schema_file!r}"
        import trio  # here, not at import: registering validators needs no trio

        schema = await trio.to_thread.run_sync(_read_schema, path, where)
        if isinstance(schema, str):
            return schema
        try:
            checker = _compile_schema(schema.value, where)
        except ValueError as exc:
            return str(exc)
        self._loaded[path] = checker
        return checker

    async def validate(self, output: Any, *, context: ValidationContext) -> Quality:
        checker = self.checker
        if self.schema_file is not None:
            checker = await self._file_checker(context.base_dir)
            if isinstance(checker, str):
                raise PermanentError(f"json_schema: {checker}", step_id=context.step_id)

        def check() -> Quality:
            value = _select(output, self.field)
            if isinstance(value, _Missing):
                return Quality.failed(_field_finding(self.field, value))
            findings = _schema_findings(checker, _decode_json(value), self.field)
            return Quality(score=0.0, findings=findings) if findings else Quality.passed()

        if isinstance(output, str) and len(output) > THREAD_THRESHOLD:
            import trio

            return await trio.to_thread.run_sync(check, abandon_on_cancel=True)
        return check()


# -- required_keys ---------------------------------------------------------------------


@final
@attrs.frozen(kw_only=True)
class RequiredKeysValidator:
    """``required_keys``: the output (or its ``field``) must be a mapping holding ``keys``.

    The score is the fraction of ``keys`` (dotted paths) that are present with a
    non-null value; each missing or null one is a finding.
    """

    keys: tuple[DottedPath, ...]
    field: DottedPath = ()

    OPTIONS = ("field", "keys")

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> Self:
        _check_keys("required_keys", options, cls.OPTIONS)
        keys = options.get("keys")
        if keys is None:
            raise ValueError("required_keys needs keys: a list of dotted paths, such as [title]")
        if isinstance(keys, str) or not isinstance(keys, Sequence):
            example = f"[{keys}]" if isinstance(keys, str) else "[title, author.name]"
            raise ValueError(
                f"keys must be a list of dotted paths, such as {example}; "
                f"got {_type_name(keys)} {_short(keys)}"
            )
        if not keys:
            raise ValueError("keys must list at least one dotted path, such as [title]")
        parsed = tuple(_parse_path(key, f"keys[{i}]") for i, key in enumerate(keys))
        seen: set[DottedPath] = set()
        for key in parsed:
            if key in seen:
                raise ValueError(f"keys lists {_render_path(key)!r} twice")
            seen.add(key)
        return cls(keys=parsed, field=_optional_field(options))

    async def validate(self, output: Any, *, context: ValidationContext) -> Quality:
        value = _select(output, self.field)
        if isinstance(value, _Missing):
            return Quality.failed(_field_finding(self.field, value))
        value = _decode_json(value)
        if not isinstance(value, Mapping):
            what = f"field {_render_path(self.field)!r}" if self.field else "the output"
            return Quality.failed(f"{what} is {_type_name(value)}, not a mapping: {_short(value)}")
        findings = []
        for key in self.keys:
            name = _render_path(key)
            found = _lookup(value, key)
            if isinstance(found, _Missing):
                last = found.absent and found.depth == len(key) - 1
                findings.append(f"missing key {name!r}" + ("" if last else f": {found.reason}"))
            elif found is None:
                findings.append(f"key {name!r} is null")
        score = (len(self.keys) - len(findings)) / len(self.keys)
        return Quality(score=score, findings=_capped(findings))


# -- python_parses ---------------------------------------------------------------------


def _syntax_findings(code: str, *, first_line: int = 1, indent: int = 0) -> list[str]:
    """Why ``code`` is not Python, with lines counted in the text it came from."""
    if not code.strip():
        if first_line == 1:
            return ["the code is empty"]
        return [f"the code block opened on line {first_line - 1} is empty"]
    try:
        # Warnings (invalid escapes, ...) are not syntax errors, but a filter that turns
        # them into errors makes the parser raise SyntaxError: ignore them, whatever the
        # filters say, so the verdict is the same everywhere.
        with warnings.catch_warnings(action="ignore"):
            ast.parse(code)
    except SyntaxError as exc:
        message = _cut(exc.msg, _MAX_VALUE)
        if exc.lineno is None:
            return [message]
        col = f", col {exc.offset + indent}" if exc.offset else ""
        return [f"line {exc.lineno + first_line - 1}{col}: {message}"]
    except ValueError as exc:  # null bytes, on some Python versions
        return [_cut(str(exc), _MAX_VALUE)]
    except (MemoryError, RecursionError):  # the parser's answer to very deep nesting
        return ["the code is nested too deeply to parse"]
    return []


def _python_findings(text: str) -> list[str]:
    blocks = _fenced_blocks(text)
    if not blocks:
        return _syntax_findings(text)
    chosen = [b for b in blocks if b.lang in _PYTHON_LANGS] or [b for b in blocks if not b.lang]
    if not chosen:
        langs = ", ".join(sorted({b.lang for b in blocks}))
        return [f"no Python code block among {len(blocks)} fenced block(s) ({_cut(langs, 60)})"]
    findings = []
    for block in chosen:
        findings += _syntax_findings(block.code, first_line=block.first_line, indent=block.indent)
    return findings


@final
@attrs.frozen(kw_only=True)
class PythonParsesValidator:
    """``python_parses``: the output's code must be syntactically valid Python.

    The code is the string at ``field``; without it, the output when it is a
    string, else its ``code`` key. Fenced Markdown blocks tagged ``python``
    (or, when none is, untagged ones) are parsed each, prose around them
    ignored; text without fences is parsed whole. Empty code fails.
    """

    field: DottedPath = ()

    OPTIONS = ("field",)

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> Self:
        _check_keys("python_parses", options, cls.OPTIONS)
        return cls(field=_optional_field(options))

    async def validate(self, output: Any, *, context: ValidationContext) -> Quality:
        if self.field:
            code = _select(output, self.field)
            if isinstance(code, _Missing):
                return Quality.failed(_field_finding(self.field, code))
            what = f"field {_render_path(self.field)!r}"
        elif isinstance(output, Mapping) and "code" in output:
            code, what = output["code"], "key 'code'"
        else:
            code, what = output, "the output"
        if not isinstance(code, str):
            hint = "" if self.field else "; name the code's place with field:"
            return Quality.failed(f"{what} is {_type_name(code)}, not a string of code{hint}")
        if len(code) > THREAD_THRESHOLD:
            import trio

            findings = await trio.to_thread.run_sync(_python_findings, code, abandon_on_cancel=True)
        else:
            findings = _python_findings(code)
        return Quality(score=0.0, findings=_capped(findings)) if findings else Quality.passed()


BUILTIN_VALIDATORS: dict[str, Callable[[Mapping[str, Any]], Validator]] = {
    "json_schema": JsonSchemaValidator.from_options,
    "required_keys": RequiredKeysValidator.from_options,
    "python_parses": PythonParsesValidator.from_options,
}
"""The validators the kernel's own plugin registers, by name."""
