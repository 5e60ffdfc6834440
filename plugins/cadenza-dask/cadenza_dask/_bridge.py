"""An asyncio event loop in a thread of its own, whose coroutines trio awaits without blocking.

dask.distributed's client is asyncio code (tornado on asyncio). Rather than
block a trio worker thread per call on ``future.result()`` (trio's default
thread limit, 40, would then cap the calls in flight, and a blocked thread
cannot be told to cancel), the executor runs an *asynchronous* client on this
loop and calls its public async API there: one thread in all, however many
calls are in flight. trio hands a coroutine over with
:func:`asyncio.run_coroutine_threadsafe` and sleeps on a :class:`trio.Event`
that the asyncio task's done callback sets through trio's token, so trio
never blocks. Cancelling the trio side cancels the asyncio task, which lets the
coroutine clean up (cancel its dask future) before trio goes on.
"""

from __future__ import annotations

import asyncio  # noqa: TID251 -- dask's client is asyncio code; it stays in this thread
import contextlib
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import trio

T = TypeVar("T")

CLEANUP_SECONDS = 30.0
"""How long a cancelled call waits for its coroutine's cleanup.

Cancelling a future takes milliseconds; restarting a worker (the executor's
``restart_on_cancel``) a few seconds, bounded at 20 by the executor.
"""


class LoopThread:
    """One asyncio loop running in a daemon thread until :meth:`stop`."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the thread and its loop; returns once the loop runs."""
        ready = threading.Event()
        loop = asyncio.new_event_loop()

        def main() -> None:
            asyncio.set_event_loop(loop)
            loop.call_soon(ready.set)
            try:
                loop.run_forever()
            finally:
                loop.run_until_complete(loop.shutdown_asyncgens())
                loop.close()

        self.loop = loop
        self._thread = threading.Thread(target=main, name=self.name, daemon=True)
        self._thread.start()
        ready.wait()

    async def call(
        self,
        fn: Callable[..., Coroutine[Any, Any, T]],
        *args: Any,
        cancellable: bool = True,
    ) -> T:
        """Run ``await fn(*args)`` on the loop; awaited from trio, cancelled with trio's task.

        When the trio task is cancelled, the asyncio task is cancelled and
        awaited (shielded, for :data:`CLEANUP_SECONDS` at most) so that the
        coroutine's ``except CancelledError`` cleanup has run when this raises.
        ``cancellable=False`` lets the coroutine finish instead (it is
        awaited, shielded, as long), for work that cannot stop half-way
        cleanly, such as starting a cluster; trio's Cancelled is raised after.
        """
        if self.loop is None:
            raise RuntimeError(f"{self.name}: the loop is not running")
        loop = self.loop
        token = trio.lowlevel.current_trio_token()
        done = trio.Event()
        tasks: list[asyncio.Task[T]] = []

        def wake(_: object) -> None:
            with contextlib.suppress(trio.RunFinishedError):  # trio ended: nobody waits
                token.run_sync_soon(done.set)

        def begin() -> None:
            task = loop.create_task(fn(*args))
            task.add_done_callback(wake)  # after the coroutine's own cleanup, however it ends
            tasks.append(task)

        def cancel() -> None:  # queued after begin (FIFO), so the task exists
            tasks[0].cancel()

        loop.call_soon_threadsafe(begin)
        try:
            await done.wait()
        except trio.Cancelled:
            if cancellable:
                loop.call_soon_threadsafe(cancel)
            with trio.CancelScope(shield=True), trio.move_on_after(CLEANUP_SECONDS):
                await done.wait()
            raise
        task = tasks[0]
        if task.cancelled():  # by the loop's shutdown, not by us
            raise RuntimeError(f"{self.name}: the call was cancelled because the loop stopped")
        exc = task.exception()
        if exc is not None:
            raise exc
        return task.result()

    def stop(self) -> None:
        """Stop the loop and join its thread (blocking: call it in a thread from trio)."""
        loop, thread = self.loop, self._thread
        self.loop = None
        if loop is None or thread is None:
            return
        loop.call_soon_threadsafe(loop.stop)
        thread.join()
