"""Asking an LLM agent for summaries: bounded, concurrent, failures only warn."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest
import trio

import cadenza
from cadenza_docgen._csharp import parse_csharp
from cadenza_docgen._enrich import GIVE_UP_AFTER, answer_text, enrich, targets
from cadenza_docgen._model import Module
from cadenza_docgen._select import count, select

SOURCE = b"""
/// <summary>Documented.</summary>
public class Door {
    public enum State { Open, Closed }
    public int Width;
    /// <summary>Opens it.</summary>
    public void Open() {}
    public void Close() {}
    public void Lock(int code) {}
}
public class Undocumented {}
"""


def modules() -> list[Module]:
    return [select(parse_csharp(SOURCE, "Door.cs"), include_private=False)]


def test_targets_put_types_and_callables_first() -> None:
    """Undocumented only; types, then methods, then fields, then enum values."""
    assert [(t.label, t.kind) for t in targets(modules())] == [
        ("Door.State", "enum"),
        ("Undocumented", "class"),
        ("Door.Close", "method"),
        ("Door.Lock", "method"),
        ("Door.Width", "field"),
        ("Door.State.Open", "enum member"),
        ("Door.State.Closed", "enum member"),
    ]


@pytest.mark.parametrize(
    ("output", "text"),
    [
        ("  Closes the door.\n", "Closes the door."),
        ({"text": '"Closes the door."'}, "Closes the door."),
        ({"content": "x"}, ""),
        (None, ""),
        ("x" * 500, "x" * 399 + "…"),
    ],
)
def test_answer_text(output: Any, text: str) -> None:
    """A string or a mapping's text, trimmed of quotes and whitespace, bounded."""
    assert answer_text(output) == text


async def test_enrich_bounds_calls_and_concurrency(autojump_clock: trio.abc.Clock) -> None:
    """At most ``limit`` calls, ``concurrency`` at a time; the prompt is focused."""
    calls: list[Mapping[str, Any]] = []
    running = 0
    peak = 0

    async def ask(agent: str, inputs: Mapping[str, Any]) -> cadenza.AgentResult:
        nonlocal running, peak
        calls.append(inputs)
        running += 1
        peak = max(peak, running)
        await trio.sleep(1)
        running -= 1
        return cadenza.AgentResult(output={"text": f"About {inputs['member']}."})

    progress: list[str] = []
    report = await enrich(
        modules(), ask=ask, agent="llm", limit=5, concurrency=2, progress=progress.append
    )
    assert len(calls) == 5
    assert peak == 2
    assert report.generated == 5
    assert report.warnings == ["2 undocumented elements were not sent to 'llm' (max_enrich is 5)"]
    assert progress[-1] == "5/5 summaries from llm"
    first = calls[0]
    assert first["language"] == "csharp"
    assert first["member"] == "Door.State"
    assert "one-sentence summary" in first["prompt"]
    assert "public enum State" in first["prompt"]
    door = report.modules[0].types[0]
    close = next(m for m in door.members if m.name == "Close")
    assert close.generated is not None
    assert (close.generated.text, close.generated.agent) == ("About Door.Close.", "llm")
    assert close.doc.empty  # never written into the author's documentation
    counts = count(report.modules[0])
    assert (counts.documented, counts.generated) == (2, 5)


async def test_failures_warn_and_a_broken_agent_is_given_up() -> None:
    """Each failure is a warning; after several failures in a row the rest are not asked."""
    asked = 0

    async def ask(agent: str, inputs: Mapping[str, Any]) -> cadenza.AgentResult:
        nonlocal asked
        asked += 1
        raise cadenza.PermanentError("model refused", agent=agent)

    report = await enrich(modules(), ask=ask, agent="llm", limit=50, concurrency=1, progress=print)
    assert asked == GIVE_UP_AFTER
    assert report.generated == 0
    assert report.warnings[0] == "Door.cs: Door.State: no summary from 'llm': model refused"
    assert report.warnings[-1] == (
        f"stopped asking 'llm' for summaries after {GIVE_UP_AFTER} failed calls in a row; "
        "7 elements left undocumented"
    )


async def test_some_failures_leave_only_those_undocumented() -> None:
    """Failures after a success do not stop the others."""

    async def ask(agent: str, inputs: Mapping[str, Any]) -> cadenza.AgentResult:
        if inputs["member"].startswith("Door.State"):
            raise cadenza.RetryableError("busy", agent=agent)
        return cadenza.AgentResult(output="Fine.")

    report = await enrich(modules(), ask=ask, agent="llm", limit=50, concurrency=1, progress=print)
    assert report.generated == 4
    assert len(report.warnings) == 3
