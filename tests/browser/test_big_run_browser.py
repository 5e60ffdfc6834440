"""A big run's page in a real browser: served with its steps, its charts drawn right after.

A run of more than 300 steps is served without its timeline and usage chart
(they fold every event of the run); the page's script asks for them at once.
This checks that a user who opens such a run sees both appear without
reloading, with the timeline's row count and the layer table.

Runs only under ``nox -s browser`` (see ``conftest.py``).
"""

from __future__ import annotations

from pathlib import Path

from tests.big_run_helpers import write_big_run

from ._live import TIMEOUT_MS, save_artifact, served

LAYERS, WIDTH = 4, 100  # 400 steps: above the 300 that make a run big


def test_a_big_runs_page_draws_its_charts_after_loading(chromium: str, tmp_path: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    journal = f"sqlite:///{tmp_path / 'journal.db'}"
    run_id = write_big_run(journal, layers=LAYERS, width=WIDTH, shape=True)
    with served(journal) as base, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1000})
            page.goto(f"{base}/runs/{run_id}")
            expect(page.locator('tr[id^="layer-"]')).to_have_count(LAYERS, timeout=TIMEOUT_MS)
            timeline = page.locator("#timeline svg.tl")
            expect(timeline).to_have_count(1, timeout=TIMEOUT_MS)
            expect(timeline).to_have_attribute("data-rows", str(LAYERS * WIDTH))
            expect(page.locator("#tl-rows")).to_contain_text("of 400", timeout=TIMEOUT_MS)
            expect(page.locator("#usage svg")).to_have_count(1, timeout=TIMEOUT_MS)
            expect(page.locator(".drawing")).to_have_count(0)
            save_artifact("big-run.png", page.screenshot(full_page=False), tmp_path)
        finally:
            browser.close()
