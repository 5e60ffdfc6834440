"""A small, language-neutral model of documented source code.

The C# and Python parsers both produce these objects and the Markdown writer
only reads them, so adding a language means writing one parser, not another
renderer. Everything is frozen: enrichment and cross-file resolution return
evolved copies, which keeps "what the author wrote" and "what we added" easy
to tell apart (:attr:`Member.generated`).
"""

from __future__ import annotations

from typing import Literal

import attrs

Language = Literal["csharp", "python"]

UNITY_COMPONENT = "Unity component"
"""Badge of classes deriving (directly or through parsed classes) from ``MonoBehaviour``."""

SCRIPTABLE_OBJECT = "ScriptableObject"
"""Badge of classes deriving from ``ScriptableObject``: data assets in a Unity project."""


@attrs.frozen(kw_only=True)
class Doc:
    """What the author documented: summary first, details and per-part texts after.

    Texts are Markdown already (inline code, links); ``inherited`` marks a
    C# ``<inheritdoc/>`` that nothing in the parsed files could resolve.
    """

    summary: str = ""
    details: str = ""
    params: tuple[tuple[str, str], ...] = ()
    param_types: tuple[tuple[str, str], ...] = ()
    """Types the text gives parameters (NumPy's ``rate : float``), for unannotated code."""
    type_params: tuple[tuple[str, str], ...] = ()
    returns: str = ""
    raises: tuple[tuple[str, str], ...] = ()
    example: str = ""
    inherited: bool = False

    @property
    def empty(self) -> bool:
        """True when the author wrote nothing usable as a description."""
        return not (self.summary or self.details or self.inherited)

    def param(self, name: str) -> str:
        """The description of parameter ``name``, or ``""``."""
        return next((text for key, text in self.params if key == name), "")

    def param_type(self, name: str) -> str:
        """The type the text gives parameter ``name``, or ``""``."""
        return next((text for key, text in self.param_types if key == name), "")


EMPTY_DOC = Doc()


@attrs.frozen(kw_only=True)
class Parameter:
    """One parameter of a method, function, delegate or record."""

    name: str
    type: str = ""
    default: str | None = None
    modifier: str = ""
    """``ref``/``out``/``in``/``this``/``params`` in C#; ``*``/``**`` for Python's varargs."""


@attrs.frozen(kw_only=True)
class Generated:
    """A summary an LLM agent wrote for an undocumented element (never the author's)."""

    text: str
    agent: str


@attrs.frozen(kw_only=True)
class Member:
    """A field, property, method, event, constant or enum value of a type or module.

    ``visibility`` is the effective access (``public``, ``protected``,
    ``internal``, ``private``...); ``inspector`` marks Unity fields shown in the
    Inspector (serialized), whatever their visibility. ``type`` is the field or
    property type, or a method's return type. ``value`` is an initializer or
    an enum value as written.
    """

    name: str
    kind: str
    signature: str
    line: int
    visibility: str = "public"
    modifiers: tuple[str, ...] = ()
    attributes: tuple[str, ...] = ()
    type: str = ""
    value: str | None = None
    parameters: tuple[Parameter, ...] = ()
    doc: Doc = EMPTY_DOC
    inspector: bool = False
    snippet: str = attrs.field(default="", repr=False, eq=False)
    generated: Generated | None = None

    @property
    def tooltip(self) -> str:
        """The text of a Unity ``[Tooltip("...")]`` attribute, or ``""``."""
        return attribute_text(self.attributes, "Tooltip")

    @property
    def documented(self) -> bool:
        """Whether the author described it: a doc comment, docstring or Unity tooltip."""
        return not self.doc.empty or bool(self.tooltip)


@attrs.frozen(kw_only=True)
class Type:
    """A class, struct, interface, enum, record or delegate (C#), or a class (Python).

    ``name`` is qualified by enclosing types (``Outer.Inner``), not by
    namespace; ``badges`` are labels such as :data:`UNITY_COMPONENT`.
    ``messages`` lists the Unity message methods (``Awake``, ``Update``...) it
    implements, whatever their visibility.
    """

    name: str
    kind: str
    signature: str
    line: int
    namespace: str = ""
    visibility: str = "public"
    modifiers: tuple[str, ...] = ()
    attributes: tuple[str, ...] = ()
    bases: tuple[str, ...] = ()
    parameters: tuple[Parameter, ...] = ()
    doc: Doc = EMPTY_DOC
    members: tuple[Member, ...] = ()
    badges: tuple[str, ...] = ()
    messages: tuple[str, ...] = ()
    snippet: str = attrs.field(default="", repr=False, eq=False)
    generated: Generated | None = None

    @property
    def documented(self) -> bool:
        return not self.doc.empty

    @property
    def full_name(self) -> str:
        return f"{self.namespace}.{self.name}" if self.namespace else self.name


@attrs.frozen(kw_only=True)
class SourceProblem:
    """Something wrong with a source file (a syntax error), at a 1-based line."""

    line: int
    message: str


@attrs.frozen(kw_only=True)
class Module:
    """One parsed source file.

    ``source`` is how the file is named in output (relative to the workflow
    folder when inside it). ``members`` are module-level functions and
    constants (Python). ``exports`` is Python's ``__all__`` when the module
    defines one. ``fatal`` is true when nothing could be documented (Python
    syntax errors); C# files with errors keep what tree-sitter recovered.
    """

    source: str
    language: Language
    doc: Doc = EMPTY_DOC
    types: tuple[Type, ...] = ()
    members: tuple[Member, ...] = ()
    exports: tuple[str, ...] | None = None
    problems: tuple[SourceProblem, ...] = ()
    fatal: bool = False


def attribute_text(attributes: tuple[str, ...], name: str) -> str:
    """The first string argument of attribute ``name`` (``Tooltip("Speed")`` -> ``Speed``)."""
    for attribute in attributes:
        if attribute_name(attribute) == name:
            start, end = attribute.find('"'), attribute.rfind('"')
            if 0 <= start < end:
                return attribute[start + 1 : end].replace('\\"', '"')
    return ""


def attribute_name(attribute: str) -> str:
    """``field: UnityEngine.SerializeField(...)`` -> ``SerializeField``."""
    name = attribute.split("(", 1)[0].strip()
    if ":" in name:
        name = name.split(":", 1)[1].strip()
    name = name.rsplit(".", 1)[-1]
    return name.removesuffix("Attribute") if name != "Attribute" else name
