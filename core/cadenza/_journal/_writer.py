"""The journal: a run's events, written durably off the trio thread with group commit.

The journal observes the run's event bus. Each event is queued; one writer
task (a child of the run's nursery) takes everything queued, writes it as one
:class:`~cadenza._journal._store.WriteBatch` in a worker thread, and wakes whoever
waits for it. A batch is written as soon as someone needs an event durable
(or the queue is long); events nobody waits for ride along, or are written
within ``LAZY_WRITE_DELAY``. While a write is in flight new events pile up
and go in the next batch: under load one transaction carries many events
(group commit), and a commit is paid where durability is promised, not per
event.

The queue is bounded by design: :meth:`Journal.congested` says when it holds
``max_queued`` events, and the scheduler then starts and readies no new step
until :meth:`Journal.wait_room` returns, which writes at once. Observing
stays synchronous and never drops an event, so what is queued past the
limit is only what the calls already in flight emit (a few events each):
agents faster than commits slow down to the store's pace instead of
growing the queue without end.

Each event is capped on the way in (:mod:`._journal_limits`): an oversized
field is replaced by a marker saying so, never cut silently.

Two promises rest on :meth:`Journal.wait_durable`: the run is recorded before
its first step starts, and a step's success is durable before any dependent
starts (so a resumed run never re-executes a step whose output it restored).
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Mapping
from typing import Any

import attrs
import trio

from .. import _events as ev
from .._errors import PermanentError
from .._logging import get_logger
from ._encoded import encode_event
from ._limits import JournalLimits, cap_event, output_error
from ._store import CacheEntry, RunRecord, Store, WriteBatch

log = get_logger()

LAZY_WRITE_DELAY = 0.2
"""Seconds an event nobody waits for may stay queued before it is written anyway."""

MAX_BATCH_EVENTS = 2048
"""A queue this long is written at once, without waiting for ``LAZY_WRITE_DELAY``."""

MAX_QUEUED_EVENTS = 4096
"""A queue this long is congested: no new step starts or readies until it drains."""

_RUN_LEVEL = (ev.RunStarted, ev.RunResumed, ev.RunFinished)
"""The events that change the run's record."""

CANCEL_CHECK_INTERVAL = 0.5
"""Seconds between checks for a ``cadenza cancel`` request from another process."""


@attrs.define(eq=False)
class Journal:
    """Persists one run's events to a store; see the module docstring."""

    store: Store
    run_id: str
    limits: JournalLimits = attrs.field(factory=JournalLimits.from_env)
    """What one event may store; from the environment unless given."""
    max_queued: int = MAX_QUEUED_EVENTS
    """Events queued (not yet handed to the store) at which :attr:`congested` turns true."""
    _events: list[Mapping[str, Any]] = attrs.field(factory=list)
    _runs: list[RunRecord] = attrs.field(factory=list)
    _sources: list[tuple[str, str]] = attrs.field(factory=list)
    _cache: list[CacheEntry] = attrs.field(factory=list)
    _queued_seq: int = -1
    _writing_seq: int = -1
    _durable_seq: int = -1
    _queued: trio.Event = attrs.field(factory=trio.Event)
    _urgent: trio.Event = attrs.field(factory=trio.Event)
    _flushed: trio.Event = attrs.field(factory=trio.Event)
    _limiter: trio.CapacityLimiter = attrs.field(factory=lambda: trio.CapacityLimiter(1))
    _record: RunRecord | None = None
    _failure: BaseException | None = None
    batches_written: int = 0
    _encoded: bool = attrs.field(init=False)
    """Whether the store takes events encoded as they are queued (``writes_encoded_events``)."""

    def __attrs_post_init__(self) -> None:
        self._encoded = getattr(self.store, "writes_encoded_events", False) is True

    # -- feeding -------------------------------------------------------------------

    def observe(self, event: ev.Event) -> None:
        """Event observer: queue the event (capped) and the run record it changes for writing."""
        if self._encoded:  # the store keeps the text: encode it now, once (see _encoded)
            self._events.append(encode_event(event, self.limits))
        else:
            self._events.append(cap_event(event.to_dict(), self.limits))
        self._queued_seq = event.seq
        self._queued.set()
        if len(self._events) >= MAX_BATCH_EVENTS:
            self._urgent.set()
        if not isinstance(event, _RUN_LEVEL):  # step events: the record does not change
            return
        if isinstance(event, ev.RunStarted):
            self._record = RunRecord(
                run_id=event.run_id,
                workflow=event.workflow,
                source=event.source,
                source_hash=event.source_hash,
                started_at=event.at,
                inputs=dict(event.inputs),
                pid=os.getpid(),
                host=socket.gethostname(),
            )
            self._runs.append(self._record)
        elif isinstance(event, ev.RunResumed) and self._record is not None:
            self._record = attrs.evolve(
                self._record, status="running", finished_at=None, pid=os.getpid(), reason=""
            )
            self._runs.append(self._record)
        elif isinstance(event, ev.RunFinished) and self._record is not None:
            self._record = attrs.evolve(
                self._record,
                status=event.status,
                finished_at=event.at,
                counts=dict(event.counts),
                reason=event.reason,
            )
            self._runs.append(self._record)

    def output_error(self, output: Any, *, step_id: str, agent: str) -> PermanentError | None:
        """The error to fail an attempt with when ``output`` is too big to journal whole."""
        return output_error(output, self.limits, step_id=step_id, agent=agent)

    def adopt(self, record: RunRecord) -> None:
        """Continue an existing run (resume): later run-level events update ``record``."""
        self._record = record

    def add_source(self, text: str) -> None:
        """Keep the workflow file's text with the run (written once, with the next batch)."""
        if text:
            self._sources.append((self.run_id, text))
            self._queued.set()

    def add_cache(self, entry: CacheEntry) -> None:
        self._cache.append(entry)
        self._queued.set()

    # -- backpressure ----------------------------------------------------------------

    @property
    def queued(self) -> int:
        """Events waiting for the next write (not those of a write in flight)."""
        return len(self._events)

    @property
    def congested(self) -> bool:
        """Whether the queue reached ``max_queued``: start nothing new until :meth:`wait_room`."""
        return len(self._events) >= self.max_queued

    async def wait_room(self) -> None:
        """Return once the queue is below ``max_queued``, asking for a write now.

        Each write takes the whole queue, so one write is usually enough; a
        failed write raises here as it does in :meth:`wait_durable`.
        """
        while True:
            if self._failure is not None:
                raise self._failure
            if len(self._events) < self.max_queued:
                return
            self._urgent.set()
            await self._flushed.wait()

    # -- writing -------------------------------------------------------------------

    def _take(self) -> tuple[WriteBatch, int]:
        batch = WriteBatch(
            events=self._events, runs=self._runs, sources=self._sources, cache=self._cache
        )
        self._events, self._runs, self._sources, self._cache = [], [], [], []
        return batch, self._queued_seq

    async def _write_pending(self) -> None:
        self._queued, self._urgent = trio.Event(), trio.Event()
        batch, seq = self._take()
        self._writing_seq = max(self._writing_seq, seq)
        if batch:
            # Once taken off the queue a batch must reach the store: a cancel
            # arriving here (Ctrl-C, fail_fast) would otherwise drop its events.
            with trio.CancelScope(shield=True):
                await trio.to_thread.run_sync(self.store.write, batch, limiter=self._limiter)
            self.batches_written += 1
        self._durable_seq = max(self._durable_seq, seq)
        flushed, self._flushed = self._flushed, trio.Event()
        flushed.set()

    async def run_writer(
        self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
    ) -> None:
        """The writer task: write what is queued when someone waits for it, or soon after.

        A batch is written as soon as a caller of :meth:`wait_durable` needs an
        event not yet being written (or the queue is large); events nobody waits
        for (``step_ready``, ``attempt_started``, ...) ride along with the next
        such batch, or are written ``LAZY_WRITE_DELAY`` seconds after they were
        queued. So a commit is paid where durability is promised, not per event.
        """
        task_status.started()
        try:
            while True:
                await self._queued.wait()
                with trio.move_on_after(LAZY_WRITE_DELAY):
                    await self._urgent.wait()
                await self._write_pending()
        except trio.Cancelled:
            # The run's caller stopped it: not a failed write. The runner's final
            # (shielded) flush still writes what is queued, run_finished included.
            raise
        except BaseException as exc:
            self._failure = exc
            self._flushed.set()  # wake waiters; they re-raise below
            raise

    @property
    def durable_seq(self) -> int:
        """The last event ``seq`` committed to the store (-1 before the first write)."""
        return self._durable_seq

    def want_durable(self, seq: int) -> None:
        """Ask for event ``seq`` to be written now, without waiting (see :meth:`wait_durable`)."""
        if seq > self._writing_seq:
            self._urgent.set()

    async def wait_durable(self, seq: int) -> None:
        """Return once every event up to ``seq`` is committed to the store."""
        if seq > self._writing_seq:
            self._urgent.set()
        while self._durable_seq < seq:
            if self._failure is not None:
                raise self._failure
            await self._flushed.wait()

    async def flush(self) -> None:
        """Write everything queued now (at the end of a run; the caller shields it).

        Safe beside the writer task: writes are serialised, in order, by the
        journal's one-slot FIFO limiter, and ``_durable_seq`` only grows.
        After a failed write (a full disk) nothing more is written: the lost
        batch would leave a gap, so the journal stays as a crash leaves it, and
        ``cadenza resume`` finishes the run from what was committed.
        """
        if self._failure is not None:
            return
        await self._write_pending()

    # -- cross-process cancel ----------------------------------------------------------

    async def watch_cancel(self, cancel: Callable[[str], None]) -> None:
        """Call ``cancel(reason)`` when another process asks for this run to be cancelled."""
        while True:
            await trio.sleep(CANCEL_CHECK_INTERVAL)
            record = await trio.to_thread.run_sync(
                self.store.get_run, self.run_id, limiter=self._limiter
            )
            if record is not None and record.cancel_requested:
                cancel("cancelled by cadenza cancel")
                return
