"""A loopback OpenAI-compatible server for the seed example's test: no network, no key.

The essentials of ``plugins/cadenza-openai/tests/fake_openai.py`` (which a
plugin's tests own, so it is not imported from here): ``await
nursery.start(FakeOpenAI(api_key=...).serve)`` listens on 127.0.0.1 (port 0)
and sets ``url`` to ``http://127.0.0.1:PORT/v1``. ``POST
/v1/chat/completions`` answers by the task the prompt names (the
cadenza-openai agent's default prompt begins ``Task: <type>``): C# files in
fenced blocks for ``code_generator`` and ``testing``, Markdown for anything
else; streamed as server-sent events when the request asks for it (with a
usage chunk), else whole. A request without ``Authorization: Bearer
<api_key>`` gets a 401. Every request is kept in ``calls``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, NoReturn

import attrs
import h11
import trio

COMPONENT = """\
using UnityEngine;

/// <summary>Moves the player with physics.</summary>
[RequireComponent(typeof(Rigidbody))]
public class PlayerMovement : MonoBehaviour
{
    [SerializeField] private float speed = 5f;
}
"""

TESTS = """\
using NUnit.Framework;

public class PlayerMovementTests
{
    [Test]
    public void SpeedIsPositive() => Assert.Pass();
}
"""

DOCS = "# PlayerMovement\n\nMoves the player with physics. `speed` sets how fast.\n"

REPLIES = {
    "code_generator": f"Here is the component.\n\n```csharp PlayerMovement.cs\n{COMPONENT}```\n",
    "testing": f"The tests:\n\n```csharp PlayerMovementTests.cs\n{TESTS}```\n",
}
"""The reply per task type; any other task gets :data:`DOCS`."""

USAGE = {"prompt_tokens": 120, "completion_tokens": 80, "total_tokens": 200}


@attrs.frozen(kw_only=True)
class Call:
    """One request the server received."""

    method: str
    path: str
    headers: Mapping[str, str]
    json: Any

    def message(self, role: str) -> str:
        """The content of the request's first message with ``role`` ("" if none)."""
        found = [m["content"] for m in self.json["messages"] if m["role"] == role]
        return str(found[0]) if found else ""

    @property
    def task(self) -> str:
        """The task type the user message names on its first line (``Task: <type>``)."""
        return self.message("user").partition("\n")[0].removeprefix("Task: ")


@attrs.define(eq=False)
class FakeOpenAI:
    """The server's expected key and what it received (see the module doc)."""

    api_key: str
    calls: list[Call] = attrs.field(factory=list, init=False)
    url: str = attrs.field(default="", init=False)

    async def serve(
        self, *, task_status: trio.TaskStatus[FakeOpenAI] = trio.TASK_STATUS_IGNORED
    ) -> NoReturn:
        listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
        self.url = f"http://127.0.0.1:{listeners[0].socket.getsockname()[1]}/v1"
        task_status.started(self)
        await trio.serve_listeners(self._connection, listeners)

    async def _connection(self, stream: trio.SocketStream) -> None:
        conn = h11.Connection(h11.SERVER)
        try:
            async with stream:
                while await self._exchange(stream, conn):
                    conn.start_next_cycle()
        except (trio.BrokenResourceError, trio.ClosedResourceError, h11.ProtocolError, OSError):
            pass

    async def _exchange(self, stream: trio.SocketStream, conn: h11.Connection) -> bool:
        request = await _next_event(stream, conn)
        if not isinstance(request, h11.Request):
            return False
        body = bytearray()
        while isinstance(event := await _next_event(stream, conn), h11.Data):
            body += event.data
        if not isinstance(event, h11.EndOfMessage):
            return False
        call = Call(
            method=request.method.decode(),
            path=request.target.decode(),
            headers={k.decode().lower(): v.decode() for k, v in request.headers},
            json=json.loads(body) if body else None,
        )
        self.calls.append(call)
        if call.method != "POST" or call.path != "/v1/chat/completions":
            return await _send(stream, conn, 404, b'{"error": {"message": "no such path"}}')
        if call.headers.get("authorization") != f"Bearer {self.api_key}":
            error = {"message": "Incorrect API key provided.", "type": "invalid_request_error"}
            return await _send(stream, conn, 401, json.dumps({"error": error}).encode())
        text = REPLIES.get(call.task, DOCS)
        if not call.json.get("stream"):
            return await _send(stream, conn, 200, json.dumps(_completion(text)).encode())
        return await _stream(stream, conn, text)


async def _next_event(stream: trio.SocketStream, conn: h11.Connection) -> Any:
    while (event := conn.next_event()) is h11.NEED_DATA:
        conn.receive_data(await stream.receive_some(65536))
    return event


async def _send(stream: trio.SocketStream, conn: h11.Connection, status: int, body: bytes) -> bool:
    headers = [("content-type", "application/json"), ("content-length", str(len(body)))]
    for event in (h11.Response(status_code=status, headers=headers), h11.Data(data=body)):
        await stream.send_all(conn.send(event) or b"")
    await stream.send_all(conn.send(h11.EndOfMessage()) or b"")
    return conn.our_state is h11.DONE and conn.their_state is h11.DONE


def _completion(text: str) -> dict[str, Any]:
    message = {"role": "assistant", "content": text}
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "model": "fake-model",
        "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
        "usage": USAGE,
    }


def _chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion.chunk",
        "model": "fake-model",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }


async def _stream(stream: trio.SocketStream, conn: h11.Connection, text: str) -> bool:
    head = h11.Response(status_code=200, headers=[("content-type", "text/event-stream")])
    await stream.send_all(conn.send(head) or b"")

    async def send(payload: Any) -> None:
        data = payload if isinstance(payload, str) else json.dumps(payload)
        await stream.send_all(conn.send(h11.Data(data=f"data: {data}\n\n".encode())) or b"")

    await send(_chunk({"role": "assistant", "content": ""}))
    for line in text.splitlines(keepends=True):
        await send(_chunk({"content": line}))
    await send(_chunk({}, "stop"))
    await send({**_chunk({}), "choices": [], "usage": USAGE})
    await send("[DONE]")
    await stream.send_all(conn.send(h11.EndOfMessage()) or b"")
    return conn.our_state is h11.DONE and conn.their_state is h11.DONE
