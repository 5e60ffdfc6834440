"""The kernel's one cattrs converter, and turning its failures into located issues.

Agent kinds register an attrs ``options`` class; the loader structures each
agent's ``options:`` mapping into it with :data:`converter`. The converter is
strict (``forbid_extra_keys``, no silent ``"3" -> 3`` or ``1 -> "1"``
coercions) and parses :data:`~cadenza._spec._workflow.Duration` fields with
:func:`~cadenza._spec._workflow.parse_duration`. :func:`structure` never raises for bad
data: it returns every issue found, each with the path of the offending value
relative to the structured mapping, so the loader can point at file:line:col.
"""

from __future__ import annotations

import collections.abc
import difflib
import enum
import re
import types
import typing
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Literal, TypeVar

import attrs
import cattrs
import cattrs.cols
from cattrs.errors import (
    AttributeValidationNote,
    ClassValidationError,
    ForbiddenExtraKeysError,
    IterableValidationError,
    IterableValidationNote,
)

from .._paths import PathKey, ValuePath
from ._workflow import Duration, parse_duration

T = TypeVar("T")

converter = cattrs.Converter(forbid_extra_keys=True, detailed_validation=True)
"""The kernel-owned converter (never ``cattrs.global_converter``)."""


@attrs.frozen(kw_only=True)
class ConvertIssue:
    """One reason a value could not be structured.

    ``path`` is relative to the value handed to :func:`structure`. ``at_key``
    is true when the issue is about a mapping key (an unknown field), so the
    location should be the key's rather than its value's.
    """

    path: ValuePath
    message: str
    hint: str = ""
    at_key: bool = False


def describe_value(value: object) -> str:
    """A short, typed description of ``value`` for messages: ``a list [1, 2]``."""
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{_kind_of(value)} {text}"


def _kind_of(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list"
    return f"a {type(value).__name__}"


def describe_type(tp: Any) -> str:
    """A human name for a type annotation: ``an integer``, ``a list``, ``one of 'a', 'b'``."""
    if tp is Duration:
        return "a duration like 30s, 5m or 1h30m"
    if tp is Any:
        return "any value"
    origin = typing.get_origin(tp)
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in typing.get_args(tp))
    if origin in (typing.Union, types.UnionType):
        return " or ".join(describe_type(a) for a in typing.get_args(tp))
    if tp is type(None):
        return "null"
    simple = {str: "a string", int: "an integer", float: "a number", bool: "true or false"}
    if tp in simple:
        return simple[tp]
    base = origin or tp
    if isinstance(base, type):
        if issubclass(base, enum.Enum):
            return "one of " + ", ".join(repr(m.value) for m in base)
        if issubclass(base, Mapping) or attrs.has(base):
            return "a mapping"
        if issubclass(base, list | tuple | set | frozenset | Sequence):
            return "a list"
        return f"a {base.__name__}"
    return str(tp)


def suggest(word: str, candidates: Iterable[str]) -> str:
    """``"Did you mean 'x'? "`` when a candidate is close to ``word``, else ``""``."""
    matches = difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.6)
    return f"Did you mean {matches[0]!r}? " if matches else ""


def listing(names: Iterable[str], limit: int = 20) -> str:
    """``names`` sorted and comma-separated for a hint, the tail cut after ``limit``."""
    items = sorted(names)
    if len(items) > limit:
        return ", ".join(items[:limit]) + f", and {len(items) - limit} more"
    return ", ".join(items)


def _strict_str(value: object, _: object) -> str:
    if isinstance(value, str):
        return value
    raise TypeError(f"expected a string, got {describe_value(value)}")


def _strict_int(value: object, _: object) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise TypeError(f"expected an integer, got {describe_value(value)}")


def _strict_float(value: object, _: object) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    raise TypeError(f"expected a number, got {describe_value(value)}")


def _strict_bool(value: object, _: object) -> bool:
    if isinstance(value, bool):
        return value
    raise TypeError(f"expected true or false, got {describe_value(value)}")


def _duration(value: object, _: object) -> Duration:
    return parse_duration(value)


def _is_plain_collection(tp: Any) -> bool:
    """list/tuple[X, ...]/set/frozenset/Sequence annotations (not heterogeneous tuples)."""
    origin = typing.get_origin(tp) or tp
    if origin is tuple:
        args = typing.get_args(tp)
        return len(args) == 2 and args[1] is Ellipsis
    return origin in (list, set, frozenset, collections.abc.Sequence, collections.abc.Set)


def _collection_hook(tp: Any) -> Callable[[Any, Any], Any]:
    """cattrs' own hook for ``tp``, refusing a string or mapping where a list belongs.

    cattrs would iterate a string into its characters (``languages: csharp``
    becoming ``('c', 's', ...)``): a silent coercion, which the loader forbids.
    """
    origin = typing.get_origin(tp) or tp
    if origin is tuple:
        inner = cattrs.cols.homogenous_tuple_structure_factory(tp, converter)
    else:
        (arg,) = typing.get_args(tp) or (Any,)
        inner = cattrs.cols.list_structure_factory(list[arg], converter)  # type: ignore[valid-type]

    def hook(value: Any, _: Any) -> Any:
        if isinstance(value, str | bytes | Mapping) or not isinstance(
            value, list | tuple | set | frozenset
        ):
            one = f"; write [{value}] for a list of one" if isinstance(value, str) else ""
            raise TypeError(f"expected a list, got {describe_value(value)}{one}")
        out = inner(value, tp)
        if origin in (set, collections.abc.Set):
            return set(out)
        if origin is frozenset:
            return frozenset(out)
        return out

    return hook


converter.register_structure_hook_factory(_is_plain_collection, _collection_hook)
converter.register_structure_hook(str, _strict_str)
converter.register_structure_hook(int, _strict_int)
converter.register_structure_hook(float, _strict_float)
converter.register_structure_hook(bool, _strict_bool)
converter.register_structure_hook(Duration, _duration)


def structure(data: Any, cls: type[T]) -> tuple[T | None, list[ConvertIssue]]:
    """Structure ``data`` into ``cls``; return the object, or ``None`` and every issue found."""
    if attrs.has(cls) and not isinstance(data, Mapping):
        return None, [
            ConvertIssue(path=(), message=f"expected a mapping, got {describe_value(data)}")
        ]
    try:
        return converter.structure(data, cls), []
    except Exception as exc:
        issues = issues_from_exception(exc, data=data, cls=cls)
        return None, issues or [ConvertIssue(path=(), message=_plain(exc))]


def issues_from_exception(
    exc: BaseException, *, data: Any, cls: Any, path: ValuePath = ()
) -> list[ConvertIssue]:
    """Flatten a cattrs exception tree into one issue per failure (cattrs ``transform_error``)."""
    if isinstance(exc, ClassValidationError):
        return _class_issues(exc, data=data, path=path)
    if isinstance(exc, IterableValidationError):
        out: list[ConvertIssue] = []
        with_notes, without = exc.group_exceptions()
        for sub, inote in with_notes:
            out += _child_issues(sub, inote, data, (*path, inote.index), inote.type)
        for sub in without:
            out.append(_leaf(sub, cls, data, path))
        return out
    if isinstance(exc, ForbiddenExtraKeysError):
        return _extra_key_issues(exc, path)
    return [_leaf(exc, cls, data, path)]


def _class_issues(exc: ClassValidationError, *, data: Any, path: ValuePath) -> list[ConvertIssue]:
    out: list[ConvertIssue] = []
    with_notes, without = exc.group_exceptions()
    fields = {a.name for a in attrs.fields(exc.cl)} if attrs.has(exc.cl) else set()
    for sub, note in with_notes:
        if isinstance(sub, KeyError):
            out.append(
                ConvertIssue(
                    path=path,
                    message=f"missing required field {note.name!r}",
                    hint=f"Add {note.name}: <{describe_type(note.type)}>.",
                )
            )
            continue
        out += _child_issues(sub, note, data, (*path, note.name), note.type)
    for sub in without:
        if isinstance(sub, ForbiddenExtraKeysError):
            out += _extra_key_issues(sub, path)
            continue
        # attrs validators run in __init__ after every field was structured; their
        # messages name the field first: "'retries' must be >= 0: -1" (attrs) or
        # "endpoint: expected an http:// URL ..." (ours).
        text = _plain(sub)
        where = path
        quoted = re.match(r"'(\w+)'", text)
        prefixed = re.match(r"(\w+): ", text)
        if quoted and quoted.group(1) in fields:
            where = (*path, quoted.group(1))
        elif prefixed and prefixed.group(1) in fields:
            where = (*path, prefixed.group(1))
            text = text[prefixed.end() :]
        text, _, hint = text.partition("\n")  # a validator may add a hint on its own line
        out.append(ConvertIssue(path=where, message=text, hint=hint.strip()))
    return out


def _child_issues(
    sub: BaseException,
    note: AttributeValidationNote | IterableValidationNote,
    data: Any,
    path: ValuePath,
    tp: Any,
) -> list[ConvertIssue]:
    key = note.name if isinstance(note, AttributeValidationNote) else note.index
    child = _child(data, key)
    if isinstance(sub, ClassValidationError | IterableValidationError | ForbiddenExtraKeysError):
        return issues_from_exception(sub, data=child, cls=tp, path=path)
    return [_leaf(sub, tp, child, path)]


def _child(data: Any, key: PathKey) -> Any:
    try:
        if isinstance(data, Mapping):
            return data.get(key)
        if isinstance(data, list | tuple) and isinstance(key, int):
            return data[key]
    except (IndexError, TypeError):
        return None
    return None


def _extra_key_issues(exc: ForbiddenExtraKeysError, path: ValuePath) -> list[ConvertIssue]:
    allowed = sorted(a.name for a in attrs.fields(exc.cl) if a.init) if attrs.has(exc.cl) else []
    out = []
    for key in sorted(exc.extra_fields, key=str):
        hint = suggest(str(key), allowed)
        hint += f"Allowed: {', '.join(allowed)}." if allowed else "No fields are allowed here."
        out.append(
            ConvertIssue(
                path=(*path, key), message=f"unknown field {key!r}", hint=hint, at_key=True
            )
        )
    return out


def _leaf(exc: BaseException, tp: Any, value: Any, path: ValuePath) -> ConvertIssue:
    if isinstance(exc, TypeError | ValueError) and str(exc).startswith(("expected", "a duration")):
        message = str(exc)  # our own hooks already say what was expected and what arrived
    elif tp is not None:
        message = f"expected {describe_type(tp)}, got {describe_value(value)}"
    else:
        message = _plain(exc)
    return ConvertIssue(path=path, message=message, hint=type_hint(tp))


def type_hint(tp: Any) -> str:
    """How to write a value of type ``tp`` in YAML, for hints (``""`` when obvious)."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return type_hint(args[0]) if len(args) == 1 else ""
    if tp is Duration:
        return "Write a number of seconds or a string like 30s, 1m30s or 2h."
    if tp is bool:
        return "Write true or false, without quotes."
    if tp is int:
        return "Write a whole number, without quotes."
    if tp is float:
        return "Write a number, without quotes."
    if tp is str:
        return "Quote the value to make it a string."
    if origin is Literal:
        return "Use one of the listed values."
    return ""


def _plain(exc: BaseException) -> str:
    text = str(exc) if not isinstance(exc, KeyError) else f"missing {exc.args[0]!r}"
    return text or type(exc).__name__
