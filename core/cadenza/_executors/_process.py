"""The ``process`` executor: a pool of worker processes, one call per worker at a time.

A call is pickled in the coordinator (so an unpicklable function fails before
anything runs, with a message saying what to do), sent to an idle worker over
a pipe, and awaited with :func:`trio.lowlevel.wait_readable` on the pipe, so
trio never blocks on it. A call that is cancelled (a step ``timeout:``, a
cancelled run) kills its worker with SIGKILL and reaps it before ``run``
returns: nothing keeps running. A worker that dies mid-call is
:class:`~cadenza.plugins.WorkerLostError` (retryable). Workers start on demand,
up to ``workers`` at once, and stay for the next call until the run ends.

Our own small pool rather than trio-parallel: the contract needs only
kill-on-cancel and a worker count, both a few lines here, and the kernel keeps
its dependency list. Workers are ``python -c`` subprocesses talking over a
socket pair (``_worker``), not :mod:`multiprocessing` processes: its
``spawn`` re-imports the coordinator's main module in every worker, which
breaks a script that calls ``cadenza.run`` without an ``if __name__ ==
"__main__"`` guard. POSIX only for now (the socket is inherited with
``pass_fds``).
"""

from __future__ import annotations

import functools
import os
import pickle
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import attrs

from .._errors import WorkerLostError
from ._contract import options_from

if TYPE_CHECKING:
    import subprocess
    from multiprocessing.connection import Connection

T = TypeVar("T")

_KERNEL_PARENT = str(Path(__file__).resolve().parents[2])
"""The directory holding the ``cadenza`` package this coordinator runs, put first in workers."""

_REAP_SECONDS = 5.0
"""How long a killed worker may take to be reaped (SIGKILL: normally a few milliseconds)."""


def _at_least_one(instance: object, attribute: attrs.Attribute[Any], value: int | None) -> None:
    if value is not None and value < 1:
        raise ValueError(f"{attribute.name} must be 1 or more, got {value!r}")


@attrs.frozen(kw_only=True)
class ProcessOptions:
    """``options:`` of a ``process`` executor.

    ``workers`` is how many worker processes run calls at once (default: the
    machine's CPU count). Each is a fresh interpreter with the coordinator's
    ``sys.path``, started at its first call and kept until the run ends.
    """

    workers: int | None = attrs.field(default=None, validator=_at_least_one)


class RemoteTraceback(Exception):
    """The traceback of an exception raised in a worker process (its ``__cause__``)."""

    def __str__(self) -> str:
        return "\n" + (self.args[0] if self.args else "")


class _Worker:
    """One worker process and the coordinator's end of its pipe."""

    def __init__(self, process: subprocess.Popen[Any], conn: Connection) -> None:
        self.process = process
        self.conn = conn

    @property
    def pid(self) -> int | None:
        return self.process.pid

    @property
    def exitcode(self) -> int | None:
        return self.process.poll()

    async def call(self, payload: bytes) -> tuple[Any, ...]:
        import trio

        try:
            self.conn.send_bytes(payload)
        except OSError as exc:  # it died while idle
            await self.kill()
            raise WorkerLostError(
                f"worker process {self.pid} had died (exit code {self.exitcode})"
            ) from exc
        if sys.platform == "win32":  # pipes are not pollable by trio there
            await trio.to_thread.run_sync(self.conn.poll, None, abandon_on_cancel=True)
        else:
            await trio.lowlevel.wait_readable(self.conn.fileno())
        try:
            data = self.conn.recv_bytes()
        except (EOFError, OSError) as exc:
            await self.kill()
            raise WorkerLostError(
                f"worker process {self.pid} died during the call "
                f"(exit code {self.exitcode}): killed, crashed or out of memory"
            ) from exc
        reply: tuple[Any, ...] = pickle.loads(data)
        return reply

    async def kill(self) -> None:
        """Kill the process and reap it (shielded: runs even in a cancelled task)."""
        import trio

        with trio.CancelScope(shield=True):
            if self.exitcode is None:
                self.process.kill()
            await trio.to_thread.run_sync(self.process.wait, _REAP_SECONDS)
        self.conn.close()

    async def stop(self) -> None:
        """Let the worker exit by closing its pipe; kill it if it does not."""
        import subprocess

        import trio

        self.conn.close()
        with trio.CancelScope(shield=True):
            try:
                await trio.to_thread.run_sync(self.process.wait, 2.0)
            except subprocess.TimeoutExpired:
                self.process.kill()
                await trio.to_thread.run_sync(self.process.wait, _REAP_SECONDS)


class ProcessExecutor:
    """A pool of worker processes; a cancelled call kills its worker."""

    def __init__(self, options: ProcessOptions | None = None) -> None:
        self.options = options or ProcessOptions()
        self.workers = self.options.workers or os.cpu_count() or 1
        self._idle: list[_Worker] = []
        self._live: set[_Worker] = set()
        self._limiter: Any = None
        self._closed = False

    @classmethod
    def from_options(cls, options: Mapping[str, Any] | None = None) -> ProcessExecutor:
        """The ``cadenza_executors`` factory: check ``options`` and start nothing."""
        return cls(options_from(options, ProcessOptions, "process"))

    @property
    def closed(self) -> bool:
        """Whether :meth:`aclose` was called: no more calls are taken."""
        return self._closed

    @property
    def pids(self) -> frozenset[int]:
        """Process ids of the live workers (for tests and diagnostics)."""
        return frozenset(w.pid for w in self._live if w.pid is not None)

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """Call ``fn(*args)`` in a worker process; see the module doc."""
        import trio

        if self._closed:
            raise RuntimeError("this process executor is closed; its run has ended")
        payload = _pickled(fn, args)
        if self._limiter is None:
            self._limiter = trio.CapacityLimiter(self.workers)
        async with self._limiter:
            worker = self._idle.pop() if self._idle else await self._start()
            answered = False
            try:
                reply = await worker.call(payload)
                answered = True
            finally:
                if not answered:
                    self._live.discard(worker)
                    await worker.kill()
                elif self.closed:  # closed while the call ran
                    self._live.discard(worker)
                    await worker.stop()
                else:
                    self._idle.append(worker)
        if reply[0] == "ok":
            result: T = reply[1]
            return result
        if reply[0] == "raised" and isinstance(reply[1], Exception):
            raise reply[1] from RemoteTraceback(reply[2])
        if reply[0] == "raised":  # SystemExit, KeyboardInterrupt: ends the call, not the run
            exc = reply[1]
            raise RuntimeError(
                f"{_name(fn)} raised {type(exc).__name__}({exc}) in its worker process"
            ) from RemoteTraceback(reply[2])
        raise RuntimeError(f"{_name(fn)}: {reply[1]}") from RemoteTraceback(reply[2])

    async def _start(self) -> _Worker:
        import socket
        import subprocess
        from multiprocessing.connection import Connection

        import trio

        mine, theirs = socket.socketpair()
        fd = theirs.fileno()
        code = (
            f"import sys; sys.path.insert(0, {_KERNEL_PARENT!r}); "
            f"from cadenza._executors._worker import main; main({fd}, {os.getpid()})"
        )
        try:
            process = await trio.to_thread.run_sync(
                functools.partial(
                    subprocess.Popen,
                    [sys.executable, "-c", code],
                    pass_fds=(fd,),
                    stdin=subprocess.DEVNULL,
                )
            )
        finally:
            theirs.close()
        conn = Connection(mine.detach())
        worker = _Worker(process, conn)
        self._live.add(worker)
        conn.send_bytes(pickle.dumps(list(sys.path)))
        return worker

    async def aclose(self) -> None:
        """Stop every worker (idle ones exit, any still busy are killed); idempotent."""
        self._closed = True
        idle, self._idle = self._idle, []
        for worker in idle:
            self._live.discard(worker)
            await worker.stop()
        for worker in list(self._live):  # only if a call is still in flight
            self._live.discard(worker)
            await worker.kill()

    def __repr__(self) -> str:
        return f"ProcessExecutor(workers={self.workers})"


def _name(fn: Callable[..., Any]) -> str:
    module = getattr(fn, "__module__", None) or "?"
    return f"{module}:{getattr(fn, '__qualname__', repr(fn))}"


def _pickled(fn: Callable[..., Any], args: tuple[Any, ...]) -> bytes:
    """The call as bytes for the worker, or a TypeError saying what cannot cross."""
    if getattr(fn, "__module__", None) == "__main__":
        raise TypeError(
            f"cannot send {_name(fn)} to a worker process: worker processes do not run "
            f"your main script, so they cannot find its functions. Move the function to a "
            f"module they can import, or run it on the local executor."
        )
    try:
        return pickle.dumps((fn, args), protocol=pickle.HIGHEST_PROTOCOL)
    except Exception as exc:
        try:
            pickle.dumps(fn)
        except Exception:
            raise TypeError(
                f"cannot send {_name(fn)} to a worker process: {exc}. The process executor "
                f"pickles the function by its import path: define it at module level (no "
                f"lambda, no nested function, no bound method of an unpicklable object), "
                f"or run it on the local executor."
            ) from exc
        raise TypeError(
            f"cannot send the arguments of {_name(fn)} to a worker process: {exc}. "
            f"Pass picklable values (JSON-like data, attrs objects), or use the local executor."
        ) from exc
