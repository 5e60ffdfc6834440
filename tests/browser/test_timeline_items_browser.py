"""The timeline of a finished ``for_each`` run in a real browser: a step's items fold and unfold,
and a bar's details open from the keyboard.

The run is journaled first (tests/mapped_helpers.py: 40 items, one failing);
then a background trio thread serves a real dashboard over the journal and
the test thread drives Debian's chromium through Playwright. Runs only
under ``nox -s browser`` (see ``conftest.py``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ._live import TIMEOUT_MS, served

ITEMS = 40


@pytest.fixture
def served_run(chromium: str, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """(dashboard URL, run id) of a finished mapped run; the server stops on teardown."""
    from ..mapped_helpers import mapped_run

    url = f"sqlite:///{tmp_path / 'journal.db'}"
    run_id = mapped_run(url, items=ITEMS, failing=(7,)).result.run_id
    with served(url) as base:
        yield base, run_id


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
