"""Keep-alive connections per origin, handed out in O(1).

httpcore's pool scans every connection for every request (and again for each
queued request), which at 100 in flight costs milliseconds per request. Here
each origin has a stack of idle connections (the most recently used first, so
the others age out) and a ``trio.Semaphore`` of ``max_per_origin`` slots: a
request holds a slot from acquire to release, so the connections to an origin
(idle ones included) never outnumber its slots, and waiters are served first
come, first served. Idle connections past ``keepalive_expiry`` or readable
while idle (the server closed them) are closed instead of reused.
"""

from __future__ import annotations

import math
import ssl
from collections import deque
from collections.abc import Awaitable, Callable

import httpx
import trio

from ._connection import Connection, Origin, open_connection


class _OriginPool:
    __slots__ = ("idle", "slots")

    def __init__(self, max_per_origin: int) -> None:
        self.idle: deque[Connection] = deque()
        self.slots = trio.Semaphore(max_per_origin)


class Pool:
    """The connections of one transport, by origin."""

    def __init__(
        self,
        *,
        max_per_origin: int,
        keepalive_expiry: float,
        ssl_context: Callable[[], Awaitable[ssl.SSLContext]],
    ) -> None:
        self._origins: dict[Origin, _OriginPool] = {}
        self._max_per_origin = max_per_origin
        self._keepalive_expiry = keepalive_expiry
        self._ssl_context = ssl_context
        self.closed = False

    async def acquire(
        self,
        origin: Origin,
        *,
        pool_timeout: float | None,
        connect_timeout: float | None,
        fresh: bool = False,
    ) -> Connection:
        """A connection to ``origin`` for one request: an idle one, or (``fresh``) a new one.

        Waits at most ``pool_timeout`` for a slot (``httpx.PoolTimeout``); the
        caller gives the slot back with :meth:`release`, whatever happens.
        """
        if self.closed:
            raise RuntimeError("the HTTP client is closed: open a new one")
        entry = self._origins.get(origin)
        if entry is None:
            entry = self._origins[origin] = _OriginPool(self._max_per_origin)
        slots = entry.slots
        try:
            slots.acquire_nowait()
        except trio.WouldBlock:
            limit = math.inf if pool_timeout is None else pool_timeout
            with trio.move_on_after(limit) as scope:
                await slots.acquire()
            if scope.cancelled_caught:
                raise httpx.PoolTimeout(
                    f"all {self._max_per_origin} connections to {origin[1]}:{origin[2]} "
                    f"stayed busy for {pool_timeout:g}s"
                ) from None
        try:
            if not fresh:
                connection = self._take_idle(entry.idle)
                if connection is not None:
                    return connection
            return await open_connection(origin, connect_timeout, self._ssl_context)
        except BaseException:
            slots.release()
            raise

    def _take_idle(self, idle: deque[Connection]) -> Connection | None:
        now = trio.current_time()
        while idle:
            connection = idle.pop()
            if connection.expires_at <= now or connection.is_readable():
                connection.close()
                continue
            connection.reused = True
            return connection
        return None

    def release(self, connection: Connection, *, reusable: bool) -> None:
        """Give the slot back; keep the connection for the next request if ``reusable``."""
        entry = self._origins[connection.origin]
        if reusable and not self.closed and not connection.closed:
            now = trio.current_time()
            connection.expires_at = now + self._keepalive_expiry
            idle = entry.idle
            while idle and idle[0].expires_at <= now:  # the oldest expire first
                idle.popleft().close()
            idle.append(connection)
        else:
            connection.close()
        entry.slots.release()

    def close(self) -> None:
        """Close every idle connection; busy ones close when their request releases them."""
        self.closed = True
        for entry in self._origins.values():
            while entry.idle:
                entry.idle.pop().close()

    def idle_count(self, origin: Origin) -> int:
        """How many idle connections to ``origin`` wait for reuse (for tests and benchmarks)."""
        entry = self._origins.get(origin)
        return len(entry.idle) if entry is not None else 0
