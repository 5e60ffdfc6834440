"""Big runs stay readable: the DAG collapsed by layer, the step table a page at a time.

Drawn whole, a 20,000-step run's page was 21 MB: every node of its DAG and a
row per step. Above ``DRAW_MAX_STEPS`` steps the run page shows instead one
line per layer of the DAG (steps whose longest chain of ``needs`` has the same
length), with how many of its steps are in each state, and lists its steps
``STEPS_PER_PAGE`` at a time (``?page=N``; the API's ``?page=N`` gives the
same page, which the page's script asks for to stay live). The timeline is
already a page of rows (``_insight/_timeline_svg``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

DRAW_MAX_STEPS = 300
"""Runs with more steps than this get the layer summary instead of the DAG drawing."""
STEPS_PER_PAGE = 200
"""Rows of the run page's step table (and of ``/api/runs/RUN?page=N``)."""
LAYER_NAMES_SHOWN = 3
LAYER_STATES = ("succeeded", "failed", "running", "ready", "pending", "skipped", "cancelled")


def is_big(step_count: int) -> bool:
    return step_count > DRAW_MAX_STEPS


def layer_rows(depth: Mapping[str, int], steps: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One entry per layer: its number, step count, counts by state, first step names.

    ``depth``: each step's layer (``_journal._run_shape.layers``); ``steps``:
    each step's state (a ``StepState``, or its ``to_dict()``).
    """
    by_layer: dict[int, list[str]] = {}
    for sid in steps:
        by_layer.setdefault(depth.get(sid, 0), []).append(sid)
    out = []
    for layer in sorted(by_layer):
        ids = by_layer[layer]
        counts = Counter(_counted(_state(steps[s])) for s in ids)
        out.append(
            {
                "layer": layer,
                "steps": len(ids),
                "counts": {k: counts[k] for k in LAYER_STATES if counts[k]},
                "names": ids[:LAYER_NAMES_SHOWN],
            }
        )
    return out


def _state(step: Any) -> str:
    state = getattr(step, "state", None)  # a StepState (isinstance(Mapping) is slow, 20,000x)
    return str(step["state"] if state is None else state)


def _counted(state: str) -> str:
    return {"restored": "succeeded", "retrying": "running", "interrupted": "cancelled"}.get(
        state, state
    )


def page_of(steps: Mapping[str, Any], page: int) -> tuple[dict[str, Any], dict[str, int]]:
    """Page ``page`` (from 1; past the end: the last) of the steps, and where it is."""
    total = len(steps)
    pages = max((total + STEPS_PER_PAGE - 1) // STEPS_PER_PAGE, 1)
    page = min(max(page, 1), pages)
    start = (page - 1) * STEPS_PER_PAGE
    ids = list(steps)[start : start + STEPS_PER_PAGE]
    return {k: steps[k] for k in ids}, {"page": page, "pages": pages, "total": total,
                                         "per_page": STEPS_PER_PAGE}  # fmt: skip


__all__ = ["DRAW_MAX_STEPS", "STEPS_PER_PAGE", "is_big", "layer_rows", "page_of"]
