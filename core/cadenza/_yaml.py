"""YAML with positions: plain Python data plus where every value and key came from.

PyYAML's ``safe_load`` forgets positions and silently keeps the last of two
equal mapping keys. Here we ``compose`` the document into nodes with the
SafeLoader, build the data ourselves, and keep a map from each value's path
(a tuple of keys and indices) to its 1-based line and column. Duplicate keys,
syntax errors, unsupported tags and alias bombs become :class:`Problem`\\ s.
"""

from __future__ import annotations

from typing import Any

import attrs
import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from ._convert import ValuePath, render_path
from ._problems import Problem, SourceLocation

Position = tuple[int, int]
"""``(line, column)``, both 1-based."""

MAX_NODES = 200_000
"""Values built from one document at most (aliases count every time they are used)."""

_MAP_TAG = "tag:yaml.org,2002:map"
_SEQ_TAG = "tag:yaml.org,2002:seq"
_TIMESTAMP_TAG = "tag:yaml.org,2002:timestamp"
_MERGE_TAG = "tag:yaml.org,2002:merge"
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


def _position(mark: yaml.Mark | None) -> Position:
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
        if isinstance(node, ScalarNode) and node.tag == _TIMESTAMP_TAG:
            return node.value  # keep dates as written: workflow data stays JSON-shaped
        return self._construct(node, path)

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
        key = self._construct(key_node, path)
        try:
            hash(key)
        except TypeError:
            self.problem(key_pos, path, "mapping keys must be plain scalars", "")
            return _NO_KEY
        return key


def parse_yaml(text: str, *, filename: str) -> YamlDocument:
    """Parse one YAML document; syntax errors and the like come back as problems."""
    builder = _Builder(filename)
    try:
        try:
            node = yaml.compose(text, Loader=_LOADER)
        except yaml.YAMLError:
            # Parse again in pure Python: slower, but its messages are more precise
            # (libyaml says "found character", PyYAML says which one).
            node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        return _syntax_error(exc, filename)
    except yaml.reader.ReaderError as exc:
        line = text.count("\n", 0, exc.position) + 1
        column = exc.position - (text.rfind("\n", 0, exc.position) + 1) + 1
        problem = Problem(
            message=f"invalid character {chr(exc.character)!r} in the file ({exc.reason})",
            location=SourceLocation(file=filename, line=line, column=column),
            hint="Remove the character or quote it in a string with an escape.",
        )
        return YamlDocument(data=None, filename=filename, values={}, keys={}, problems=(problem,))
    except yaml.YAMLError as exc:
        problem = Problem(
            message=f"invalid YAML: {exc}",
            location=SourceLocation(file=filename, line=1, column=1),
        )
        return YamlDocument(data=None, filename=filename, values={}, keys={}, problems=(problem,))
    if node is None:
        return YamlDocument(data=None, filename=filename, values={}, keys={})
    try:
        data = builder.build(node, ())
    except _TooLarge:
        problem = Problem(
            message=f"the document expands to more than {MAX_NODES} values",
            location=SourceLocation(file=filename, line=1, column=1),
            hint="Aliases (*name) are expanded each time they are used; use fewer of them.",
        )
        return YamlDocument(data=None, filename=filename, values={}, keys={}, problems=(problem,))
    return YamlDocument(
        data=data,
        filename=filename,
        values=builder.values,
        keys=builder.keys,
        problems=tuple(builder.problems),
    )


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
    problem = Problem(
        message=f"invalid YAML: {what}",
        location=SourceLocation(file=filename, line=line, column=column),
        hint=hint,
    )
    return YamlDocument(data=None, filename=filename, values={}, keys={}, problems=(problem,))
