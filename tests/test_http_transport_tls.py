"""The HTTP engine's TLS (verification, SNI) and proxies from the environment, as httpx's.

TLS servers use a certificate authority made in the test (trustme); the
client trusts it through ``SSL_CERT_FILE``, as httpx reads it. The proxy is
a loopback server that answers what it is asked, recording the target.
"""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path

import httpx
import pytest
import trio
import trustme

from cadenza._agents._transport._proxies import environment_proxies
from cadenza.testing import Exchange, LoopbackRequest, LoopbackServer

from .http_transport_helpers import Reader, client, engine, keep_alive, open_raw_server, response

__all__ = ["engine"]  # the fixture, imported to be used here

VERIFY_FAILED = {"cadenza": "CERTIFICATE_VERIFY_FAILED", "httpx": None}
"""What the ConnectError says: httpx's stock transport loses the reason (an empty message)."""
PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY")


@pytest.fixture
def no_proxies(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """A clean slate: no proxy variable in either case."""
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    return monkeypatch


@asynccontextmanager
async def open_tls_server(
    authority: trustme.CA, hostname: str
) -> AsyncIterator[tuple[int, list[str | None], list[int]]]:
    """``(port, sni_names, connections)`` of a keep-alive https server for ``hostname``."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert(hostname).configure_cert(context)
    names: list[str | None] = []
    connections: list[int] = []
    context.sni_callback = lambda _sock, name, _context: names.append(name)  # type: ignore[assignment,misc]

    async def serve(stream: trio.SSLStream[trio.SocketStream]) -> None:
        connections.append(1)
        reader = Reader(stream)  # type: ignore[arg-type]
        try:
            while await reader.request() is not None:
                await stream.send_all(response(b"secret ok"))
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass

    async with trio.open_nursery() as nursery:
        listeners = await nursery.start(
            partial(
                trio.serve_ssl_over_tcp, serve, 0, context, host="127.0.0.1", https_compatible=True
            )
        )
        yield listeners[0].transport_listener.socket.getsockname()[1], names, connections
        nursery.cancel_scope.cancel()


@pytest.fixture
def authority(tmp_path: Path, no_proxies: pytest.MonkeyPatch) -> trustme.CA:
    """A certificate authority the client trusts (through ``SSL_CERT_FILE``)."""
    ca = trustme.CA()
    path = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    no_proxies.setenv("SSL_CERT_FILE", str(path))
    return ca


async def test_https_with_a_trusted_certificate_sends_sni_and_keeps_alive(
    engine: str, authority: trustme.CA
) -> None:
    """A certificate from a trusted CA is accepted, SNI names the host, the connection is reused."""
    async with (
        open_tls_server(authority, "localhost") as (port, names, connections),
        client() as http,
    ):
        for _ in range(3):
            assert (await http.get(f"https://localhost:{port}/x")).text == "secret ok"
    assert names == ["localhost"]
    assert len(connections) == 1


async def test_an_untrusted_certificate_is_a_connect_error(
    engine: str, no_proxies: pytest.MonkeyPatch
) -> None:
    """A certificate no trusted CA signed: ``httpx.ConnectError``, saying why."""
    async with open_tls_server(trustme.CA(), "localhost") as (port, _, _), client() as http:
        with pytest.raises(httpx.ConnectError, match=VERIFY_FAILED[engine]):
            await http.get(f"https://localhost:{port}/")


async def test_a_certificate_for_another_host_is_a_connect_error(
    engine: str, authority: trustme.CA
) -> None:
    """A trusted certificate for another name: ``httpx.ConnectError`` (hostname mismatch)."""
    async with open_tls_server(authority, "other.example") as (port, _, _), client() as http:
        with pytest.raises(httpx.ConnectError, match=VERIFY_FAILED[engine]):
            await http.get(f"https://localhost:{port}/")


class Proxy(LoopbackServer[LoopbackRequest]):
    """A forward proxy that answers every request itself (the test only checks routing)."""

    async def respond(self, request: LoopbackRequest, exchange: Exchange) -> bool:
        return await exchange.send(200, b"via proxy", {"content-type": "text/plain"})


async def test_http_proxy_from_the_environment_is_used(
    engine: str, no_proxies: pytest.MonkeyPatch
) -> None:
    """``HTTP_PROXY`` routes plain-http requests through the proxy, in absolute form."""
    proxy = Proxy()
    async with trio.open_nursery() as nursery:
        await nursery.start(proxy.serve)
        no_proxies.setenv("HTTP_PROXY", proxy.url)
        async with client() as http:
            answer = await http.get("http://api.example.invalid/v1/tasks?x=1")
        nursery.cancel_scope.cancel()
    assert answer.text == "via proxy"
    assert [r.path for r in proxy.requests] == ["http://api.example.invalid/v1/tasks?x=1"]


async def test_no_proxy_hosts_are_reached_directly(
    engine: str, no_proxies: pytest.MonkeyPatch
) -> None:
    """A host in ``NO_PROXY`` bypasses ``ALL_PROXY``: the engine itself connects."""
    proxy = Proxy()
    async with trio.open_nursery() as nursery:
        await nursery.start(proxy.serve)
        no_proxies.setenv("ALL_PROXY", proxy.url)
        no_proxies.setenv("NO_PROXY", "localhost,127.0.0.1")
        async with open_raw_server(keep_alive) as (url, state), client() as http:
            assert (await http.get(url)).text == "ok"
        nursery.cancel_scope.cancel()
    assert proxy.requests == []
    assert len(state.requests) == 1


@pytest.mark.parametrize(
    "variables",
    [
        {},
        {"HTTPS_PROXY": "proxy.local:3128"},
        {"HTTP_PROXY": "http://p:1", "NO_PROXY": "example.com, .corp.example,::1,10.0.0.1"},
        {"ALL_PROXY": "http://p:1", "NO_PROXY": "localhost,192.168.0.0/16,http://x.example"},
        {"ALL_PROXY": "http://p:1", "NO_PROXY": "*"},
    ],
)
def test_proxy_variables_are_read_as_httpx_reads_them(
    variables: dict[str, str], no_proxies: pytest.MonkeyPatch
) -> None:
    """The mounts Cadenza builds match httpx's own reading of the environment."""
    from httpx._utils import get_environment_proxies

    for name, value in variables.items():
        no_proxies.setenv(name, value)
    assert environment_proxies() == get_environment_proxies()
