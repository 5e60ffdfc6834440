"""The one place Cadenza creates HTTP clients.

Every built-in agent that talks HTTP gets its client from
:func:`open_http_client`, so timeouts, redirects, proxies and the user agent are
decided once, and swapping httpx for another client (measured in benchmarks/)
touches one function. Clients are created lazily, on first use inside the run,
never in an agent factory (factories run outside any async context).

Creating a client is not free: the first one imports the engine, and TLS
contexts load a certificate bundle. Built agents create theirs with
:func:`open_http_client` in a worker thread (``trio.to_thread``), so an agent's first
call never holds the trio thread (and every other agent's calls) meanwhile;
every client shares one TLS context per process (:mod:`._transport._tls`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from http.cookiejar import CookieJar
from typing import Any

import httpx

ENGINE_VARIABLE = "CADENZA_HTTP_ENGINE"
"""Environment variable choosing the engine under the client: ``cadenza`` (default) or ``httpx``."""
ENGINES = ("cadenza", "httpx")


def user_agent(product: str | None = None) -> str:
    """The ``User-Agent`` Cadenza sends: ``cadenza/<version> httpx/<version>``.

    A plugin names itself first with ``product`` (``"cadenza-openai/0.2"``), so
    server logs say who is calling.
    """
    from cadenza._version import __version__

    agent = f"cadenza/{__version__} httpx/{httpx.__version__}"
    return f"{product} {agent}" if product else agent


class _KeepNoCookies(CookieJar):
    """A cookie jar that ignores the ``Set-Cookie`` of responses.

    For clients whose calls share no session. httpx hands every response to
    its jar, and the standard jar rebuilds the response's headers as an email
    message to look for cookies: a noticeable part of a small call's CPU.
    Cookies set on the client or passed with a request are still sent.
    """

    def extract_cookies(self, response: Any, request: Any) -> None:
        return None


def open_http_client(
    *,
    timeout: float,
    connect_timeout: float,
    headers: Mapping[str, str],
    cookies: bool = True,
) -> httpx.AsyncClient:
    """Return a new client (one connection pool); the caller owns it and must ``aclose()`` it.

    ``timeout`` bounds each read, write and wait for a pooled connection;
    ``connect_timeout`` bounds opening a connection. Neither is a whole-call
    deadline: callers set those with trio cancel scopes. ``headers`` are sent with
    every request (a ``User-Agent`` is added unless given). Redirects are not
    followed: a POST that is redirected is reported, not silently replayed.
    Proxy settings come from the environment (``HTTPS_PROXY``, ``NO_PROXY``).
    With ``cookies=False`` the client never stores the cookies servers set
    (for calls that share no session; it also saves CPU on every response).

    Below httpx's API the wire is Cadenza's own HTTP/1.1 engine
    (:mod:`cadenza._agents._transport`, imported on first use), or httpx's
    stock transport when ``CADENZA_HTTP_ENGINE=httpx`` (docs/http.md#the-engine).
    """
    all_headers = httpx.Headers({"User-Agent": user_agent()})
    all_headers.update(headers)  # case-insensitive: a configured User-Agent wins
    limits = httpx.Timeout(timeout, connect=connect_timeout)
    jar = None if cookies else _KeepNoCookies()
    engine = os.environ.get(ENGINE_VARIABLE, "").strip().lower() or "cadenza"
    from ._transport._tls import build_default_context

    if engine == "httpx":
        return httpx.AsyncClient(
            timeout=limits,
            headers=all_headers,
            cookies=jar,
            follow_redirects=False,
            verify=build_default_context(),  # the process's one context, not one per client
        )
    if engine != "cadenza":
        raise ValueError(
            f"{ENGINE_VARIABLE}={os.environ[ENGINE_VARIABLE]!r} is not an HTTP engine: "
            "set it to 'cadenza' (the default) or 'httpx' (httpx's own transport), or unset it."
        )
    from ._transport._proxies import proxy_mounts
    from ._transport._transport import CadenzaTransport

    return httpx.AsyncClient(
        timeout=limits,
        headers=all_headers,
        cookies=jar,
        follow_redirects=False,
        transport=CadenzaTransport(),
        mounts=proxy_mounts(),
    )
