"""The run timeline (``_insight/_timeline``) and its SVG, from real runs on trio's autojump clock.

The SVG is checked by structure (parsed as XML: rows, bars, their classes
and data, the critical-path marks), never byte for byte.
"""

from __future__ import annotations

import functools
import random
import xml.etree.ElementTree as ET
from typing import Any

import pytest
import trio

import cadenza
import cadenza._scheduler._runner
from cadenza._insight._timeline import run_timeline
from cadenza._insight._timeline_svg import View, render_timeline_svg
from cadenza._journal._bus import EventBus
from cadenza._load._loader import load_workflow_text
from cadenza.testing import ScriptedAgent, run_captured
from tests.scheduler_helpers import plugins_with

NS = "{http://www.w3.org/2000/svg}"

DEMO = """
name: demo
concurrency: 4
agents:
  w: {kind: prog, max_concurrent: 2}
  f: {kind: prog}
steps:
  a: {uses: w}
  b: {uses: w, needs: [a]}
  c: {uses: w, needs: [a]}
  d: {uses: w, needs: [a]}
  e: {uses: f, needs: [b], retry: {max_attempts: 3, backoff: 0.5}}
  g: {uses: w, needs: [c, d, e]}
"""


class NoJitter(random.Random):
    """Retries wait their full backoff: a random short wait would put ``e``'s bars closer than
    MERGE_PX, and the drawing would rightly merge them."""

    def uniform(self, a: float, b: float) -> float:
        return b


LATENCY = {"a": 1.0, "b": 2.0, "c": 1.5, "d": 1.0, "e": 0.7, "g": 1.0}


@pytest.fixture
def virtual_at(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        cadenza._scheduler._runner, "EventBus", functools.partial(EventBus, clock=trio.current_time)
    )


async def behave(request: cadenza.AgentRequest) -> str:
    await trio.sleep(LATENCY[request.step_id])
    if request.step_id == "e" and request.attempt < 3:
        raise cadenza.RetryableError("busy (503)", agent="f")
    return request.step_id


async def demo_events(text: str = DEMO) -> tuple[list[dict[str, Any]], Any]:
    plugins = plugins_with({"w": ScriptedAgent("w", behave), "f": ScriptedAgent("f", behave)})
    run = await run_captured(text, plugins=plugins, rng=NoJitter())
    workflow = load_workflow_text(text, plugins=plugins).workflow
    return [e.to_dict() for e in run.events], workflow


async def test_attempt_started_says_what_held_a_ready_step(
    virtual_at: None, autojump_clock: Any
) -> None:
    """``d`` waits 1.5 s for one of w's two slots (b and c hold them): ``agent_slots``."""
    events, _ = await demo_events()
    started = {(e["step_id"], e["attempt"]): e for e in events if e["kind"] == "attempt_started"}
    assert started[("d", 1)]["waited_for"] == "agent_slots"
    assert started[("d", 1)]["queue_wait"] == pytest.approx(1.5)
    assert started[("a", 1)]["waited_for"] == ""
    assert started[("b", 1)]["waited_for"] == ""


async def test_the_run_concurrency_is_named_as_the_wait(
    virtual_at: None, autojump_clock: Any
) -> None:
    text = """
name: narrow
concurrency: 1
agents:
  w: {kind: prog}
steps:
  a: {uses: w}
  c: {uses: w}
"""
    events, _ = await demo_events(text)
    waits = [e["waited_for"] for e in events if e["kind"] == "attempt_started"]
    assert waits == ["", "concurrency"]


async def test_timeline_rows_bars_retries_and_critical_path(
    virtual_at: None, autojump_clock: Any
) -> None:
    events, workflow = await demo_events()
    tl = run_timeline(events, workflow=workflow)
    assert list(tl.rows) == ["a", "b", "c", "d", "e", "g"]
    assert tl.critical_path == ["a", "b", "e", "g"]
    d = tl.rows["d"].bars[0]
    assert (d.queued, d.start, d.end, d.waited_for) == pytest.approx((1.0, 2.5, 3.5, "agent_slots"))
    e = tl.rows["e"].bars
    assert [b.outcome for b in e] == ["failed", "failed", "succeeded"]
    assert "busy (503)" in e[0].error
    assert tl.status == "succeeded"
    assert tl.now == pytest.approx(tl.rows["g"].ended)


async def test_svg_structure(virtual_at: None, autojump_clock: Any) -> None:
    events, workflow = await demo_events()
    svg = render_timeline_svg(run_timeline(events, workflow=workflow))
    root = ET.fromstring(svg)
    rows = root.findall(f".//{NS}g[@data-step][@data-group]")
    assert [r.get("data-step") for r in rows] == ["a", "b", "c", "d", "e", "g"]
    critical = [r.get("data-step") for r in rows if "critical" in (r.get("class") or "").split()]
    assert critical == ["a", "b", "e", "g"]
    assert root.get("data-critical") == "a b e g"
    bars = root.findall(f".//{NS}g[@data-attempt]")
    assert len(bars) == 8  # e: three attempts, the others one each
    by_step = {}
    for bar in bars:
        by_step.setdefault(bar.get("data-step"), []).append(bar)
    assert [b.get("data-outcome") for b in by_step["e"]] == ["failed", "failed", "succeeded"]
    assert all("critical" in (b.get("class") or "") for b in by_step["g"])
    queued = by_step["d"][0].findall(f"{NS}rect[@class='queued']")
    assert len(queued) == 1
    assert float(queued[0].get("width") or 0) > 50
    assert by_step["d"][0].get("data-waited-for") == "agent_slots"
    title = by_step["e"][0].find(f"{NS}title")
    assert title is not None
    assert "busy (503)" in (title.text or "")
    labels = [t.text for t in root.findall(f".//{NS}text[@class='label']")]
    assert labels[0] == "◆ a"
    assert labels[2] == "c"


async def test_zooming_in_keeps_only_the_window(virtual_at: None, autojump_clock: Any) -> None:
    events, workflow = await demo_events()
    tl = run_timeline(events, workflow=workflow)
    root = ET.fromstring(render_timeline_svg(tl, View(lo=0.0, hi=0.9)))
    steps = {b.get("data-step") for b in root.findall(f".//{NS}g[@data-attempt]")}
    assert steps == {"a"}
    assert (root.get("data-from"), root.get("data-to")) == ("0.000", "0.900")


def test_many_bars_in_a_zoomed_out_row_merge_into_blocks_that_count_them() -> None:
    from cadenza._insight._timeline import Bar, Row, Timeline

    row = Row(step_id="s", state="succeeded")
    row.bars = [
        Bar(attempt=i + 1, agent="w", queued=i * 0.01, start=i * 0.01, end=i * 0.01 + 0.005,
            outcome="failed" if i == 5 else "succeeded")
        for i in range(1000)
    ]  # fmt: skip
    tl = Timeline(run_id="r", status="succeeded", now=10.0, rows={"s": row})
    root = ET.fromstring(render_timeline_svg(tl, View(width=600)))
    blocks = root.findall(f".//{NS}g[@data-count]")
    assert sum(int(b.get("data-count") or 0) for b in blocks) == 1000
    assert len(blocks) < 50
    assert blocks[0].get("data-outcome") == "failed"  # the worst outcome inside shows


async def test_a_rate_limit_and_a_breaker_are_named_as_the_wait(
    virtual_at: None, autojump_clock: Any
) -> None:
    """One call a minute: the second step waits for the rate limit.

    Two failures open the breaker of ``brk``: the retry waits for it.
    """
    text = """
name: held
agents:
  slow: {kind: prog, rate_limit: {requests_per_minute: 1, burst: 1}}
  brk: {kind: prog, breaker: {failures: 1, cooldown: 5}}
steps:
  a: {uses: slow}
  c: {uses: slow}
  x: {uses: brk, retry: {max_attempts: 3, backoff: 0}}
"""
    calls = 0

    async def work(request: cadenza.AgentRequest) -> str:
        nonlocal calls
        await trio.sleep(0.5)
        if request.step_id == "x" and request.attempt == 1:
            raise cadenza.RetryableError("down (503)", agent="brk")
        return request.step_id

    plugins = plugins_with({"slow": ScriptedAgent("slow", work), "brk": ScriptedAgent("brk", work)})
    run = await run_captured(text, plugins=plugins)
    started = {
        (e.step_id, e.attempt): e.waited_for for e in run.events if e.kind == "attempt_started"
    }
    assert started[("a", 1)] == ""
    assert started[("c", 1)] == "rate_limit"
    assert started[("x", 2)] == "breaker"


async def test_critical_path_agrees_with_the_report(virtual_at: None, autojump_clock: Any) -> None:
    from cadenza._insight._report import build_report
    from cadenza._insight._timeline import build_timeline, critical_path

    events, workflow = await demo_events()
    timeline = build_timeline(events)
    for needs, wf in (({s: tuple(st.needs) for s, st in workflow.steps.items()}, workflow),
                      (None, None)):  # fmt: skip
        report = [e.step_id for e in build_report(events, workflow=wf).critical_path]
        assert critical_path(timeline, needs) == report


def test_usage_profile_limit_failures_and_breaker_changes() -> None:
    from cadenza._insight._usage import build_usage

    def e(seq: int, at: float, kind: str, **fields: Any) -> dict[str, Any]:
        return {"kind": kind, "run_id": "r", "seq": seq, "at": 100.0 + at, **fields}

    events = [
        e(0, 0, "run_started", steps=["a", "b"]),
        e(1, 0, "attempt_started", step_id="a", attempt=1, agent="w", queue_wait=0.0),
        e(2, 1, "attempt_started", step_id="b", attempt=1, agent="w", queue_wait=1.0),
        e(3, 2, "attempt_failed", step_id="a", attempt=1, agent="w", error_type="E",
          message="m", retry_in=None),
        e(4, 2, "circuit_changed", agent="w", state="open", previous="closed", reason="1 failure"),
        e(5, 2, "step_failed", step_id="a", error_type="E", message="m"),
        e(6, 3, "cost_incurred", step_id="b", attempt=1, agent="w", cost_usd=0.25),
        e(7, 3, "step_succeeded", step_id="b", attempt=1, agent="w", output=1, duration=2.0),
        e(8, 4, "run_finished", status="failed", duration=4.0, counts={}),
    ]  # fmt: skip
    usage = build_usage(events)
    w = usage.agents["w"]
    assert (w.calls, w.failures, w.peak, w.limit) == (2, 1, 2, None)
    assert w.profile == [(0.0, 0), (0.0, 1), (1.0, 2), (2.0, 1), (3.0, 0)]
    assert w.changes == [(2.0, "open", "1 failure")]
    assert usage.spend == [(3.0, 0.25)]
    assert w.cost_usd == 0.25


def test_hedged_calls_get_lanes_and_a_fallback_its_own_bar() -> None:
    from cadenza._insight._timeline import build_timeline

    def e(seq: int, at: float, kind: str, **fields: Any) -> dict[str, Any]:
        return {"kind": kind, "run_id": "r", "seq": seq, "at": 50.0 + at, "step_id": "s", **fields}

    events = [
        {"kind": "run_started", "run_id": "r", "seq": 0, "at": 50.0, "steps": ["s"]},
        e(1, 0, "step_ready"),
        e(2, 0, "attempt_started", attempt=1, agent="x", queue_wait=0.0),
        e(3, 0, "attempt_started", attempt=1, agent="y", queue_wait=0.0),
        e(4, 1, "attempt_failed", attempt=1, agent="x", error_type="E", message="no"),
        e(5, 2, "attempt_failed", attempt=1, agent="y", error_type="E", message="no"),
        e(6, 2, "fallback_started", source="template", error="every agent failed"),
        e(7, 2.5, "step_succeeded", attempt=0, agent="", output=1, degraded=True,
          source="template"),
    ]  # fmt: skip
    row = build_timeline(events).rows["s"]
    assert [(b.kind, b.agent, b.lane, b.outcome) for b in row.bars] == [
        ("hedge", "x", 0, "failed"),
        ("hedge", "y", 1, "failed"),
        ("fallback", "template", 0, "succeeded"),
    ]
    assert row.lanes == 2
    assert row.bars[2].end == 2.5
    assert row.reason == "degraded (from template)"


async def test_a_step_held_by_the_budget_says_so(autojump_clock: Any) -> None:
    """``b`` is ready beside ``a``, but ``a``'s reserved price leaves too little of the run
    budget for ``b``'s: it waits for ``a`` to settle (cheaper than priced), then starts,
    and its attempt names the budget as what held it."""
    text = """
name: held
budget: {usd: 0.3}
agents:
  w: {kind: prog, price: {per_call: 0.2}}
steps:
  a: {uses: w}
  b: {uses: w}
"""

    async def work(request: cadenza.AgentRequest) -> cadenza.AgentResult:
        await trio.sleep(0.5)
        return cadenza.AgentResult(output=request.step_id, cost_usd=0.05)

    run = await run_captured(text, plugins=plugins_with({"w": ScriptedAgent("w", work)}))
    assert run.result.status == "succeeded"
    started = [(e.step_id, e.waited_for) for e in run.events if e.kind == "attempt_started"]
    assert started == [("a", ""), ("b", "budget")]
