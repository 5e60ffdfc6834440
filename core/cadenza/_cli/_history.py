"""What ``cadenza runs``, ``status`` and ``cancel`` share: opening the journal and showing runs.

Reading a run back (its effective status, each step's state, the ``--json``
shapes) lives in :mod:`cadenza._journal._readback`, shared with the dashboard;
this module keeps what only the commands need: opening the journal for a
command, and terminal formatting (tables, human durations, summaries).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .._errors import StoreReadOnlyError, UnknownRunError
from .._journal._queue import QueuedRun, SupportsRunQueue
from .._journal._readback import iso_time, run_duration
from .._journal._sqlite import SqliteStore, path_from_url
from .._journal._store import RunRecord, Store, open_store
from .._scheduler._resume import find_run
from ._common import for_this_command, get_plugins, journal_url

OUTPUT_SUMMARY_CHARS = 120


# -- opening the journal -------------------------------------------------------------


def _missing_sqlite_file(url: str, registered: Mapping[str, Any]) -> bool:
    """True when ``url`` names an SQLite journal file that does not exist (yet)."""
    scheme = url.split("://", 1)[0] if "://" in url else "sqlite"
    reg = registered.get(scheme)
    if reg is None or reg.obj is not SqliteStore:
        return False
    return not path_from_url(url).exists()


@contextmanager
def existing_store(store_url: str | None) -> Iterator[Store | None]:
    """The journal at ``store_url`` (default: the project's, found upward), or None if none.

    Reading commands never create a journal: a missing SQLite file means no
    run was journaled there, which is not worth an empty database file. A
    journal in a read-only place opens read-only, so reading works; a write
    then fails naming the command that needed it ("cancel needs write access").
    """
    url = journal_url(store_url)
    registered = get_plugins().registered("cadenza_stores")
    if _missing_sqlite_file(url, registered):
        yield None
        return
    store = open_store(url, registered)
    try:
        yield store
    except StoreReadOnlyError as exc:
        raise for_this_command(exc) from exc
    finally:
        store.close()


def require_run(store: Store | None, run_id: str, store_url: str | None) -> RunRecord:
    """The run's record, or :class:`UnknownRunError` naming recent runs (exit 2)."""
    if store is None:
        raise UnknownRunError(run_id, url=journal_url(store_url))
    return find_run(store, run_id)


# -- queued runs (cadenza submit) ----------------------------------------------------------


def unstarted(store: Store, run_id: str) -> QueuedRun | None:
    """The queue row of ``run_id`` when it was submitted and no worker has started it."""
    if not isinstance(store, SupportsRunQueue):
        return None
    row = store.get_queued(run_id)
    if row is None or store.get_run(run_id) is not None:
        return None
    return row


UNSTARTED = {
    "queued": "queued",
    "claimed": "queued",  # a worker is starting it
    "done": "succeeded",
    "failed": "failed",  # it could not start: its file changed or no longer loads
    "cancelled": "cancelled",
}
"""The status shown for a queue row whose run has no record in the journal (yet)."""


def queued_dict(q: QueuedRun) -> dict[str, Any]:
    """A queued run that has not started, in the shape of ``runs --json``."""
    return {
        "run_id": q.run_id,
        "workflow": q.entry.workflow or Path(q.entry.path).stem,
        "status": UNSTARTED[q.state],
        "reason": "",
        "source": q.entry.path,
        "started_at": None,
        "started": None,
        "submitted": iso_time(q.entry.submitted_at),
        "finished_at": None,
        "duration": None,
        "counts": {},
        "cost_usd": None,
        "pid": None,
        "host": "",
        "worker": q.worker or None,
        "queue_state": q.state,
    }


# -- formatting ----------------------------------------------------------------------


def local_time(epoch: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(epoch))


def human_duration(seconds: float) -> str:
    """``0.19s``, ``42.0s``, ``3m07s``, ``2h05m``."""
    seconds = max(seconds, 0.0)
    if seconds < 60:
        return f"{seconds:.2f}s" if seconds < 10 else f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def duration_text(record: RunRecord, status: str, *, now: float) -> str:
    seconds = run_duration(record, status, now=now)
    if seconds is None:
        return "-"
    text = human_duration(seconds)
    return f"running {text}" if status == "running" else text


_COUNTED = ("succeeded", "failed", "skipped", "cancelled", "running", "pending")


def counts_text(counts: Mapping[str, int], *, short: bool = False) -> str:
    """``2 succeeded, 1 failed`` (``2 ok, 1 failed`` if short): non-zero counts, or ``-``."""
    parts = [
        f"{counts[key]} {'ok' if short and key == 'succeeded' else key}"
        for key in _COUNTED
        if counts.get(key)
    ]
    return ", ".join(parts) or "-"


def output_summary(value: Any, limit: int = OUTPUT_SUMMARY_CHARS) -> str:
    """``value`` as one line of JSON, cut to ``limit`` characters."""
    text = json.dumps(value, default=str, ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """Plain left-aligned columns, two spaces apart; the last column is never padded."""
    widths = [len(h) for h in headers]
    for row in rows:
        widths = [max(w, len(cell)) for w, cell in zip(widths, row, strict=True)]
    return [
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in [headers, *rows]
    ]
