"""Python docstrings (plain, Google or NumPy style) to a :class:`Doc` in Markdown.

The first paragraph is the summary and the rest of the free text the
details. Recognised sections (``Args:``, ``Returns:``, ``Raises:``,
``Attributes:``, ``Examples:``... in Google style, or underlined headings in
NumPy style) become structured entries, so parameters can be shown in a table
beside their types. Unknown sections stay in the details as they were
written: we never drop what the author wrote. Sphinx roles
(``:class:`Inventory```) and RST literals (````x````) become code spans.
"""

from __future__ import annotations

import inspect
import re

import attrs

from ._model import Doc

_GOOGLE = re.compile(r"^([A-Z][A-Za-z ]*?)\s*:\s*$")
_UNDERLINE = re.compile(r"^\s*-{3,}\s*$")
_ROLE = re.compile(r":(?:[a-z]+:)?[a-z]+:`~?([^`]+)`")
_LITERAL = re.compile(r"``([^`]+)``")
_GOOGLE_ENTRY = re.compile(r"^(\*{0,2}[A-Za-z_][\w.]*)\s*(?:\(([^)]*)\))?\s*:\s*(.*)$")
_TYPE = re.compile(r"[\w.]+(?:\[[^\]]*\])?(?:\s*(?:\||or|,)\s*[\w.]+(?:\[[^\]]*\])?)*")
_TYPED_TEXT = re.compile(
    r"^([\w.]+(?:\[[^\]]*\])?(?:\s*\|\s*[\w.]+(?:\[[^\]]*\])?)*)\s*:\s+(.+)$", re.S
)

_SECTIONS = {
    "args": "params",
    "arguments": "params",
    "parameters": "params",
    "params": "params",
    "keyword args": "params",
    "keyword arguments": "params",
    "other parameters": "params",
    "returns": "returns",
    "return": "returns",
    "yields": "returns",
    "yield": "returns",
    "raises": "raises",
    "exceptions": "raises",
    "attributes": "attributes",
    "example": "example",
    "examples": "example",
}
_NOTES = {"note", "notes", "warning", "warnings", "see also", "todo", "references", "warns"}


@attrs.frozen(kw_only=True)
class PythonDoc:
    """A parsed docstring: the :class:`Doc`, plus the class attributes it describes."""

    doc: Doc
    attributes: tuple[tuple[str, str], ...] = ()


def parse_docstring(text: str | None) -> PythonDoc:
    """Parse a docstring as ``ast.get_docstring`` returns it (``None``: no docstring)."""
    if not text or not text.strip():
        return PythonDoc(doc=Doc())
    lines = inspect.cleandoc(text).splitlines()
    free: list[str] = []
    sections: list[_Section] = []
    current: list[str] = free
    index = 0
    while index < len(lines):
        heading = _heading(lines, index)
        if heading is not None:
            current = []
            sections.append(_Section(name=heading[0], numpy=heading[1], body=current))
            index += 2 if heading[1] else 1
            continue
        current.append(lines[index])
        index += 1
    return _assemble(free, sections)


@attrs.frozen(kw_only=True)
class _Section:
    name: str
    numpy: bool
    body: list[str]


def _heading(lines: list[str], index: int) -> tuple[str, bool] | None:
    """``(section name, NumPy style)`` when a section starts at ``lines[index]``."""
    line = lines[index]
    if line[:1].isspace() or not line.strip():
        return None
    following = lines[index + 1] if index + 1 < len(lines) else ""
    name = line.strip().lower()
    if _UNDERLINE.match(following) and (name in _SECTIONS or name in _NOTES):
        return name, True
    match = _GOOGLE.match(line)
    if match and (match.group(1).lower() in _SECTIONS or match.group(1).lower() in _NOTES):
        return match.group(1).lower(), False
    return None


def _assemble(free: list[str], sections: list[_Section]) -> PythonDoc:
    paragraphs = _paragraphs(free)
    summary = _inline(" ".join(paragraphs[0].split())) if paragraphs else ""
    details = [_inline(p) for p in paragraphs[1:]]
    params: list[tuple[str, str]] = []
    types: list[tuple[str, str]] = []
    attributes: list[tuple[str, str]] = []
    raises: list[tuple[str, str]] = []
    returns = ""
    example = ""
    for section in sections:
        name, body = section.name, section.body
        kind = _SECTIONS.get(name)
        if kind in ("params", "attributes"):
            entries = _entries(body, numpy=section.numpy)
            target = params if kind == "params" else attributes
            for entry_name, entry_type, entry_text in entries:
                target.append((entry_name, entry_text))
                if entry_type and kind == "params":
                    types.append((entry_name, entry_type))
        elif kind == "raises":
            entries = _entries(body, numpy=section.numpy, raises=True)
            raises.extend((n or t, text) for n, t, text in entries)
        elif kind == "returns":
            returns = _returns(body, numpy=section.numpy)
        elif kind == "example":
            example = _example(body)
        else:
            text = "\n\n".join(_inline(p) for p in _paragraphs(_dedent(body)))
            details.append(f"**{name.title()}:** {text}" if text else "")
    doc = Doc(
        summary=summary,
        details="\n\n".join(d for d in details if d),
        params=tuple(params),
        param_types=tuple(types),
        returns=returns,
        raises=tuple(raises),
        example=example,
    )
    return PythonDoc(doc=doc, attributes=tuple(attributes))


def _paragraphs(lines: list[str]) -> list[str]:
    paragraphs: list[list[str]] = [[]]
    for line in lines:
        if line.strip():
            paragraphs[-1].append(line.rstrip())
        elif paragraphs[-1]:
            paragraphs.append([])
    return ["\n".join(p) for p in paragraphs if p]


def _dedent(lines: list[str]) -> list[str]:
    indents = [len(line) - len(line.lstrip()) for line in lines if line.strip()]
    cut = min(indents, default=0)
    return [line[cut:] for line in lines]


def _entries(body: list[str], *, numpy: bool, raises: bool = False) -> list[tuple[str, str, str]]:
    """``(name, type, text)`` per entry: an entry starts at the section's own indentation."""
    lines = _dedent(body)
    entries: list[tuple[str, str, list[str]]] = []
    for line in lines:
        if not line.strip():
            continue
        if not line[:1].isspace():
            head = line.strip()
            entries.append(_numpy_head(head, raises) if numpy else _google_head(head))
        elif entries:
            entries[-1][2].append(line.strip())
    return [(n, t, _inline(" ".join(text))) for n, t, text in entries]


def _google_head(line: str) -> tuple[str, str, list[str]]:
    """``name (type): text``, ``name: text`` or, for Raises, ``ValueError: text``."""
    match = _GOOGLE_ENTRY.match(line)
    if match is None:
        return line, "", []
    return match.group(1), (match.group(2) or "").strip(), _list(match.group(3))


def _numpy_head(line: str, raises: bool) -> tuple[str, str, list[str]]:
    """``name : type`` (the text is indented below); Raises entries are bare class names."""
    if raises:
        return line, "", []
    name, _, type_text = line.partition(":")
    return name.strip(), type_text.strip(), []


def _list(text: str) -> list[str]:
    return [text] if text else []


def _returns(body: list[str], *, numpy: bool) -> str:
    lines = [line for line in _dedent(body) if line.strip()]
    if not lines:
        return ""
    if numpy and _is_type(lines[0]):
        # NumPy: a type line, its description indented below it.
        text = _inline(" ".join(x.strip() for x in lines[1:]))
        return f"`{lines[0].strip()}`: {text}" if text else f"`{lines[0].strip()}`"
    text = " ".join(line.strip() for line in lines)
    typed = _TYPED_TEXT.match(text)
    if typed:
        return f"`{typed.group(1)}`: {_inline(typed.group(2))}"
    return _inline(text)


def _is_type(line: str) -> bool:
    return bool(_TYPE.fullmatch(line.strip()))


def _example(body: list[str]) -> str:
    lines = _dedent(body)
    while lines and not lines[0].strip():
        lines.pop(0)
    while lines and not lines[-1].strip():
        lines.pop()
    if any(line.lstrip().startswith(">>>") for line in lines):
        return "```python\n" + "\n".join(lines) + "\n```"
    return "\n\n".join(_inline(p) for p in _paragraphs(lines))


def _inline(text: str) -> str:
    """Sphinx roles and RST double-backtick literals to Markdown code spans."""
    text = _ROLE.sub(lambda m: f"`{m.group(1).rsplit('.', 1)[-1]}`", text)
    return _LITERAL.sub(lambda m: f"`{m.group(1)}`", text)
