"""The engine's default TLS context: built once per process, off the trio thread.

Building an ``ssl.SSLContext`` loads a certificate bundle (certifi's, or
``SSL_CERT_FILE``/``SSL_CERT_DIR`` as httpx reads them): tens of
milliseconds of CPU. Built per client on the trio thread, each ``http``
agent's first https call froze the whole scheduler for that long (issue 18).
So every transport without a context of its own shares one, built in a
worker thread on the first https connection of the process; a context is
safe to share between connections, threads and runs. It is keyed by the two
variables, so a process that changes them (a test, a long-lived host) gets a
context that honours the new values.
"""

from __future__ import annotations

import os
import ssl
import threading

import httpx
import trio

_lock = threading.Lock()
_contexts: dict[tuple[str | None, str | None], ssl.SSLContext] = {}

builds = 0
"""How many contexts this process built (tests check there is one per setting)."""


def _key() -> tuple[str | None, str | None]:
    return os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR")


def build_default_context() -> ssl.SSLContext:
    """The shared context for the current settings, built now if needed (blocking: a thread)."""
    global builds
    key = _key()
    with _lock:  # two first calls at once build one context
        context = _contexts.get(key)
        if context is None:
            context = httpx.create_ssl_context()
            context.set_alpn_protocols(["http/1.1"])
            _contexts[key] = context
            builds += 1
        return context


async def default_ssl_context() -> ssl.SSLContext:
    """The shared context; the first call of a process builds it in a worker thread."""
    context = _contexts.get(_key())
    if context is not None:
        return context
    return await trio.to_thread.run_sync(build_default_context)
