"""Each run's decoded events, kept between requests and read from the journal incrementally.

A run page needs the run's events three times (its steps, its timeline, its
usage chart), and a live page asks again every second. For a 20,000-step
run that is 60,000 events read and JSON-decoded per view, about half a
second each time. Events are append-only (unique ``seq``, never rewritten),
so a run's decoded events stay true: a later read asks the store only for
events after the last one kept (``read_events(after=)``).

Bounded by events kept, not runs: the least recently read runs are dropped
beyond ``max_events``. Readers get a new list of the shared event mappings
and must not mutate them (the views only read).
"""

from __future__ import annotations

import bisect
import threading
from collections import OrderedDict
from typing import Any, Protocol

from .._journal._store import Store

MAX_EVENTS = 250_000
"""Events kept over all runs (a 20,000-step run has about 60,000)."""


class EventSource(Protocol):
    """What the views read events from: a store, or the dashboard's :class:`EventCache`."""

    def read_events(self, run_id: str, *, after: int = -1) -> list[dict[str, Any]]: ...


class EventCache:
    """A run's events kept decoded, topped up from the store on each read (module doc).

    Called from worker threads; one lock per run, so reads of different runs
    do not wait for each other.
    """

    def __init__(self, store: Store, *, max_events: int = MAX_EVENTS) -> None:
        self.store = store
        self.max_events = max_events
        self._runs: OrderedDict[str, tuple[list[dict[str, Any]], list[int]]] = OrderedDict()
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def read_events(self, run_id: str, *, after: int = -1) -> list[dict[str, Any]]:
        """The run's events with ``seq > after``, in ``seq`` order, as the store gives them."""
        with self._guard:
            lock = self._locks.setdefault(run_id, threading.Lock())
        with lock:
            events, seqs = self._runs.get(run_id) or ([], [])
            new = self.store.read_events(run_id, after=seqs[-1] if seqs else -1)
            if new:
                events = events + new  # a new list: earlier readers keep theirs intact
                seqs = seqs + [int(e["seq"]) for e in new]
            self._keep(run_id, events, seqs)
        return events[bisect.bisect_right(seqs, after) :]

    def _keep(self, run_id: str, events: list[dict[str, Any]], seqs: list[int]) -> None:
        with self._guard:
            self._runs[run_id] = (events, seqs)
            self._runs.move_to_end(run_id)
            total = sum(len(kept) for kept, _ in self._runs.values())
            while total > self.max_events and len(self._runs) > 1:
                _, (dropped, _) = self._runs.popitem(last=False)
                total -= len(dropped)
