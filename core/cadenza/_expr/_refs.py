"""What a parsed CEL expression reads, checked before anything runs.

An expression sees two names, ``inputs`` and ``steps``, and every reference
must be fixed in the text (``steps.build``, ``steps["build-docs"]``), so the
loader can check it against ``needs:`` and the declared inputs. The
:class:`ReferenceChecker` walks lark's parse tree to collect those references
and to report what would only fail at run time: unknown names and functions,
a dynamic ``steps[...]``, a field a step does not have (it has ``output`` and
``status``), ``steps.build-docs`` (which subtracts ``docs``), and trees nested
deeper than celpy's recursive evaluator can take.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterator
from typing import Any, Final, TypeAlias

import lark
from celpy.evaluation import base_functions, celstr

from ._syntax import position_text

__all__ = ["ReferenceChecker", "Tree", "reference_root", "source_text"]

Tree: TypeAlias = "lark.Tree[lark.Token]"

_ROOTS: Final = ("inputs", "steps")
_LOOP_NAMES: Final = ("item", "index")
"""Bare names bound per item of a ``for_each`` step; the loader checks where they are used."""
# Parse-tree levels, so that celpy's recursive evaluator (several frames a level)
# fits in Python's default recursion limit of 1000 with ~300 frames to spare.
# Allows 60 chained + terms, 120 chained && terms, or 13 nested parentheses.
_MAX_DEPTH: Final = 140
_STEP_FIELDS: Final = ("output", "status")
_TYPE_NAMES: Final = frozenset(
    {
        "bool",
        "bytes",
        "double",
        "duration",
        "dyn",
        "int",
        "list",
        "map",
        "null_type",
        "string",
        "timestamp",
        "type",
        "uint",
    }
)
# Comprehension macros and how many loop variables each binds: ``xs.map(x, x * 2)``.
_MACRO_VARIABLES: Final = {
    "all": 1,
    "exists": 1,
    "exists_one": 1,
    "filter": 1,
    "map": 1,
    "reduce": 2,
}
_FUNCTIONS: Final = frozenset(
    {name for name in base_functions if name[:1].isalpha()} | {"has", "dyn"}
)
_METHODS: Final = _FUNCTIONS | _MACRO_VARIABLES.keys() | {"min"}
_FUNCTION_ALIASES: Final = {"len": "size", "length": "size", "str": "string", "float": "double"}
_HYPHEN_TAIL: Final = re.compile(r"(?:-[A-Za-z0-9_]+)+")
# Rules that merely wrap their single child; unwrapped to see what an operand is.
_WRAPPERS: Final = frozenset(
    {
        "expr",
        "conditionalor",
        "conditionaland",
        "relation",
        "addition",
        "multiplication",
        "unary",
        "member",
        "primary",
        "paren_expr",
    }
)


class ReferenceChecker:
    """Walks a parse tree: collects ``inputs``/``steps`` references, reports misuse."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.refs: dict[str, set[str]] = {root: set() for root in (*_ROOTS, "loop")}
        self._problems: list[tuple[int, str, str]] = []
        self._unknown: list[tuple[int, str, str]] = []
        self._hyphen_spans: list[range] = []

    def problems(self) -> Iterator[tuple[str, str]]:
        """Every (message, hint) found, in the order they appear in the text."""
        # Names swallowed by a hyphenated id (``docs`` in ``steps.build-docs``) were
        # already explained; reporting them as unknown too would only confuse.
        unknown = [p for p in self._unknown if not any(p[0] in span for span in self._hyphen_spans)]
        for _pos, message, hint in sorted(self._problems + unknown, key=lambda p: p[0]):
            yield message, hint

    def _report(self, node: Tree | lark.Token, message: str, hint: str) -> None:
        """Record a problem; ``{at}`` in ``message`` becomes " at column N"."""
        pos = _start(node)
        at = f" at {position_text(self.text, pos)}" if pos is not None else ""
        self._problems.append((pos or 0, message.replace("{at}", at), hint))

    def walk(self, tree: Tree) -> None:
        """Visit every node of ``tree``; then read :attr:`refs` and :meth:`problems`."""
        # Iterative: a long chain (a + b + ...) nests one level per term.
        stack: list[tuple[Tree, frozenset[str], int]] = [(tree, frozenset(), 1)]
        deepest = 0
        while stack:
            node, bound, depth = stack.pop()
            deepest = max(deepest, depth)
            children = self._visit(node, bound)
            stack.extend(
                (child, scope, depth + 1)
                for child, scope in reversed(children)
                if isinstance(child, lark.Tree)
            )
        if deepest > _MAX_DEPTH:
            # celpy evaluates recursively, several frames per level of the tree.
            self._problems.append(
                (
                    0,
                    f"the expression is nested too deeply to evaluate ({deepest} levels, "
                    f"at most {_MAX_DEPTH})",
                    "split it into smaller expressions, or compute the value in a step",
                )
            )

    def _visit(self, node: Tree, bound: frozenset[str]) -> list[tuple[Any, frozenset[str]]]:
        kind = node.data
        if kind in ("member_dot", "member_index"):
            return self._member(node, bound)
        if kind in ("ident", "dot_ident"):
            self._name(node.children[0], bound)
            return []
        if kind in ("ident_arg", "dot_ident_arg"):
            self._function(node.children[0], _FUNCTIONS, "function")
            return [(child, bound) for child in node.children[1:]]
        if kind == "member_dot_arg":
            return self._method(node, bound)
        if kind == "literal":
            return []
        return [(child, bound) for child in node.children]

    def _member(self, node: Tree, bound: frozenset[str]) -> list[tuple[Any, frozenset[str]]]:
        inner = node.children[0]
        assert isinstance(inner, lark.Tree)
        self._check_step_field(node, inner, bound)
        root = reference_root(inner, bound)
        if root is None:
            return [(child, bound) for child in node.children]
        if node.data == "member_dot":
            name = str(node.children[1])
            self._check_hyphen(node, root, name)
            self.refs[root].add(name)
            return []
        index = node.children[1]
        assert isinstance(index, lark.Tree)
        key = _string_literal(index)
        if key is None:
            self._report(
                node,
                f"{root}[...]{{at}} needs a quoted name",
                f'write {root}.name or {root}["name"]; references must be fixed in the file '
                "so they can be checked before the run",
            )
            return [(index, bound)]
        self.refs[root].add(key)
        return []

    def _check_step_field(self, node: Tree, inner: Tree, bound: frozenset[str]) -> None:
        """``steps.build.outputs``: a step has only ``output`` and ``status``."""
        target = _unwrap(inner)
        if not isinstance(target, lark.Tree) or target.data not in ("member_dot", "member_index"):
            return
        target_inner = target.children[0]
        if (
            not isinstance(target_inner, lark.Tree)
            or reference_root(target_inner, bound) != "steps"
        ):
            return
        if node.data == "member_dot":
            field: str | None = str(node.children[1])
        else:
            index = node.children[1]
            field = _string_literal(index) if isinstance(index, lark.Tree) else None
        if field is None or field in _STEP_FIELDS:
            return
        step = source_text(target, self.text) or "steps.<id>"
        close = difflib.get_close_matches(field, _STEP_FIELDS, n=1)
        suggestion = close[0] if close else "output"
        self._report(
            node,
            f"a step has no field {field!r}{{at}}; it has output and status",
            f"did you mean {step}.{suggestion}?",
        )

    def _check_hyphen(self, node: Tree, root: str, name: str) -> None:
        end = _end(node)
        if end is None:
            return
        match = _HYPHEN_TAIL.match(self.text, end)
        if match is None:
            return
        full = name + match.group()
        self._hyphen_spans.append(range(end, match.end()))
        self._report(
            node,
            f"{root}.{full}{{at}} reads as {root}.{name} minus {match.group()[1:]}; "
            "names written after a dot cannot contain '-'",
            f'write {root}["{full}"] instead',
        )

    def _name(self, token: Any, bound: frozenset[str]) -> None:
        name = str(token)
        if name in bound or name in _TYPE_NAMES:
            return
        if name in _LOOP_NAMES:
            self.refs["loop"].add(name)
            return
        if name in _ROOTS:
            self._report(
                token,
                f'{name}{{at}} must be followed by a name, as in {name}.x or {name}["x"]',
                "references must be fixed in the file so they can be checked before the run",
            )
            return
        pos = _start(token)
        if pos is not None and pos >= 2 and self.text[pos - 2 : pos] == "in":
            # The lexer reads ``a inputs`` as ``a in puts``: an operator is missing.
            word_start = pos - 2
            if word_start == 0 or not (
                self.text[word_start - 1].isalnum() or self.text[word_start - 1] == "_"
            ):
                self._problems.append(
                    (
                        word_start,
                        f"missing operator before 'in{name}' "
                        f"at {position_text(self.text, word_start)}",
                        "join values with an operator such as &&, || or ==",
                    )
                )
                return
        at = f" at {position_text(self.text, pos)}" if pos is not None else ""
        self._unknown.append(
            (
                pos or 0,
                f"unknown name {name!r}{at}; expressions can use inputs and steps",
                _unknown_name_hint(name),
            )
        )

    def _function(self, token: Any, known: frozenset[str], kind: str) -> None:
        name = str(token)
        if name in known:
            return
        close = _FUNCTION_ALIASES.get(name) or next(
            iter(difflib.get_close_matches(name, sorted(known), n=1)), None
        )
        hint = f"did you mean {close}()?" if close else ""
        self._report(token, f"unknown {kind} {name!r}{{at}}", hint)

    def _method(self, node: Tree, bound: frozenset[str]) -> list[tuple[Any, frozenset[str]]]:
        receiver, name_token, *rest = node.children
        name = str(name_token)
        self._function(name_token, _METHODS, "method")
        args: list[Any] = list(rest[0].children) if rest and isinstance(rest[0], lark.Tree) else []
        count = _MACRO_VARIABLES.get(name, 0)
        variables = [_plain_name(arg) for arg in args[:count]]
        if count == 0 or len(args) <= count or not all(variables):
            return [(child, bound) for child in (receiver, *rest)]
        inner = bound | {v for v in variables if v}
        if name == "reduce":
            # xs.reduce(acc, x, initial, step): the initial value sees the outer scope.
            return [(receiver, bound), (args[2], bound), *((a, inner) for a in args[3:])]
        return [(receiver, bound), *((a, inner) for a in args[count:])]


def _unknown_name_hint(name: str) -> str:
    """Advice for a bare name: likely a Python or JavaScript habit, or a missing root."""
    if name in ("True", "False"):
        return f"CEL writes booleans in lower case: {name.lower()}"
    if name in ("and", "or", "not"):
        return "CEL writes and, or, not as &&, || and !"
    if name in ("None", "nil", "undefined"):
        return "CEL writes the empty value as null"
    close = difflib.get_close_matches(name, _ROOTS, n=1)
    if close:
        return f"did you mean {close[0]}?"
    return (
        f"use inputs.{name} for a run input or steps.{name}.output for a step's output; "
        f'quote text: "{name}"'
    )


def _start(node: Any) -> int | None:
    """Where ``node`` starts in the expression text."""
    return _span(node)[0]


def _end(node: Any) -> int | None:
    """Where ``node`` ends in the expression text."""
    return _span(node)[1]


def _span(node: Any) -> tuple[int | None, int | None]:
    """``node``'s start and end in the expression text; None where lark kept no position."""
    if isinstance(node, lark.Token):
        return node.start_pos, node.end_pos
    if isinstance(node, lark.Tree) and not node.meta.empty:
        return node.meta.start_pos, node.meta.end_pos
    return None, None


def source_text(node: Any, text: str) -> str | None:
    """The part of ``text`` that ``node`` was parsed from, to quote it in messages."""
    start, end = _span(node)
    if start is None or end is None:
        return None
    return text[start:end]


def _unwrap(node: Any) -> Any:
    """The operand under the rules that only wrap one child (``expr`` -> ... -> ``member``)."""
    while (
        isinstance(node, lark.Tree)
        and node.data in _WRAPPERS
        and len(node.children) == 1
        and isinstance(node.children[0], lark.Tree)
    ):
        node = node.children[0]
    return node


def reference_root(member: Tree, bound: frozenset[str]) -> str | None:
    """``inputs``/``steps`` when ``member`` is just that name (not shadowed by a macro variable)."""
    node = _unwrap(member)
    if isinstance(node, lark.Tree) and node.data in ("ident", "dot_ident"):
        name = str(node.children[0])
        if name in _ROOTS and name not in bound:
            return name
    return None


def _plain_name(node: Any) -> str | None:
    """The name when ``node`` is a bare identifier (a macro's loop variable), else None."""
    node = _unwrap(node)
    if isinstance(node, lark.Tree) and node.data == "ident":
        return str(node.children[0])
    return None


def _string_literal(node: Tree) -> str | None:
    """The value when ``node`` is a string literal (a fixed ``["key"]``), else None."""
    node = _unwrap(node)
    if isinstance(node, lark.Tree) and node.data == "literal":
        token = node.children[0]
        if isinstance(token, lark.Token) and token.type in ("STRING_LIT", "MLSTRING_LIT"):
            return str(celstr(token))
    return None
