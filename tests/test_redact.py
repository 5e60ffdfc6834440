"""Redaction: every transformed form of a secret is hidden, not only its exact text."""

from __future__ import annotations

import base64
import json
from urllib.parse import quote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cadenza._redact import MIN_SECRET_LENGTH, REDACTED, redact, secret_forms

from .redact_helpers import b64, transformed

KEY = "sk-live/0123+4567=abcdefXYZ é"


TRANSFORMS = transformed(KEY)


@pytest.mark.parametrize("name", TRANSFORMS)
def test_each_transformed_form_of_a_secret_is_redacted(name: str) -> None:
    """A key echoed JSON-escaped, URL-encoded, re-cased or base64-encoded is hidden."""
    form = TRANSFORMS[name]
    text = f"the server said: invalid credentials <{form}> (request 42)"
    redacted = redact(text, {KEY})
    assert form not in redacted
    assert REDACTED in redacted
    assert redacted.startswith("the server said: invalid credentials <")
    assert redacted.endswith("> (request 42)")


def test_forms_are_redacted_in_long_texts_and_nested_data() -> None:
    """Long strings (the substring path) and strings inside mappings and lists are covered too."""
    long_text = "x" * 5000 + b64(f"user:{KEY}") + "y" * 5000 + quote(KEY)
    value = {"body": [long_text, {"echo": KEY.upper()}], json.dumps(KEY)[1:-1]: 1}
    redacted = redact(value, frozenset({KEY}))
    flat = json.dumps(redacted)
    for form in (KEY, KEY.upper(), b64(f"user:{KEY}"), quote(KEY), json.dumps(KEY)[1:-1]):
        assert form not in flat
    assert redacted["body"][0].startswith("x" * 5000)


def test_short_secrets_are_left_alone() -> None:
    """A secret shorter than the minimum has no forms: redacting it would shred ordinary text."""
    assert secret_forms("abc") == frozenset()
    assert redact("abc ABC YWJj", {"abc"}) == "abc ABC YWJj"
    assert len("abcd") == MIN_SECRET_LENGTH
    assert redact("key abcd", {"abcd"}) == "key ***"


def test_ordinary_text_is_untouched() -> None:
    """Text holding no form of a secret comes back equal."""
    text = "HTTP 500: upstream failed; retry later. c2stbGl2ZS is not a whole fragment"
    assert redact(text, {KEY}) == text
    assert redact({"a": [1, 2.5, None, True]}, {KEY}) == {"a": [1, 2.5, None, True]}


@given(
    secret=st.text(alphabet=st.characters(blacklist_categories=("Cs",)), min_size=8, max_size=40),
    user=st.text(max_size=12),
    padding=st.sampled_from(["", "="]),
)
def test_base64_of_basic_auth_never_leaks_the_secret(secret: str, user: str, padding: str) -> None:
    """Whatever the user name (wherever the secret falls in the encoding), its base64 is hidden."""
    encoded = b64(f"{user}:{secret}")
    if not padding:
        encoded = encoded.rstrip("=")
    redacted = redact(f"Authorization: Basic {encoded}", {secret})
    # What is left of the encoding decodes to at most a few bits of the secret's edges.
    fragment = base64.b64encode(secret.encode()).decode()[1:-3]
    assert fragment not in redacted
    assert encoded not in redacted
