"""Expression text before CEL sees it: ``${{ }}`` in strings, and syntax errors.

A ``with:`` string is cut into literal text and ``${{ expr }}`` pieces here,
without the CEL parser: strings with no ``${{`` never reach it, ``$${{``
escapes are undone, and an unclosed or empty ``${{`` is reported by position.
The end of an expression is found by matching braces outside string literals,
so ``${{ {"a": "}}"} }}`` is one expression.

When the CEL parser does reject an expression, :func:`syntax_problem` turns
lark's error into a message with the position, what was expected, advice for
common slips (``=`` for ``==``, ``and`` for ``&&``) and a caret under the spot.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Final

import attrs

if TYPE_CHECKING:  # celpy and lark are imported when an expression is parsed, not before
    from celpy.celparser import CELParseError

__all__ = [
    "Piece",
    "expression_label",
    "only_space_around",
    "position_text",
    "split_expressions",
    "syntax_problem",
]

_OPEN: Final = re.compile(r"\$\$\{\{|\$\{\{")
_WORD_OPERATOR_BEFORE: Final = re.compile(r"\b(and|or|not)\s*\Z")
_TOKEN_NAMES: Final = {
    "COLON": "':'",
    "COMMA": "','",
    "DOT": "'.'",
    "IDENT": "a name",
    "LPAR": "'('",
    "LSQB": "'['",
    "RBRACE": "'}'",
    "RPAR": "')'",
    "RSQB": "']'",
}


@attrs.frozen
class Piece:
    """One ``${{ }}`` in a string: the expression's text, stripped."""

    text: str


def split_expressions(text: str) -> tuple[list[str | Piece], list[tuple[str, str]]]:
    """Cut a string into literal text (escapes undone) and expressions."""
    pieces: list[str | Piece] = []
    problems: list[tuple[str, str]] = []
    pos = 0
    for match in _OPEN.finditer(text):
        if match.start() < pos:
            continue  # inside an expression already consumed
        pieces.append(text[pos : match.start()])
        if match.group() == "$${{":
            pieces.append("${{")
            pos = match.end()
            continue
        close, unclosed_quote = _find_close(text, match.end())
        if close is None:
            where = position_text(text, match.start())
            if unclosed_quote is not None:
                problem = (
                    f"unterminated '${{{{' at {where}: the string literal at "
                    f"{position_text(text, unclosed_quote)} is not closed",
                    "close the quote, then the expression with }}",
                )
            else:
                problem = (
                    f"unterminated '${{{{' at {where}: no matching '}}}}'",
                    "close the expression with }}, or write $${{ for a literal ${{",
                )
            problems.append(problem)
            pieces.append(text[match.start() :])
            pos = len(text)
            break
        raw = text[match.end() : close]
        stripped = raw.strip()
        if not stripped:
            problems.append(
                (
                    f"empty '${{{{ }}}}' at {position_text(text, match.start())}",
                    "put an expression inside, e.g. ${{ inputs.topic }}, "
                    "or write $${{ for a literal ${{",
                )
            )
        pieces.append(Piece(stripped))
        pos = close + 2
    pieces.append(text[pos:])
    return [p for p in pieces if p != ""], problems


def _find_close(text: str, start: int) -> tuple[int | None, int | None]:
    """Index of the ``}}`` ending the expression at ``start``; else (None, open quote index)."""
    depth = 0
    i = start
    n = len(text)
    while i < n:
        char = text[i]
        if char in "'\"":
            quote = char * 3 if text.startswith(char * 3, i) else char
            j = i + len(quote)
            while j < n and not text.startswith(quote, j):
                j += 2 if text[j] == "\\" else 1
            if j >= n:
                return None, i
            i = j + len(quote)
            continue
        if char == "{":
            depth += 1
        elif char == "}":
            if depth:
                depth -= 1
            elif text.startswith("}}", i):
                return i, None
        i += 1
    return None, None


def only_space_around(pieces: list[str | Piece]) -> bool:
    """True when the text between the expressions is blank: the result keeps its type."""
    return all(isinstance(p, Piece) or not p.strip() for p in pieces)


def expression_label(text: str) -> str:
    """``${{ text }}`` on one line, shortened, to say which expression a problem is in."""
    text = " ".join(text.split())
    shown = text if len(text) <= 60 else text[:57] + "..."
    return f"${{{{ {shown} }}}}"


def syntax_problem(text: str, exc: CELParseError) -> tuple[str, str]:
    """celpy's parse error as (message, hint): where, what was expected, and a caret line."""
    from lark.exceptions import UnexpectedCharacters, UnexpectedToken

    cause = exc.__context__
    pos: int | None = None
    what = "invalid syntax"
    expected: set[str] = set()
    unexpected = ""
    if isinstance(cause, UnexpectedToken):
        token = cause.token
        if token.type == "$END":
            what = "unexpected end of expression"
            pos = len(text.rstrip())
        else:
            unexpected = str(token.value)
            what = f"unexpected {unexpected!r}"
            pos = token.start_pos
        expected = set(cause.expected or ())
    elif isinstance(cause, UnexpectedCharacters):
        unexpected = cause.char
        what = f"unexpected character {unexpected!r}"
        pos = cause.pos_in_stream
        expected = set(cause.allowed or ())
    if pos is None and exc.line is not None and exc.column is not None:
        lines = text.split("\n")
        pos = sum(len(line) + 1 for line in lines[: exc.line - 1]) + exc.column - 1

    message = "syntax error"
    if pos is not None:
        message += f" at {position_text(text, pos)}"
    message += f": {what}"
    if expected_text := _expected(expected):
        message += f"; expected {expected_text}"

    advice = _syntax_advice(text[:pos] if pos is not None else "", unexpected)
    context = _caret(text, pos) if pos is not None else text
    return message, f"{advice}\n{context}" if advice else context


def _expected(tokens: set[str]) -> str:
    """What the parser would have accepted, in words, when that is short enough to help."""
    if {"IDENT", "INT_LIT", "STRING_LIT"} <= tokens:
        return "a value"
    if {"PLUS", "STAR"} <= tokens:
        return "an operator or the end of the expression"
    if tokens and len(tokens) <= 4:
        return " or ".join(sorted(_TOKEN_NAMES.get(t, t) for t in tokens))
    return ""


def _syntax_advice(before: str, unexpected: str) -> str:
    """Advice for common mistakes, from the offending token and the text before it."""
    if unexpected == "=":
        return "compare with ==, not ="
    if unexpected == "$":
        return (
            "${{ }} belongs in with: values only; inside an expression, and in when:, "
            "write names directly, e.g. inputs.topic"
        )
    if unexpected in ("'", '"'):
        return "a string literal is not closed"
    if unexpected in ("and", "or", "not") or _WORD_OPERATOR_BEFORE.search(before):
        return "CEL writes and, or, not as &&, || and !"
    if unexpected in ("true", "false", "null", "in"):
        return f'{unexpected!r} is a keyword; to use it as a key, write ["{unexpected}"]'
    return ""


def position_text(text: str, pos: int) -> str:
    """``column 7``, or ``line 2, column 3`` in a multi-line expression."""
    line = text.count("\n", 0, pos) + 1
    column = pos - (text.rfind("\n", 0, pos) + 1) + 1
    return f"line {line}, column {column}" if "\n" in text else f"column {column}"


def _caret(text: str, pos: int) -> str:
    """The line holding ``pos`` with a ``^`` under it."""
    start = text.rfind("\n", 0, pos) + 1
    end = text.find("\n", pos)
    line = text[start : end if end >= 0 else len(text)]
    return f"{line}\n{' ' * (pos - start)}^"
