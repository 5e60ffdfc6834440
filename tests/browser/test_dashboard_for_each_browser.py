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


@dataclass
class LiveMap:
    """The background trio thread: a served dashboard and a run whose items wait on a gate."""

    base: str = ""
    run_id: str = ""
    token: Any = None
    gate: trio.Event | None = None
    stop: trio.Event | None = None
    errors: list[BaseException] = field(default_factory=list)

    def open_gate(self) -> None:
        assert self.gate is not None
        trio.from_thread.run_sync(self.gate.set, trio_token=self.token)

    def shutdown(self) -> None:
        def finish() -> None:
            assert self.gate is not None
            assert self.stop is not None
            self.gate.set()
            self.stop.set()

        trio.from_thread.run_sync(finish, trio_token=self.token)


async def _serve_and_run(journal: str, live: LiveMap, ready: queue.Queue[object]) -> None:
    import trio.lowlevel

    from cadenza._journal._sqlite import SqliteStore
    from cadenza._load._loader import load_workflow_text
    from cadenza._scheduler._runner import run_workflow
    from cadenza._serve import serve_dashboard
    from cadenza.testing import ScriptedAgent

    from ..scheduler_helpers import plugins_with

    live.token = trio.lowlevel.current_trio_token()
    live.gate, live.stop = trio.Event(), trio.Event()

    async def gated(request: cadenza.AgentRequest) -> Any:
        assert live.gate is not None
        await live.gate.wait()
        if request.inputs.get("n") in FAILING:
            raise cadenza.PermanentError(f"cannot build {request.inputs['path']}")
        await trio.sleep(0.005)
        return {"built": request.inputs.get("path")}

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
                    partial(
                        run_workflow,
                        workflow,
                        plugins=plugins,
                        store=run_store,
                        inputs=cadenza.resolve_inputs(workflow, {}),
                    )
                )
                while serve_store.get_run(handle.run_id) is None:  # noqa: ASYNC110
                    await trio.sleep(0.05)  # the run's writer commits on its own schedule
                live.base, live.run_id = urls[0], handle.run_id
                ready.put(live)
    finally:
        run_store.close()
        serve_store.close()


@pytest.fixture
def live_map(chromium: str, tmp_path: Path) -> Iterator[LiveMap]:
    """Start the trio thread; on teardown open the gate, stop the server, join."""
    state = LiveMap()
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


def test_run_page_follows_a_live_mapped_step_and_pages_its_items(
    chromium: str, live_map: LiveMap, tmp_path: Path
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

            live_map.open_gate()
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
