"""cadenza_openai.testing, the public fake server: its names, its key check, its calls."""

from __future__ import annotations

import httpx
import trio

import cadenza_openai.testing
from cadenza_openai.testing import FakeOpenAI, Reply

PUBLIC = {
    "Call", "Cut", "Drop", "FakeOpenAI", "Malformed", "Reply", "Response", "Status",
    "StreamError", "Unauthorized",
}  # fmt: skip
BODY = {
    "model": "fake-model",
    "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi."}],
}


def test_all_is_pinned() -> None:
    """Adding or removing a name of cadenza_openai.testing is a deliberate change to this list."""
    assert set(cadenza_openai.testing.__all__) == PUBLIC
    for name in PUBLIC:
        assert hasattr(cadenza_openai.testing, name), name


async def test_api_key_is_checked_when_set(nursery: trio.Nursery) -> None:
    """With api_key set, a chat request with another key gets 401; the right key gets the reply."""
    server: FakeOpenAI = await nursery.start(
        FakeOpenAI(api_key="sk-right", default=Reply(text="ok")).serve
    )
    url = f"{server.url}/chat/completions"
    async with httpx.AsyncClient() as client:
        wrong = await client.post(url, json=BODY, headers={"Authorization": "Bearer sk-wrong"})
        right = await client.post(url, json=BODY, headers={"Authorization": "Bearer sk-right"})
    assert wrong.status_code == 401
    assert wrong.json()["error"]["code"] == "invalid_api_key"
    assert right.status_code == 200
    assert right.json()["choices"][0]["message"]["content"] == "ok"


async def test_calls_give_each_message_by_role(nursery: trio.Nursery) -> None:
    """Call.message(role) is that role's first message; prompt is the last user message."""
    server: FakeOpenAI = await nursery.start(FakeOpenAI().serve)
    async with httpx.AsyncClient() as client:
        await client.post(f"{server.url}/chat/completions", json=BODY)
    (call,) = server.chat_calls
    assert call.message("system") == "Be brief."
    assert call.message("assistant") == ""
    assert call.prompt == "Hi."
