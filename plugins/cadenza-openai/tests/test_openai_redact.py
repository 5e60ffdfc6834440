"""Redaction in the plugin's messages hides transformed copies of a secret, as the kernel's does."""

from __future__ import annotations

import base64
import json
from urllib.parse import quote, quote_plus

from cadenza.http import redact


def test_redact_hides_transformed_copies_of_a_secret() -> None:
    """Re-cased, JSON-escaped, URL-encoded and base64 copies of a key are hidden too."""
    key = "sk-proj/0123+4567=abcdef"
    copies = [
        key.upper(),
        key.lower(),
        json.dumps(key)[1:-1].replace("/", "\\/"),
        quote(key, safe=""),
        quote_plus(key),
        base64.b64encode(key.encode()).decode(),
        base64.b64encode(f"Bearer {key}".encode()).decode(),
        base64.b64encode(f"someone:{key}".encode()).decode(),
        base64.urlsafe_b64encode(f"u:{key}".encode()).decode().rstrip("="),
    ]
    for copy in copies:
        assert copy not in redact(f"echo: {copy}.", [key]), copy
        assert "***" in redact(f"echo: {copy}.", [key])
