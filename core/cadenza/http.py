"""HTTP helpers for agents that talk HTTP, built-in or from a plugin.

One client factory, one mapping of HTTP answers onto Cadenza's typed errors,
one redaction of secrets, one check of a ``headers:`` option, one bounded
body read and one health check: plugins use these instead of copying them (see
docs/http.md).
"""

from __future__ import annotations

from ._agents._clients import open_http_client as open_http_client
from ._agents._clients import user_agent as user_agent
from ._agents._http_errors import clip as clip
from ._agents._http_errors import error_for_status as error_for_status
from ._agents._http_errors import parse_retry_after as parse_retry_after
from ._agents._http_errors import safe_url as safe_url
from ._agents._http_support import check_headers as check_headers
from ._agents._http_support import check_health as check_health
from ._agents._http_support import header_names as header_names
from ._agents._http_support import read_at_most as read_at_most
from ._public import publish as _publish
from ._redact import redact as redact
from ._redact import secret_forms as secret_forms

__all__ = [
    "check_headers",
    "check_health",
    "clip",
    "error_for_status",
    "header_names",
    "open_http_client",
    "parse_retry_after",
    "read_at_most",
    "redact",
    "safe_url",
    "secret_forms",
    "user_agent",
]


_publish(globals(), __all__, __name__)
