"""The http agent's reading of 2xx bodies and its cookie-less client, against raw loopback servers.

A body with a ``Content-Length`` and no ``Content-Encoding`` is read whole
(its size is known and within the cap); an encoded one is decoded and bounded
as it is read, so a small gzip body that inflates past ``max_response_bytes``
still fails. The agent's client never stores a cookie a provider sets (calls
share no session); ``open_http_client`` keeps them unless asked not to.
"""

from __future__ import annotations

import gzip
import json
from typing import Any

import pytest
import trio

from cadenza import AgentConfig, AgentRequest, PermanentError
from cadenza._agents._http import HttpAgent, HttpOptions
from cadenza._spec._workflow import Duration
from cadenza.http import open_http_client

from .http_transport_helpers import ENGINES, Reader, ServerState, open_raw_server, response


def make_agent(url: str, **options: Any) -> HttpAgent:
    settings: dict[str, Any] = {
        "endpoint": url + "/v1/tasks",
        "timeout": Duration(2),
        "connect_timeout": Duration(2),
    }
    settings.update(options)
    config = AgentConfig(name="coder", kind="http", options=HttpOptions(**settings))
    return HttpAgent.from_config(config)


def make_request(step_id: str = "build") -> AgentRequest:
    return AgentRequest(
        run_id="run-1",
        step_id=step_id,
        task_type="t",
        inputs={"n": 1},
        attempt=1,
        idempotency_key=f"run-1/{step_id}",
    )


def answering(*headers: str, body: bytes) -> Any:
    async def handler(stream: trio.SocketStream, state: ServerState) -> None:
        reader = Reader(stream)
        while await reader.request(state) is not None:
            await stream.send_all(response(body, "200 OK", *headers))

    return handler


@pytest.fixture(params=ENGINES)
def engine(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("CADENZA_HTTP_ENGINE", request.param)
    return str(request.param)


async def test_a_content_length_body_is_read_whole_and_the_connection_reused(engine: str) -> None:
    """Plain bodies of known length: parsed, and the connection goes back to the pool."""
    body = json.dumps({"output": "x" * 5000, "confidence": 0.5}).encode()
    async with open_raw_server(answering(body=body)) as (url, state):
        agent = make_agent(url, max_response_bytes=len(body))  # exactly at the cap
        try:
            first = await agent.run(make_request("a"))
            second = await agent.run(make_request("b"))
        finally:
            await agent.aclose()
    assert first.output == second.output == "x" * 5000
    assert first.confidence == 0.5
    assert state.connections == 1


async def test_a_gzip_body_is_decoded(engine: str) -> None:
    """An encoded body goes through httpx's decoding, as before."""
    packed = gzip.compress(json.dumps({"output": [1, 2, 3]}).encode())
    async with open_raw_server(answering("Content-Encoding: gzip", body=packed)) as (url, _):
        agent = make_agent(url)
        try:
            result = await agent.run(make_request())
        finally:
            await agent.aclose()
    assert result.output == [1, 2, 3]


async def test_a_gzip_body_inflating_past_the_cap_fails(engine: str) -> None:
    """The cap bounds the decoded body: a 1 KiB gzip that inflates to 1 MiB is refused."""
    inflated = json.dumps({"output": "x" * (1024 * 1024)}).encode()
    packed = gzip.compress(inflated)
    assert len(packed) < 64 * 1024
    async with open_raw_server(answering("Content-Encoding: gzip", body=packed)) as (url, _):
        agent = make_agent(url, max_response_bytes=64 * 1024)
        try:
            with pytest.raises(PermanentError) as info:
                await agent.run(make_request())
        finally:
            await agent.aclose()
    assert "over max_response_bytes=65536" in str(info.value)
    assert "reading stopped after 65536 bytes" in str(info.value)


def cookie_setting(state_cookies: list[bytes]) -> Any:
    async def handler(stream: trio.SocketStream, state: ServerState) -> None:
        reader = Reader(stream)
        while (request := await reader.request(state)) is not None:
            head = request.split(b"\r\n\r\n")[0].lower()
            state_cookies.append(
                next((line for line in head.split(b"\r\n") if line.startswith(b"cookie:")), b"")
            )
            await stream.send_all(
                response(b'{"output": 1}', "200 OK", "Set-Cookie: session=abc; Path=/")
            )

    return handler


async def test_the_agent_never_sends_back_a_cookie_a_provider_set(engine: str) -> None:
    """Calls share no session: a provider's Set-Cookie does not reach the next call."""
    cookies: list[bytes] = []
    async with open_raw_server(cookie_setting(cookies)) as (url, _):
        agent = make_agent(url)
        try:
            for step in ("a", "b", "c"):
                assert (await agent.run(make_request(step))).output == 1
        finally:
            await agent.aclose()
    assert cookies == [b"", b"", b""]


@pytest.mark.parametrize("keep", [True, False])
async def test_open_http_client_keeps_cookies_unless_told_not_to(engine: str, keep: bool) -> None:
    """By default a client sends back the cookies servers set; ``cookies=False`` stores none."""
    cookies: list[bytes] = []
    async with (
        open_raw_server(cookie_setting(cookies)) as (url, _),
        open_http_client(timeout=2, connect_timeout=2, headers={}, cookies=keep) as client,
    ):
        for _ in range(2):
            (await client.post(url + "/v1")).raise_for_status()
        client.cookies.set("mine", "1")  # set on the client: always sent
        (await client.post(url + "/v1")).raise_for_status()
    assert cookies[0] == b""
    assert cookies[1] == (b"cookie: session=abc" if keep else b"")
    assert b"mine=1" in cookies[2]


async def test_the_agents_request_is_what_client_post_would_send(engine: str) -> None:
    """The agent builds its POST itself, once-per-agent parts cached: the bytes are httpx's.

    Same head (names, order, values; a configured Accept or User-Agent handled as
    httpx merges them) and body as ``client.post`` with the same headers sends.
    """
    configured = {"Accept": "text/plain", "X-Team": "games", "User-Agent": "mine/1"}
    async with open_raw_server(answering(body=b'{"output": 1}')) as (url, state):
        agent = make_agent(url, api_key="k-0123456789", headers=configured)
        try:
            for step in ("a", "b"):
                await agent.run(make_request(step))
        finally:
            await agent.aclose()
        client_headers = {**configured, "Authorization": "Bearer k-0123456789"}
        async with open_http_client(timeout=2, connect_timeout=2, headers=client_headers) as client:
            for step in ("a", "b"):
                payload = {"task_id": step, "task_type": "t", "data": {"n": 1}, "priority": 0}
                call_headers = {
                    "Content-Type": "application/json",
                    "Accept": "application/json",
                    "Idempotency-Key": f"run-1/{step}",
                    "X-Cadenza-Run": "run-1",
                    "X-Cadenza-Attempt": "1",
                }
                answer = await client.post(
                    url + "/v1/tasks", content=json.dumps(payload), headers=call_headers
                )
                answer.raise_for_status()
    by_agent, by_client = state.requests[:2], state.requests[2:]
    assert by_agent == by_client
    assert by_agent[0].lower().count(b"\r\naccept: application/json\r\n") == 1
    assert b"\r\nuser-agent: mine/1\r\n" in by_agent[0].lower()
