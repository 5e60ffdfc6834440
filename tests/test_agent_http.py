"""The http agent against a real loopback server speaking the seed protocol."""

from __future__ import annotations

import itertools
import logging
import re
import socket
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import attrs
import httpx
import pytest
import structlog
import trio

from cadenza import (
    AgentConfig,
    AgentRequest,
    AgentTimeoutError,
    PermanentError,
    RetryableError,
    SupportsHealth,
    Usage,
)
from cadenza._agents._clients import open_http_client, user_agent
from cadenza._agents._http import (
    DEFAULT_MAX_RESPONSE_BYTES,
    HttpAgent,
    HttpOptions,
)
from cadenza._spec._workflow import Duration
from cadenza.testing import (
    Drop,
    MalformedJson,
    Ok,
    SeedAgentServer,
    Stall,
    Status,
    serve_seed_agent,
)

KEY = "sk-test-0123456789abcdef"


def make_request(**overrides: Any) -> AgentRequest:
    fields: dict[str, Any] = {
        "run_id": "run-1",
        "step_id": "build",
        "task_type": "code_generator",
        "inputs": {"feature": "jump", "n": 2},
        "attempt": 1,
        "idempotency_key": "run-1/build",
        "priority": 10,
    }
    fields.update(overrides)
    return AgentRequest(**fields)


SHORT = Duration(0.3)
"""The timeout of the tests that want one to expire."""


def make_agent(url: str, **options: Any) -> HttpAgent:
    settings: dict[str, Any] = {
        "endpoint": url + "/v1/tasks",
        "api_key": KEY,
        # Roomy: a loaded machine can take a while to answer even on loopback. Tests
        # of timeouts pass short ones (SHORT) themselves.
        "timeout": Duration(5),
        "connect_timeout": Duration(5),
    }
    settings.update(options)
    config = AgentConfig(
        name="coder",
        kind="http",
        options=HttpOptions(**settings),
        capabilities=frozenset({"code"}),
        secrets=frozenset({KEY}),
    )
    return HttpAgent.from_config(config)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@pytest.fixture
async def server(nursery: trio.Nursery) -> SeedAgentServer:
    started: SeedAgentServer = await nursery.start(serve_seed_agent)
    return started


@pytest.fixture
async def agent(server: SeedAgentServer) -> AsyncIterator[HttpAgent]:
    agent = make_agent(server.url)
    yield agent
    await agent.aclose()


async def fails_with(agent: HttpAgent, error: type[Exception]) -> Any:
    with pytest.raises(error) as info:
        await agent.run(make_request())
    return info.value


async def test_run_posts_seed_payload_and_returns_the_echo(
    server: SeedAgentServer, agent: HttpAgent
) -> None:
    """A call POSTs {task_id, task_type, data, priority} and the JSON answer is the output."""
    result = await agent.run(make_request())
    assert result.output == {"task_id": "build", "echo": {"feature": "jump", "n": 2}}
    [call] = server.calls
    assert call.method == "POST"
    assert call.path == "/v1/tasks"
    assert call.json == {
        "task_id": "build",
        "task_type": "code_generator",
        "data": {"feature": "jump", "n": 2},
        "priority": 10,
    }
    assert call.headers["content-type"] == "application/json"


async def test_run_sends_auth_idempotency_and_cadenza_headers(
    server: SeedAgentServer, agent: HttpAgent
) -> None:
    """Bearer auth, the idempotency key, run id, attempt and user agent are sent."""
    await agent.run(make_request(attempt=3))
    [call] = server.calls
    assert call.authorization == f"Bearer {KEY}"
    assert call.idempotency_key == "run-1/build"
    assert call.headers["x-cadenza-run"] == "run-1"
    assert call.headers["x-cadenza-attempt"] == "3"
    assert call.headers["user-agent"] == user_agent()


async def test_custom_headers_are_sent_and_no_key_means_no_authorization(
    server: SeedAgentServer,
) -> None:
    """Configured headers go out with every request; without api_key no Authorization."""
    agent = make_agent(server.url, api_key=None, headers={"X-Team": "games"})
    try:
        await agent.run(make_request())
        assert await agent.health()
    finally:
        await agent.aclose()
    for call in [*server.calls, *server.health_checks]:
        assert "authorization" not in call.headers
        assert call.headers["x-team"] == "games"


async def test_output_envelope_maps_confidence_usage_and_cost(
    server: SeedAgentServer, agent: HttpAgent
) -> None:
    """An {"output": ...} body fills confidence, usage and cost."""
    server.faults.append(
        Ok(
            {
                "output": {"code": "ok"},
                "confidence": 0.75,
                "usage": {"input_tokens": 12, "output_tokens": 30},
                "cost_usd": 0.002,
            }
        )
    )
    result = await agent.run(make_request())
    assert result.output == {"code": "ok"}
    assert result.confidence == 0.75
    assert result.usage == Usage(input_tokens=12, output_tokens=30)
    assert result.cost_usd == 0.002
    assert not result.degraded


@pytest.mark.parametrize("body", [[1, 2, 3], {"result": "x"}, "text", 7, None])
async def test_any_other_json_body_is_the_output(
    server: SeedAgentServer, agent: HttpAgent, body: Any
) -> None:
    """A JSON body without an "output" key is the output as a whole."""
    server.faults.append(Ok(body))
    result = await agent.run(make_request())
    assert result.output == body
    assert result.usage == Usage()


async def test_unreadable_envelope_fields_are_ignored_and_logged(
    server: SeedAgentServer, agent: HttpAgent
) -> None:
    """Wrong-typed confidence, cost or usage are dropped with a warning, the output kept."""
    server.faults.append(Ok({"output": 1, "confidence": "high", "cost_usd": True, "usage": "lots"}))
    with structlog.testing.capture_logs() as logs:
        result = await agent.run(make_request())
    assert result.output == 1
    assert result.confidence is None
    assert result.cost_usd is None
    assert result.usage == Usage()
    fields = {e["field"] for e in logs if e["event"] == "agent_response_field_ignored"}
    assert fields == {"confidence", "cost_usd", "usage"}


async def test_429_with_retry_after_seconds_is_retryable(
    server: SeedAgentServer, agent: HttpAgent
) -> None:
    """429 raises RetryableError carrying the server's Retry-After in seconds."""
    server.faults.append(Status(429, retry_after=7, body="slow down"))
    error = await fails_with(agent, RetryableError)
    assert error.retry_after == 7
    assert "HTTP 429" in str(error)
    assert "slow down" in str(error)
    assert error.agent == "coder"
    assert error.step_id == "build"


async def test_429_with_retry_after_http_date_is_retryable(
    server: SeedAgentServer, agent: HttpAgent
) -> None:
    """An HTTP-date Retry-After becomes the seconds until that date."""
    server.faults.append(Status(429, retry_after=datetime.now(UTC) + timedelta(seconds=120)))
    error = await fails_with(agent, RetryableError)
    assert error.retry_after is not None
    assert 115 <= error.retry_after <= 120


async def test_503_is_retryable_and_garbage_retry_after_is_ignored(
    server: SeedAgentServer, agent: HttpAgent
) -> None:
    """503 is retryable; an unreadable Retry-After leaves retry_after unset."""
    server.faults.append(Status(503, retry_after="soon-ish"))
    error = await fails_with(agent, RetryableError)
    assert type(error) is RetryableError
    assert error.retry_after is None
    assert "HTTP 503" in str(error)


@pytest.mark.parametrize("code", [500, 502, 504, 408])
async def test_server_errors_and_408_are_retryable(
    server: SeedAgentServer, agent: HttpAgent, code: int
) -> None:
    """Other 5xx and 408 are retryable."""
    server.faults.append(Status(code, body={"error": "boom"}))
    error = await fails_with(agent, RetryableError)
    assert f"HTTP {code}" in str(error)
    assert '"error": "boom"' in str(error)


async def test_error_snippet_is_short(server: SeedAgentServer, agent: HttpAgent) -> None:
    """At most 200 characters of the body are quoted, whitespace collapsed."""
    server.faults.append(Status(500, body="line\n" + "x" * 5000))
    error = await fails_with(agent, RetryableError)
    snippet = str(error).split("HTTP 500: ", 1)[1]
    assert len(snippet) == 200
    assert snippet.startswith("line xxx")
    assert snippet.endswith("…")


@pytest.mark.parametrize("code", [400, 404, 409, 422])
async def test_other_4xx_are_permanent(
    server: SeedAgentServer, agent: HttpAgent, code: int
) -> None:
    """Client errors other than 408 and 429 are permanent."""
    server.faults.append(Status(code, body="no such task type"))
    error = await fails_with(agent, PermanentError)
    assert f"HTTP {code}: no such task type" in str(error)


@pytest.mark.parametrize("code", [401, 403])
async def test_auth_failure_is_permanent_and_never_shows_the_key(
    server: SeedAgentServer, agent: HttpAgent, code: int
) -> None:
    """401/403 hint at api_key and never quote the body, which may echo the key in any form."""
    server.faults.append(Status(code, body=f"invalid key {KEY} {KEY.upper()}"))
    error = await fails_with(agent, PermanentError)
    assert KEY not in str(error)
    assert KEY.upper() not in str(error)
    assert "invalid key" not in str(error)
    assert f"HTTP {code}: the provider refused the credentials" in str(error)
    assert "api_key" in str(error)
    assert "an api_key is set" in str(error)
    assert KEY not in repr(agent)
    assert KEY not in repr(agent.options)


async def test_redirect_is_permanent_and_names_the_target(
    server: SeedAgentServer, agent: HttpAgent
) -> None:
    """A 3xx is not followed; the error says where the endpoint moved."""
    server.faults.append(Status(308, headers={"location": "https://elsewhere.example/v2"}))
    error = await fails_with(agent, PermanentError)
    assert "https://elsewhere.example/v2" in str(error)


async def test_dropped_connection_is_retryable(server: SeedAgentServer, agent: HttpAgent) -> None:
    """A connection closed without an answer is retryable, and the next call recovers."""
    server.faults.append(Drop())
    error = await fails_with(agent, RetryableError)
    assert isinstance(error.__cause__, httpx.RemoteProtocolError)
    assert (await agent.run(make_request())).output["task_id"] == "build"


async def test_malformed_json_is_retryable(server: SeedAgentServer, agent: HttpAgent) -> None:
    """A 2xx answer whose body is not JSON is retryable and quotes the body."""
    server.faults.append(MalformedJson())
    error = await fails_with(agent, RetryableError)
    assert "not valid JSON" in str(error)
    assert '{"output"' in str(error)


async def test_stall_beyond_read_timeout_is_a_timeout(server: SeedAgentServer) -> None:
    """No answer within the read timeout raises AgentTimeoutError (retryable), not the stall."""
    server.faults.append(Stall(30))
    agent = make_agent(server.url, timeout=SHORT, connect_timeout=SHORT)
    try:
        start = trio.current_time()
        error = await fails_with(agent, AgentTimeoutError)
        assert trio.current_time() - start < 25, "it waited for the stall, not the timeout"
    finally:
        await agent.aclose()
    assert error.retryable
    assert "timeout=0.3s" in str(error)


async def test_connection_refused_is_retryable() -> None:
    """Nobody listening at the endpoint is a retryable error."""
    agent = make_agent(f"http://127.0.0.1:{free_port()}")
    try:
        error = await fails_with(agent, RetryableError)
    finally:
        await agent.aclose()
    assert isinstance(error.__cause__, httpx.ConnectError)
    assert KEY not in str(error)


async def test_inputs_that_are_not_json_are_permanent(agent: HttpAgent) -> None:
    """Inputs that cannot be encoded fail before any request is sent."""
    with pytest.raises(PermanentError, match="not JSON-serialisable"):
        await agent.run(make_request(inputs={"when": datetime.now(UTC)}))


async def test_sequential_calls_reuse_one_connection(
    server: SeedAgentServer, agent: HttpAgent
) -> None:
    """The agent's pool keeps the connection alive between calls."""
    for _ in range(3):
        await agent.run(make_request())
    assert await agent.health()
    assert server.connections == 1


async def test_concurrent_calls_share_the_agent(server: SeedAgentServer, agent: HttpAgent) -> None:
    """Concurrent calls run at once on one agent, each getting its own answer."""
    server.default = Stall(0.1)
    results: dict[str, Any] = {}

    async def call(step: str) -> None:
        results[step] = (await agent.run(make_request(step_id=step))).output

    async with trio.open_nursery() as nursery:
        for i in range(5):
            nursery.start_soon(call, f"s{i}")
    assert {k: v["task_id"] for k, v in results.items()} == {f"s{i}": f"s{i}" for i in range(5)}
    assert server.max_in_flight == 5


async def test_health_true_on_2xx_with_auth(server: SeedAgentServer, agent: HttpAgent) -> None:
    """health() GETs <endpoint>/health with the same auth and is True on 2xx."""
    assert isinstance(agent, SupportsHealth)
    assert await agent.health()
    [check] = server.health_checks
    assert check.method == "GET"
    assert check.path == "/v1/tasks/health"
    assert check.authorization == f"Bearer {KEY}"


async def test_health_path_is_configurable(server: SeedAgentServer) -> None:
    """health_path replaces /health; a trailing slash on the endpoint is ignored."""
    agent = make_agent(server.url, endpoint=server.url + "/v1/", health_path="/ready")
    try:
        assert await agent.health()
    finally:
        await agent.aclose()
    assert server.health_checks[0].path == "/v1/ready"


@pytest.mark.parametrize("fault", [Status(503), Status(404), Drop(), Stall(30)])
async def test_health_false_on_failure(server: SeedAgentServer, fault: Any) -> None:
    """A non-2xx answer, a dropped connection or a timeout make health() False."""
    server.health_faults.append(fault)
    agent = make_agent(server.url, timeout=SHORT, connect_timeout=SHORT)
    try:
        assert not await agent.health()
    finally:
        await agent.aclose()
    # Under load a 0.3 s timeout can expire before the check reaches the server,
    # leaving the fault unused: drop it, so the next answer is surely fine.
    server.health_faults.clear()
    agent = make_agent(server.url)  # the next answer is fine: no need to hurry it
    try:
        assert await agent.health()
    finally:
        await agent.aclose()


async def test_health_false_when_unreachable() -> None:
    """health() never raises for transport errors, and logs the failure."""
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.DEBUG))
    agent = make_agent(f"http://127.0.0.1:{free_port()}")
    try:
        with structlog.testing.capture_logs() as logs:
            assert not await agent.health()
    finally:
        await agent.aclose()
    [entry] = logs
    assert entry["event"] == "agent_health_check_failed"
    assert entry["error"] == "ConnectError"


async def test_aclose_closes_the_pool_and_a_later_call_reopens_it(
    server: SeedAgentServer, agent: HttpAgent
) -> None:
    """aclose() closes the connections; it is idempotent, and the agent can be used again."""
    await agent.run(make_request())
    await agent.aclose()
    await agent.aclose()
    await agent.run(make_request())
    assert server.connections == 2


async def test_from_config_takes_name_capabilities_and_secrets() -> None:
    """The agent keeps the config's name and capabilities; wrong options are a TypeError."""
    agent = make_agent("http://127.0.0.1:9")
    assert agent.name == "coder"
    assert agent.capabilities == frozenset({"code"})
    assert KEY in agent.secrets
    with pytest.raises(TypeError, match="options must be HttpOptions"):
        HttpAgent.from_config(AgentConfig(name="x", kind="http", options={"endpoint": "x"}))


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"endpoint": "localhost:8080"}, "endpoint: expected an absolute http"),
        ({"endpoint": "ftp://example.com"}, "endpoint: expected an absolute http"),
        ({"endpoint": "http://x", "health_path": "health"}, "health_path: expected a path"),
        ({"endpoint": "http://x", "headers": {"Bad Name": "v"}}, "not a valid HTTP header"),
        ({"endpoint": "http://x", "headers": {"X-Key": "a\nb"}}, "the value of .X-Key."),
    ],
)
def test_options_are_validated(options: dict[str, Any], message: str) -> None:
    """Bad endpoints, health paths and headers are refused with the field named."""
    with pytest.raises(ValueError, match=message):
        HttpOptions(**options)


def test_bad_api_key_is_refused_without_quoting_it() -> None:
    """A key with a newline (a common .env mistake) is refused; the message omits it."""
    with pytest.raises(ValueError, match="api_key") as info:
        HttpOptions(endpoint="http://x", api_key=KEY + "\n")
    assert KEY not in str(info.value)


def test_options_repr_hides_secrets() -> None:
    """Neither the key nor header values appear in the options' repr."""
    options = HttpOptions(endpoint="http://x", api_key=KEY, headers={"X-Api-Key": KEY})
    assert KEY not in repr(options)
    assert "X-Api-Key" in repr(options)


async def test_messages_omit_url_credentials_and_query(server: SeedAgentServer) -> None:
    """Userinfo and query string of the endpoint never reach error messages."""
    host = server.url.removeprefix("http://")
    agent = make_agent(server.url, endpoint=f"http://user:pw-9876@{host}/v1?token=tok-5432")
    server.faults.append(Status(500))
    try:
        error = await fails_with(agent, RetryableError)
    finally:
        await agent.aclose()
    assert f"POST http://{host}/v1: HTTP 500" in str(error)
    assert "pw-9876" not in str(error)
    assert "tok-5432" not in str(error)


async def test_open_http_client_sets_timeouts_and_user_agent() -> None:
    """The factory applies both timeouts and lets a configured User-Agent win."""
    async with open_http_client(timeout=2, connect_timeout=1, headers={}) as client:
        assert client.timeout == httpx.Timeout(2, connect=1)
        assert client.headers["user-agent"].startswith("cadenza/")
        assert not client.follow_redirects
    headers = {"user-agent": "mine"}
    async with open_http_client(timeout=2, connect_timeout=1, headers=headers) as client:
        assert client.headers.get_list("user-agent") == ["mine"]


CHUNK = 64 * 1024


@attrs.define
class BigBody:
    """A loopback provider answering every POST with a body of ``size`` bytes, streamed.

    The body is JSON (``{"output": "xxx..."}``) sent in 64 KiB chunks, chunked
    unless ``content_length`` is set. ``sent`` counts what reached the socket;
    ``done`` is set when the handler ends, ``closed_early`` if the client hung up first.
    """

    size: int
    status: int = 200
    content_length: bool = False
    sent: int = 0
    closed_early: bool = False
    done: trio.Event = attrs.field(factory=trio.Event)
    url: str = ""

    async def serve(self, *, task_status: trio.TaskStatus[BigBody]) -> None:
        listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
        self.url = f"http://127.0.0.1:{listeners[0].socket.getsockname()[1]}"
        task_status.started(self)
        await trio.serve_listeners(self._handle, listeners)

    async def _handle(self, stream: trio.SocketStream) -> None:
        request = b""
        while b"\r\n\r\n" not in request:
            request += await stream.receive_some(65536)
        head, _, body = request.partition(b"\r\n\r\n")
        length = int(re.search(rb"(?i)content-length: *(\d+)", head).group(1))  # type: ignore[union-attr]
        while len(body) < length:
            body += await stream.receive_some(65536)
        framing = "transfer-encoding: chunked"
        if self.content_length:
            framing = f"content-length: {self.size}"
        head = f"HTTP/1.1 {self.status} X\r\ncontent-type: application/json\r\n{framing}\r\n\r\n"
        await stream.send_all(head.encode())
        prefix, suffix = b'{"output": "', b'"}'
        filler = self.size - len(prefix) - len(suffix)
        fill = (b"x" * min(CHUNK, filler - i) for i in range(0, filler, CHUNK))  # lazily
        try:
            for piece in itertools.chain([prefix], fill, [suffix]):
                framed = piece if self.content_length else b"%x\r\n%s\r\n" % (len(piece), piece)
                await stream.send_all(framed)
                self.sent += len(piece)
            if not self.content_length:
                await stream.send_all(b"0\r\n\r\n")
            await stream.receive_some(1)  # wait for the client to hang up
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            self.closed_early = self.sent < self.size
        finally:
            self.done.set()
            await stream.aclose()


async def big_body(nursery: trio.Nursery, size: int, **options: Any) -> BigBody:
    started: BigBody = await nursery.start(BigBody(size, **options).serve)
    return started


@pytest.mark.parametrize("content_length", [False, True])
async def test_a_body_past_max_response_bytes_fails_and_reading_stops(
    nursery: trio.Nursery, content_length: bool
) -> None:
    """A 2xx body over the cap fails the attempt, naming the option; the rest is never read."""
    total = 256 * 1024 * 1024
    server = await big_body(nursery, total, content_length=content_length)
    agent = make_agent(server.url, max_response_bytes=1024 * 1024)
    try:
        error = await fails_with(agent, PermanentError)
    finally:
        await agent.aclose()
    with trio.fail_after(30):
        await server.done.wait()
    assert server.closed_early  # the agent hung up instead of draining 256 MiB
    assert server.sent < total // 4
    message = str(error)
    assert "http agent 'coder'" in message
    assert "max_response_bytes=1048576 (1 MiB)" in message
    assert "raise the agent's max_response_bytes option" in message
    if content_length:
        assert f"announces {total} bytes" in message


async def test_max_response_bytes_raises_the_cap(nursery: trio.Nursery) -> None:
    """A body above the default cap is read whole when max_response_bytes allows it."""
    size = DEFAULT_MAX_RESPONSE_BYTES + 1024
    too_small = make_agent((await big_body(nursery, size)).url)
    try:
        await fails_with(too_small, PermanentError)
    finally:
        await too_small.aclose()
    agent = make_agent((await big_body(nursery, size)).url, max_response_bytes=2 * size)
    try:
        result = await agent.run(make_request())
    finally:
        await agent.aclose()
    assert len(result.output) == size - len('{"output": ""}')


async def test_an_error_body_is_read_only_as_far_as_it_is_quoted(nursery: trio.Nursery) -> None:
    """A huge 5xx body is not read past ERROR_BODY_LIMIT; the error quotes its start."""
    server = await big_body(nursery, 64 * 1024 * 1024, status=500)
    agent = make_agent(server.url)
    try:
        error = await fails_with(agent, RetryableError)
    finally:
        await agent.aclose()
    with trio.fail_after(30):
        await server.done.wait()
    assert server.closed_early
    assert 'HTTP 500: {"output": "xxx' in str(error)
    assert len(str(error)) < 1000


def test_max_response_bytes_must_be_positive() -> None:
    """A zero, negative or non-integer cap is refused with the option named."""
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="max_response_bytes: expected a positive"):
            HttpOptions(endpoint="http://x", max_response_bytes=bad)  # type: ignore[arg-type]
