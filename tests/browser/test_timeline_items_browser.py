"""The timeline of a finished ``for_each`` run in a real browser: a step's items fold and unfold,
and a bar's details open from the keyboard.

The run is journaled first (tests/mapped_helpers.py: 40 items, one failing);
then a background trio thread serves a real dashboard over the journal and
the test thread drives Debian's chromium through Playwright. Runs only
under ``nox -s browser`` (see ``conftest.py``).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest
import trio

from .test_dashboard_browser import TIMEOUT_MS

ITEMS = 40


@pytest.fixture
def served_run(chromium: str, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """(dashboard URL, run id) of a finished mapped run; the server stops on teardown."""
    from cadenza._journal._sqlite import SqliteStore
    from cadenza._serve import serve_dashboard

    from ..mapped_helpers import mapped_run

    url = f"sqlite:///{tmp_path / 'journal.db'}"
    run_id = mapped_run(url, items=ITEMS, failing=(7,)).result.run_id
    ready: queue.Queue[object] = queue.Queue()
    holder: dict[str, Any] = {}

    async def main() -> None:
        import trio.lowlevel

        store = SqliteStore(url)
        holder["token"] = trio.lowlevel.current_trio_token()
        holder["stop"] = stop = trio.Event()
        try:
            with trio.fail_after(120):
                async with trio.open_nursery() as nursery:
                    urls = await nursery.start(
                        partial(serve_dashboard, store, host="127.0.0.1", port=0, stop=stop)
                    )
                    ready.put(urls[0])
        finally:
            store.close()

    def run() -> None:
        try:
            trio.run(main)
        except BaseException as exc:
            ready.put(exc)

    thread = threading.Thread(target=run, name="cadenza-trio", daemon=True)
    thread.start()
    base = ready.get(timeout=30)
    if isinstance(base, BaseException):
        raise base
    try:
        yield str(base), run_id
    finally:
        trio.from_thread.run_sync(holder["stop"].set, trio_token=holder["token"])
        thread.join(timeout=30)


def test_items_fold_and_unfold_and_a_bar_opens_from_the_keyboard(
    chromium: str, served_run: tuple[str, str]
) -> None:
    from playwright.sync_api import expect, sync_playwright

    base, run_id = served_run
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(f"{base}/runs/{run_id}")
            rows = page.locator("#timeline g.row")
            expect(rows).to_have_count(3, timeout=TIMEOUT_MS)  # plan, build (folded), review
            toggle = page.locator('#timeline text[data-toggle="build"]')
            expect(toggle).to_contain_text(f"▸ ◆ build ({ITEMS} items)")
            toggle.click()
            expect(rows).to_have_count(3 + ITEMS, timeout=TIMEOUT_MS)
            failed = page.locator('#timeline g.row[data-step="build[7]"] g.bar[data-attempt]')
            expect(failed).to_have_attribute("data-outcome", "failed")
            failed.focus()
            page.keyboard.press("Enter")
            expect(page.locator("#bar-detail")).to_contain_text("cannot compile src/f7.py")
            page.locator('#timeline text[data-toggle="build"]').click()
            expect(rows).to_have_count(3, timeout=TIMEOUT_MS)
        finally:
            browser.close()
