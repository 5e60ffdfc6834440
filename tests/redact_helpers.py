"""Transformed copies of a secret, as providers have been seen to echo them."""

from __future__ import annotations

import base64
import json
from urllib.parse import quote, quote_plus


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def b64url(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode()


def transformed(key: str) -> dict[str, str]:
    """Each transformed form of ``key`` that redaction must hide, by a readable name."""
    return {
        "exact": key,
        "upper": key.upper(),
        "lower": key.lower(),
        "json": json.dumps(key)[1:-1],
        "json, non-ASCII kept": json.dumps(key, ensure_ascii=False)[1:-1],
        "json, slash escaped": json.dumps(key)[1:-1].replace("/", "\\/"),
        "url quote": quote(key),
        "url quote, nothing safe": quote(key, safe=""),
        "url quote_plus": quote_plus(key),
        "base64": b64(key),
        "base64 unpadded": b64(key).rstrip("="),
        "base64 urlsafe": b64url(key),
        "base64 urlsafe unpadded": b64url(key).rstrip("="),
        "base64 of Bearer KEY": b64(f"Bearer {key}"),
        "base64 of user:KEY": b64(f"user:{key}"),
        "base64 of a longer user:KEY": b64(f"deploy-bot:{key}"),
        "base64 of KEY:": b64(f"{key}:"),
        "urlsafe base64 of user:KEY": b64url(f"ab:{key}").rstrip("="),
        "base64 of a JSON document holding KEY": b64(json.dumps({"token": key})),
    }
