"""Running a Python-built workflow: cadenza.run (sync) and run_workflow (async), real agents."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import trio

import cadenza
from cadenza._plugins._registry import load_plugins
from cadenza.store import SqliteStore
from cadenza.testing import Ok, SeedAgentServer, SeedCall, open_seed_agent_server

PLUGINS = load_plugins(entry_points=False)


def write(text: dict[str, Any], style: str) -> str:
    """The digest's writer, served by the python kind: a real function called in a thread."""
    hits = text["hits"]
    return f"{style}: " + "; ".join(hits)


def search_reply(call: SeedCall) -> Ok:
    """The search provider's answer: hits about the topic it was sent."""
    topic = call.json["data"]["topic"]
    return Ok({"output": {"hits": [f"{topic} 1.0 released", f"{topic} tutorial"]}})


def digest(url: str) -> cadenza.WorkflowBuilder:
    """The issue's digest example: an http search agent, a python writer."""
    wf = cadenza.workflow("digest")
    wf.agent("search", kind="http", options={"endpoint": url})
    wf.agent("write", kind="python", options={"function": write})
    news = wf.step("news", uses="search", with_={"topic": wf.input("topic")})
    wf.step(
        "summary",
        uses="write",
        needs=[news],
        with_={"text": news.output, "style": wf.input("style", "brief")},
    )
    return wf


async def test_run_workflow_runs_a_builder_against_a_loopback_server() -> None:
    """await run_workflow(builder): built, inputs defaulted, both agents really called."""
    async with open_seed_agent_server(handler=search_reply) as server:
        result = await cadenza.run_workflow(
            digest(server.url), plugins=PLUGINS, inputs={"topic": "trio"}
        )
    assert result.status == "succeeded", result.reason
    assert result.steps["summary"].output == "brief: trio 1.0 released; trio tutorial"
    assert [call.json["data"] for call in server.calls] == [{"topic": "trio"}]


@contextmanager
def server_in_a_thread(**options: Any) -> Iterator[SeedAgentServer]:
    """A loopback server on its own trio loop in a thread, so sync code can call it."""
    started: queue.Queue[tuple[SeedAgentServer, trio.lowlevel.TrioToken, trio.CancelScope]] = (
        queue.Queue()
    )

    async def serve() -> None:
        with trio.CancelScope() as scope:
            async with open_seed_agent_server(**options) as server:
                started.put((server, trio.lowlevel.current_trio_token(), scope))
                await trio.sleep_forever()

    thread = threading.Thread(target=trio.run, args=(serve,), daemon=True)
    thread.start()
    server, token, scope = started.get(timeout=30)
    try:
        yield server
    finally:
        token.run_sync_soon(scope.cancel)
        thread.join(timeout=30)


def test_cadenza_run_is_synchronous_and_journals_the_run(tmp_path: Any) -> None:
    """cadenza.run(builder, inputs=...) from plain code: the result, and a journaled run."""
    with server_in_a_thread(handler=search_reply) as server:
        store = SqliteStore(str(tmp_path / "journal.db"))
        result = cadenza.run(
            digest(server.url),
            inputs={"topic": "pluggy", "style": "long"},
            plugins=PLUGINS,
            store=store,
            run_id="digest-1",
        )
    assert result.status == "succeeded", result.reason
    assert result.run_id == "digest-1"
    assert result.steps["summary"].output == "long: pluggy 1.0 released; pluggy tutorial"
    try:
        record = store.get_run("digest-1")
        source = store.read_source("digest-1")
    finally:
        store.close()
    assert record is not None
    assert record.workflow == "digest"
    assert source is not None
    assert "kind: http" in source  # the YAML form: the dashboard can draw the run's graph


def test_cadenza_run_takes_a_built_workflow_too() -> None:
    """A Workflow from build() (or a YAML file) runs the same way; the default input is used."""
    wf = cadenza.workflow("hello")
    wf.agent("greet", kind="template", options={"output": "hello {name}"})
    wf.step("greet", uses="greet", with_={"name": wf.input("name", "world")})
    result = cadenza.run(wf.build(plugins=PLUGINS), plugins=PLUGINS)
    assert result.steps["greet"].output == "hello world"


async def test_cadenza_run_inside_trio_says_to_await_run_workflow() -> None:
    """Calling the sync entry point from a running trio loop is refused, naming the async call."""
    wf = cadenza.workflow("nested")
    with pytest.raises(RuntimeError, match=r"await cadenza\.run_workflow\(workflow"):
        cadenza.run(wf, plugins=PLUGINS)


def test_cadenza_run_inside_asyncio_says_to_use_a_thread() -> None:
    """Calling it from a running asyncio loop is refused too, with the thread to use."""
    import asyncio  # noqa: TID251 - the point of this test: a user's asyncio program

    async def main() -> None:
        cadenza.run(cadenza.workflow("nested"), plugins=PLUGINS)

    with pytest.raises(RuntimeError, match=r"asyncio\.to_thread\(cadenza\.run"):
        asyncio.run(main())
