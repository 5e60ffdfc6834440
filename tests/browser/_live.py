"""A dashboard served from a background trio thread, for the browser tests to drive.

Playwright's sync API runs in the test thread (its async API is asyncio,
which Cadenza does not use), so trio runs in a thread of its own: a real
dashboard server (``serve_dashboard`` on 127.0.0.1, port 0) over a real
SQLite journal, and optionally a live journaled run whose agents wait on
named gates the test opens (``LiveRun.release``). On teardown every gate
opens, the server stops and the thread is joined; an error in the thread
fails the test.
"""

from __future__ import annotations

import os
import queue
import random
import threading
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import trio

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT_MS = 15_000
"""How long a browser expectation waits for the page to catch up with the run."""


@dataclass
class LiveRun:
    """The background trio thread: a served dashboard, and the run it shows live."""

    base: str = ""
    run_id: str = ""
    token: Any = None
    gates: dict[str, trio.Event] = field(default_factory=dict)
    stop: trio.Event | None = None
    errors: list[BaseException] = field(default_factory=list)

    def release(self, *gates: str) -> None:
        """Open the named gates: the agent calls waiting on them go on."""
        for gate in gates:
            trio.from_thread.run_sync(self.gates[gate].set, trio_token=self.token)

    def shutdown(self) -> None:
        """Open every gate and stop the server (from the test thread)."""

        def finish() -> None:
            for gate in self.gates.values():
                gate.set()
            assert self.stop is not None
            self.stop.set()

        trio.from_thread.run_sync(finish, trio_token=self.token)


class NoJitter(random.Random):
    """Retries wait their full backoff: a random near-zero wait could put a step's attempts
    closer than the timeline's MERGE_PX, which then (rightly) draws them as one block."""

    def uniform(self, a: float, b: float) -> float:
        return b


AgentsFor = Callable[[LiveRun], Mapping[str, Any]]
"""Given the live run (its gates), the agents to run the workflow with, by name."""


@contextmanager
def live_run(
    journal: str,
    workflow: str,
    agents: AgentsFor,
    *,
    gates: Iterable[str],
    inputs: Mapping[str, str] | None = None,
) -> Iterator[LiveRun]:
    """Serve ``journal`` and run ``workflow`` (YAML text) on it, live, until the test ends."""
    live = LiveRun()
    names = tuple(gates)

    async def main(ready: queue.Queue[object]) -> None:
        import cadenza
        from cadenza._journal._sqlite import SqliteStore
        from cadenza._load._loader import load_workflow_text
        from cadenza._scheduler._runner import run_workflow
        from cadenza._serve import serve_dashboard

        from ..scheduler_helpers import plugins_with

        live.token = trio.lowlevel.current_trio_token()
        live.gates = {name: trio.Event() for name in names}
        live.stop = trio.Event()
        plugins = plugins_with(dict(agents(live)))
        loaded = load_workflow_text(workflow, plugins=plugins).workflow
        values = cadenza.resolve_inputs(loaded, dict(inputs or {}))
        run_store, serve_store = SqliteStore(journal), SqliteStore(journal)
        try:
            with trio.fail_after(120):  # never hang the test session
                async with trio.open_nursery() as nursery:
                    urls = await nursery.start(
                        partial(serve_dashboard, serve_store, host="127.0.0.1", port=0,
                                plugins=plugins, stop=live.stop)
                    )  # fmt: skip
                    handle = await nursery.start(
                        partial(
                            run_workflow,
                            loaded,
                            plugins=plugins,
                            store=run_store,
                            inputs=values,
                            rng=NoJitter(),
                        )
                    )
                    while serve_store.get_run(handle.run_id) is None:  # noqa: ASYNC110
                        await trio.sleep(0.05)  # the run's writer commits on its own schedule
                    live.base, live.run_id = urls[0], handle.run_id
                    ready.put(live)
        finally:
            run_store.close()
            serve_store.close()

    with _in_trio_thread(main, live):
        yield live


@contextmanager
def served(journal: str) -> Iterator[str]:
    """Serve ``journal`` (runs already in it) until the test ends; yields the dashboard URL."""
    live = LiveRun()

    async def main(ready: queue.Queue[object]) -> None:
        from cadenza._journal._sqlite import SqliteStore
        from cadenza._serve import serve_dashboard

        store = SqliteStore(journal)
        live.token = trio.lowlevel.current_trio_token()
        live.stop = trio.Event()
        try:
            with trio.fail_after(120):
                async with trio.open_nursery() as nursery:
                    urls = await nursery.start(
                        partial(serve_dashboard, store, host="127.0.0.1", port=0, stop=live.stop)
                    )
                    live.base = urls[0]
                    ready.put(live)
        finally:
            store.close()

    with _in_trio_thread(main, live):
        yield live.base


@contextmanager
def _in_trio_thread(
    main: Callable[[queue.Queue[object]], Awaitable[None]], live: LiveRun
) -> Iterator[None]:
    """Run ``main`` in a trio thread until it reports ready; on exit shut it down and join."""
    ready: queue.Queue[object] = queue.Queue()

    def run() -> None:
        try:
            trio.run(main, ready)
        except BaseException as exc:  # reported by the test thread
            live.errors.append(exc)
            ready.put(exc)

    thread = threading.Thread(target=run, name="cadenza-trio", daemon=True)
    thread.start()
    started = ready.get(timeout=30)
    if isinstance(started, BaseException):
        raise started
    try:
        yield
    finally:
        live.shutdown()
        thread.join(timeout=30)
        assert not thread.is_alive(), "the trio thread did not stop"
        if live.errors:
            raise live.errors[0]


def save_artifact(name: str, data: bytes, tmp_path: Path) -> None:
    """Keep a screenshot in ``tmp_path`` and ``$CADENZA_TEST_ARTIFACTS`` (or build/test-artifacts).

    With ``CADENZA_DOCS_IMAGES=1`` also in docs/images/, the pictures the docs show.
    """
    shared = os.environ.get("CADENZA_TEST_ARTIFACTS")
    folders = [tmp_path, Path(shared) if shared else ROOT / "build" / "test-artifacts"]
    if os.environ.get("CADENZA_DOCS_IMAGES"):
        folders.append(ROOT / "docs" / "images")
    for folder in folders:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(data)
