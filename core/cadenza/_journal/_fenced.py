"""A store seen through one claim: every write carries the worker's fence.

A worker runs a queued run exactly as ``cadenza run`` would, through the
ordinary runner and journal writer; it only hands them this wrapper instead
of the store. So fencing needs no change to the scheduler: each batch the
journal writes (the run's events, its sub-workflows', cache entries) goes out
with the claim's :class:`~cadenza._journal._queue.Fence`, and a store that
finds the claim stale refuses it (:class:`~cadenza.store.LeaseLostError`).

Everything else (reads, cancel requests, approval decisions) passes through
unchanged; optional protocols are offered exactly when the wrapped store
offers them.
"""

from __future__ import annotations

from typing import Any

import attrs

from ._queue import Fence
from ._store import CacheEntry, RunRecord, Store, WriteBatch


class FencedStore:
    """``store`` with ``fence`` added to every :meth:`write`; see the module docstring."""

    def __init__(self, store: Store, fence: Fence) -> None:
        self.store = store
        self.fence = fence
        self.url = store.url

    def write(self, batch: WriteBatch) -> None:
        if batch:
            self.store.write(attrs.evolve(batch, fence=self.fence))

    def get_run(self, run_id: str) -> RunRecord | None:
        return self.store.get_run(run_id)

    def list_runs(
        self, *, limit: int = 20, status: str | None = None, workflow: str | None = None
    ) -> list[RunRecord]:
        return self.store.list_runs(limit=limit, status=status, workflow=workflow)

    def read_events(self, run_id: str, *, after: int = -1) -> list[dict[str, Any]]:
        return self.store.read_events(run_id, after=after)

    def read_source(self, run_id: str) -> str | None:
        return self.store.read_source(run_id)

    def request_cancel(self, run_id: str) -> bool:
        return self.store.request_cancel(run_id)

    def get_cache(self, key: str, *, now: float) -> CacheEntry | None:
        return self.store.get_cache(key, now=now)

    def close(self) -> None:
        """Nothing: the worker owns the wrapped store and closes it when it stops."""

    def __getattr__(self, name: str) -> Any:
        # Optional protocols (record_decision, ...) and attributes (read_only):
        # present exactly when the wrapped store has them.
        if name.startswith("__") or name in ("store", "fence"):
            raise AttributeError(name)
        return getattr(self.store, name)
