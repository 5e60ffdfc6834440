"""The one place this plugin creates HTTP clients.

Each agent owns one :class:`httpx.AsyncClient` (one connection pool, shared
by its concurrent calls), opened on first use inside the run and closed by
the agent's ``aclose()``: factories run outside any async context, so they
must not open anything. httpx's ``AsyncClient`` runs on trio.
"""

from __future__ import annotations

from collections.abc import Mapping

import httpx

import cadenza

from ._version import __version__


def user_agent() -> str:
    """``cadenza-openai/<v> cadenza/<v> httpx/<v>``: who is calling, for server logs."""
    return f"cadenza-openai/{__version__} cadenza/{cadenza.__version__} httpx/{httpx.__version__}"


def open_client(
    *,
    timeout: float,
    connect_timeout: float,
    api_key: str | None,
    headers: Mapping[str, str],
) -> httpx.AsyncClient:
    """Return a new client; the caller owns it and must ``aclose()`` it.

    ``timeout`` bounds each read, write and wait for a pooled connection (for
    a stream: the longest silence between chunks), ``connect_timeout`` opening
    a connection; whole-call deadlines are the kernel's cancel scopes.
    ``api_key`` is sent as ``Authorization: Bearer``; ``headers`` are added to
    every request and win over the defaults. Redirects are not followed (a
    redirected POST is reported, not replayed); proxies come from the
    environment (``HTTPS_PROXY``, ``NO_PROXY``).
    """
    all_headers = httpx.Headers({"User-Agent": user_agent()})
    if api_key:
        all_headers["Authorization"] = f"Bearer {api_key}"
    all_headers.update(headers)
    return httpx.AsyncClient(
        timeout=httpx.Timeout(timeout, connect=connect_timeout),
        headers=all_headers,
        follow_redirects=False,
    )
