"""An ``http`` agent's first call does not hold the trio thread (issue 18, item 2).

Building a client (the engine's first import, a TLS context's certificate
bundle) took 40-100 ms per agent on the trio thread, and no other agent's
call went out meanwhile. These tests check it structurally, never by the
clock: clients are built in worker threads, and all of them share one TLS
context, itself built in a worker thread.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import attrs
import httpx
import pytest
import trio
import trustme

from cadenza import _events as ev
from cadenza._agents import _clients
from cadenza._agents._http import HttpOptions
from cadenza._agents._transport import _tls
from cadenza._plugins._registry import load_plugins
from cadenza._scheduler._runner import run_workflow
from cadenza._spec._workflow import AgentConfig, Duration, Workflow
from cadenza.testing import open_seed_agent_server

from .scheduler_helpers import make_workflow
from .test_http_transport_tls import authority, no_proxies, open_tls_server

__all__ = ["authority", "no_proxies"]  # fixtures, imported to be used here

AGENTS = 10


def _ten_agents(url: str) -> Workflow:
    """Ten ``http`` agents, one step each, all allowed at once."""
    names = [f"agent{i}" for i in range(AGENTS)]
    shell = make_workflow({f"s{i}": {"uses": name} for i, name in enumerate(names)})
    agents = {
        name: AgentConfig(
            name=name,
            kind="http",
            options=HttpOptions(endpoint=url + "/v1/tasks", timeout=Duration(10)),
        )
        for name in names
    }
    return attrs.evolve(shell, agents=agents, concurrency=AGENTS)


async def test_ten_http_agents_build_their_clients_off_the_trio_thread(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Each agent's client is built once, in a worker thread; every call succeeds."""
    trio_thread = threading.get_ident()
    built_on: list[int] = []
    real = _clients.open_http_client

    def recording(**options: Any) -> httpx.AsyncClient:
        built_on.append(threading.get_ident())
        return real(**options)

    monkeypatch.setattr(_clients, "open_http_client", recording)
    events: list[ev.Event] = []
    async with open_seed_agent_server() as server:
        result = await run_workflow(
            _ten_agents(server.url),
            plugins=load_plugins(entry_points=False),
            observers=[events.append],
        )
    assert result.status == "succeeded", result.reason
    assert len(built_on) == AGENTS
    assert trio_thread not in built_on


async def test_https_clients_share_one_tls_context_built_off_the_trio_thread(
    authority: trustme.CA, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Ten clients' first https requests build one TLS context, in a worker thread."""
    trio_thread = threading.get_ident()
    built_on: list[int] = []
    real = httpx.create_ssl_context

    def recording(*args: Any, **kwargs: Any) -> Any:
        built_on.append(threading.get_ident())
        return real(*args, **kwargs)

    monkeypatch.setattr(httpx, "create_ssl_context", recording)
    async with open_tls_server(authority, "localhost") as (port, _, connections):
        clients = [
            _clients.open_http_client(timeout=10, connect_timeout=10, headers={})
            for _ in range(AGENTS)
        ]
        try:
            async with trio.open_nursery() as nursery:
                for http in clients:
                    nursery.start_soon(http.get, f"https://localhost:{port}/x")
        finally:
            for http in clients:
                await http.aclose()
    assert len(connections) == AGENTS  # each client made its own connection
    assert len(built_on) == 1  # ... with the one context (SSL_CERT_FILE is new to the process)
    assert built_on[0] != trio_thread
    assert _tls.build_default_context() is _tls.build_default_context()
