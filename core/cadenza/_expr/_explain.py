"""Why an expression failed at run time, said in terms of the expression.

celpy reports a failed evaluation as an error object carrying its own wording
(``no such member``, ``found no matching overload for '_+_' applied to
'(<class 'celpy.celtypes.IntType'>, ...)'``) and the parse-tree node that
failed. :func:`explain_failure` turns that into a sentence about the workflow:
which key is missing and which keys there are, which step is not in
``needs``, that a skipped step's output is null, which operator cannot take
which types, quoting the part of the expression at fault. It re-evaluates
parts of the failed expression to say what was there instead, each within an
evaluation limit of its own, and gives up on a part that runs out of it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final

import lark
from celpy.evaluation import CELEvalError

from ._budget import Cost, LimitExceeded
from ._plain import cel_type_name, to_plain
from ._refs import reference_root, source_text
from ._values import NotJSONError, compact_json

if TYPE_CHECKING:
    from ._expressions import ExpressionContext
    from ._nodes import Program

__all__ = ["explain_failure", "tidy_message"]

_CEL_CLASS: Final = re.compile(r"<class '(?:[\w.]+\.)?(\w+)'>")
_OVERLOAD: Final = re.compile(r"found no matching overload for (.+?) applied to '\((.*?)\)'")
_CEL_VALUE: Final = re.compile(r"\b(?:Bool|Int|Uint|Double|String|Bytes)Type\(([^()]*)\)")
_DUMPED_TREE: Final = re.compile(r"tree=\"([^\"]*)\"")
_IN_ACTIVATION: Final = re.compile(r"\s*\(in activation .*", re.DOTALL)

_CLASS_NAMES: Final = {
    "BoolType": "bool",
    "BytesType": "bytes",
    "DoubleType": "double",
    "DurationType": "duration",
    "IntType": "int",
    "ListType": "list",
    "MapType": "map",
    "MessageType": "map",
    "NoneType": "null",
    "StringType": "string",
    "TimestampType": "timestamp",
    "TypeType": "type",
    "UintType": "uint",
}
_CEL_TYPE_NAME: Final = re.compile(r"\b(" + "|".join(_CLASS_NAMES) + r")\b")
_OPERATORS: Final = {
    "_[_]": "[]",
    "addition_add": "+",
    "addition_sub": "-",
    "multiplication_div": "/",
    "multiplication_mod": "%",
    "multiplication_mul": "*",
    "relation_eq": "==",
    "relation_ge": ">=",
    "relation_gt": ">",
    "relation_in": "in",
    "relation_le": "<=",
    "relation_lt": "<",
    "relation_ne": "!=",
    "unary_neg": "-",
    "unary_not": "!",
}

_MISSING: Final = object()


def explain_failure(
    exc: CELEvalError, program: Program, activation: dict[str, Any], ctx: ExpressionContext
) -> str:
    """Turn celpy's error into a sentence naming the part of the expression that failed."""
    args = exc.args
    raw = str(args[0]) if args else "evaluation failed"
    cause = args[2] if len(args) > 2 and isinstance(args[2], tuple) else ()
    tree = exc.tree if isinstance(exc.tree, lark.Tree) else None
    text = program.text
    snippet = source_text(tree, text) if tree is not None else None
    kind = tree.data if tree is not None else ""

    if tree is not None and kind in ("member_dot", "member_index"):
        inner = tree.children[0]
        inner_text = source_text(inner, text) or "the value"
        if kind == "member_dot":
            key: Any = str(tree.children[1])
        else:
            key = _to_plain_safe(cause[0]) if cause else "?"
        root = reference_root(inner, frozenset()) if isinstance(inner, lark.Tree) else None
        if raw.startswith("no such member") or raw == "no such key":
            if root == "steps":
                available = ", ".join(sorted(ctx.steps)) or "none"
                return (
                    f"step {key!r} is not available here: an expression sees only the "
                    f"steps in needs (available: {available})"
                )
            if root == "inputs":
                given = ", ".join(sorted(ctx.inputs)) or "none"
                return f"input {key!r} has no value (inputs given: {given})"
            container = _subvalue(program, inner, activation)
            keys = ""
            if isinstance(container, Mapping):
                names = sorted(str(k) for k in container)
                shown = ", ".join(names[:10]) + (", ..." if len(names) > 10 else "")
                keys = f" (it has: {shown})" if names else " (it is empty)"
            return f"{inner_text} has no key {key!r}{keys}"
        if "does not support field selection" in raw:
            container = _subvalue(program, inner, activation)
            if container is None:
                return f"{inner_text} is null, so it has no field {key!r}" + (
                    " (a skipped step's output is null)" if inner_text.startswith("steps") else ""
                )
            if container is not _MISSING:
                return (
                    f"{inner_text} is {_describe(container)}, not a map, so it has no field {key!r}"
                )
        if raw == "invalid_argument":
            container = _subvalue(program, inner, activation)
            index = _subvalue(program, tree.children[1], activation)
            at = f" {_to_plain_safe(index)}" if index is not _MISSING else ""
            size = f" (it has {len(container)} items)" if isinstance(container, list) else ""
            return f"{inner_text} has no item at index{at}{size}"

    raw = tidy_message(raw)
    detail = tidy_message(str(cause[0])) if cause else ""
    # A macro (all, exists) reports its items' errors only as text: find the first.
    overload = _OVERLOAD.search(raw) or _OVERLOAD.search(detail)
    if overload and snippet is None and (dumped := _DUMPED_TREE.search(detail)):
        snippet = " ".join(dumped.group(1).split())
    if overload:
        operator = overload.group(1)
        rule = re.search(r"'(\w+)'\)?$", operator)
        op = _OPERATORS.get(rule.group(1) if rule else operator, operator)
        types = [name.strip() for name in overload.group(2).split(",") if name.strip()]
        what = " and ".join(types) if types else "these values"
        return f"{op!r} cannot be applied to {what}" + _in(snippet, text)
    if raw in ("divide by zero", "modulus or divide by zero"):
        return "division by zero" + _in(snippet, text)
    if raw == "return error for overflow" and exc.token is None:
        return "integer overflow (CEL integers are 64-bit)" + _in(snippet, text)
    token = exc.token
    if detail.startswith(raw):
        raw, detail = detail, ""
    detail = f": {detail}" if detail else ""
    if token is not None and raw in ("no such overload", "return error for overflow"):
        return f"{token}() cannot take these arguments{detail}"
    return tidy_message(raw) + detail + _in(snippet, text)


def _to_plain_safe(value: Any) -> Any:
    """``value`` as plain data to show in a message, or its text when it has no JSON form."""
    try:
        return to_plain(value, Cost())
    except (CELEvalError, NotJSONError):
        return str(value)
    except LimitExceeded:  # too big to show (and str() of it would be as slow)
        return cel_type_name(value)


def _in(snippet: str | None, text: str) -> str:
    """`` in 'part'`` naming the failing part, unless it is the whole expression."""
    return f" in {snippet!r}" if snippet and snippet.strip() != text.strip() else ""


def tidy_message(text: str) -> str:
    """celpy's messages without Python class reprs or activation dumps."""
    text = _IN_ACTIVATION.sub("", text)
    text = _CEL_VALUE.sub(r"\1", text)
    text = _CEL_CLASS.sub(lambda m: _CLASS_NAMES.get(m.group(1), m.group(1)), text)
    return _CEL_TYPE_NAME.sub(lambda m: _CLASS_NAMES[m.group(1)], text)


def _describe(value: Any) -> str:
    """``int 3``, ``list ["a"]``: a value's CEL type and a short rendering of it."""
    try:
        plain = to_plain(value, Cost())
    except (CELEvalError, NotJSONError, LimitExceeded):
        return cel_type_name(value)
    return f"{cel_type_name(value)} {compact_json(plain, limit=60)}"


def _subvalue(program: Program, node: Any, activation: dict[str, Any]) -> Any:
    """Evaluate part of a failed expression again, to say what was there instead."""
    runner = program.runner
    if runner is None or not isinstance(node, lark.Tree):
        return _MISSING
    try:
        return runner.evaluate_part(node, activation, Cost())
    except Exception:  # LimitExceeded, CELEvalError, celpy bugs: nothing more to say
        return _MISSING
