"""The worker loop: claim queued runs, run them, keep their leases, give them back on stop.

One :class:`Worker` serves one store that implements
:class:`~cadenza._journal._queue.SupportsRunQueue`. Everything it does is a
child of the nursery :meth:`Worker.serve` opens:

- the *claimer* takes a queued run (or one whose lease expired) whenever a
  slot is free (``concurrency`` runs at once), and starts it;
- the *heartbeat* renews every held lease each ``lease / 3`` seconds and
  records the worker as alive. A renewal the store refuses means the lease
  was lost (taken over after it expired): that run is cancelled locally at
  once, and the fence refuses anything it still tries to write;
- each run is run as ``cadenza run`` would (:mod:`._claimed`) and its claim
  is then finished (``done``/``failed``/``cancelled``).

:meth:`Worker.stop` (Ctrl-C, SIGTERM) stops claiming, cancels the local runs
cleanly and *releases* their claims, so another worker resumes them at once
instead of waiting for the lease to expire. A worker killed outright
(kill -9, a host lost) releases nothing: its leases expire and other workers
take its runs over, resuming them from the journal.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from typing import Any

import attrs
import trio

from .._errors import LeaseLostError, StoreError
from .._journal._fenced import FencedStore
from .._journal._queue import QUEUE_STATE_FOR_RUN, SupportsRunQueue
from .._journal._store import Store
from .._logging import get_logger
from .._plugins._registry import Plugins
from ._claimed import ClaimedRun, Prepared, prepare, run_claimed

log = get_logger()

DEFAULT_LEASE = 30.0
"""Seconds a claim lasts without renewal: how soon a dead worker's runs are taken over."""

MAX_ATTEMPTS = 3
"""Claims after which a run that keeps failing to run (not a failed step: an error
around the run) is marked failed instead of given back to the queue."""

POLL_INTERVAL = 1.0
"""Seconds between claims while the queue is empty."""


def _absolute(path: str) -> str:
    return os.path.abspath(path)


def default_worker_name() -> str:
    """``host-pid``: unique among live workers, and says where to look."""
    return f"{socket.gethostname()}-{os.getpid()}"


@attrs.define(eq=False)
class Worker:
    """Claims and runs queued runs from ``store``; see the module docstring.

    With ``exit_when_idle``, it stops once no run is queued and none is held
    by a worker (a run another worker holds may still need taking over).
    ``report`` receives one line per thing worth telling a person (claimed,
    finished, lost, released); ``output_dir`` is where runs' agents write
    (``{run_id}`` replaced), unless a resumed run had its own folder.
    """

    store: Store
    plugins: Plugins
    name: str = attrs.field(factory=default_worker_name)
    lease: float = DEFAULT_LEASE
    concurrency: int = 1
    max_runs: int | None = None
    exit_when_idle: bool = False
    output_dir: str = attrs.field(default=".cadenza/out/{run_id}", converter=_absolute)
    poll_interval: float = POLL_INTERVAL
    report: Callable[[str], None] = lambda line: None
    observers: tuple[Callable[[Any], None], ...] = ()
    claimed: int = 0
    """Runs claimed so far (``max_runs`` counts these)."""
    _active: dict[str, ClaimedRun] = attrs.field(factory=dict)
    _stopping: bool = False
    _wake: trio.Event = attrs.field(factory=trio.Event)
    _limiter: trio.CapacityLimiter = attrs.field(factory=lambda: trio.CapacityLimiter(4))

    @property
    def queue(self) -> SupportsRunQueue:
        assert isinstance(self.store, SupportsRunQueue)
        return self.store

    async def _call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return await trio.to_thread.run_sync(lambda: fn(*args, **kwargs), limiter=self._limiter)

    # -- lifecycle -----------------------------------------------------------------

    async def serve(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Register, then claim and run until stopped, idle (``exit_when_idle``) or done."""
        await self._call(
            self.queue.register_worker, self.name, host=socket.gethostname(), pid=os.getpid()
        )
        self.report(f"worker {self.name} serving {self.store.url} (lease {self.lease:g}s)")
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._heartbeat)
            task_status.started()
            await self._claim_loop(nursery)
            nursery.cancel_scope.cancel()  # the runs are over: stop the heartbeat

    def stop(self) -> None:
        """Stop claiming; cancel local runs and release their claims to other workers."""
        self._stopping = True
        for run in self._active.values():
            run.give_back(f"worker {self.name} stopped; the run goes back to the queue")
        self._wake.set()

    @property
    def stopping(self) -> bool:
        return self._stopping

    async def _claim_loop(self, nursery: trio.Nursery) -> None:
        while not self._stopping:
            if self.max_runs is not None and self.claimed >= self.max_runs:
                break
            if len(self._active) >= self.concurrency:
                await self._wait_wake(None)
                continue
            try:
                claim = await self._call(self.queue.claim, self.name, lease_seconds=self.lease)
            except StoreError as exc:  # the database is away: keep the runs going, retry
                self.report(f"cannot claim ({exc}); retrying in {self.poll_interval * 5:g}s")
                await self._wait_wake(self.poll_interval * 5)
                continue
            if claim is None:
                if self.exit_when_idle and not self._active and not await self._held_elsewhere():
                    break
                await self._wait_wake(self.poll_interval)
                continue
            self.claimed += 1
            run = ClaimedRun(claim=claim, store=FencedStore(self.store, claim.fence))
            self._active[run.run_id] = run
            nursery.start_soon(self._run, run)
        while self._active:  # stopping, or max-runs reached: let the runs end
            await self._wait_wake(None)

    async def _held_elsewhere(self) -> bool:
        """Whether another worker holds a run: if it dies, this one must take the run over."""
        held = await self._call(self.queue.list_queue, limit=1, state="claimed")
        return bool(held)

    async def _wait_wake(self, at_most: float | None) -> None:
        """Wait for a run to end or :meth:`stop` (at most ``at_most`` seconds)."""
        with trio.move_on_after(at_most if at_most is not None else float("inf")):
            await self._wake.wait()
        self._wake = trio.Event()

    # -- one run -------------------------------------------------------------------

    async def _run(self, run: ClaimedRun) -> None:
        claim = run.claim
        try:
            taken = " (taken over)" if claim.attempts > 1 else ""
            self.report(f"claimed run {run.run_id} [{claim.entry.path}]{taken}")
            await self._run_claim(run)
        finally:
            del self._active[run.run_id]
            self._wake.set()

    async def _run_claim(self, run: ClaimedRun) -> None:
        failure: Exception | None = None
        result = None
        try:
            prepared: Prepared = await self._call(prepare, run.claim, run.store, self.plugins)
            if prepared.ended is not None:
                self.report(f"run {run.run_id} {prepared.ended}: {prepared.reason}")
                await self._end(run, prepared.ended)
                return
            result = await run_claimed(
                run, prepared, self.plugins, output_dir=self.output_dir, observers=self.observers
            )
        except* LeaseLostError:
            run.lost = True
        except* Exception as group:  # one run's failure must not stop the worker
            failure = group.exceptions[0]
        if run.lost:
            self.report(
                f"run {run.run_id}: lease lost (another worker took it over); "
                "stopped it here, nothing more written"
            )
        elif failure is not None:
            await self._give_up(run, failure)
        elif run.released and (result is None or result.status == "cancelled"):
            with trio.CancelScope(shield=True):
                await self._call(self.queue.release, run.claim.fence)
            self.report(f"run {run.run_id} released: another worker resumes it")
        elif result is not None:
            self.report(f"run {run.run_id} {result.status}")
            await self._end(run, QUEUE_STATE_FOR_RUN[result.status])

    async def _give_up(self, run: ClaimedRun, failure: BaseException) -> None:
        """An error around the run (not a failed step): give it back, or fail it for good."""
        log.error("worker_run_failed", run_id=run.run_id, error=repr(failure))
        final = run.claim.attempts >= MAX_ATTEMPTS  # it fails wherever it runs
        then = "marked failed" if final else "given back to the queue"
        self.report(f"run {run.run_id} could not run here ({failure}); {then}")
        with trio.CancelScope(shield=True):
            try:
                if final:
                    await self._call(self.queue.finish, run.claim.fence, "failed")
                else:
                    await self._call(self.queue.release, run.claim.fence)
            except StoreError:
                pass  # unreachable store: the lease expires and the run is taken over

    async def _end(self, run: ClaimedRun, state: Any) -> None:
        with trio.CancelScope(shield=True):
            if not await self._call(self.queue.finish, run.claim.fence, state):
                self.report(f"run {run.run_id}: lease lost before it could be marked {state}")

    # -- leases --------------------------------------------------------------------

    async def _heartbeat(self) -> None:
        while True:
            await trio.sleep(max(self.lease / 3, 0.05))
            try:
                await self._call(self.queue.heartbeat, self.name)
                for run in list(self._active.values()):
                    if run.lost:
                        continue
                    kept = await self._call(
                        self.queue.renew, run.claim.fence, lease_seconds=self.lease
                    )
                    if not kept:
                        log.warning("lease_lost", run_id=run.run_id, worker=self.name)
                        run.lose()
            except StoreError as exc:  # the store is unreachable: leases may expire
                log.warning("heartbeat_failed", worker=self.name, error=str(exc))
