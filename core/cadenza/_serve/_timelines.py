"""The run page's timeline and agent charts: drawn on the server, per request, as SVG.

The page asks again as events arrive (``dashboard.js``, at most once a second),
with the window it shows (``from``/``to`` seconds, or following the run's
end), the page of rows (``offset``) and the ``for_each`` steps opened. The
drawing is the one ``cadenza report --format svg`` writes
(``_insight/_timeline_svg``), so a big run costs one page of rows and merged
bars, never one element per attempt.

The timeline and the usage chart are kept per run and brought up to date
with the new events only (``_run_models``). The critical path follows the
workflow's ``needs``, the usage chart its agents' limits and budgets: the
run's ``run_started`` event carries them (``_journal/_run_shape``); for a
journal written before it did, the run's workflow is loaded once from its
stored source and kept (a small LRU, like the drawings in ``_graphs``).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

from .._insight._timeline import Timeline
from .._insight._timeline_svg import ROWS_PER_PAGE, View, render_timeline_svg
from .._insight._usage_svg import render_usage_svg
from .._journal._readback import effective_status
from .._journal._run_shape import RunShape
from .._journal._store import RunRecord, Store
from . import _views
from ._run_models import RunModel

MAX_WORKFLOWS = 8
MIN_WIDTH, MAX_WIDTH = 400, 8000


class WorkflowCache:
    """Loaded workflows by (run id, source hash): a run's source never changes."""

    def __init__(self, max_entries: int = MAX_WORKFLOWS) -> None:
        self.max_entries = max_entries
        self._entries: OrderedDict[tuple[str, str], Any] = OrderedDict()

    def get(self, store: Store, record: RunRecord, plugins: Any) -> Any:
        """The run's workflow (None when its source does not load); loads once per run."""
        key = (record.run_id, record.source_hash)
        if key in self._entries:
            self._entries.move_to_end(key)
            return self._entries[key]
        workflow = _views.load_run_workflow(store, record, plugins)
        self._entries[key] = workflow
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)
        return workflow


def view_from_query(query: Mapping[str, str], parse: Any) -> tuple[View, bool]:
    """The drawing's :class:`View` from ``?from=&to=&offset=&open=&width=&critical=1``, and
    ``follow``.

    ``parse(text, name, minimum=, maximum=)`` reads a number (a 400 when it does
    not). Without ``to`` the view follows the run: it ends at the run's end, or
    at the wall clock while the run is running.
    """
    lo = parse(query["from"], "from", minimum=0.0, maximum=1e9) if query.get("from") else 0.0
    hi = parse(query["to"], "to", minimum=0.0, maximum=1e9) if query.get("to") else None
    if hi is not None and hi <= lo:
        hi = lo + 0.001
    offset = int(parse(query.get("offset") or "0", "offset", minimum=0, maximum=10**9))
    width = int(parse(query.get("width") or "1100", "width", minimum=MIN_WIDTH, maximum=MAX_WIDTH))
    opened = [s for s in (query.get("open") or "").split(",") if s][:20]
    critical = query.get("critical") == "1"
    view = View(lo=lo, hi=hi, offset=offset, limit=ROWS_PER_PAGE, open=opened, width=width,
                critical_only=critical)  # fmt: skip
    return view, hi is None


def timeline_svg(
    model: RunModel, record: RunRecord, shape: RunShape | None, view: View, *, follow: bool = True
) -> str:
    """The run's timeline within ``view``; a running run's axis reaches the wall clock.

    ``model``: the run's kept model, up to date, its lock held (``_run_models``).
    """
    return _draw(model.timeline(shape), record, view, follow=follow)


def _draw(timeline: Timeline, record: RunRecord, view: View, *, follow: bool) -> str:
    if follow and effective_status(record) == "running" and timeline.start_wall:
        view.now = max(time.time() - timeline.start_wall - timeline.paused, timeline.now)
    return render_timeline_svg(timeline, view)


def usage_svg(
    model: RunModel, record: RunRecord, shape: RunShape | None, *, width: int = 1100
) -> str:
    """Each agent's calls in flight against its ``max_concurrent``, and cost against budgets.

    Drawn once per width until the next event arrives.
    """
    usage = model.usage(shape)
    key = ("usage.svg", shape is not None, width)
    return model.derived(key, lambda: render_usage_svg(usage, width=width))


def charts(model: RunModel, record: RunRecord, shape: RunShape | None) -> tuple[str, str]:
    """The run page's first timeline and usage drawings."""
    return timeline_svg(model, record, shape, View()), usage_svg(model, record, shape)


__all__ = [
    "View", "WorkflowCache", "charts", "timeline_svg", "usage_svg", "view_from_query",
]  # fmt: skip
