"""Journal stores: where runs, their events and cached outputs are kept.

A store is a small, *blocking* interface: the kernel calls it from worker
threads, never on the trio thread, so a store can use any ordinary database
driver. Calls may come from more than one thread at a time (the journal
writer, cache lookups, CLI commands): a store must be thread-safe. Writes
arrive as a :class:`WriteBatch` that must be applied atomically (one
transaction): that is the unit of group commit, and the unit of durability
the scheduler waits for.

Errors: :class:`StoreError` for everything, with two subclasses callers can
act on: :class:`StoreReadOnlyError` (the journal can be read, not written)
and :class:`StoreFullError` (its disk is full). Both name the journal's
absolute path.

Stores are selected by URL scheme (``sqlite:///path``) through the
``cadenza_stores`` hook; the SQLite store is built in. Everything stored is
data (JSON-compatible values), never pickles. ``cadenza.testing`` ships a
conformance suite that every store must pass.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

import attrs

from .._errors import StoreError

if TYPE_CHECKING:
    from ._queue import Fence

SCHEMA_VERSION = 1
"""Version of the journal's data layout; a store refuses data from a newer one."""

RunState = Literal["running", "succeeded", "failed", "cancelled"]


@attrs.frozen(kw_only=True)
class RunRecord:
    """One run, as ``cadenza runs`` and ``cadenza status`` show it.

    ``status`` is ``running`` until the run finishes (a run whose process died
    stays ``running`` in the journal until it is resumed or cancelled).
    ``counts`` maps step states to how many steps ended in each.
    """

    run_id: str
    workflow: str
    source: str = ""
    source_hash: str = ""
    status: RunState = "running"
    started_at: float
    finished_at: float | None = None
    counts: Mapping[str, int] = attrs.field(factory=dict)
    inputs: Mapping[str, Any] = attrs.field(factory=dict)
    pid: int | None = None
    host: str = ""
    reason: str = ""
    cancel_requested: bool = False


@attrs.frozen(kw_only=True)
class CacheEntry:
    """A step output kept for reuse; ``expires_at`` None means it never expires."""

    key: str
    output: Any
    created_at: float
    expires_at: float | None = None
    run_id: str = ""
    step_id: str = ""


@attrs.frozen(kw_only=True)
class ApprovalDecision:
    """A person's decision on a step's approval gate, recorded by any process.

    ``request`` is the ``seq`` of the ``approval_requested`` event the decision
    answers: a gate opened again later (a resumed run re-running a rejected
    step) is a new request, and an old decision does not answer it.
    ``decided_at`` is wall-clock epoch seconds.
    """

    run_id: str
    step_id: str
    request: int
    approved: bool
    by: str
    reason: str = ""
    decided_at: float


@attrs.frozen(kw_only=True)
class WriteBatch:
    """Everything one group commit writes, atomically.

    ``events`` are :meth:`cadenza.events.Event.to_dict` data (each has ``run_id`` and
    ``seq``; ``(run_id, seq)`` is unique). ``runs`` are upserts of run records
    (the identity fields ``workflow``, ``source``, ``source_hash``,
    ``started_at`` and ``inputs`` are kept from the first insert; the others
    are updated); an upsert keeps a
    ``cancel_requested`` flag another process set, except that a finished run
    coming back to ``running`` (a resume) starts with the flag cleared.
    ``sources`` are ``(run_id, workflow file text)`` pairs, written once per run.

    ``fence`` (a :class:`~cadenza._journal._queue.Fence`) is set by a worker
    running a queued run: a store implementing ``SupportsRunQueue`` checks,
    in the batch's transaction, that the worker still holds that claim, and
    otherwise writes nothing and raises :class:`~cadenza.store.LeaseLostError`.
    Stores without a queue never see a fenced batch.

    .. versionchanged:: 0.2
       ``fence``.
    """

    events: Sequence[Mapping[str, Any]] = ()
    runs: Sequence[RunRecord] = ()
    sources: Sequence[tuple[str, str]] = ()
    cache: Sequence[CacheEntry] = ()
    fence: Fence | None = None

    def __bool__(self) -> bool:
        return bool(self.events or self.runs or self.sources or self.cache)


@runtime_checkable
class Store(Protocol):
    """A journal backend. Every method blocks; the kernel calls them off the trio thread.

    Errors are :class:`StoreError` with a message that says what is wrong and
    how to fix it; a store never overwrites data it does not recognise.
    """

    url: str

    def write(self, batch: WriteBatch) -> None:
        """Apply ``batch`` atomically; when this returns, it is durable."""
        ...

    def get_run(self, run_id: str) -> RunRecord | None:
        """The run's record, or None."""
        ...

    def list_runs(
        self, *, limit: int = 20, status: str | None = None, workflow: str | None = None
    ) -> list[RunRecord]:
        """Most recent runs first, optionally filtered."""
        ...

    def read_events(self, run_id: str, *, after: int = -1) -> list[dict[str, Any]]:
        """The run's events with ``seq > after``, in ``seq`` order."""
        ...

    def read_source(self, run_id: str) -> str | None:
        """The workflow file text the run started from, if stored."""
        ...

    def request_cancel(self, run_id: str) -> bool:
        """Flag the run for cancellation; False if there is no such run."""
        ...

    def get_cache(self, key: str, *, now: float) -> CacheEntry | None:
        """The cache entry for ``key`` unless missing or expired at ``now``."""
        ...

    def close(self) -> None:
        """Release the store's resources; further calls are errors."""
        ...


@runtime_checkable
class SupportsApprovals(Protocol):
    """A store that keeps approval decisions: what ``approval:`` gates need of it.

    Optional, so stores written before approval gates keep working: a run on
    a store without these methods fails a step when its gate opens, and
    ``cadenza approve`` says the store cannot record decisions. The SQLite
    store has them; :class:`~cadenza.testing.StoreConformance` tests them
    when a store has them.

    .. versionadded:: 0.2
    """

    def record_decision(self, decision: ApprovalDecision) -> bool:
        """Keep an approval decision, durably; False if its gate already has one.

        The first decision per ``(run_id, step_id, request)`` wins: a second
        one is not stored. Called by ``cadenza approve`` and the dashboard,
        often from another process than the run's.
        """
        ...

    def read_decisions(self, run_id: str) -> list[ApprovalDecision]:
        """The run's approval decisions, oldest first."""
        ...


def approvals_unsupported(store: Store) -> str:
    """Why ``store`` cannot hold approval decisions ("" when it can)."""
    if isinstance(store, SupportsApprovals):
        return ""
    return (
        f"the journal store {store.url} cannot record approval decisions (its plugin "
        "implements neither record_decision nor read_decisions; see docs/hooks.md, "
        "cadenza_stores). Use the SQLite journal for workflows with approval gates."
    )


StoreFactory = Callable[[str], Store]
"""Opens a store from its URL; registered per URL scheme with ``cadenza_stores``."""


DEFAULT_STORE_URL = "sqlite:///.cadenza/journal.db"
"""The journal under the working directory. The CLI looks upward for a project's
``.cadenza/`` first (:func:`cadenza._journal._sqlite.find_journal`)."""


def open_store(url: str, registered: Mapping[str, Any]) -> Store:
    """Open the store for ``url`` with the factory registered for its scheme.

    ``registered`` is ``plugins.registered("cadenza_stores")``. A URL without
    ``scheme://`` is a path to an SQLite file.
    """
    scheme = url.split("://", 1)[0] if "://" in url else "sqlite"
    reg = registered.get(scheme)
    if reg is None:
        known = ", ".join(sorted(registered)) or "none"
        raise StoreError(
            f"no journal store for {scheme}:// URLs (known schemes: {known}). "
            f"Install the plugin that provides it, or use sqlite:///path/to/journal.db.",
            url=url,
        )
    store = reg.obj(url)
    if not isinstance(store, Store):  # a plugin bug: say so now, not as an AttributeError later
        members = [m for m in ("url", *_STORE_METHODS) if not hasattr(store, m)]
        shown = "None" if store is None else f"a {type(store).__name__} {repr(store)[:60]}"
        raise StoreError(
            f"{reg.plugin}: the store factory registered for {scheme}:// URLs returned "
            f"{shown}, which is not a Store (missing: {', '.join(members)}). "
            "This is a bug in that plugin: the factory must return the opened store.",
            url=url,
        )
    return store


_STORE_METHODS = tuple(
    name for name in vars(Store) if not name.startswith("_") and callable(vars(Store)[name])
)
