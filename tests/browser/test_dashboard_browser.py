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

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import trio

import cadenza

from ._live import TIMEOUT_MS, LiveRun, live_run, save_artifact

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


def _agents(live: LiveRun) -> dict[str, Any]:
    """One agent whose calls each wait for the test to release their step."""
    from cadenza.testing import ScriptedAgent

    async def gated(request: cadenza.AgentRequest) -> Any:
        await live.gates[request.step_id].wait()
        await trio.sleep(0.3)
        return {"step": request.step_id, "ok": True}

    return {"a": ScriptedAgent("a", gated)}


@pytest.fixture
def live(chromium: str, tmp_path: Path) -> Iterator[LiveRun]:
    """The served dashboard and the live run; every step released on teardown."""
    with live_run(f"sqlite:///{tmp_path / 'journal.db'}", WORKFLOW, _agents, gates=STEPS) as run:
        yield run


def test_run_page_follows_a_live_run_and_opens_a_step(
    chromium: str, live: LiveRun, tmp_path: Path
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

            save_artifact("dashboard-run.png", page.screenshot(), tmp_path)

            live.release("last")
            expect(node("last")).to_have_class(state("succeeded"), timeout=TIMEOUT_MS)
            expect(page.locator("#run-status")).to_have_text("succeeded", timeout=TIMEOUT_MS)
            expect(page.locator("#cancel")).to_have_count(0)

            assert page.url == url
            assert navigations == []
            assert page.evaluate("window.__cadenzaLoaded") is True
        finally:
            browser.close()
