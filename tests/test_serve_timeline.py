"""The dashboard's timeline and usage drawings over HTTP: a real server, a real journal.

Checked by structure (the SVG parsed as XML): the run page embeds both, the
timeline's window and rows follow the query, a ``for_each`` step opens into
its items, a running run's axis reaches the wall clock, and bad parameters
are a 400 naming them.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
import trio

pytest.importorskip("hypercorn")
pytest.importorskip("starlette")

from .mapped_helpers import mapped_run
from .serve_helpers import dashboard, finished_run, live_run

NS = "{http://www.w3.org/2000/svg}"


def rows(svg: str) -> list[str]:
    return [g.get("data-step") or "" for g in ET.fromstring(svg).findall(f".//{NS}g[@data-group]")]


async def test_run_page_embeds_the_timeline_and_usage(tmp_path: object) -> None:
    url = f"sqlite:///{tmp_path}/journal.db"
    run_id = await finished_run(url)
    async with dashboard(url) as client:
        page = (await client.get(f"/runs/{run_id}")).text
        assert 'id="timeline"' in page
        assert '<svg xmlns="http://www.w3.org/2000/svg" class="tl"' in page
        assert '<svg xmlns="http://www.w3.org/2000/svg" class="us"' in page
        assert "/static/timeline.js" in page
        response = await client.get(f"/api/runs/{run_id}/timeline.svg")
        assert response.headers["content-type"].startswith("image/svg+xml")
        root = ET.fromstring(response.text)
        assert rows(response.text) == ["first", "second"]
        # Without the workflow (no plugins here) the path is inferred from timing.
        assert root.get("data-critical") == "first second"
        usage = ET.fromstring((await client.get(f"/api/runs/{run_id}/usage.svg")).text)
        agents = usage.findall(f".//{NS}g[@data-agent]")
        assert [(a.get("data-agent"), a.get("data-calls")) for a in agents] == [("a", "2")]
        static = await client.get("/static/timeline.js")
        assert static.status_code == 200


async def test_window_and_width_follow_the_query(tmp_path: object) -> None:
    url = f"sqlite:///{tmp_path}/journal.db"
    run_id = await finished_run(url)
    async with dashboard(url) as client:
        svg = (
            await client.get(
                f"/api/runs/{run_id}/timeline.svg", params={"from": "0", "to": "0.5", "width": 700}
            )
        ).text
        root = ET.fromstring(svg)
        assert (root.get("data-from"), root.get("data-to"), root.get("width")) == (
            "0.000", "0.500", "700",
        )  # fmt: skip
        for query, name in (
            ({"from": "nan"}, "from"),
            ({"to": "1e999"}, "to"),
            ({"width": "10"}, "width"),
            ({"offset": "-1"}, "offset"),
            ({"from": "x" * 100}, "from"),
        ):
            response = await client.get(f"/api/runs/{run_id}/timeline.svg", params=query)
            assert response.status_code == 400, query
            assert name in response.json()["error"]
        assert (await client.get("/api/runs/nope/timeline.svg")).status_code == 404
        assert (await client.get("/api/runs/nope/usage.svg")).status_code == 404


async def test_a_for_each_step_is_one_row_until_opened(tmp_path: object) -> None:
    url = f"sqlite:///{tmp_path}/journal.db"
    run = await trio.to_thread.run_sync(lambda: mapped_run(url, items=30, failing=(3,)))
    run_id = run.result.run_id
    async with dashboard(url) as client:
        path = f"/api/runs/{run_id}/timeline.svg"
        assert rows((await client.get(path)).text) == ["plan", "build", "review"]
        opened = rows((await client.get(path, params={"open": "build"})).text)
        assert opened[:3] == ["plan", "build", "build[0]"]
        assert len(opened) == 3 + 30
        paged = rows((await client.get(path, params={"open": "build", "offset": "30"})).text)
        assert paged == ["build[28]", "build[29]", "review"]


async def test_a_running_runs_axis_reaches_the_wall_clock(tmp_path: object) -> None:
    url = f"sqlite:///{tmp_path}/journal.db"
    run_id = live_run(url)
    await trio.sleep(0.3)  # real time: the axis follows the wall clock
    async with dashboard(url) as client:
        root = ET.fromstring((await client.get(f"/api/runs/{run_id}/timeline.svg")).text)
        assert root.get("data-status") == "running"
        assert float(root.get("data-now") or 0) >= 0.3
        assert root.findall(f".//{NS}line[@class='now']")


async def test_the_step_page_and_api_say_what_an_attempt_waited_for(tmp_path: object) -> None:
    from cadenza._journal._sqlite import SqliteStore
    from cadenza._scheduler._runner import run_workflow
    from cadenza.testing import ScriptedAgent

    from .scheduler_helpers import make_workflow, plugins_with
    from .serve_helpers import sleeper

    url = f"sqlite:///{tmp_path}/journal.db"
    workflow = make_workflow(
        {"one": {}, "two": {}}, agents={"a": {"max_concurrent": 1}}, concurrency=4
    )
    store = SqliteStore(url)
    try:
        plugins = plugins_with({"a": ScriptedAgent("a", sleeper(0.05))})
        run_id = (await run_workflow(workflow, plugins=plugins, store=store)).run_id
    finally:
        store.close()
    async with dashboard(url) as client:
        two = (await client.get(f"/api/runs/{run_id}/steps/two")).json()
        assert two["attempts_detail"][0]["waited_for"] == "agent_slots"
        page = (await client.get(f"/runs/{run_id}/steps/two")).text
        assert "(agent slots)" in page


async def test_critical_path_only(tmp_path: object) -> None:
    url = f"sqlite:///{tmp_path}/journal.db"
    run_id = await finished_run(url, {"first": {}, "side": {}, "second": {"needs": ["first"]}})
    async with dashboard(url) as client:
        path = f"/api/runs/{run_id}/timeline.svg"
        assert rows((await client.get(path)).text) == ["first", "side", "second"]
        only = ET.fromstring((await client.get(path, params={"critical": "1"})).text)
        shown = [g.get("data-step") for g in only.findall(f".//{NS}g[@data-group]")]
        assert shown == (only.get("data-critical") or "").split()
        assert len(shown) == 2  # without the workflow the chain is inferred from timing
        assert shown[-1] == "second"
