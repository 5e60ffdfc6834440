"""The loop a ``process`` executor's worker process runs: receive a call, run it, answer.

Runs in the child process (``python -c`` started by the executor, never
:mod:`multiprocessing`, so the coordinator's main module is not re-imported),
and imports as little as it can. The first message is the coordinator's
``sys.path``, so whatever it can import, the worker can. Then messages are
pickles over a socket (a :class:`multiprocessing.connection.Connection`): a
call is ``(fn, args)``; an
answer ``("ok", result)``, ``("raised", exception, traceback text)`` or, when
the exception or result cannot be pickled, ``("unpicklable", description,
traceback text)``. The worker ignores Ctrl-C (the coordinator decides what
stops: it kills a worker whose call is cancelled), exits when the pipe
closes, and exits mid-call when the coordinator dies.
"""

from __future__ import annotations

import os
import pickle
import signal
import sys
import threading
import time
import traceback
from multiprocessing.connection import Connection
from typing import Any


def _answer(conn: Connection, reply: tuple[Any, ...]) -> None:
    try:
        data = pickle.dumps(reply, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception as exc:
        what = "result" if reply[0] == "ok" else f"exception {type(reply[1]).__name__}"
        detail = reply[2] if reply[0] == "raised" else ""
        message = f"the call's {what} cannot be pickled back: {type(exc).__name__}: {exc}"
        if reply[0] == "raised":
            message += f" (it raised {type(reply[1]).__qualname__}: {reply[1]})"
        data = pickle.dumps(("unpicklable", message, detail))
    conn.send_bytes(data)


_ORPHAN_CHECK_SECONDS = 0.5
"""How often a worker checks that its coordinator is still alive."""


def _exit_when_orphaned(parent: int) -> None:
    """End this process once the coordinator is gone (killed with -9, mid-call).

    A worker busy with a call would otherwise run it to the end before seeing
    its pipe closed. Polling the parent pid from a daemon thread, because
    ``PR_SET_PDEATHSIG`` fires when the *thread* that started the worker
    exits, and the coordinator starts workers from trio's cached threads.
    """
    while os.getppid() == parent:
        time.sleep(_ORPHAN_CHECK_SECONDS)
    os._exit(1)


def main(fd: int, parent: int | None = None) -> None:
    """The worker process's entry point: serve the socket inherited as file descriptor ``fd``."""
    if parent is not None:
        threading.Thread(target=_exit_when_orphaned, args=(parent,), daemon=True).start()
    conn = Connection(fd)
    try:
        sys.path[:] = pickle.loads(conn.recv_bytes())
    except (EOFError, OSError):
        return
    serve(conn)


def serve(conn: Connection) -> None:
    """Answer calls from ``conn`` until it closes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    while True:
        try:
            data = conn.recv_bytes()
        except (EOFError, OSError):
            return
        try:
            fn, args = pickle.loads(data)
            reply: tuple[Any, ...] = ("ok", fn(*args))
        except BaseException as exc:  # the caller re-raises it; the worker lives on
            reply = ("raised", exc, traceback.format_exc())
        try:
            _answer(conn, reply)
        except (BrokenPipeError, OSError):
            return
