"""``cadenza report RUN --format html|svg``: golden structure, parsed, never byte for byte.

A real run journaled into a real SQLite file (trio's autojump clock, events
stamped with it), then the command as a user runs it. The HTML must be one
self-contained page (no script, nothing fetched); the SVG the timeline with a
row per step, a bar per attempt, the critical path marked; costs and budgets
show in the agents-and-cost chart.
"""

from __future__ import annotations

import functools
import html.parser
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import trio

import cadenza
import cadenza._scheduler._runner
from cadenza._journal._bus import EventBus
from cadenza._journal._sqlite import SqliteStore
from cadenza._plugins._registry import Plugins
from cadenza.testing import ScriptedAgent, run_captured
from tests.scheduler_helpers import plugins_with
from tests.test_report import invoke
from tests.test_timeline import DEMO, NoJitter, behave

NS = "{http://www.w3.org/2000/svg}"
SVG_NS = "http://www.w3.org/2000/svg"


@pytest.fixture
def virtual_at(monkeypatch: pytest.MonkeyPatch) -> None:
    """Events stamped with trio's clock, so the timeline agrees with the durations."""
    monkeypatch.setattr(
        cadenza._scheduler._runner, "EventBus", functools.partial(EventBus, clock=trio.current_time)
    )


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStore]:
    opened = SqliteStore(f"sqlite:///{tmp_path / 'journal.db'}")
    yield opened
    opened.close()


class Tags(html.parser.HTMLParser):
    """Every start tag with its attributes, and the page's text."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


async def demo_run(store: SqliteStore) -> tuple[str, Plugins]:
    plugins = plugins_with({"w": ScriptedAgent("w", behave), "f": ScriptedAgent("f", behave)})
    run = await run_captured(DEMO, plugins=plugins, store=store, rng=NoJitter())
    return run.result.run_id, plugins


async def test_svg_format_is_the_timeline(
    store: SqliteStore, tmp_path: Path, virtual_at: None, autojump_clock: Any
) -> None:
    run_id, plugins = await demo_run(store)
    url = f"sqlite:///{tmp_path / 'journal.db'}"
    code, out, _ = await trio.to_thread.run_sync(
        invoke, plugins, run_id, "--store", url, "--format", "svg"
    )
    assert code == 0
    root = ET.fromstring(out)
    assert root.tag == f"{NS}svg"
    assert root.get("data-status") == "succeeded"
    rows = root.findall(f".//{NS}g[@data-group]")
    assert [r.get("data-step") for r in rows] == ["a", "b", "c", "d", "e", "g"]
    critical = [r.get("data-step") for r in rows if "critical" in (r.get("class") or "")]
    assert critical == ["a", "b", "e", "g"]
    bars = root.findall(f".//{NS}g[@data-attempt]")
    assert len(bars) == 8
    assert [b.get("data-outcome") for b in bars if b.get("data-step") == "e"] == [
        "failed", "failed", "succeeded",
    ]  # fmt: skip
    assert "http" not in out.replace(SVG_NS, "")  # nothing to fetch


async def test_html_format_is_one_self_contained_page(
    store: SqliteStore, tmp_path: Path, virtual_at: None, autojump_clock: Any
) -> None:
    run_id, plugins = await demo_run(store)
    url = f"sqlite:///{tmp_path / 'journal.db'}"
    code, out, _ = await trio.to_thread.run_sync(
        invoke, plugins, run_id, "--store", url, "--format", "html"
    )
    assert code == 0
    page = Tags()
    page.feed(out)
    names = [t for t, _ in page.tags]
    assert "script" not in names
    assert "link" not in names
    assert "img" not in names
    fetching = [a for _, a in page.tags for k in ("src", "href") if a.get(k)]
    assert fetching == []
    assert "http" not in out.replace(SVG_NS, "")
    svgs = [a for t, a in page.tags if t == "svg"]
    assert [a.get("class") for a in svgs] == ["tl", "us"]
    rows = [a for t, a in page.tags if t == "g" and "data-group" in a]
    assert len(rows) == 6
    assert sum("critical" in (a.get("class") or "") for a in rows) == 4
    agents = {a["data-agent"]: a for t, a in page.tags if t == "g" and "data-agent" in a}
    assert agents["w"]["data-limit"] == "2"
    assert agents["f"]["data-failures"] == "2"
    path = [a["data-step"] for t, a in page.tags if t == "tr" and "data-step" in a]
    assert path == ["a", "b", "e", "g"]
    text = "".join(page.text)
    assert f"run {run_id}: SUCCEEDED" in text  # the text report, whole


async def test_html_shows_spend_against_the_budget(
    store: SqliteStore, tmp_path: Path, virtual_at: None, autojump_clock: Any
) -> None:
    text = """
name: priced
budget: {usd: 1.0}
agents:
  w: {kind: prog, price: {per_call: 0.1, expected_output_tokens: 0}}
steps:
  a: {uses: w}
  b: {uses: w, needs: [a]}
"""

    async def work(request: cadenza.AgentRequest) -> str:
        await trio.sleep(1.0)
        return request.step_id

    plugins = plugins_with({"w": ScriptedAgent("w", work)})
    run = await run_captured(text, plugins=plugins, store=store)
    url = f"sqlite:///{tmp_path / 'journal.db'}"
    code, out, _ = await trio.to_thread.run_sync(
        invoke, plugins, run.result.run_id, "--store", url, "--format", "html"
    )
    assert code == 0
    page = Tags()
    page.feed(out)
    cost = next(a for t, a in page.tags if t == "g" and a.get("class") == "cost")
    budgets = {a["data-budget"]: a["data-usd"] for t, a in page.tags if "data-budget" in a}
    assert budgets == {"run": "1.0"}
    assert float(cost["data-spent"] or 0) == pytest.approx(0.2)


def test_json_and_another_format_conflict(store: SqliteStore, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'journal.db'}"
    code, _, err = invoke(plugins_with({}), "nope", "--store", url, "--json", "--format", "svg")
    assert code == 2
    assert "--json and --format svg" in err
