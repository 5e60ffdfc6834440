"""The run page's timeline in a real browser: it grows live, a bar opens, the critical path shows.

A background trio thread serves a real dashboard over a real SQLite journal
and runs a gated workflow: one agent with ``max_concurrent: 1``, so ``right``
queues behind ``left`` (waiting for the agent's slot), and ``flaky`` fails
its first attempt (a retry on the timeline). The test thread drives Debian's
chromium through Playwright's sync API, never reloading the page, and saves
screenshots of the timeline as artifacts (``$CADENZA_TEST_ARTIFACTS``, else
build/test-artifacts/; with ``CADENZA_DOCS_IMAGES=1`` also docs/images/, the
pictures docs/dashboard.md shows).

Runs only under ``nox -s browser`` (see ``conftest.py``).
"""

from __future__ import annotations

import os
import queue
import re
import threading
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest
import trio

import cadenza

from .test_dashboard_browser import ROOT, TIMEOUT_MS, Live

STEPS = ("first", "left", "right", "flaky", "last")
WORKFLOW = """\
name: timeline
agents:
  a: {kind: prog, max_concurrent: 1}
  b: {kind: prog}
steps:
  first: {uses: a}
  left: {uses: a, needs: [first]}
  right: {uses: a, needs: [first]}
  flaky: {uses: b, needs: [first], retry: {max_attempts: 2, backoff: 0.2}}
  last: {uses: b, needs: [left, right, flaky]}
"""


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
        await trio.sleep(0.4)
        if request.step_id == "flaky" and request.attempt == 1:
            raise cadenza.RetryableError("provider busy (503)", agent="b")
        return {"step": request.step_id}

    agents = {"a": ScriptedAgent("a", gated), "b": ScriptedAgent("b", gated)}
    plugins = plugins_with(agents)
    workflow = load_workflow_text(WORKFLOW, plugins=plugins).workflow
    run_store, serve_store = SqliteStore(journal), SqliteStore(journal)
    try:
        with trio.fail_after(120):
            async with trio.open_nursery() as nursery:
                urls = await nursery.start(
                    partial(serve_dashboard, serve_store, host="127.0.0.1", port=0,
                            plugins=plugins, stop=live.stop)
                )  # fmt: skip
                handle = await nursery.start(
                    partial(run_workflow, workflow, plugins=plugins, store=run_store)
                )
                while serve_store.get_run(handle.run_id) is None:  # noqa: ASYNC110
                    await trio.sleep(0.05)
                live.base, live.run_id = urls[0], handle.run_id
                ready.put(live)
    finally:
        run_store.close()
        serve_store.close()


@pytest.fixture
def live(chromium: str, tmp_path: Path) -> Iterator[Live]:
    state = Live()
    ready: queue.Queue[object] = queue.Queue()
    journal = f"sqlite:///{tmp_path / 'journal.db'}"

    def main() -> None:
        try:
            trio.run(_serve_and_run, journal, state, ready)
        except BaseException as exc:
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


def _save(name: str, data: bytes, tmp_path: Path) -> None:
    shared = os.environ.get("CADENZA_TEST_ARTIFACTS")
    folders = [tmp_path, Path(shared) if shared else ROOT / "build" / "test-artifacts"]
    if os.environ.get("CADENZA_DOCS_IMAGES"):
        folders.append(ROOT / "docs" / "images")
    for folder in folders:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(data)


def test_timeline_grows_live_opens_a_bar_and_marks_the_critical_path(
    chromium: str, live: Live, tmp_path: Path
) -> None:
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1000})
            url = f"{live.base}/runs/{live.run_id}"
            page.goto(url)
            page.wait_for_load_state("load")
            page.evaluate("window.__cadenzaLoaded = true")  # gone if the page reloads

            def bars(step: str) -> Any:
                return page.locator(f'#timeline g.row[data-step="{step}"] g.bar[data-attempt]')

            expect(bars("first")).to_have_count(1, timeout=TIMEOUT_MS)
            expect(bars("first").first).to_have_attribute("data-outcome", "running")
            expect(bars("left")).to_have_count(0)

            live.release("first")
            expect(bars("first").first).to_have_attribute(
                "data-outcome", "succeeded", timeout=TIMEOUT_MS
            )
            for step in ("left", "flaky"):  # right waits for a's only slot
                expect(bars(step)).to_have_count(1, timeout=TIMEOUT_MS)
            live.release("left", "flaky")
            expect(bars("right")).to_have_count(1, timeout=TIMEOUT_MS)
            expect(bars("right").first).to_have_attribute("data-waited-for", "agent_slots")
            expect(bars("flaky")).to_have_count(2, timeout=TIMEOUT_MS)  # the retry
            expect(bars("flaky").first).to_have_attribute("data-outcome", "failed")

            bars("right").first.click()
            detail = page.locator("#bar-detail")
            expect(detail.locator("h3")).to_have_text(re.compile(r"^right\b.*attempt 1"))
            expect(detail).to_contain_text("agent")
            expect(detail).to_contain_text("waiting for agent slots")
            _save("dashboard-timeline-live.png", page.locator("#timeline-box").screenshot(),
                  tmp_path)  # fmt: skip

            live.release("right", "last")
            expect(page.locator("#run-status")).to_have_text("succeeded", timeout=TIMEOUT_MS)
            expect(bars("last").first).to_have_attribute(
                "data-outcome", "succeeded", timeout=TIMEOUT_MS
            )
            critical = page.locator("#timeline g.row.critical")
            expect(critical.last).to_have_attribute("data-step", "last", timeout=TIMEOUT_MS)
            expect(critical.first).to_have_attribute("data-step", "first")
            expect(page.locator("#timeline text.label", has_text="◆ last")).to_have_count(1)

            bars("flaky").first.click()
            expect(detail).to_contain_text("provider busy (503)")
            page.locator(".tl-controls button[data-zoom=in]").click()
            expect(page.locator("#timeline svg")).not_to_have_attribute(
                "data-from", "0.000", timeout=TIMEOUT_MS
            )
            page.locator(".tl-controls button[data-zoom=fit]").click()
            expect(page.locator("#timeline svg")).to_have_attribute(
                "data-from", "0.000", timeout=TIMEOUT_MS
            )
            expect(page.locator("#usage g.agent[data-agent=a]")).to_have_attribute(
                "data-limit", "1", timeout=TIMEOUT_MS
            )
            expect(page.locator("#usage g.agent[data-agent=b]")).to_have_attribute(
                "data-failures", "1"
            )
            _save("dashboard-timeline.png", page.locator("#timeline-box").screenshot(), tmp_path)
            _save("dashboard-usage.png", page.locator("#usage-box").screenshot(), tmp_path)
            assert page.url == url
            assert page.evaluate("window.__cadenzaLoaded") is True
        finally:
            browser.close()
