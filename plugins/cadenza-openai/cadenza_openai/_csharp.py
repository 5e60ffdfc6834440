"""A tolerant scan of C# source: its top-level types, where each sits, and how to split them.

Unity attaches a MonoBehaviour or ScriptableObject only from a file named
after its class, so a model's reply is written one public top-level type per
file, named after it. That needs to know which types a block declares and
where each begins and ends; a full C# parser would be large and brittle on a
model's half-finished code, so this is a tokenizer that skips comments,
strings (regular, verbatim, interpolated with nested holes, raw ``\"\"\"``),
character literals and preprocessor lines, then follows braces: a type is
top-level when every brace around it opens a namespace. Attributes and the
comment lines right above a declaration belong to it. Code it cannot make
sense of is passed over, never an error: the worst case is a file not split.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence

import attrs

TYPE_KEYWORDS = frozenset({"class", "struct", "interface", "enum", "record"})
"""Keywords that declare a type a file may be named after."""

_IDENT = re.compile(r"@?[^\W\d]\w*")
_NUMBER = re.compile(r"\d[\w.]*")
_BLANKS = re.compile(r"\n[ \t]*\n(?:[ \t]*\n)+")
_LEADING_BLANKS = re.compile(r"\A(?:[ \t]*\n)+")
_TRAILING_BLANKS = re.compile(r"\n(?:[ \t]*\n)+\Z")
_STRING_START = re.compile(r'[$@]{0,3}"+')
_CHAR = re.compile(r"'(?:\\(?:u[0-9A-Fa-f]{4}|U[0-9A-Fa-f]{8}|x[0-9A-Fa-f]{1,4}|.)|[^'\\\n])'")


@attrs.frozen
class Token:
    """An identifier, number or punctuation character, with its place in the source."""

    text: str
    start: int
    end: int


@attrs.frozen(kw_only=True)
class Declaration:
    """A top-level item: a type (``kind`` a type keyword) or anything else (``kind`` ``""``).

    ``start``..``end`` covers its attributes, the comment lines right above it
    and its whole body, through the end of its last line.
    """

    kind: str
    name: str
    public: bool
    start: int
    end: int


def _skip_line(text: str, i: int) -> int:
    end = text.find("\n", i)
    return len(text) if end < 0 else end


def _skip_block_comment(text: str, i: int) -> int:
    end = text.find("*/", i + 2)
    return len(text) if end < 0 else end + 2


def _skip_raw(text: str, i: int, quotes: int) -> int:
    end = text.find('"' * quotes, i + quotes)
    return len(text) if end < 0 else end + quotes


def _skip_hole(text: str, i: int) -> int:
    """The end of an interpolation hole opened at ``text[i] == '{'``."""
    depth = 0
    while i < len(text):
        char = text[i]
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if depth == 0:
                return i + 1
        elif char in "\"'@$" or text.startswith(("//", "/*"), i):
            nxt = _skip_literal(text, i)
            if nxt is not None:
                i = nxt
                continue
        i += 1
    return len(text)


def _skip_quoted(text: str, i: int, *, verbatim: bool, interpolated: bool) -> int:
    """The end of a string whose opening quote is ``text[i]``."""
    i += 1
    while i < len(text):
        char = text[i]
        if char == '"':
            if verbatim and text.startswith('""', i):
                i += 2
                continue
            return i + 1
        if char == "\\" and not verbatim:
            i += 2
            continue
        if char == "\n" and not verbatim:
            return i  # an unterminated string ends with its line
        if interpolated and char == "{":
            if text.startswith("{{", i):
                i += 2
                continue
            i = _skip_hole(text, i)
            continue
        i += 1
    return len(text)


def _skip_literal(text: str, i: int) -> int | None:
    """The end of the comment, string or character literal at ``i``, or None if there is none."""
    if text.startswith("//", i):
        return _skip_line(text, i)
    if text.startswith("/*", i):
        return _skip_block_comment(text, i)
    match = _STRING_START.match(text, i)
    if match:
        prefix = match.group().rstrip('"')
        quotes = len(match.group()) - len(prefix)
        if quotes >= 3:
            return _skip_raw(text, i + len(prefix), quotes)
        return _skip_quoted(
            text, i + len(prefix), verbatim="@" in prefix, interpolated="$" in prefix
        )
    if text[i] == "'":
        close = _CHAR.match(text, i)
        return close.end() if close else None
    return None


def tokens(text: str) -> Iterator[Token]:
    """The code tokens of ``text``, with comments, strings and preprocessor lines left out."""
    i = 0
    line_start = True
    while i < len(text):
        char = text[i]
        if char == "\n":
            line_start = True
            i += 1
            continue
        if char.isspace():
            i += 1
            continue
        if char == "#" and line_start:
            i = _skip_line(text, i)
            continue
        line_start = False
        end = _skip_literal(text, i)
        if end is not None:
            i = max(end, i + 1)
            continue
        match = _IDENT.match(text, i) or _NUMBER.match(text, i)
        if match:
            yield Token(match.group().lstrip("@"), i, match.end())
            i = match.end()
            continue
        yield Token(char, i, i + 1)
        i += 1


def code_only(text: str) -> str:
    """``text`` with comments, strings and preprocessor lines blanked (offsets kept)."""
    out = [" " if c != "\n" else "\n" for c in text]
    for token in tokens(text):
        out[token.start : token.end] = text[token.start : token.end]
    return "".join(out)


def _matching(toks: Sequence[Token], i: int, opening: str, closing: str) -> int:
    """The index of the token closing the one at ``i``, or the last index if it never closes."""
    depth = 0
    for j in range(i, len(toks)):
        if toks[j].text == opening:
            depth += 1
        elif toks[j].text == closing:
            depth -= 1
            if depth == 0:
                return j
    return len(toks) - 1


def _item_end(toks: Sequence[Token], i: int) -> int:
    """The last token of the item whose body search starts at ``i``: a ``;`` or a closing ``}``."""
    j = i
    while j < len(toks):
        text = toks[j].text
        if text == ";":
            return j
        if text == "(":
            j = _matching(toks, j, "(", ")") + 1
            continue
        if text == "{":
            close = _matching(toks, j, "{", "}")
            if close + 1 < len(toks) and toks[close + 1].text == ";":
                return close + 1
            return close
        if text == "}":  # a closing brace of the enclosing scope: the item was cut short
            return j - 1
        j += 1
    return len(toks) - 1


def _extend_start(text: str, start: int) -> int:
    """Move ``start`` back over its line's indentation and the comment lines right above it."""
    begin = text.rfind("\n", 0, start) + 1
    if text[begin:start].strip():
        return start
    while begin > 0:
        previous = text.rfind("\n", 0, begin - 1) + 1
        line = text[previous : begin - 1].strip()
        if not line.startswith(("//", "/*", "*")) and not line.endswith("*/"):
            break
        begin = previous
    return begin


def _extend_end(text: str, end: int) -> int:
    newline = text.find("\n", end)
    if newline < 0:
        return len(text)
    return newline + 1 if not text[end:newline].strip() else end


def declarations(text: str) -> list[Declaration]:
    """Every top-level item of ``text`` in order: types, delegates, global attributes.

    ``using`` directives and namespace headers are not items: they stay with
    every part when a file is split (:func:`split_types`).
    """
    toks = list(tokens(text))
    found: list[Declaration] = []
    depth_is_namespace: list[bool] = []
    i = 0
    while i < len(toks):
        word = toks[i].text
        if word == "}":
            if depth_is_namespace:
                depth_is_namespace.pop()
            i += 1
            continue
        if not all(depth_is_namespace):
            i += 1
            continue
        if word in ("using", "extern") or (word == "global" and _next(toks, i) == "using"):
            i = _item_end(toks, i) + 1
            continue
        if word == "namespace":
            j = i + 1
            while j < len(toks) and toks[j].text not in ("{", ";"):
                j += 1
            if j < len(toks) and toks[j].text == "{":
                depth_is_namespace.append(True)
            i = j + 1
            continue
        if word in (";", "{"):
            if word == "{":
                depth_is_namespace.append(False)
            i += 1
            continue
        i = _declaration(text, toks, i, found)
    return found


def _next(toks: Sequence[Token], i: int) -> str:
    return toks[i + 1].text if i + 1 < len(toks) else ""


def _declaration(text: str, toks: Sequence[Token], i: int, found: list[Declaration]) -> int:
    """Record the item starting at token ``i``; return the index after it."""
    first = i
    if toks[i].text == "[" and _next(toks, i) in ("assembly", "module"):
        close = _matching(toks, i, "[", "]")
        found.append(_make(text, toks, first, close, kind="", name="", public=False))
        return close + 1
    modifiers: set[str] = set()
    while i < len(toks):
        word = toks[i].text
        if word == "[":
            i = _matching(toks, i, "[", "]") + 1
            continue
        if word in TYPE_KEYWORDS or word == "delegate":
            break
        if word in ("{", "}", ";", "(", "="):
            break
        modifiers.add(word)
        i += 1
    if i >= len(toks) or toks[i].text not in TYPE_KEYWORDS:
        last = max(_item_end(toks, i), first) if i < len(toks) else len(toks) - 1
        found.append(_make(text, toks, first, last, kind="", name="", public=False))
        return last + 1
    kind = toks[i].text
    if kind == "record" and _next(toks, i) in ("class", "struct"):
        i += 1
    name_at = i + 1
    if name_at >= len(toks) or not _IDENT.fullmatch(toks[name_at].text):
        return name_at
    last = _item_end(toks, name_at + 1)
    found.append(
        _make(
            text,
            toks,
            first,
            last,
            kind=kind,
            name=toks[name_at].text,
            public="public" in modifiers and "file" not in modifiers,
        )
    )
    return last + 1


def _make(
    text: str, toks: Sequence[Token], first: int, last: int, *, kind: str, name: str, public: bool
) -> Declaration:
    return Declaration(
        kind=kind,
        name=name,
        public=public,
        start=_extend_start(text, toks[first].start),
        end=_extend_end(text, toks[last].end),
    )


def public_types(text: str) -> list[str]:
    """The names of the public top-level types ``text`` declares, each once, in order."""
    names: list[str] = []
    for item in declarations(text):
        if item.kind and item.public and item.name not in names:
            names.append(item.name)
    return names


def split_types(text: str) -> list[tuple[str, str]]:
    """``text`` as ``(type name, source)`` parts, one per public top-level type name.

    Every part keeps what surrounds the types (``using`` lines, namespace
    wrappers, preprocessor lines); the first part also keeps the non-public
    items (internal helpers, delegates, ``[assembly: ...]`` attributes), so
    nothing is lost or declared twice. Partial declarations of one name stay
    together. With fewer than two public names the text is one part (its
    name ``""`` when it declares no public type).
    """
    items = declarations(text)
    names: list[str] = []
    for item in items:
        if item.kind and item.public and item.name not in names:
            names.append(item.name)
    if len(names) < 2:
        return [(names[0] if names else "", text)]
    parts: list[tuple[str, str]] = []
    for index, name in enumerate(names):
        drop = [
            item
            for item in items
            if (item.kind and item.public and item.name != name)
            or (index > 0 and not (item.kind and item.public))
        ]
        pieces: list[str] = []
        position = 0
        for item in drop:
            kept = text[position : item.start]
            if kept.strip() or not pieces:  # items with only blanks between go as one
                pieces.append(kept)
            position = max(position, item.end)
        pieces.append(text[position:])
        source = _BLANKS.sub("\n\n", _join(pieces)).strip("\n") + "\n"
        parts.append((name, source))
    return parts


def _join(pieces: Sequence[str]) -> str:
    """Join what is left around removed items, without blank lines after ``{`` or before ``}``.

    Each seam looks back only to the last piece holding code, so a split
    stays linear in the file's length.
    """
    joined = [pieces[0]]
    for piece in pieces[1:]:
        last = _last_code(joined)
        if last is not None and joined[last].rstrip().endswith("{"):
            piece = _LEADING_BLANKS.sub("", piece)
        if last is not None and (piece.lstrip().startswith("}") or not piece.strip()):
            joined[last] = _TRAILING_BLANKS.sub("\n", joined[last])
            del joined[last + 1 :]
        joined.append(piece)
    return "".join(joined)


def _last_code(pieces: Sequence[str]) -> int | None:
    """The index of the last piece that is not only whitespace, or None."""
    for index in range(len(pieces) - 1, -1, -1):
        if pieces[index].strip():
            return index
    return None
