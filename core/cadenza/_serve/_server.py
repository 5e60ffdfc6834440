"""Serving the dashboard with hypercorn's trio worker, and stopping it cleanly."""

from __future__ import annotations

import logging
import secrets
from typing import Any

import trio
from hypercorn.config import Config
from hypercorn.trio import serve as hypercorn_serve

from .._journal._store import Store
from ._app import Dashboard, build_app
from ._approvals import DEFAULT_APPROVER
from ._auth import is_loopback, token_problem
from ._streams import MAX_STREAMS, MAX_STREAMS_PER_CLIENT

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8787
GRACEFUL_TIMEOUT = 3.0
"""Seconds open connections get to finish after a stop (streams end at once)."""


def new_token() -> str:
    return secrets.token_urlsafe(24)


def needs_token(host: str) -> bool:
    """Any bind that is not a loopback address needs a token."""
    return not is_loopback(host)


def _bind(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host and not host.startswith("[") else f"{host}:{port}"


async def serve_dashboard(
    store: Store,
    *,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    token: str | None = None,
    plugins: Any = None,
    stop: trio.Event | None = None,
    max_streams: int = MAX_STREAMS,
    max_streams_per_client: int = MAX_STREAMS_PER_CLIENT,
    approver: str = DEFAULT_APPROVER,
    read_only: bool = False,
    task_status: trio.TaskStatus[list[str]] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve the dashboard until ``stop`` is set (or the caller's scope is cancelled).

    Reports the bound URLs (``http://host:port``) through ``task_status``. A
    non-loopback ``host`` without ``token`` is refused (ValueError): the caller
    generates one; so is a token that could never log in (see ``token_problem``).
    At most ``max_streams`` live event streams are served at once, and
    ``max_streams_per_client`` per client address. On stop, live event streams
    send ``end`` and close first. With a ``token`` and not ``read_only``, the run
    pages' buttons decide approval gates as ``approver`` (see ``_approvals``);
    otherwise the dashboard only shows them.
    """
    if needs_token(host) and not token:
        raise ValueError(f"binding {host} needs a token")
    problem = None if token is None else token_problem(token)
    if problem is not None:
        raise ValueError(f"the dashboard token is unusable: {problem}")
    if max_streams < 1 or max_streams_per_client < 1:
        raise ValueError("max_streams and max_streams_per_client must be at least 1")
    dashboard = Dashboard(
        store,
        plugins=plugins,
        max_streams=max_streams,
        max_streams_per_client=max_streams_per_client,
        approver=approver if token is not None and not read_only else None,
    )
    config = Config()
    config.bind = [_bind(host, port)]
    config.accesslog = None  # request lines would carry ?token=...: never log them
    config.errorlog = logging.getLogger("cadenza.serve")
    config.graceful_timeout = GRACEFUL_TIMEOUT
    stop = stop if stop is not None else trio.Event()

    async def shutdown_trigger() -> None:
        await stop.wait()
        dashboard.stopping.set()

    try:
        await hypercorn_serve(
            build_app(dashboard, token=token),  # type: ignore[arg-type]
            config,
            shutdown_trigger=shutdown_trigger,
            task_status=task_status,
            mode="asgi",
        )
    finally:
        dashboard.stopping.set()
