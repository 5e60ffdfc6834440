"""``reply: json``: ask for a JSON reply, and turn the reply's text into the value it holds.

A planner step needs structure, not prose: the list of files to write, say,
which a later ``for_each`` maps over. With ``reply: json`` the agent

- appends :data:`._messages.JSON_INSTRUCTIONS` to the system prompt (OpenAI refuses
  JSON mode unless a message says "JSON", and every model does better told);
- asks the server for JSON mode, ``response_format: {"type": "json_object"}``,
  unless ``extra_body`` already sets a ``response_format`` (a ``json_schema``,
  say). A server that does not know the field answers 400 or 422 naming it:
  :func:`rejects_response_format` recognises that answer, and the agent sends
  the same request once more without the field, and leaves it out of this
  agent's later calls;
- parses the reply with :func:`parse_json_reply`: the whole text, else the
  first fenced block labelled ``json`` (or unlabelled) that parses, since
  models wrap JSON in a fence now and then even when told not to.

A reply that holds no JSON raises :class:`NotJSONError`; the agent makes it a
retryable error quoting the start of the reply (another sample usually
parses), or a permanent one when the reply was cut at ``max_tokens``
(asking again would cut it again).
"""

from __future__ import annotations

import json
from typing import Any

import httpx

from ._codeblocks import extract_blocks

JSON_MODE = {"type": "json_object"}
"""The ``response_format`` a ``reply: json`` call sends (OpenAI's JSON mode)."""

_FENCE_LANGUAGES = frozenset({"", "json", "jsonc", "json5"})
_REJECTING_STATUSES = frozenset({400, 422})


class NotJSONError(ValueError):
    """The reply holds no JSON value; the message says why (the parser's complaint)."""


def parse_json_reply(text: str) -> Any:
    """The JSON value ``text`` holds: the whole of it, or its first fenced JSON block.

    Raises :class:`NotJSONError` when neither parses.
    """
    stripped = text.strip()
    if not stripped:
        raise NotJSONError("the reply is empty")
    try:
        return json.loads(stripped)
    except ValueError as exc:
        whole_error = exc
    for block in extract_blocks(stripped):
        if block.closed and block.language.lower() in _FENCE_LANGUAGES:
            try:
                return json.loads(block.content)
            except ValueError:
                continue
    raise NotJSONError(f"it does not parse as JSON ({whole_error})")


def rejects_response_format(response: httpx.Response) -> bool:
    """Whether a read error answer says the server does not accept ``response_format``.

    A 400 or 422 whose body names the field: OpenAI's ``"param":
    "response_format"``, a FastAPI server's validation error for an extra
    field, or a plain-text complaint all contain the name.
    """
    if response.status_code not in _REJECTING_STATUSES:
        return False
    return b"response_format" in response.content.lower()
