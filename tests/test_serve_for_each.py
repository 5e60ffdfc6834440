"""The dashboard with a 2,000-item ``for_each`` step: one row, a progress bar, items paged.

A real hypercorn server on 127.0.0.1 (port 0) over a real SQLite journal written
by the runner (tests/mapped_helpers.py).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pytest.importorskip("hypercorn")
pytest.importorskip("starlette")

from cadenza.testing import CapturedRun

from .mapped_helpers import mapped_run
from .serve_helpers import dashboard, read_stream

ITEMS = 2000
FAILING = (3, 17, 42, 99, 500, 600, 700)


@pytest.fixture(scope="module")
def journal(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """One journaled run with a 2,000-item build step, 7 items failing; (url, run id)."""
    url = f"sqlite:///{tmp_path_factory.mktemp('served') / 'journal.db'}"
    run: CapturedRun = mapped_run(url, items=ITEMS, failing=FAILING)
    return url, run.result.run_id


async def test_run_page_shows_the_mapped_step_as_one_row_with_a_progress_bar(
    journal: tuple[str, str],
) -> None:
    """The run page and its API have three steps; build's row carries its item counts."""
    url, run_id = journal
    async with dashboard(url) as client:
        page = (await client.get(f"/runs/{run_id}")).text
        assert page.count('<tr id="step-') == 3
        assert "build[" not in page
        assert '<progress max="2000" value="2000"></progress>' in page
        assert "2,000/2,000 done (7 failed)" in page
        data = (await client.get(f"/api/runs/{run_id}")).json()
    assert list(data["steps"]) == ["plan", "build", "review"]
    build = data["steps"]["build"]
    assert (build["attempts"], build["agent"], build["state"]) == (ITEMS, "coder", "failed")
    assert build["items"]["done"] == ITEMS
    assert build["items"]["failed_items"] == [f"build[{i}]" for i in FAILING]
    assert data["steps"]["plan"]["items"] is None
    assert data["counts"] == {"succeeded": 1, "failed": 1, "skipped": 1, "cancelled": 0}


async def test_step_page_lists_items_a_hundred_at_a_time(journal: tuple[str, str]) -> None:
    """The mapped step's page shows 100 items and links to the next page, never all 2,000."""
    url, run_id = journal
    async with dashboard(url) as client:
        first = (await client.get(f"/runs/{run_id}/steps/build")).text
        last = (await client.get(f"/runs/{run_id}/steps/build", params={"page": "20"})).text
        beyond = await client.get(f"/api/runs/{run_id}/steps/build", params={"page": "999"})
    assert first.count('<tr class="item ') == 100
    assert "page 1 of 20 (2,000 items)" in first
    assert ">build[0]</a>" in first
    assert ">build[100]</a>" not in first
    assert "?page=2" in first
    assert "previous" not in first
    assert last.count('<tr class="item ') == 100
    assert ">build[1999]</a>" in last
    assert ">next</a>" not in last
    assert "?page=19" in last
    page = beyond.json()["items_page"]
    assert (page["page"], page["pages"], len(page["rows"])) == (20, 20, 100)


async def test_step_page_filters_items_by_state(journal: tuple[str, str]) -> None:
    """?state=failed lists the 7 failed items with their errors; a bad filter is a 400."""
    url, run_id = journal
    async with dashboard(url) as client:
        html = (await client.get(f"/runs/{run_id}/steps/build", params={"state": "failed"})).text
        data = (
            await client.get(f"/api/runs/{run_id}/steps/build", params={"state": "failed"})
        ).json()
        bad = await client.get(f"/api/runs/{run_id}/steps/build", params={"state": "bogus"})
        zero = await client.get(f"/api/runs/{run_id}/steps/build", params={"page": "0"})
        item = await client.get(f"/runs/{run_id}/steps/build%5B17%5D")
    assert html.count('<tr class="item state-failed">') == 7
    assert "PermanentError: cannot compile src/f600.py" in html
    assert [r["step_id"] for r in data["items_page"]["rows"]] == [f"build[{i}]" for i in FAILING]
    assert data["attempts_detail"] == []
    assert bad.status_code == 400
    assert "failed" in bad.json()["error"]
    assert zero.status_code == 400
    assert item.status_code == 200
    assert "cannot compile src/f17.py" in item.text


async def test_metrics_count_a_mapped_step_once_and_every_item_call(
    journal: tuple[str, str],
) -> None:
    """/metrics: three steps in the gauge, 2,000 coder attempts, no latency for the step itself."""
    url, _ = journal
    async with dashboard(url) as client:
        text = (await client.get("/metrics")).text
    steps = re.findall(r'^cadenza_steps\{state="[a-z]+"\} ([0-9.]+)$', text, re.M)
    assert sum(float(n) for n in steps) == 3
    assert 'cadenza_attempts_total{agent="coder"} 2000' in text
    assert 'agent=""' not in text


async def test_live_stream_carries_step_mapped(journal: tuple[str, str]) -> None:
    """The run's event stream includes step_mapped, which the page's script listens for."""
    url, run_id = journal
    async with dashboard(url) as client:
        events = await read_stream(client, f"/api/runs/{run_id}/events")
    kinds = [kind for kind, _ in events]
    assert "step_mapped" in kinds
    script = (Path(__file__).parent.parent / "core/cadenza/_serve/static/dashboard.js").read_text(
        encoding="utf-8"
    )
    assert '"step_mapped"' in script
