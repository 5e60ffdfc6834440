"""cadenza.testing's loopback servers: the LoopbackServer base, and the seed-protocol server
built on it (echo, fault plan, records, keep-alive, shutdown)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import trio
import trio.lowlevel
import trio.testing

from cadenza.testing import (
    Drop,
    Exchange,
    LoopbackRequest,
    LoopbackServer,
    MalformedJson,
    Ok,
    SeedAgentServer,
    SeedCall,
    Stall,
    Status,
    open_seed_agent_server,
    serve_seed_agent,
)

TASK = {"task_id": "build", "task_type": "code", "data": {"x": 1}, "priority": 5}


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=2) as client:
        yield client


async def post(client: httpx.AsyncClient, server: SeedAgentServer, **kw: Any) -> httpx.Response:
    kw.setdefault("json", TASK)
    return await client.post(server.url + "/tasks", **kw)


async def test_default_answer_echoes_the_task(client: httpx.AsyncClient) -> None:
    """POST answers 200 {"output": {"task_id", "echo": data}}."""
    async with open_seed_agent_server() as server:
        response = await post(client, server)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"output": {"task_id": "build", "echo": {"x": 1}}}
    assert server.url.startswith("http://127.0.0.1:")


async def test_calls_are_recorded_with_headers_body_and_answer(
    client: httpx.AsyncClient, nursery: trio.Nursery
) -> None:
    """Each POST is recorded with path, unredacted headers, JSON, key, time and answer."""
    server: SeedAgentServer = await nursery.start(serve_seed_agent)
    headers = {"Authorization": "Bearer k-123", "Idempotency-Key": "run/build"}
    await post(client, server, headers=headers)
    [call] = server.calls
    assert isinstance(call, SeedCall)
    assert (call.method, call.path) == ("POST", "/tasks")
    assert call.authorization == "Bearer k-123"
    assert call.idempotency_key == "run/build"
    assert call.json == TASK
    assert json.loads(call.body) == TASK
    assert call.at <= trio.current_time()
    assert call.response == Ok()


async def test_scripted_faults_are_used_in_order_then_the_default(
    client: httpx.AsyncClient,
) -> None:
    """faults answer one POST each, in arrival order; then default answers."""
    faults = [Status(429, retry_after=3), Status(500, body={"e": 1}), Ok({"output": "x"})]
    async with open_seed_agent_server(faults=faults, default=Status(404)) as server:
        answers = [await post(client, server) for _ in range(4)]
    assert [r.status_code for r in answers] == [429, 500, 200, 404]
    assert answers[0].headers["retry-after"] == "3"
    assert answers[1].json() == {"e": 1}
    assert answers[2].json() == {"output": "x"}
    assert [c.response for c in server.calls] == [*faults, Status(404)]


async def test_status_retry_after_forms(client: httpx.AsyncClient) -> None:
    """retry_after is sent as seconds, HTTP-date or verbatim; extra headers pass through."""
    when = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
    faults = [
        Status(503, retry_after=1.5),
        Status(503, retry_after=when),
        Status(503, retry_after="later", body="text", headers={"X-Why": "maintenance"}),
    ]
    async with open_seed_agent_server(faults=faults) as server:
        answers = [await post(client, server) for _ in range(3)]
    assert answers[0].headers["retry-after"] == "1.5"
    assert answers[1].headers["retry-after"] == "Wed, 02 Jan 2030 03:04:05 GMT"
    assert answers[2].headers["retry-after"] == "later"
    assert answers[2].headers["x-why"] == "maintenance"
    assert answers[2].text == "text"


async def test_drop_closes_without_an_answer(client: httpx.AsyncClient) -> None:
    """Drop closes the connection; the client sees a protocol error, then recovers."""
    async with open_seed_agent_server(faults=[Drop()]) as server:
        with pytest.raises(httpx.RemoteProtocolError):
            await post(client, server)
        assert (await post(client, server)).status_code == 200


async def test_malformed_json_is_a_truncated_body(client: httpx.AsyncClient) -> None:
    """MalformedJson answers 200 application/json with a body that does not parse."""
    async with open_seed_agent_server(faults=[MalformedJson()]) as server:
        response = await post(client, server)
    assert response.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        response.json()


async def test_stall_delays_the_answer_past_a_client_timeout() -> None:
    """Stall waits before answering, so a short client read timeout fires."""
    async with (
        open_seed_agent_server(faults=[Stall(5)]) as server,
        httpx.AsyncClient(timeout=0.2) as client,
    ):
        with pytest.raises(httpx.ReadTimeout):
            await post(client, server)
        assert (await post(client, server)).status_code == 200


async def test_stall_then_answers_the_given_response(client: httpx.AsyncClient) -> None:
    """Stall(seconds, then=...) answers ``then`` after the wait."""
    async with open_seed_agent_server(faults=[Stall(0.05, then=Status(502))]) as server:
        start = trio.current_time()
        assert (await post(client, server)).status_code == 502
    assert trio.current_time() - start >= 0.05


async def test_chaos_is_reproducible_with_a_seed(client: httpx.AsyncClient) -> None:
    """Random faults drawn with the same seed repeat exactly."""
    chaos = [(0.3, Status(503)), (0.2, Drop())]

    async def codes(seed: int) -> list[int]:
        out = []
        async with open_seed_agent_server(chaos=chaos, seed=seed) as server:
            for _ in range(30):
                try:
                    out.append((await post(client, server)).status_code)
                except httpx.RemoteProtocolError:
                    out.append(0)
        return out

    first = await codes(7)
    assert first == await codes(7)
    assert {0, 200, 503} == set(first)
    with pytest.raises(ValueError, match="add up to more than 1"):
        SeedAgentServer(chaos=[(0.6, Drop()), (0.6, Drop())])


async def test_handler_decides_first_and_none_falls_through(client: httpx.AsyncClient) -> None:
    """A handler (sync or async) answers per call; returning None uses the fault plan."""

    def by_task(call: SeedCall) -> Any:
        return Status(418) if call.json["task_id"] == "teapot" else None

    async def slow(call: SeedCall) -> Any:
        await trio.lowlevel.checkpoint()
        return Ok({"output": call.json["priority"]})

    async with open_seed_agent_server(handler=by_task, faults=[Status(500)]) as server:
        teapot = await post(client, server, json={**TASK, "task_id": "teapot"})
        other = await post(client, server)
    assert (teapot.status_code, other.status_code) == (418, 500)
    async with open_seed_agent_server(handler=slow) as server:
        assert (await post(client, server)).json() == {"output": 5}


async def test_health_checks_answer_ok_or_scripted_faults(client: httpx.AsyncClient) -> None:
    """GET answers {"status": "ok"} unless health_faults or health_default say otherwise."""
    async with open_seed_agent_server(health_faults=[Status(503), Stall(0.01)]) as server:
        url = server.url + "/tasks/health"
        codes = [(await client.get(url)).status_code for _ in range(3)]
        server.health_default = Status(500)
        codes.append((await client.get(url)).status_code)
        ok = await client.get(url.replace("/tasks/health", "/health"))
    assert codes == [503, 200, 200, 500]
    assert ok.status_code == 500
    assert [c.path for c in server.health_checks][:1] == ["/tasks/health"]
    assert server.calls == []


async def test_bad_requests_are_refused(client: httpx.AsyncClient) -> None:
    """A non-JSON POST body gets 400 from the echo; other methods get 405."""
    async with open_seed_agent_server() as server:
        bad = await client.post(server.url, content=b"not json")
        put = await client.put(server.url, json=TASK)
    assert bad.status_code == 400
    assert "task_id" in bad.json()["error"]
    assert put.status_code == 405


async def test_keep_alive_and_concurrent_connections() -> None:
    """Sequential calls reuse a connection; concurrent ones are served at once."""
    async with (
        open_seed_agent_server(default=Stall(0.2)) as server,
        httpx.AsyncClient(timeout=2) as client,
    ):
        start = trio.current_time()
        async with trio.open_nursery() as nursery:
            for _ in range(8):
                nursery.start_soon(post, client, server)
        assert trio.current_time() - start < 1.0
        assert server.max_in_flight == 8
        connections = server.connections
        server.default = Ok()
        for _ in range(3):
            await post(client, server)
        assert server.connections == connections
        await trio.testing.wait_all_tasks_blocked()
        assert server.in_flight == 0


async def test_cancelling_the_nursery_stops_the_server(client: httpx.AsyncClient) -> None:
    """Cancelling the server's scope ends it and its connections, even mid-stall."""
    scope = trio.CancelScope()

    async def run_server(task_status: trio.TaskStatus[SeedAgentServer]) -> None:
        with scope:
            await serve_seed_agent(task_status=task_status, default=Stall(60))

    async def cancel_soon() -> None:
        await trio.sleep(0.1)
        scope.cancel()

    async with trio.open_nursery() as nursery:
        server: SeedAgentServer = await nursery.start(run_server)
        nursery.start_soon(cancel_soon)
        start = trio.current_time()
        with pytest.raises(httpx.RemoteProtocolError):
            await post(client, server)
        assert trio.current_time() - start < 1
    with pytest.raises(httpx.ConnectError):
        await post(client, server)


class _Greeter(LoopbackServer[LoopbackRequest]):
    """A fake provider in a few lines: JSON at /api/hello, a chunked body at /api/stream."""

    url_path = "/api"

    async def respond(self, request: LoopbackRequest, exchange: Exchange) -> bool:
        if request.path == "/api/stream":
            await exchange.start(200, {"Content-Type": "text/plain"})
            for piece in (b"one ", b"two"):
                await exchange.write(piece)
            return await exchange.end()
        return await exchange.send_json(201, {"got": request.json, "key": request.authorization})


async def test_loopback_server_subclass_answers_and_records_requests(
    client: httpx.AsyncClient, nursery: trio.Nursery
) -> None:
    """A LoopbackServer subclass answers in respond(); every request is read whole and kept."""
    server: _Greeter = await nursery.start(_Greeter().serve)
    assert server.url.startswith("http://127.0.0.1:")
    assert server.url.endswith("/api")
    hello = await client.post(f"{server.url}/hello", json={"a": 1}, headers={"X-K": "v"})
    streamed = await client.get(f"{server.url}/stream", headers={"Authorization": "Bearer t"})
    assert hello.status_code == 201
    assert hello.headers["content-type"] == "application/json"
    assert hello.json() == {"got": {"a": 1}, "key": None}
    assert streamed.text == "one two"
    assert streamed.headers["transfer-encoding"] == "chunked"
    first, second = server.requests
    assert (first.method, first.path, first.json, first.body) == (
        "POST",
        "/api/hello",
        {"a": 1},
        b'{"a":1}',
    )
    assert first.headers["x-k"] == "v"
    assert (second.method, second.json, second.authorization) == ("GET", None, "Bearer t")
    assert server.connections == 1  # the chunked answer left the connection reusable


async def test_next_scripted_asks_the_handler_then_the_queue_then_the_default() -> None:
    """handler(request) wins unless it returns None (sync, async); then the queue; then default."""
    server = _Greeter()
    request = LoopbackRequest(method="POST", path="/", headers={}, body=b"", json=None, at=0.0)

    async def async_handler(request: LoopbackRequest) -> str:
        return "async"

    queue = ["first"]
    assert await server.next_scripted(request, lambda r: "sync", queue, "default") == "sync"
    assert await server.next_scripted(request, async_handler, queue, "default") == "async"
    assert await server.next_scripted(request, lambda r: None, queue, "default") == "first"
    assert await server.next_scripted(request, None, queue, "default") == "default"
    assert queue == []
