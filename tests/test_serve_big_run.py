"""A 20,000-step run's dashboard pages stay within a size budget (checked by size, not time).

A generated journal (tests/big_run_helpers.py: 200 layers of 100 steps, in a
real SQLite file, its workflow source stored and loadable) served by a real
hypercorn server on 127.0.0.1: the run page collapses the DAG into its
layers, lists one page of steps and one page of timeline rows, and its
events list starts with the latest events; the API pages the steps the same
way, and the timeline pages its rows.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

pytest.importorskip("hypercorn")
pytest.importorskip("starlette")

from cadenza._journal._sqlite import SqliteStore
from cadenza._plugins._registry import load_plugins
from cadenza._serve._big_runs import STEPS_PER_PAGE
from cadenza._serve._pages import RECENT_EVENTS

from .big_run_helpers import write_big_run
from .serve_helpers import served

pytestmark = pytest.mark.slow  # loading a 20,000-step workflow takes seconds

LAYERS, WIDTH = 200, 100
STEPS = LAYERS * WIDTH
PAGE_BUDGET = 1_000_000
"""Bytes: the page was 21 MB with every node drawn and every step listed."""
SVG_BUDGET = 400_000
NS = "{http://www.w3.org/2000/svg}"


@pytest.fixture(scope="module", params=["shape journaled", "older journal"])
def journal(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> str:
    """The run, its ``run_started`` with the workflow's shape (since 0.2) or without (the
    dashboard loads the stored source then)."""
    url = f"sqlite:///{tmp_path_factory.mktemp('big') / 'journal.db'}"
    write_big_run(url, layers=LAYERS, width=WIDTH, shape=request.param == "shape journaled")
    return url


async def test_a_20000_step_run_page_is_served_within_its_size_budget(journal: str) -> None:
    import httpx

    store = SqliteStore(journal)
    try:
        async with (
            served(store, plugins=load_plugins()) as base,
            httpx.AsyncClient(base_url=base, timeout=300) as client,
        ):
            response = await client.get("/runs/big")
            page = response.text
            assert response.status_code == 200
            assert len(response.content) < PAGE_BUDGET
            assert page.count('<tr id="step-') == STEPS_PER_PAGE
            assert f"steps 1-200 of {STEPS:,} (page 1 of 100)" in page
            assert 'id="graph"' not in page  # not drawn: the layers stand in for it
            assert page.count('<tr id="layer-') == LAYERS
            assert f"Workflow: {STEPS:,} steps in {LAYERS} layers" in page
            assert re.search(r'<tr id="layer-7"[^>]*>.*?100 succeeded', page)
            last_seq = int(re.search(r'data-seq="(\d+)"', page).group(1))  # type: ignore[union-attr]
            assert f'data-after="{last_seq - RECENT_EVENTS}"' in page
            # The charts are not in the page: its script asks for them (timeline.js).
            assert 'class="tl"' not in page
            assert page.count("drawing…") == 2
            timeline = (await client.get("/api/runs/big/timeline.svg")).text
            rows = ET.fromstring(timeline).findall(f".//{NS}g[@data-group]")
            assert len(rows) == 200
            assert ET.fromstring(timeline).get("data-rows") == str(STEPS)

            page_3 = (await client.get("/runs/big?page=3")).text
            assert '<tr id="step-s4_0"' in page_3
            assert '<tr id="step-s0_0"' not in page_3

            data = (await client.get("/api/runs/big?page=100")).json()
            assert len(data["steps"]) == STEPS_PER_PAGE
            assert next(iter(data["steps"])) == "s198_0"
            assert data["steps_page"] == {"page": 100, "pages": 100, "total": STEPS,
                                          "per_page": STEPS_PER_PAGE}  # fmt: skip
            assert len(data["layers"]) == LAYERS

            svg = await client.get("/api/runs/big/timeline.svg", params={"offset": STEPS - 50})
            assert len(svg.content) < SVG_BUDGET
            shown = ET.fromstring(svg.text).findall(f".//{NS}g[@data-group]")
            assert [r.get("data-step") for r in shown][-1] == "s199_99"
            assert len(shown) == 50
            usage = await client.get("/api/runs/big/usage.svg")
            assert len(usage.content) < SVG_BUDGET
            assert 'data-limit="50"' in usage.text  # each agent's limit: the shape, or the source

            again = await client.get("/runs/big")  # a later view: the kept model, same page
            assert again.text.count('<tr id="layer-') == LAYERS
            assert len(again.content) < PAGE_BUDGET
    finally:
        store.close()


def test_the_helper_writes_what_it_says(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'small.db'}"
    run_id = write_big_run(url, layers=3, width=2, run_id="small")
    store = SqliteStore(url)
    try:
        events = store.read_events(run_id)
        assert [e["kind"] for e in events[:4]] == [
            "run_started", "step_ready", "attempt_started", "step_succeeded",
        ]  # fmt: skip
        assert events[-1]["kind"] == "run_finished"
        assert len(events) == 2 + 3 * 6
        assert "s2_1: {uses: work, needs: [s1_1]}" in (store.read_source(run_id) or "")
    finally:
        store.close()
