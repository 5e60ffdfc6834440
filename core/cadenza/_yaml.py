"""YAML with positions: plain Python data plus where every value and key came from.

PyYAML's ``safe_load`` forgets positions and silently keeps the last of two
equal mapping keys. Here we ``compose`` the document into nodes with the
SafeLoader, build the data ourselves, and keep a map from each value's path
(a tuple of keys and indices) to its 1-based line and column. Duplicate keys,
syntax errors, unsupported tags and alias bombs become :class:`Problem`\\ s.

Workflow files are untrusted input, so every document is bounded before it is
built: at most :data:`MAX_SOURCE_CHARS` characters, :data:`MAX_DEPTH` levels of
nesting and :data:`MAX_NODES` values (aliases count each time they are used).
Only JSON-shaped YAML is accepted: strings, numbers, booleans, null, mappings
and sequences (timestamps stay the strings they were written as). Any other
tag (``!!binary``, ``!!set``, ``!!omap``, ``!!pairs``, ``!custom``) is a problem
with its position, never constructed.
"""

from __future__ import annotations

import os
from typing import Any

import attrs
import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from ._paths import ValuePath, render_path
from ._problems import Problem, SourceLocation

Position = tuple[int, int]
"""``(line, column)``, both 1-based."""

MAX_NODES = 200_000
"""Values built from one document at most (aliases count every time they are used)."""

MAX_DEPTH = 64
"""Levels of nested mappings and sequences one document may hold."""

MAX_SOURCE_CHARS = 10 * 1024 * 1024
"""Default size limit of a workflow or model file (bytes; characters for text)."""

SIZE_LIMIT_VARIABLE = "CADENZA_MAX_WORKFLOW_BYTES"
"""The environment variable that overrides :data:`MAX_SOURCE_CHARS`."""

_YAML_TAG = "tag:yaml.org,2002:"
_MAP_TAG = _YAML_TAG + "map"
_SEQ_TAG = _YAML_TAG + "seq"
_TIMESTAMP_TAG = _YAML_TAG + "timestamp"
_MERGE_TAG = _YAML_TAG + "merge"
_VALUE_TAG = _YAML_TAG + "value"
_SCALAR_TAGS = frozenset(_YAML_TAG + name for name in ("str", "int", "float", "bool", "null"))
"""Scalars built as they are; timestamps stay strings, ``=`` (the value tag) a string."""
# libyaml's parser is ~10x faster and reports the same marks; fall back to pure Python.
_LOADER: type[yaml.SafeLoader] | type[yaml.CSafeLoader] = getattr(
    yaml, "CSafeLoader", yaml.SafeLoader
)
_NO_KEY: Any = object()


@attrs.frozen(kw_only=True)
class YamlDocument:
    """A parsed document: ``data``, value and key positions, and any problems found.

    ``values[path]`` is where the value at ``path`` starts; ``keys[path]`` is
    where the mapping key naming it starts (only for mapping entries).
    """

    data: Any
    filename: str
    values: dict[ValuePath, Position]
    keys: dict[ValuePath, Position]
    problems: tuple[Problem, ...] = ()

    def locate(self, path: ValuePath, *, key: bool = False) -> SourceLocation | None:
        """Where ``path`` is, or its nearest ancestor that exists in the file."""
        probe = tuple(path)
        first = True
        while True:
            pos = None
            if key and first:
                pos = self.keys.get(probe)
            if pos is None:
                pos = self.values.get(probe)
            if pos is not None:
                return SourceLocation(file=self.filename, line=pos[0], column=pos[1])
            if not probe:
                return None
            probe = probe[:-1]
            first = False


def _position(mark: Any) -> Position:
    """A mark's 1-based position (PyYAML's and libyaml's marks alike); (1, 1) for none."""
    if mark is None:
        return (1, 1)
    return (mark.line + 1, mark.column + 1)


class _TooLarge(Exception):
    pass


class _Builder:
    def __init__(self, filename: str) -> None:
        self.filename = filename
        self.values: dict[ValuePath, Position] = {}
        self.keys: dict[ValuePath, Position] = {}
        self.problems: list[Problem] = []
        self.constructor = yaml.SafeLoader("")
        self.count = 0
        self.active: set[int] = set()
        self.explicit: dict[int, set[int]] = {}

    def problem(self, pos: Position, path: ValuePath, message: str, hint: str) -> None:
        self.problems.append(
            Problem(
                message=message,
                path=render_path(path),
                location=SourceLocation(file=self.filename, line=pos[0], column=pos[1]),
                hint=hint,
            )
        )

    def build(self, node: Node, path: ValuePath) -> Any:
        self.count += 1
        if self.count > MAX_NODES:
            raise _TooLarge
        pos = _position(node.start_mark)
        self.values[path] = pos
        if id(node) in self.active:
            self.problem(
                pos,
                path,
                "this alias refers to a value that contains it (a recursive structure)",
                "Workflow files must be trees: copy the value instead of aliasing its parent.",
            )
            return None
        if isinstance(node, MappingNode) and node.tag == _MAP_TAG:
            self.active.add(id(node))
            try:
                return self._mapping(node, path)
            finally:
                self.active.discard(id(node))
        if isinstance(node, SequenceNode) and node.tag == _SEQ_TAG:
            self.active.add(id(node))
            try:
                return [self.build(item, (*path, i)) for i, item in enumerate(node.value)]
            finally:
                self.active.discard(id(node))
        if isinstance(node, ScalarNode) and node.tag in (_TIMESTAMP_TAG, _VALUE_TAG):
            return node.value  # keep dates as written: workflow data stays JSON-shaped
        if isinstance(node, ScalarNode) and node.tag in _SCALAR_TAGS:
            return self._construct(node, path)
        self._unsupported_tag(node, pos, path)
        return None

    def _unsupported_tag(self, node: Node, pos: Position, path: ValuePath) -> None:
        """Report a node whose tag is not JSON-shaped (it is never constructed)."""
        tag = node.tag
        shown = "!!" + tag[len(_YAML_TAG) :] if tag.startswith(_YAML_TAG) else tag
        if isinstance(node, ScalarNode):
            where, fix = "a value", "remove the tag, or quote the whole value to keep it as text"
        else:
            where = "a mapping" if isinstance(node, MappingNode) else "a list"
            fix = "remove the tag (a plain mapping or list is all a workflow needs)"
        self.problem(
            pos,
            path,
            f"unsupported YAML tag {shown} on {where}",
            "Workflow files hold plain data only: strings, numbers, booleans, null, "
            f"lists and mappings; {fix}.",
        )

    def _construct(self, node: Node, path: ValuePath) -> Any:
        try:
            return self.constructor.construct_object(node, deep=True)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None) or node.start_mark
            problem = getattr(exc, "problem", None) or str(exc)
            self.problem(
                _position(mark),
                path,
                f"unsupported YAML value: {problem}",
                "Use plain strings, numbers, booleans, lists and mappings; tags like "
                "!!python/object are not allowed.",
            )
            return None

    def _mapping(self, node: MappingNode, path: ValuePath) -> dict[Any, Any]:
        if id(node) not in self.explicit:  # first visit: before merging, note what is written
            self.explicit[id(node)] = {id(k) for k, _ in node.value if k.tag != _MERGE_TAG}
            try:
                self.constructor.flatten_mapping(node)  # resolves "<<: *anchor" merge keys
            except yaml.YAMLError as exc:
                self.problem(
                    _position(getattr(exc, "problem_mark", None) or node.start_mark),
                    path,
                    f"invalid merge key: {getattr(exc, 'problem', None) or exc}",
                    "A '<<' merge key must refer to a mapping or a list of mappings.",
                )
        explicit = self.explicit[id(node)]
        # Written keys win over merged ones; among merged ones the last wins (as in
        # PyYAML); two equal written keys are a problem. Keys keep first-seen order.
        chosen: dict[Any, tuple[Node, Node]] = {}
        written: dict[Any, Position] = {}
        for key_node, value_node in node.value:
            key = self._key(key_node, path)
            if key is _NO_KEY:
                continue
            key_pos = _position(key_node.start_mark)
            if id(key_node) not in explicit:
                if key not in written:
                    chosen[key] = (key_node, value_node)
                continue
            if key in written:
                self.problem(
                    key_pos,
                    (*path, key),
                    f"duplicate key {key!r} (first defined on line {written[key][0]})",
                    "YAML would silently keep only one of them: remove or rename one.",
                )
                continue
            written[key] = key_pos
            chosen[key] = (key_node, value_node)
        out: dict[Any, Any] = {}
        for key, (key_node, value_node) in chosen.items():
            self.keys[(*path, key)] = _position(key_node.start_mark)
            out[key] = self.build(value_node, (*path, key))
        return out

    def _key(self, key_node: Node, path: ValuePath) -> Any:
        key_pos = _position(key_node.start_mark)
        if not isinstance(key_node, ScalarNode):
            self.problem(
                key_pos,
                path,
                "mapping keys must be plain scalars, not lists or mappings",
                "Write the key as a plain string.",
            )
            return _NO_KEY
        if key_node.tag in (_TIMESTAMP_TAG, _VALUE_TAG):
            return key_node.value
        if key_node.tag not in _SCALAR_TAGS:
            self._unsupported_tag(key_node, key_pos, path)
            return _NO_KEY
        key = self._construct(key_node, path)
        try:
            hash(key)
        except TypeError:
            self.problem(key_pos, path, "mapping keys must be plain scalars", "")
            return _NO_KEY
        return key


def parse_yaml(text: str, *, filename: str) -> YamlDocument:
    """Parse one YAML document; syntax errors, limits and the like come back as problems."""
    limit = source_size_limit()
    if isinstance(limit, Problem):
        return _failed(limit, filename)
    if len(text) > limit:
        return _failed(too_big(filename, f"{len(text):,} characters", limit), filename)
    try:
        node = _compose(text, filename)
    except yaml.MarkedYAMLError as exc:
        return _syntax_error(exc, filename)
    except yaml.reader.ReaderError as exc:
        line = text.count("\n", 0, exc.position) + 1
        column = exc.position - (text.rfind("\n", 0, exc.position) + 1) + 1
        return _failed(
            Problem(
                message=f"invalid character {chr(exc.character)!r} in the file ({exc.reason})",
                location=SourceLocation(file=filename, line=line, column=column),
                hint="Remove the character or quote it in a string with an escape.",
            ),
            filename,
        )
    except yaml.YAMLError as exc:
        return _failed(
            Problem(
                message=f"invalid YAML: {exc}",
                location=SourceLocation(file=filename, line=1, column=1),
            ),
            filename,
        )
    if isinstance(node, Problem):
        return _failed(node, filename)
    if node is None:
        return YamlDocument(data=None, filename=filename, values={}, keys={})
    builder = _Builder(filename)
    try:
        data = builder.build(node, ())
    except _TooLarge:
        return _failed(_too_many_nodes(filename, 1, 1), filename)
    return YamlDocument(
        data=data,
        filename=filename,
        values=builder.values,
        keys=builder.keys,
        problems=tuple(builder.problems),
    )


def source_size_limit() -> int | Problem:
    """The size limit of workflow and model files: the default or the environment's override."""
    raw = os.environ.get(SIZE_LIMIT_VARIABLE, "").strip()
    if not raw:
        return MAX_SOURCE_CHARS
    try:
        value = int(raw.replace("_", ""))
    except ValueError:
        value = 0
    if value <= 0:
        return Problem(
            message=f"{SIZE_LIMIT_VARIABLE} must be a positive number of bytes, got {raw!r}",
            hint=f"Unset it for the default ({MAX_SOURCE_CHARS:,} bytes) or give a number "
            f"like {SIZE_LIMIT_VARIABLE}=20000000.",
        )
    return value


def too_big(filename: str, size: str, limit: int) -> Problem:
    """The problem for a file or text over the size limit, saying how to raise it."""
    return Problem(
        message=f"the file is too large ({size}; the limit is {limit:,} bytes)",
        location=SourceLocation(file=filename, line=1, column=1),
        hint=f"Workflow files are small; if this one really must be larger, set "
        f"{SIZE_LIMIT_VARIABLE} to a higher number of bytes.",
    )


def _failed(problem: Problem, filename: str) -> YamlDocument:
    return YamlDocument(data=None, filename=filename, values={}, keys={}, problems=(problem,))


def _too_many_nodes(filename: str, line: int, column: int) -> Problem:
    return Problem(
        message=f"the document expands to more than {MAX_NODES:,} values",
        location=SourceLocation(file=filename, line=line, column=column),
        hint="Aliases (*name) are expanded each time they are used; use fewer of them, "
        "or split the workflow.",
    )


def _compose(text: str, filename: str) -> Node | Problem | None:
    """The document's node tree, once its depth and size are known to be within the limits.

    The event stream is scanned first (flat, no recursion, nothing kept), so a
    deeply nested or huge document is refused before the recursive composer
    and builder see it. libyaml parses ~10x faster; on an error the pure-Python
    parser runs again because its messages are more precise (libyaml says
    "found character", PyYAML says which one).
    """
    loaders = [_LOADER] if _LOADER is yaml.SafeLoader else [_LOADER, yaml.SafeLoader]
    for loader in loaders:
        try:
            problem = _check_shape(text, filename, loader)
            if problem is not None:
                return problem
            return yaml.compose(text, Loader=loader)
        except yaml.YAMLError:
            if loader is loaders[-1]:
                raise
    raise AssertionError("unreachable")  # pragma: no cover


def _check_shape(
    text: str, filename: str, loader: type[yaml.SafeLoader] | type[yaml.CSafeLoader]
) -> Problem | None:
    """The problem when the document nests deeper than MAX_DEPTH or has over MAX_NODES nodes."""
    depth = 0
    nodes = 0
    for event in yaml.parse(text, Loader=loader):
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_DEPTH:
                line, column = _position(event.start_mark)
                return Problem(
                    message=f"the document nests deeper than {MAX_DEPTH} levels",
                    location=SourceLocation(file=filename, line=line, column=column),
                    hint="Workflow files are shallow: flatten this value, or pass deep data "
                    "as a JSON string or a file the step reads.",
                )
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1
        if isinstance(event, yaml.NodeEvent):
            nodes += 1
            if nodes > MAX_NODES:
                line, column = _position(event.start_mark)
                return _too_many_nodes(filename, line, column)
    return None


def _syntax_error(exc: yaml.MarkedYAMLError, filename: str) -> YamlDocument:
    mark = exc.problem_mark or exc.context_mark
    line, column = _position(mark)
    what = exc.problem or "syntax error"
    if exc.context:
        what = f"{what} ({exc.context}"
        if exc.context_mark is not None and exc.context_mark is not mark:
            what += f" on line {exc.context_mark.line + 1}"
        what += ")"
    if "expected a single document" in f"{exc.problem} {exc.context}":
        hint = "A workflow file holds one YAML document: remove the extra '---' separator."
    elif "\\t" in what or "'\\t'" in what:
        hint = "YAML does not allow tabs for indentation: indent with spaces."
    else:
        hint = "Check the indentation and quoting on this line and the one before it."
    return _failed(
        Problem(
            message=f"invalid YAML: {what}",
            location=SourceLocation(file=filename, line=line, column=column),
            hint=hint,
        ),
        filename,
    )
