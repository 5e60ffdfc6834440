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

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import trio

import cadenza

from ._live import TIMEOUT_MS, LiveRun, live_run, save_artifact

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


def _agents(live: LiveRun) -> dict[str, Any]:
    """Calls wait for the test to release their step; ``flaky`` fails its first attempt."""
    from cadenza.testing import ScriptedAgent

    async def gated(request: cadenza.AgentRequest) -> Any:
        await live.gates[request.step_id].wait()
        await trio.sleep(0.4)
        if request.step_id == "flaky" and request.attempt == 1:
            raise cadenza.RetryableError("provider busy (503)", agent="b")
        return {"step": request.step_id}

    return {"a": ScriptedAgent("a", gated), "b": ScriptedAgent("b", gated)}


@pytest.fixture
def live(chromium: str, tmp_path: Path) -> Iterator[LiveRun]:
    with live_run(f"sqlite:///{tmp_path / 'journal.db'}", WORKFLOW, _agents, gates=STEPS) as run:
        yield run


def test_timeline_grows_live_opens_a_bar_and_marks_the_critical_path(
    chromium: str, live: LiveRun, tmp_path: Path
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
            save_artifact("dashboard-timeline-live.png", page.locator("#timeline-box").screenshot(),
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
            save_artifact(
                "dashboard-timeline.png", page.locator("#timeline-box").screenshot(), tmp_path
            )
            save_artifact("dashboard-usage.png", page.locator("#usage-box").screenshot(), tmp_path)
            assert page.url == url
            assert page.evaluate("window.__cadenzaLoaded") is True
        finally:
            browser.close()
