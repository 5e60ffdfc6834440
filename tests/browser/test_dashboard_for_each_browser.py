"""A live ``for_each`` step in a real browser: one row, progress bars, items paged.

As ``test_dashboard_browser.py``: a background trio thread serves the dashboard
and runs a journaled workflow whose ``build`` step maps 300 items; every item
waits until the test opens the gate, so the page first shows items in flight,
then follows them to the end without a reload. Then the step's panel and its
page (100 items a page, a ``next`` link) are checked.

Runs only when ``CADENZA_BROWSER_TESTS`` is set (``nox -s browser``); see
``conftest.py`` for the skip rules.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import trio

import cadenza

from ._live import LiveRun, live_run

ITEMS = 300
FAILING = {7, 150}
WORKFLOW = f"""\
name: mapped-live
inputs:
  files: {{default: {[f"f{i}" for i in range(ITEMS)]}}}
agents:
  a: {{kind: prog, max_concurrent: 20}}
steps:
  build:
    for_each: "${{{{ inputs.files }}}}"
    max_parallel: 10
    uses: a
    with: {{path: "${{{{ item }}}}", n: "${{{{ index }}}}"}}
  review: {{uses: a, needs: [build]}}
"""
TIMEOUT_MS = 20_000
GATE = "items"


def _agents(live: LiveRun) -> dict[str, Any]:
    """One agent whose item calls wait for the gate; items 7 and 150 fail."""
    from cadenza.testing import ScriptedAgent

    async def gated(request: cadenza.AgentRequest) -> Any:
        await live.gates[GATE].wait()
        if request.inputs.get("n") in FAILING:
            raise cadenza.PermanentError(f"cannot build {request.inputs['path']}")
        await trio.sleep(0.005)
        return {"built": request.inputs.get("path")}

    return {"a": ScriptedAgent("a", gated)}


@pytest.fixture
def live_map(chromium: str, tmp_path: Path) -> Iterator[LiveRun]:
    """The served dashboard and the live mapped run; the gate opens on teardown."""
    with live_run(f"sqlite:///{tmp_path / 'journal.db'}", WORKFLOW, _agents, gates=[GATE]) as run:
        yield run


def test_run_page_follows_a_live_mapped_step_and_pages_its_items(
    chromium: str, live_map: LiveRun, tmp_path: Path
) -> None:
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            url = f"{live_map.base}/runs/{live_map.run_id}"
            page.goto(url)
            page.wait_for_load_state("load")
            page.evaluate("window.__cadenzaLoaded = true")  # gone if the page reloads
            row = page.locator("#step-build")
            node = page.locator('#graph g.node[data-step="build"]')

            # Items wait on the gate: ten in flight (max_parallel), none done.
            expect(row.locator("td.items")).to_contain_text(
                "0/300 done (10 in flight)", timeout=TIMEOUT_MS
            )
            expect(node.locator("text.detail")).to_have_text("0/300 items", timeout=TIMEOUT_MS)
            assert page.locator("tr.step").count() == 2, "items are no rows of their own"

            live_map.release(GATE)
            expect(row.locator("td.items")).to_contain_text(
                "300/300 done (2 failed)", timeout=TIMEOUT_MS
            )
            expect(row.locator("td.state")).to_have_text("failed", timeout=TIMEOUT_MS)
            assert row.locator("progress").get_attribute("value") == "300"
            expect(node.locator("text.detail")).to_have_text("300/300 items")
            fits = node.evaluate(
                "g => g.querySelector('text.detail').getBBox().width"
                " <= g.querySelector('rect.box').getBBox().width"
            )
            assert fits, "the counts stay inside the node's box"
            bar = node.locator("rect.items-bar")
            box = node.locator("rect.box")
            assert float(bar.get_attribute("width") or 0) == pytest.approx(
                float(box.get_attribute("width") or 0) - 6
            )
            assert page.locator("tr.step").count() == 2
            assert page.locator("#events li").count() <= 500
            assert page.evaluate("window.__cadenzaLoaded") is True

            row.locator("td.state").click()  # the panel: item counts and the failed items
            panel = page.locator("#panel")
            expect(panel).to_contain_text("items: 300/300 done (2 failed)", timeout=TIMEOUT_MS)
            expect(panel).to_contain_text("build[7] PermanentError: cannot build f7")
            expect(panel).to_contain_text("build[150] PermanentError: cannot build f150")

            shot = page.screenshot()
            (tmp_path / "dashboard-for-each.png").write_bytes(shot)

            panel.locator("a", has_text="step page").click()
            page.wait_for_load_state("load")
            assert page.locator("table.items tbody tr").count() == 100
            expect(page.locator("p.pager")).to_contain_text("page 1 of 3 (300 items)")
            page.locator("p.pager a", has_text="next").click()
            page.wait_for_load_state("load")
            expect(page.locator("p.pager")).to_contain_text("page 2 of 3")
            expect(page.locator("table.items")).to_contain_text("build[150]")
            page.locator("p.filters a", has_text="failed").click()
            page.wait_for_load_state("load")
            rows = page.locator("table.items tbody tr")
            assert rows.count() == 2
            assert re.search(r"cannot build f7", rows.first.inner_text())
        finally:
            browser.close()
