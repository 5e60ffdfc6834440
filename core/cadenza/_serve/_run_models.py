"""Each run's pictures kept between views and brought up to date with only the new events.

A view of a 20,000-step run used to rebuild, from its 60,000 events, every
step's state, the timeline, the usage chart and the layer table: over a
second per view, and a live page views again every second. Events are
append-only, so a :class:`RunModel` keeps the folds (``StepFold``,
``TimelineFold``, ``UsageFold``, the cost tally) and feeds them only the
events after the last one it saw; what is derived from them (grouped steps,
the critical path, the layer counts, the usage chart) is made once per new
event batch and reused until the next (``derived``).

The workflow's shape (needs, agents' limits, budgets) comes from the run's
``run_started`` event (``_journal/_run_shape``); only a journal written
before it carried them makes the dashboard load the workflow.

A model is used under its ``lock`` (views run in worker threads): the folds
change what they hand out. Bounded by events folded, the least recently
viewed runs dropped first.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, TypeVar

from .._insight._timeline import Timeline, TimelineFold
from .._insight._usage import Usage, UsageFold
from .._journal._readback import StepFold
from .._journal._run_shape import RunShape, layers
from ._event_cache import EventSource

MAX_EVENTS = 250_000
"""Events folded over all kept runs (a 20,000-step run has about 60,000)."""

T = TypeVar("T")
GATE_KINDS = frozenset({"approval_requested", "approval_decided"})
"""What :func:`~cadenza._journal._decisions.open_gates` reads; it skips every other event."""


class CostTally:
    """:func:`~cadenza._serve._views.total_cost`, event by event."""

    def __init__(self) -> None:
        self.settled: list[float] = []
        self.reported: list[float] = []

    def feed(self, events: list[dict[str, Any]]) -> None:
        for e in events:
            kind = e.get("kind")
            if kind == "cost_incurred":
                self.settled.append(float(e.get("cost_usd") or 0.0))
            elif kind == "step_succeeded" and e.get("cost_usd") is not None:
                self.reported.append(float(e["cost_usd"]))

    def total(self) -> float | None:
        """Settled costs, else what successes reported; None if nothing did."""
        if self.settled:
            return round(sum(self.settled), 6)
        return round(sum(self.reported), 6) if self.reported else None


class RunModel:
    """One run's folds and what is derived from them (module doc); use under ``lock``."""

    def __init__(self, run_id: str) -> None:
        self.run_id = run_id
        self.lock = threading.Lock()
        self.last_seq = -1
        self.events: list[dict[str, Any]] = []
        self.gate_events: list[dict[str, Any]] = []
        """The events ``open_gates`` reads (``GATE_KINDS``): a few, not the run's 60,000."""
        self.steps = StepFold()
        self.timeline_fold = TimelineFold()
        self.usage_fold = UsageFold()
        self.costs = CostTally()
        self.shape: RunShape | None = None
        """From ``run_started``; None until seen, or when it carries none (an older journal)."""
        self.started: dict[str, Any] | None = None
        self.loaded_shape: RunShape | None = None
        """The shape of the workflow loaded from the stored source, when ``shape`` is None."""
        self._derived: dict[Any, Any] = {}
        self._depth: tuple[RunShape, dict[str, int]] | None = None
        self._charted = 0
        """How many of ``events`` the timeline and usage folds have seen (``charts_folded``)."""

    def update(self, source: EventSource) -> bool:
        """Fold the events journaled since the last update; True when there were any."""
        new = source.read_events(self.run_id, after=self.last_seq)
        if not new:
            return False
        if self.started is None and new[0].get("kind") == "run_started":
            self.started = new[0]
            self.shape = RunShape.from_run_started(new[0])
        self.events = self.events + new  # a new list: a reader's earlier list stays as it was
        self.gate_events += [e for e in new if e.get("kind") in GATE_KINDS]
        self.steps.feed(new)
        self.costs.feed(new)
        self.last_seq = int(new[-1]["seq"])
        self._derived.clear()
        return True

    def derived(self, key: Any, make: Callable[[], T]) -> T:
        """``make()``, kept until the next event arrives (``key`` names what it is)."""
        if key not in self._derived:
            self._derived[key] = make()
        value: T = self._derived[key]
        return value

    def depth(self, shape: RunShape) -> dict[str, int]:
        """Each step's layer in ``shape``: found once per run (needs never change)."""
        if self._depth is None or self._depth[0] is not shape:
            self._depth = (shape, layers(shape.needs, shape.steps))
        return self._depth[1]

    def charts_folded(self) -> None:
        """Feed the timeline and usage folds what they have not seen.

        They are fed on demand, not in :meth:`update`: a big run's page is served
        without its charts, which its script asks for next (``_app.run_page``), so
        the page waits only for the step states.
        """
        if self._charted < len(self.events):
            new = self.events[self._charted :]
            self.timeline_fold.feed(new)
            self.usage_fold.feed(new)
            self._charted = len(self.events)

    def timeline(self, shape: RunShape | None) -> Timeline:
        """The timeline with its critical path (along ``shape``'s needs, else by timing)."""
        needs = shape.needs if shape is not None else None

        def make() -> Timeline:
            self.charts_folded()
            return self.timeline_fold.timeline(needs)

        return self.derived(("timeline", shape is not None), make)

    def usage(self, shape: RunShape | None) -> Usage:
        """Each agent's calls in flight, and cost against budgets, over the run."""

        def make() -> Usage:
            timeline = self.timeline(shape)  # folds the charts' events first
            return self.usage_fold.usage(timeline, shape)

        return self.derived(("usage", shape is not None), make)


class RunModels:
    """The models of recently viewed runs, bounded by ``max_events`` folded events."""

    def __init__(self, source: EventSource, *, max_events: int = MAX_EVENTS) -> None:
        self.source = source
        self.max_events = max_events
        self._models: OrderedDict[str, RunModel] = OrderedDict()
        self._guard = threading.Lock()

    def get(self, run_id: str) -> RunModel:
        """The run's model (new, or kept); the caller takes its lock and calls ``update``."""
        with self._guard:
            model = self._models.get(run_id)
            if model is None:
                model = self._models[run_id] = RunModel(run_id)
            self._models.move_to_end(run_id)
            total = sum(len(m.events) for m in self._models.values())
            while total > self.max_events and len(self._models) > 1:
                _, dropped = self._models.popitem(last=False)
                total -= len(dropped.events)
            return model


__all__ = ["CostTally", "RunModel", "RunModels"]
