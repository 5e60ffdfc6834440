"""The dashboard in a real browser: Debian's ``chromium`` driven by Playwright.

A background thread runs trio: a real dashboard server (``serve_dashboard`` on
127.0.0.1, port 0) and a live journaled run of a diamond workflow whose steps
each wait for the test to release them. The test thread drives chromium with
Playwright's sync API (its async API is asyncio, which Cadenza does not use):
it opens the run page once, releases the steps one stage at a time and sees
their states change on the page without a reload, opens a step's panel, and
takes a screenshot.

The screenshot is a test artifact: it is written to ``tmp_path`` and to
``$CADENZA_TEST_ARTIFACTS`` if set, else ``build/test-artifacts/`` at the
repository root.

Runs only when ``CADENZA_BROWSER_TESTS`` is set (``nox -s browser`` sets it);
otherwise it is skipped. Without chromium or Playwright it is skipped with a
notice, or fails when ``CADENZA_REQUIRE_BROWSER=1`` (``.ci/run`` sets it): see
``conftest.py``. Chromium is the system's (``apt-get install chromium``, or
``$CHROMIUM``); ``playwright install`` is never used.
"""

from __future__ import annotations

import os
import queue
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import pytest
import trio

import cadenza

ROOT = Path(__file__).resolve().parents[2]
STEPS = ("first", "left", "right", "last")
WORKFLOW = """\
name: diamond
agents:
  a: {kind: prog}
steps:
  first: {uses: a}
  left: {uses: a, needs: [first]}
  right: {uses: a, needs: [first]}
  last: {uses: a, needs: [left, right]}
"""
TIMEOUT_MS = 15_000


@dataclass
class Live:
    """The background trio thread: a served dashboard and a gated live run."""

    base: str = ""
    run_id: str = ""
    token: Any = None
    gates: dict[str, trio.Event] = field(default_factory=dict)
    stop: trio.Event | None = None
    errors: list[BaseException] = field(default_factory=list)

    def release(self, *steps: str) -> None:
        for step in steps:
            trio.from_thread.run_sync(self.gates[step].set, trio_token=self.token)

    def shutdown(self) -> None:
        def finish() -> None:
            for gate in self.gates.values():
                gate.set()
            assert self.stop is not None
            self.stop.set()

        trio.from_thread.run_sync(finish, trio_token=self.token)


async def _serve_and_run(journal: str, live: Live, ready: queue.Queue[object]) -> None:
    import trio.lowlevel

    from cadenza._journal._sqlite import SqliteStore
    from cadenza._load._loader import load_workflow_text
    from cadenza._scheduler._runner import run_workflow
    from cadenza._serve import serve_dashboard
    from cadenza.testing import ScriptedAgent

    from ..scheduler_helpers import plugins_with

    live.token = trio.lowlevel.current_trio_token()
    live.gates = {step: trio.Event() for step in STEPS}
    live.stop = trio.Event()

    async def gated(request: cadenza.AgentRequest) -> Any:
        await live.gates[request.step_id].wait()
        await trio.sleep(0.3)
        return {"step": request.step_id, "ok": True}

    plugins = plugins_with({"a": ScriptedAgent("a", gated)})
    workflow = load_workflow_text(WORKFLOW, plugins=plugins).workflow
    run_store, serve_store = SqliteStore(journal), SqliteStore(journal)
    try:
        with trio.fail_after(120):  # never hang the test session
            async with trio.open_nursery() as nursery:
                urls = await nursery.start(
                    partial(serve_dashboard, serve_store, host="127.0.0.1", port=0,
                            plugins=plugins, stop=live.stop)
                )  # fmt: skip
                handle = await nursery.start(
                    partial(run_workflow, workflow, plugins=plugins, store=run_store)
                )
                while serve_store.get_run(handle.run_id) is None:  # noqa: ASYNC110
                    await trio.sleep(0.05)  # the run's writer commits on its own schedule
                live.base, live.run_id = urls[0], handle.run_id
                ready.put(live)
    finally:
        run_store.close()
        serve_store.close()


@pytest.fixture
def live(chromium: str, tmp_path: Path) -> Iterator[Live]:
    """Start the trio thread; on teardown release every step, stop the server, join."""
    state = Live()
    ready: queue.Queue[object] = queue.Queue()
    journal = f"sqlite:///{tmp_path / 'journal.db'}"

    def main() -> None:
        try:
            trio.run(_serve_and_run, journal, state, ready)
        except BaseException as exc:  # reported by the test thread
            state.errors.append(exc)
            ready.put(exc)

    thread = threading.Thread(target=main, name="cadenza-trio", daemon=True)
    thread.start()
    started = ready.get(timeout=30)
    if isinstance(started, BaseException):
        raise started
    try:
        yield state
    finally:
        state.shutdown()
        thread.join(timeout=30)
        assert not thread.is_alive(), "the trio thread did not stop"
        if state.errors:
            raise state.errors[0]


def _artifact_dirs(tmp_path: Path) -> list[Path]:
    shared = os.environ.get("CADENZA_TEST_ARTIFACTS")
    return [tmp_path, Path(shared) if shared else ROOT / "build" / "test-artifacts"]


def test_run_page_follows_a_live_run_and_opens_a_step(
    chromium: str, live: Live, tmp_path: Path
) -> None:
    from playwright.sync_api import expect, sync_playwright

    def state(name: str) -> re.Pattern[str]:
        return re.compile(rf"(^|\s)state-{name}(\s|$)")

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            url = f"{live.base}/runs/{live.run_id}"
            page.goto(url)
            page.wait_for_load_state("load")
            navigations: list[str] = []
            page.on(
                "framenavigated",
                lambda frame: navigations.append(frame.url) if frame == page.main_frame else None,
            )
            page.evaluate("window.__cadenzaLoaded = true")  # gone if the page reloads

            def node(step: str) -> Any:
                return page.locator(f'#graph g.node[data-step="{step}"]')

            def row(step: str) -> Any:
                return page.locator(f"#step-{step}")

            expect(node("first")).to_have_class(state("running"), timeout=TIMEOUT_MS)
            expect(row("first")).to_have_class(state("running"), timeout=TIMEOUT_MS)
            expect(node("last")).to_have_class(state("pending"), timeout=TIMEOUT_MS)
            expect(page.locator("#run-status")).to_have_text("running", timeout=TIMEOUT_MS)

            live.release("first")
            expect(node("first")).to_have_class(state("succeeded"), timeout=TIMEOUT_MS)
            expect(row("first").locator("td.state")).to_have_text("succeeded", timeout=TIMEOUT_MS)
            for step in ("left", "right"):
                expect(node(step)).to_have_class(state("running"), timeout=TIMEOUT_MS)
            expect(node("last")).to_have_class(state("pending"))

            live.release("left", "right")
            for step in ("left", "right"):
                expect(node(step)).to_have_class(state("succeeded"), timeout=TIMEOUT_MS)
            expect(node("last")).to_have_class(state("running"), timeout=TIMEOUT_MS)

            node("first").click()  # open a step: its panel, with its attempts
            panel = page.locator("#panel")
            expect(panel.locator("h2")).to_have_text(re.compile(r"^first\b.*succeeded"))
            expect(panel).to_contain_text("agent a, 1 attempt(s)")
            expect(panel).to_contain_text("#1 a succeeded")
            expect(row("first")).to_have_class(re.compile(r"(^|\s)selected(\s|$)"))

            shot = page.screenshot()
            for folder in _artifact_dirs(tmp_path):
                folder.mkdir(parents=True, exist_ok=True)
                (folder / "dashboard-run.png").write_bytes(shot)

            live.release("last")
            expect(node("last")).to_have_class(state("succeeded"), timeout=TIMEOUT_MS)
            expect(page.locator("#run-status")).to_have_text("succeeded", timeout=TIMEOUT_MS)
            expect(page.locator("#cancel")).to_have_count(0)

            assert page.url == url
            assert navigations == []
            assert page.evaluate("window.__cadenzaLoaded") is True
        finally:
            browser.close()
