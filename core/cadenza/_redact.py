"""Redaction of secret values (API keys, ``${ENV}`` values) from anything we output.

A secret leaks in more shapes than its exact text: a provider that echoes the
request may quote it JSON-escaped (``\\/`` for ``/``), URL-encoded,
upper- or lower-cased, or base64-encoded inside an ``Authorization`` header
(``Bearer KEY``, ``user:KEY``). :func:`secret_forms` lists the forms hidden
for one secret; :func:`redact` hides every form of every secret. The forms of
a set of secrets are computed once and cached, since redaction runs on every
event, log line and error message.
"""

from __future__ import annotations

import base64
import functools
import json
import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote, quote_plus

import attrs

REDACTED = "***"

MIN_SECRET_LENGTH = 4
"""Shorter secrets are not redacted: hiding them would shred ordinary text and protect nothing."""

MIN_BASE64_FRAGMENT = 8
"""Base64 fragments shorter than this are not redacted (too likely to occur by chance)."""

_LONG_TEXT = 160
"""From this length on, plain substring search beats one regex over the whole text."""


def _base64_forms(raw: bytes) -> set[str]:
    """The base64 text that any encoding of bytes containing ``raw`` must contain.

    Where ``raw`` starts, modulo 3, decides how its bits fall into base64
    characters, so there are three fragments: the characters made only of
    ``raw``'s bits, for each alignment. They are found whatever surrounds the
    secret (``user:KEY``, ``Bearer KEY``, a JSON document), padded or not.
    """
    forms: set[str] = set()
    for offset in range(3):
        encoded = base64.b64encode(bytes(offset) + raw).decode("ascii")
        first = -(-8 * offset // 6)  # the first character with no padding bit in it
        last = 8 * (offset + len(raw)) // 6  # after the last character made of raw bits only
        fragment = encoded[first:last]
        if len(fragment) >= MIN_BASE64_FRAGMENT:
            forms.add(fragment)
    # Whole encodings of the usual credentials, so their edges are hidden too.
    for payload in (raw, b"Bearer " + raw, raw + b":"):
        encoded = base64.b64encode(payload).decode("ascii")
        forms.update((encoded, encoded.rstrip("=")))
    forms.update([f.replace("+", "-").replace("/", "_") for f in forms])  # urlsafe alphabet
    return forms


def _text_forms(text: str) -> set[str]:
    """``text`` as JSON (escaped, with ``\\/`` too) and URL encoding would write it."""
    forms = {text}
    for ensure_ascii in (True, False):
        escaped = json.dumps(text, ensure_ascii=ensure_ascii)[1:-1]
        forms.update((escaped, escaped.replace("/", "\\/")))
    forms.update((quote(text, safe=""), quote(text), quote_plus(text)))
    return forms


@functools.lru_cache(maxsize=256)
def secret_forms(secret: str) -> frozenset[str]:
    """Every form of ``secret`` that :func:`redact` hides; empty for a too-short secret.

    The exact text; its upper- and lower-cased copies; each of those JSON-escaped
    (``\\u00e9``, ``\\"``, ``\\/``) and URL-encoded (``quote`` and ``quote_plus``);
    and base64 (standard and urlsafe alphabets, with or without padding) of the
    secret, JSON-escaped or URL-encoded or not, wherever it sits in the encoded
    bytes, which covers ``Bearer KEY``, ``user:KEY`` and ``KEY:`` (see
    :func:`_base64_forms`).
    """
    if len(secret) < MIN_SECRET_LENGTH:
        return frozenset()
    forms: set[str] = set()
    for text in (secret, secret.upper(), secret.lower()):
        forms |= _text_forms(text)
    for text in _text_forms(secret):  # a JSON document or a URL may be what got encoded
        forms |= _base64_forms(text.encode("utf-8"))
    return frozenset(f for f in forms if len(f) >= MIN_SECRET_LENGTH)


@attrs.frozen
class _Needles:
    """Every form of a set of secrets: longest first, as one regex, and the shortest length."""

    forms: tuple[str, ...]
    pattern: re.Pattern[str]
    shortest: int


@functools.lru_cache(maxsize=64)
def _needles(secrets: frozenset[str]) -> _Needles | None:
    forms: set[str] = set()
    for secret in secrets:
        forms |= secret_forms(secret)
    if not forms:
        return None
    ordered = tuple(sorted(forms, key=lambda f: (-len(f), f)))
    pattern = re.compile("|".join(map(re.escape, ordered)))
    return _Needles(ordered, pattern, len(ordered[-1]))


def redact(value: Any, secrets: Iterable[str]) -> Any:
    """Return ``value`` with every form of every secret replaced by ``***``.

    Walks mappings, lists and tuples; replaces inside strings (a key embedded in
    a URL or a message is still a key). The forms are :func:`secret_forms`;
    secrets shorter than ``MIN_SECRET_LENGTH`` are ignored.
    """
    needles = _needles(secrets if isinstance(secrets, frozenset) else frozenset(secrets))
    if needles is None:
        return value
    return _walk(value, needles)


def _walk(value: Any, needles: _Needles) -> Any:
    if isinstance(value, str):
        if len(value) < needles.shortest:
            return value
        if len(value) < _LONG_TEXT:
            return needles.pattern.sub(REDACTED, value)
        for form in needles.forms:  # longest first, so a form inside another goes with it
            if form in value:
                value = value.replace(form, REDACTED)
        return value
    if isinstance(value, dict):
        return {_walk(k, needles): _walk(v, needles) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_walk(v, needles) for v in value)
    return value
