"""Prompt templates: ``system:`` and ``prompt:`` filled in with a step's inputs.

The syntax is the ``template`` agent kind's, so a workflow reads the same
everywhere: ``{name}`` placeholders with an optional format spec and
conversion (``{score:.2f}``, ``{name!r}``), ``{{`` and ``}}`` for literal
braces. Attribute and index lookups (``{x.y}``, ``{x[0]}``) are refused:
they are how ``str.format`` reaches into objects, and nested values belong
in the step's ``with:`` as ``${{ }}`` expressions. Templates are compiled
when the workflow loads (an attrs validator on the options), so
``cadenza validate`` reports a malformed one with file and line.

Mappings and lists are inserted as JSON, not as Python reprs: a model reads
JSON better, and a step's output is JSON anyway.
"""

from __future__ import annotations

import json
import string
from collections.abc import Callable, Mapping
from typing import Any

import attrs

_FORMATTER = string.Formatter()
_CONVERSIONS: dict[str | None, Callable[[Any], Any]] = {
    None: lambda v: v,
    "s": str,
    "r": repr,
    "a": ascii,
}


class TemplateError(ValueError):
    """A template is malformed, or an input does not fit its format spec."""


@attrs.frozen
class _Piece:
    literal: str
    field: str | None
    spec: str
    conversion: str | None


@attrs.frozen
class Template:
    """A compiled template; :meth:`render` fills it in or names what is missing."""

    text: str
    pieces: tuple[_Piece, ...]

    @property
    def placeholders(self) -> frozenset[str]:
        """The input names the template refers to."""
        return frozenset(p.field for p in self.pieces if p.field is not None)

    def render(self, inputs: Mapping[str, Any]) -> tuple[str, frozenset[str]]:
        """Return the filled-in text and the placeholders that had no input (empty if none)."""
        out: list[str] = []
        missing: set[str] = set()
        for piece in self.pieces:
            out.append(piece.literal)
            if piece.field is None:
                continue
            if piece.field not in inputs:
                missing.add(piece.field)
                continue
            value = inputs[piece.field]
            if isinstance(value, Mapping | list) and piece.conversion is None and not piece.spec:
                value = json.dumps(value, ensure_ascii=False, default=str)
            value = _CONVERSIONS[piece.conversion](value)
            try:
                out.append(format(value, piece.spec))
            except (TypeError, ValueError) as exc:
                raise TemplateError(
                    f"cannot format input {piece.field!r} ({type(value).__name__}) "
                    f"with spec {piece.spec!r}: {exc}"
                ) from exc
        return "".join(out), frozenset(missing)


def compile_template(text: str, *, field: str) -> Template:
    """Compile ``text``; raise :class:`TemplateError` naming ``field`` if it is malformed."""
    try:
        parsed = list(_FORMATTER.parse(text))
    except ValueError as exc:
        raise TemplateError(
            f"{field}: {exc} in {_short(text)}\nWrite a literal brace as '{{{{' or '}}}}'."
        ) from exc
    pieces: list[_Piece] = []
    for literal, name, spec, conversion in parsed:
        if name is not None:
            _check_placeholder(name, spec or "", conversion, field=field, text=text)
        pieces.append(_Piece(literal, name, spec or "", conversion))
    return Template(text=text, pieces=tuple(pieces))


def _check_placeholder(
    name: str, spec: str, conversion: str | None, *, field: str, text: str
) -> None:
    where = f"{field}: placeholder {{{name}}} in {_short(text)}"
    if name == "" or name.isdigit():
        raise TemplateError(f"{where} is positional\nName an input instead, like {{prompt}}.")
    if "." in name or "[" in name:
        base = name.split(".")[0].split("[")[0]
        raise TemplateError(
            f"{where} uses an attribute or index lookup, which templates do not allow\n"
            f"Use a plain input name like {{{base}}}, and compute nested values in the "
            f"step's with: using ${{{{ }}}} expressions."
        )
    if "{" in spec:
        raise TemplateError(
            f"{where} has a nested field in its format spec {spec!r}\n"
            f"Templates allow only literal specs such as :>10."
        )
    if conversion not in _CONVERSIONS:
        raise TemplateError(f"{where} has an unknown conversion !{conversion}\nUse !s, !r or !a.")


def _short(text: str) -> str:
    return repr(text if len(text) <= 60 else text[:57] + "...")
