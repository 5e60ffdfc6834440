"""The run queue: an optional store protocol for several workers sharing one journal.

``cadenza submit`` puts a run in the queue; ``cadenza worker`` processes
claim queued runs and run them. A claim is a *lease*: the worker renews it
while it runs the run (a heartbeat), and a claim whose lease expired (its
worker died, or hung) may be claimed by another worker, which resumes the
run from its journal. That is a *takeover*.

Why fencing: a worker that lost its lease may not know it yet (a long GC
pause, a network partition to the database). Every claim increments the
run's ``token`` (an epoch), and a worker's journal writes carry a
:class:`Fence` (run id, worker, token) checked by the store in the same
transaction as the write: a write whose token is no longer the run's is
refused with :class:`~cadenza.store.LeaseLostError` and writes nothing. So
two workers never both write one run's journal, whatever their clocks say.

Lease times come from the *store's* clock (Postgres ``now()``, the SQLite
host's clock), never from the workers', so workers on hosts with skewed
clocks agree on when a lease expired.

Optional, as :class:`~cadenza.store.SupportsApprovals`: a store without it
keeps working for ``cadenza run``; ``cadenza submit`` and ``cadenza worker``
then say the store cannot hold a queue. The SQLite store (workers on one
host) and cadenza-postgres (workers on many hosts) implement it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, Literal, Protocol, runtime_checkable

import attrs

from ._store import Store

QueueState = Literal["queued", "claimed", "done", "failed", "cancelled"]
"""Where a queued run is: waiting, held by a worker, or finished (``done``:
the run succeeded; ``failed``; ``cancelled``: cancelled before or while it ran)."""

QUEUE_STATES: tuple[QueueState, ...] = ("queued", "claimed", "done", "failed", "cancelled")
QUEUE_FINISHED = frozenset({"done", "failed", "cancelled"})


@attrs.frozen(kw_only=True)
class QueueEntry:
    """A run as ``cadenza submit`` queues it.

    ``path`` is the workflow file's absolute path: a worker loads the file
    there (sub-workflows and ``python`` functions are found beside it), so
    every worker needs the same files at the same path. ``source`` is the
    file's text at submission: a worker refuses to run a file that changed
    since. ``workflow`` is the workflow's name (it picks one of a file with
    several; "" loads the file's only one); ``inputs`` are resolved (defaults
    applied).
    """

    run_id: str
    path: str
    source: str
    workflow: str = ""
    inputs: Mapping[str, Any] = attrs.field(factory=dict)
    submitted_at: float


@attrs.frozen(kw_only=True)
class QueuedRun:
    """One row of the queue: the entry and who holds it.

    ``token`` is the fencing token of the latest claim (0: never claimed);
    ``attempts`` counts claims (more than one: taken over or released);
    ``lease_until`` is epoch seconds on the store's clock.
    """

    entry: QueueEntry
    state: QueueState = "queued"
    worker: str = ""
    token: int = 0
    lease_until: float | None = None
    attempts: int = 0

    COLUMNS = (
        "run_id", "path", "workflow", "source", "inputs", "submitted_at",
        "state", "worker", "token", "lease_until", "attempts",
    )  # fmt: skip
    """The column order :meth:`from_row` reads: a store's SELECT lists them so."""

    @classmethod
    def from_row(cls, row: Sequence[Any]) -> QueuedRun:
        """The run of a database row in :attr:`COLUMNS` order.

        ``inputs`` may be JSON text (SQLite) or already decoded (a JSON column).
        Shared so that every store maps rows the same way.
        """
        run_id, path, workflow, source, inputs, submitted_at, state, worker, token, lease, n = row
        entry = QueueEntry(
            run_id=run_id,
            path=path,
            workflow=workflow,
            source=source,
            inputs=json.loads(inputs) if isinstance(inputs, str | bytes) else inputs,
            submitted_at=submitted_at,
        )
        return cls(
            entry=entry, state=state, worker=worker, token=token, lease_until=lease, attempts=n
        )

    @property
    def run_id(self) -> str:
        return self.entry.run_id

    @property
    def fence(self) -> Fence:
        """The fence for writes made under this claim."""
        return Fence(run_id=self.entry.run_id, worker=self.worker, token=self.token)


@attrs.frozen(kw_only=True)
class Fence:
    """Who may write a queued run's journal: the worker holding claim ``token``.

    Carried by :attr:`~cadenza.store.WriteBatch.fence`; a store refuses the
    batch (:class:`~cadenza.store.LeaseLostError`, nothing written) unless the
    queue row of ``run_id`` is ``claimed`` by ``worker`` with this ``token``.
    The batch may hold other runs' events (a sub-workflow's): the fence is
    about the queued run that owns them.
    """

    run_id: str
    worker: str
    token: int


@attrs.frozen(kw_only=True)
class WorkerInfo:
    """A registered worker; ``heartbeat_at`` is epoch seconds on the store's clock."""

    worker: str
    host: str
    pid: int
    started_at: float
    heartbeat_at: float


@runtime_checkable
class SupportsRunQueue(Protocol):
    """A store that keeps a run queue with leases: what ``cadenza submit``/``worker`` need.

    Every method blocks (called off the trio thread) and is atomic. The
    store's own clock sets and checks leases. ``lease_seconds`` may be 0
    (the lease is expired as soon as it is granted: tests use it).

    .. versionadded:: 0.2
    """

    def submit(self, entry: QueueEntry) -> None:
        """Queue ``entry`` (state ``queued``); a StoreError if its run id is taken."""
        ...

    def claim(self, worker: str, *, lease_seconds: float) -> QueuedRun | None:
        """Take the oldest ``queued`` run, or a ``claimed`` one whose lease expired.

        The claim increments the run's ``token`` and ``attempts``, sets
        ``worker`` and ``lease_until = now + lease_seconds``. Concurrent
        claimers never get the same run (row locks). None: nothing to claim.
        """
        ...

    def renew(self, fence: Fence, *, lease_seconds: float) -> bool:
        """Extend the claim's lease to ``now + lease_seconds``; False when the claim is lost."""
        ...

    def finish(self, fence: Fence, state: QueueState) -> bool:
        """Mark the claimed run ``done``/``failed``/``cancelled``; False when the claim is lost."""
        ...

    def release(self, fence: Fence) -> bool:
        """Give the claimed run back (``queued``, claimable at once); False when lost."""
        ...

    def cancel_queued(self, run_id: str) -> bool:
        """Mark a run that is still ``queued`` (never started) ``cancelled``; False otherwise."""
        ...

    def get_queued(self, run_id: str) -> QueuedRun | None:
        """The run's queue row, or None when it was never queued."""
        ...

    def list_queue(self, *, limit: int = 20, state: str | None = None) -> list[QueuedRun]:
        """Queue rows, most recently submitted first, optionally of one state."""
        ...

    def register_worker(self, worker: str, *, host: str, pid: int) -> None:
        """Record a worker starting (or restarting under the same name)."""
        ...

    def heartbeat(self, worker: str) -> None:
        """Record that ``worker`` is alive now."""
        ...

    def list_workers(self) -> list[WorkerInfo]:
        """Registered workers, most recent heartbeat first."""
        ...


def queue_unsupported(store: Store) -> str:
    """Why ``store`` cannot hold a run queue ("" when it can)."""
    if isinstance(store, SupportsRunQueue):
        return ""
    return (
        f"the journal store {store.url} cannot hold a run queue (its plugin does not "
        "implement SupportsRunQueue). Use a postgresql:// store (cadenza-postgres) for "
        "workers on several hosts, or an SQLite journal for workers on one host."
    )


QUEUE_STATE_FOR_RUN: Mapping[str, QueueState] = {
    "succeeded": "done",
    "failed": "failed",
    "cancelled": "cancelled",
}
"""The queue state that ends a run with this (finished) run status."""
