"""Connections shared by threads: each call borrows one, so calls from several threads run at once.

The kernel calls a store from several worker threads (the journal writer,
cache lookups, the dashboard). A psycopg connection must not be used by two
threads at a time, so each call borrows an idle connection (opening a new one
when none is idle) and gives it back; up to ``keep`` idle connections are
kept open. A connection that broke (the server restarted) is dropped, not
given back. No background threads, unlike psycopg_pool: nothing to wait for
at exit.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import psycopg


class Closed(Exception):
    """The pool was closed; no connection can be borrowed."""


class Pool:
    """Idle connections to one database, borrowed with :meth:`connection`."""

    def __init__(self, connect: Callable[[], psycopg.Connection[Any]], *, keep: int = 4) -> None:
        self._connect = connect
        self._keep = keep
        self._idle: list[psycopg.Connection[Any]] = []
        self._lock = threading.Lock()
        self._closed = False

    @contextmanager
    def connection(self) -> Iterator[psycopg.Connection[Any]]:
        """An autocommit connection for the caller's thread alone, until the block ends."""
        with self._lock:
            if self._closed:
                raise Closed
            conn = self._idle.pop() if self._idle else None
        if conn is None:
            conn = self._connect()
        try:
            yield conn
        finally:
            self._give_back(conn)

    def _give_back(self, conn: psycopg.Connection[Any]) -> None:
        healthy = (
            not conn.closed and conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
        )
        with self._lock:
            if healthy and not self._closed and len(self._idle) < self._keep:
                self._idle.append(conn)
                return
        conn.close()

    def discard_idle(self) -> None:
        """Close every idle connection: one broke, so the others (same server) may have too."""
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()

    def close(self) -> None:
        """Close the idle connections; borrowed ones close when given back."""
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()
