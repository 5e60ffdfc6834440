"""``Event.to_dict``: the journal's form of an event, the same as attrs would build it."""

from __future__ import annotations

import json
from typing import Any

import attrs
import pytest

from cadenza import _events as ev


def reference(event: ev.Event) -> dict[str, Any]:
    """What ``to_dict`` returned before it was hand-written: attrs' own conversion."""
    return {"kind": event.kind, **attrs.asdict(event, recurse=True)}


@attrs.frozen
class Inner:
    """An attrs value nested in a field (events hold plain data, but to_dict must not care)."""

    x: int
    y: tuple[str, ...] = ()


NESTED: Any = {
    "a": [1, 2.5, None, True, "s"],
    "b": ({"c": (1, 2)}, frozenset({3})),
    "d": {"e": {"f": [{"g": ()}]}},
    (1, 2): "tuple key",
    "inner": Inner(x=1, y=("p", "q")),
    "bytes": b"raw",
}

EVENTS = [
    ev.StepReady(run_id="r", seq=0, at=1.5, step_id="s", inputs={}),
    ev.StepReady(run_id="r", seq=1, at=1.5, step_id="s", inputs=NESTED),
    ev.StepSucceeded(
        run_id="r", seq=2, at=2.0, step_id="s", attempt=1, agent="a", output=NESTED, duration=0.1
    ),
    ev.StepSucceeded(
        run_id="r", seq=3, at=2.0, step_id="s", attempt=1, agent="a", output=None, duration=0.0
    ),
    ev.RunStarted(
        run_id="r",
        seq=4,
        at=0.0,
        workflow="w",
        source="w.yaml",
        source_hash="h",
        inputs={"n": [1, 2]},
        steps=("a", "b"),
    ),
    ev.AnswersCombined(
        run_id="r",
        seq=5,
        at=0.0,
        step_id="s",
        attempt=1,
        strategy="vote",
        supporters=("a",),
        agreement=1.0,
        answers=({"agent": "a", "status": "ok"},),
        fields={"x": "y"},
    ),
    ev.OutputValidated(
        run_id="r", seq=6, at=0.0, step_id="s", attempt=1, agent="a", score=0.5, findings=("f",)
    ),
]


@pytest.mark.parametrize("event", EVENTS, ids=lambda e: f"{e.kind}-{e.seq}")
def test_to_dict_matches_attrs_conversion(event: ev.Event) -> None:
    """Every field converts as attrs.asdict converts it, types kept all the way down."""
    data = event.to_dict()
    expected = reference(event)
    assert data == expected
    assert list(data) == list(expected)
    assert next(iter(data)) == "kind"
    assert repr(data) == repr(expected)  # same types all the way down (tuple vs list)


def test_to_dict_copies_mappings_and_sequences() -> None:
    """The result shares no container with the event, so capping it cannot change the event."""
    inputs = {"a": [1], "t": ({"b": 2},)}
    data = ev.StepReady(run_id="r", seq=0, at=0.0, step_id="s", inputs=inputs).to_dict()
    assert data["inputs"] == inputs
    assert data["inputs"] is not inputs
    assert data["inputs"]["a"] is not inputs["a"]
    assert data["inputs"]["t"][0] is not inputs["t"][0]
    json.dumps(data)
