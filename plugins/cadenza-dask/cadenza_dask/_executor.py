"""The ``dask`` executor: each call is a dask.distributed task, awaited from trio.

Where the cluster comes from: ``address`` connects a client to a running
scheduler; without it a ``LocalCluster`` (worker processes on this machine,
its scheduler in this process) is started for the run. Either way nothing
starts in the factory: the first :meth:`DaskExecutor.run` (or an explicit
:meth:`~DaskExecutor.start`) connects, and :meth:`~DaskExecutor.aclose`
closes the client and shuts down a cluster it started, workers included.
The start runs in a trio system task of its own: a call cancelled while it
waits (a step ``timeout:`` shorter than a LocalCluster's few seconds of
start) stops waiting, and the next call finds the start going on.

How trio waits: an asynchronous ``distributed.Client`` lives on an asyncio
loop in one thread of its own (``_bridge``), and every call is a coroutine
there (``client.submit`` then ``await future``), awaited from trio through an
event. One thread for all calls in flight, no trio worker thread blocked per
call, and cancellation reaches the coroutine, which cancels its future.

What cancellation guarantees (dask's own limits, stated plainly): a
cancelled call's future is cancelled with ``client.cancel`` before ``run``
re-raises. A task still waiting in the scheduler never starts. A task already
running in a worker thread *cannot be interrupted* by dask: it runs to its
end in that worker (its result is dropped) and keeps that thread busy
meanwhile. With ``restart_on_cancel: true`` the executor then asks the
workers whether the key still executes and restarts those worker processes
through their nannies (``client.restart_workers``) before ``run`` re-raises:
the work stops, at the cost of a worker start (seconds) and of the other
tasks that worker held (dask reruns them elsewhere). Without a nanny (a
``dask worker --no-nanny``) that restart is impossible and is logged.

Worker loss: when a worker dies holding the task, dask itself reschedules it
on another worker, up to the scheduler's ``allowed-failures``; past that the
future fails with ``KilledWorker``, which is raised here as
:class:`cadenza.plugins.WorkerLostError` (retryable, so the step's
``retry:`` runs it again). A scheduler that goes away mid-call is the same
error. Results come back to this process, so the kernel journals them like
any other step's output.

Pickling: dask pickles calls with cloudpickle, which also sends lambdas and
functions of the main script by value; what still cannot be pickled (locks,
open files, sockets in the arguments) is a TypeError raised by
``client.submit`` before anything is sent.
"""

from __future__ import annotations

import asyncio  # noqa: TID251 -- runs on the dask loop (_bridge), never on trio's
import os
import sys
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import attrs
import trio

from cadenza.plugins import WorkerLostError, get_logger

from ._bridge import LoopThread
from ._options import DaskOptions, options_from

T = TypeVar("T")
log = get_logger()

RESTART_SECONDS = 20.0
"""Bound on restarting the worker of a cancelled call (``restart_on_cancel``)."""

CLOSE_SECONDS = 20.0
"""Bound on closing the client and a LocalCluster (workers get a few seconds to exit)."""


@attrs.define
class _Start:
    """One start of the executor, awaited by every call that needs it."""

    done: trio.Event
    error: Exception | None = None


class DaskExecutor:
    """Runs calls as tasks on a dask.distributed cluster; see the module doc."""

    def __init__(self, options: DaskOptions | None = None) -> None:
        self.options = options or DaskOptions()
        self._loop: LoopThread | None = None
        self._client: Any = None
        self._cluster: Any = None
        self._starting: _Start | None = None
        self._closed = False

    @classmethod
    def from_options(cls, options: Mapping[str, Any] | None = None) -> DaskExecutor:
        """The ``cadenza_executors`` factory: check ``options`` and start nothing."""
        _refuse_in_a_spawning_child()
        return cls(options_from(options))

    @property
    def closed(self) -> bool:
        """Whether :meth:`aclose` was called: no more calls are taken."""
        return self._closed

    @property
    def started(self) -> bool:
        """Whether the client is connected (the first call, or :meth:`start`, did it)."""
        return self._client is not None

    @property
    def scheduler_address(self) -> str | None:
        """The scheduler this executor submits to, once started (``tcp://...``)."""
        if self._client is None:
            return None
        return str(self._client.scheduler.address)

    async def start(self) -> None:
        """Connect (and start a LocalCluster when no address is given); idempotent.

        The first :meth:`run` calls it; call it yourself to pay the start-up
        (a few seconds for a LocalCluster) before the first step. The start
        belongs to the executor, not to the call that began it: a caller
        cancelled meanwhile (a step ``timeout:`` shorter than the start) stops
        waiting at once while the start goes on for the next call (dask cannot
        stop a cluster half-started anyway); :meth:`aclose` waits for it to
        end, then shuts it down. A failed start is raised to every caller
        waiting on it, and the next call tries again.
        """
        if self._closed:
            raise RuntimeError("this dask executor is closed; its run has ended")
        _refuse_in_a_spawning_child()
        if self._client is not None:
            return
        attempt = self._starting
        if attempt is None:
            attempt = self._starting = _Start(done=trio.Event())
            trio.lowlevel.spawn_system_task(self._start_in_background, attempt)
        await attempt.done.wait()
        if attempt.error is not None:
            raise attempt.error

    async def _start_in_background(self, attempt: _Start) -> None:
        """The start itself, in a trio system task; never raises (that would end trio)."""
        loop = LoopThread("cadenza-dask-loop")
        try:
            await trio.to_thread.run_sync(loop.start)
            # Not cancellable half-way (only the end of trio.run cancels a system
            # task): a LocalCluster whose start was interrupted cannot be closed.
            await loop.call(self._connect, cancellable=False)
        except BaseException as exc:  # reported to the callers waiting on the start
            with trio.CancelScope(shield=True), trio.move_on_after(CLOSE_SECONDS):
                if loop.loop is not None:
                    await loop.call(self._disconnect)
            await _stop(loop)
            self._starting = None  # the next call tries again
            attempt.error = (
                exc
                if isinstance(exc, Exception)
                else RuntimeError("the dask executor's start was interrupted: trio is ending")
            )
        else:
            self._loop = loop
        finally:
            attempt.done.set()

    async def _connect(self) -> None:
        """On the loop: the client, and the LocalCluster when no address is given."""
        from distributed import Client, LocalCluster

        opts = self.options
        if opts.address is not None:
            try:
                self._client = await Client(  # type: ignore[no-untyped-call]
                    opts.address, asynchronous=True, timeout=opts.connect_timeout
                )
            except OSError as exc:
                raise ConnectionError(
                    f"dask executor: cannot reach the scheduler at {opts.address} within "
                    f"{opts.connect_timeout:g} s ({exc}). Start it (`dask scheduler`, and "
                    f"`dask worker {opts.address}` on each machine), or fix options.address."
                ) from exc
            return
        scheduler: dict[str, Any] = {"dashboard": opts.dashboard_address is not None}
        if opts.allowed_failures is not None:
            scheduler["allowed_failures"] = opts.allowed_failures
        # Built here, started by the await below (from a running loop the
        # constructor starts nothing), so a failed or cancelled start can close it.
        processes = True if opts.processes is None else opts.processes
        cluster = LocalCluster(  # type: ignore[no-untyped-call]
            n_workers=opts.workers or os.cpu_count() or 1,
            threads_per_worker=opts.threads_per_worker or 1,
            processes=processes,
            # Worker processes talk TCP on loopback only; threads talk inproc://.
            host="127.0.0.1" if processes else None,
            # The scheduler serves HTTP anyway: on a free port unless asked,
            # so two runs (or a user's own dask) never fight over 8787.
            dashboard_address=opts.dashboard_address or "127.0.0.1:0",
            scheduler_kwargs=scheduler,
            asynchronous=True,
        )
        try:
            try:
                await cluster
            except Exception as exc:
                raise RuntimeError(_cluster_failed(exc)) from exc
            self._client = await Client(cluster, asynchronous=True)  # type: ignore[no-untyped-call]
        except BaseException:  # failed, or cancelled (the run ended while it started)
            await cluster.close()  # type: ignore[misc]
            raise
        self._cluster = cluster

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """Call ``fn(*args)`` as a task on the cluster; see the module doc."""
        if self._closed:
            raise RuntimeError("this dask executor is closed; its run has ended")
        if self._loop is None:
            await self.start()
        assert self._loop is not None
        return await self._loop.call(self._call, fn, args)

    async def _call(self, fn: Callable[..., T], args: tuple[Any, ...]) -> T:
        """On the loop: submit, await, and cancel the future if this coroutine is cancelled."""
        from concurrent.futures import CancelledError  # distributed's, with a reason since 2024

        from distributed import KilledWorker

        try:
            # pure=False: every call is its own task (a retry must run again, not
            # get the failed attempt's cached result); the key is funcname-uuid.
            future = self._client.submit(fn, *args, pure=False)
        except Exception as exc:
            raise _unpicklable(fn, exc) from exc
        try:
            result: T = await future
            return result
        except asyncio.CancelledError:
            await self._client.cancel([future], reason="cancelled by cadenza (timeout or cancel)")
            if self.options.restart_on_cancel:
                await self._restart_workers_running(future.key)
            raise
        except KilledWorker as exc:
            raise WorkerLostError(
                f"dask task {future.key} of {_name(fn)} lost the worker running it "
                f"(killed, crashed or out of memory) more often than the scheduler's "
                f"allowed-failures: {exc}"
            ) from exc
        except CancelledError as exc:  # not by us: the scheduler or client went away
            reason = getattr(exc, "reason", None) or "no reason given"
            raise WorkerLostError(
                f"dask task {future.key} of {_name(fn)} was cancelled by the cluster "
                f"({reason}): the scheduler went away or the client lost it"
            ) from exc
        finally:
            future.release()

    async def _restart_workers_running(self, key: Any) -> None:
        """Restart the worker processes still executing ``key`` (its nanny starts a new one)."""
        try:
            running: dict[str, bool] = await self._client.run(_executing, key)
            addresses = sorted(address for address, yes in running.items() if yes)
            if addresses:
                log.info("dask_restarting_workers", workers=addresses, key=str(key))
                await self._client.restart_workers(addresses, timeout=RESTART_SECONDS)
        except Exception:
            log.warning("dask_restart_on_cancel_failed", key=str(key), exc_info=True)

    async def worker_pids(self) -> dict[str, int]:
        """Each worker's address -> its process id (for tests and diagnostics); starts if needed."""
        if self._loop is None:
            await self.start()
        assert self._loop is not None
        return await self._loop.call(self._worker_pids)

    async def _worker_pids(self) -> dict[str, int]:
        pids: dict[str, int] = await self._client.run(os.getpid)
        return pids

    async def aclose(self) -> None:
        """Close the client, shut down a LocalCluster this executor started; idempotent.

        A start still in progress is waited for (bounded), then closed too.
        """
        self._closed = True
        with trio.CancelScope(shield=True):
            attempt = self._starting
            if attempt is not None:
                with trio.move_on_after(CLOSE_SECONDS):
                    await attempt.done.wait()
            loop, self._loop = self._loop, None
            if loop is None:
                return
            try:
                with trio.move_on_after(CLOSE_SECONDS):
                    await loop.call(self._disconnect)
            finally:
                await _stop(loop)

    async def _disconnect(self) -> None:
        client, cluster = self._client, self._cluster
        self._client = self._cluster = None
        try:
            if client is not None:
                await client.close()
        finally:
            if cluster is not None:
                await cluster.close()

    def __repr__(self) -> str:
        where = self.options.address or "a LocalCluster for the run"
        return f"DaskExecutor({where})"


def _executing(key: Any, dask_worker: Any = None) -> bool:
    """On a worker (``client.run``): whether it still executes ``key``."""
    return any(ts.key == key for ts in dask_worker.state.executing)


async def _stop(loop: LoopThread) -> None:
    with trio.CancelScope(shield=True):
        await trio.to_thread.run_sync(loop.stop)


def _name(fn: Callable[..., Any]) -> str:
    from dask.utils import funcname

    module = getattr(fn, "__module__", None) or "?"
    return f"{module}:{funcname(fn)}"


def _refuse_in_a_spawning_child() -> None:
    """Fail at once in a worker process that is re-importing an unguarded main script.

    A LocalCluster's workers start with multiprocessing's spawn, which runs
    the main script again in each of them; without an ``if __name__ ==
    "__main__":`` guard the script would load and run its workflow there too.
    multiprocessing marks that import (``_inheriting``, what its own
    bootstrapping check reads), so the workflow fails to load in the child
    instead, with this message on its stderr, and the parent's cluster start
    fails with the same advice.
    """
    import multiprocessing

    if getattr(multiprocessing.current_process(), "_inheriting", False):
        raise RuntimeError(
            "this process is a dask worker being started, and it is re-importing the main "
            "script (multiprocessing's spawn): a script that runs a workflow on a dask "
            'LocalCluster must do so under `if __name__ == "__main__":`'
        )


def _cluster_failed(exc: Exception) -> str:
    """Why a LocalCluster did not start, with the usual cause of a worker failing to spawn."""
    message = f"dask executor: the LocalCluster did not start: {type(exc).__name__}: {exc}"
    script = getattr(sys.modules.get("__main__"), "__file__", None)
    chain: list[str] = []
    cause: BaseException | None = exc
    while cause is not None and len(chain) < 20:
        chain.append(str(cause))
        cause = cause.__cause__ or cause.__context__
    if script and any("Nanny failed to start" in text for text in chain):
        message += (
            f" Its worker processes start by re-importing the main script "
            f"({script}, multiprocessing's spawn): a script that runs a workflow "
            f'must do so under `if __name__ == "__main__":`. Or start a cluster yourself '
            f"(`dask scheduler`, `dask worker ADDRESS`) and set options.address."
        )
    return message


def _unpicklable(fn: Callable[..., Any], exc: Exception) -> TypeError:
    """The TypeError for a call ``client.submit`` could not serialise (nothing was sent)."""
    import cloudpickle  # type: ignore[import-untyped]

    while exc.__cause__ is not None or exc.__context__ is not None:  # dask wraps pickle's error
        inner = exc.__cause__ or exc.__context__
        if not isinstance(inner, Exception):
            break
        exc = inner
    try:
        cloudpickle.dumps(fn)
    except Exception:
        return TypeError(
            f"cannot send {_name(fn)} to dask workers: {exc}. Dask pickles functions with "
            f"cloudpickle: the function (or what its closure holds) must be picklable, "
            f"or run it on the local executor."
        )
    return TypeError(
        f"cannot send the arguments of {_name(fn)} to dask workers: {exc}. Pass picklable "
        f"values (JSON-like data, attrs objects), or use the local executor."
    )
