"""References a Python-built workflow writes where YAML writes ``${{ ... }}``.

``wf.input("topic")`` is ``${{ inputs.topic }}``, ``news.output`` is
``${{ steps.news.output }}`` and ``news.output.files`` (or ``["files"]``) is
``${{ steps.news.output.files }}``. A reference *is* its expression: ``str()``
and f-strings give the ``${{ }}`` text, so it can be embedded anywhere a YAML
file could embed one, and the loader checks it exactly as it checks a file's.
"""

from __future__ import annotations

import json
import re
from typing import final

import attrs

__all__ = ["AgentHandle", "Ref", "StepHandle", "member"]

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_CEL_RESERVED = frozenset(
    {
        "as",
        "break",
        "const",
        "continue",
        "else",
        "false",
        "for",
        "function",
        "if",
        "import",
        "in",
        "let",
        "loop",
        "package",
        "namespace",
        "null",
        "return",
        "true",
        "var",
        "void",
        "while",
    }
)
"""Words CEL does not take after a dot: such keys are written in the index form."""


def member(parent: str, key: str | int) -> str:
    """``parent.key`` when ``key`` is a plain CEL name, else ``parent["key"]`` / ``parent[0]``."""
    if isinstance(key, bool) or not isinstance(key, str | int):
        raise TypeError(
            f"a reference can be indexed by a string key or an int position, got {key!r}"
        )
    if isinstance(key, int):
        return f"{parent}[{key}]"
    if _NAME.match(key) and key not in _CEL_RESERVED:
        return f"{parent}.{key}"
    return f"{parent}[{json.dumps(key, ensure_ascii=False)}]"


_NOT_PYTHON = (
    "a reference is evaluated when the workflow runs, not in Python: {what} cannot work "
    "on it here. Write the condition as CEL text instead, e.g. "
    "when=f\"{{ref.expression}} == 'done'\", or compare str(ref) to compare expressions."
)


@final
@attrs.frozen(eq=False, repr=False)
class Ref:
    """A CEL expression over the run: an input, a step's output, or a part of one.

    ``ref.key`` and ``ref["key"]`` go one level down (``ref[0]`` for a list
    item); ``str(ref)`` is ``${{ <expression> }}``. Use the index form for a
    key that starts with an underscore. A reference has no value in Python:
    ``ref == x``, ``if ref:`` and ``ref and other`` raise TypeError (they would
    silently make a constant ``when=``); conditions are CEL text.
    """

    _expression: str

    @property
    def expression(self) -> str:
        """The bare CEL expression (what ``when=`` takes), without ``${{ }}``."""
        return self._expression

    def __getattr__(self, name: str) -> Ref:
        if name.startswith("_"):
            raise AttributeError(name)
        return Ref(member(self._expression, name))

    def __getitem__(self, key: str | int) -> Ref:
        return Ref(member(self._expression, key))

    def __str__(self) -> str:
        return "${{ " + self._expression + " }}"

    def __format__(self, spec: str) -> str:
        return format(str(self), spec)

    def __repr__(self) -> str:
        return f"<reference {self}>"

    def __eq__(self, other: object) -> bool:
        raise TypeError(_NOT_PYTHON.format(what="=="))

    def __ne__(self, other: object) -> bool:
        raise TypeError(_NOT_PYTHON.format(what="!="))

    def __bool__(self) -> bool:
        raise TypeError(_NOT_PYTHON.format(what="truth testing (if, and, or, not)"))

    __hash__ = None  # type: ignore[assignment]  # unequal to everything: no hash either


@final
@attrs.frozen
class StepHandle:
    """A step added with ``wf.step(...)``: name it in ``needs=``, read its ``output``."""

    id: str

    @property
    def output(self) -> Ref:
        """``${{ steps.<id>.output }}``: the step's output, or a part of it (``.output.files``)."""
        return Ref(member(member("steps", self.id), "output"))

    def __str__(self) -> str:
        return self.id


@final
@attrs.frozen
class AgentHandle:
    """An agent added with ``wf.agent(...)``: pass it as ``uses=``, ``fallback=`` or ``agents=``."""

    name: str

    def __str__(self) -> str:
        return self.name
