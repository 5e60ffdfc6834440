"""``cadenza serve``: a web dashboard over the journal (runs, live DAGs, steps, metrics).

See docs/dashboard.md. Private: the command line is the interface.
"""

from __future__ import annotations

from ._app import Dashboard, build_app
from ._auth import token_problem
from ._server import DEFAULT_HOST, DEFAULT_PORT, needs_token, new_token, serve_dashboard

__all__ = [
    "DEFAULT_HOST",
    "DEFAULT_PORT",
    "Dashboard",
    "build_app",
    "needs_token",
    "new_token",
    "serve_dashboard",
    "token_problem",
]
