"""Live progress for ``cadenza run``: a rich table on a terminal, plain lines otherwise.

The display is an event observer: it never reads scheduler internals, so what
it shows is exactly what the journal and other observers see. rich is imported
by the live display only (and for a plain line rich would render differently):
plain lines to a pipe cost a run no import of rich.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, cast

import attrs
import trio

from .. import _events as ev
from .._ids import split_item_id
from .._journal._items import FAILED_ITEMS_SHOWN, ITEM_STATES, ItemTally
from .._spec._outcome import RunResult
from .._spec._workflow import Workflow

if TYPE_CHECKING:
    from rich.console import Console
    from rich.live import Live

    from ._console import PlainConsole

_CONTROL_CODES = dict.fromkeys((7, 8, 11, 12, 13))
"""What ``rich.control.strip_control_codes`` removes: bell, backspace, VT, FF, CR."""

_STYLE = {
    "pending": ("·", "dim"),
    "ready": ("◌", "cyan"),
    "running": ("▶", "bold blue"),
    "retrying": ("↻", "yellow"),
    "succeeded": ("✓", "green"),
    "failed": ("✗", "bold red"),
    "skipped": ("⤳", "magenta"),
    "cancelled": ("■", "red"),
}
_MAX_ROWS = 24
_HEADER_STATES = (
    "succeeded", "running", "retrying", "ready", "pending", "failed", "skipped", "cancelled",
)  # fmt: skip


@attrs.define
class _Row:
    state: str = "pending"
    agent: str = ""
    attempts: int = 0
    started: float | None = None
    ended: float | None = None
    note: str = ""
    degraded: bool = False
    order: int = 0
    items: _Items | None = None
    """A ``for_each`` step's items, once it expanded: counted here, never shown one by one."""


@attrs.define
class _Items:
    """How far a mapped step's items got: each item's state, and counts by state."""

    total: int
    states: dict[int, str] = attrs.field(factory=dict)
    counts: dict[str, int] = attrs.field(factory=lambda: dict.fromkeys(ITEM_STATES, 0))
    failed_shown: int = 0
    tenths: int = 0
    """Tenths of the items reported done so far (plain output prints a line at each)."""

    def move(self, index: int, state: str) -> None:
        old = self.states.get(index)
        if old is not None:
            self.counts[old] -= 1
        self.states[index] = state
        self.counts[state] += 1

    def tally(self) -> ItemTally:
        counts = dict(self.counts)
        ended_or_running = sum(n for state, n in counts.items() if state != "pending")
        counts["pending"] = max(self.total - ended_or_running, 0)
        return ItemTally(total=self.total, counts=counts)


@attrs.define(eq=False)
class Progress:
    """Tracks step states from events and renders them."""

    workflow: Workflow
    console: Console | PlainConsole
    live: bool
    rows: dict[str, _Row] = attrs.field(init=False)
    run_id: str = ""
    started: float = attrs.field(factory=time.monotonic)
    _display: Live | None = None
    _last_refresh: float = 0.0
    _tick: int = 0

    def __attrs_post_init__(self) -> None:
        self.rows = {step_id: _Row() for step_id in self.workflow.steps}

    def __enter__(self) -> Progress:
        if self.live:
            from rich.live import Live

            self._display = Live(
                self.render(),
                console=cast("Console", self.console),  # live: a terminal, so rich's console
                auto_refresh=False,
                transient=False,
            )
            self._display.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._display is not None:
            self._display.update(self.render(), refresh=True)
            self._display.__exit__(None, None, None)
            self._display = None

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def observe(self, event: ev.Event) -> None:
        """Event observer: update the row of the step the event is about."""
        self._tick += 1
        if isinstance(event, ev.RunStarted):
            self.run_id = event.run_id
            self._line(f"run {event.run_id} of workflow {event.workflow!r} started")
            return
        if isinstance(event, ev.RunResumed):
            self.run_id = event.run_id
            for restored in event.restored:
                if restored in self.rows:
                    self.rows[restored] = _Row(state="succeeded", note="restored from the journal")
            steps = sum(1 for sid in event.restored if sid in self.rows)
            items = len(event.restored) - steps  # items of for_each steps (build[3])
            kept = f" (and {items:,} items of for_each steps)" if items else ""
            self._line(
                f"run {event.run_id} of workflow {event.workflow!r} resumed: "
                f"{steps} steps restored{kept}, {len(event.rerun)} to run"
            )
            return
        step_id: str = getattr(event, "step_id", "")
        row = self.rows.get(step_id)
        if row is None:
            self._item_event(step_id, event)
            return
        if isinstance(event, ev.StepMapped):
            row.state, row.started = "running", row.started or time.monotonic()
            row.items = _Items(total=event.items)
            row.items.counts["succeeded"] = event.restored
            row.note = row.items.tally().text()
            restored = f", {event.restored:,} restored" if event.restored else ""
            bound = f", at most {event.max_parallel} at once" if event.max_parallel else ""
            self._line(f"▶ {step_id}: {event.items:,} items{bound}{restored}")
        elif isinstance(event, ev.StepReady):
            row.state = "ready"
        elif isinstance(event, ev.AttemptStarted):
            row.state, row.agent, row.attempts = "running", event.agent, event.attempt
            row.started = row.started or time.monotonic()
            row.order = self._tick
        elif isinstance(event, ev.AttemptProgress):
            parts = [event.message] if event.message else []
            if event.tokens is not None:
                parts.append(f"{event.tokens} tokens")
            row.note = ", ".join(parts)
        elif isinstance(event, ev.AttemptFailed):
            row.note = f"{event.error_type}: {event.message}"
            if event.retry_in is not None:
                row.state = "retrying"
                self._line(
                    f"! {event.step_id}: attempt {event.attempt} failed ({row.note}); "
                    f"retry in {event.retry_in:.1f}s"
                )
        elif isinstance(event, ev.StepCacheHit):
            row.agent, row.note = "cache", f"cached output of run {event.source_run}"
        elif isinstance(event, ev.StepSucceeded):
            row.state, row.ended = "succeeded", time.monotonic()
            row.note = row.note if event.agent == "cache" or row.items is not None else ""
            row.degraded = event.degraded
            if event.degraded:
                row.note = f"degraded ({event.source or 'fallback'})"
            self._done(step_id, row)
        elif isinstance(event, ev.StepFailed):
            row.state, row.ended, row.note = "failed", time.monotonic(), event.message
            self._done(step_id, row)
        elif isinstance(event, ev.StepSkipped):
            row.state, row.note = "skipped", event.reason
            self._done(step_id, row)
        elif isinstance(event, ev.ApprovalRequested):
            decide = f"cadenza approve {self.run_id} {step_id} [--reject] [--reason TEXT]"
            row.note = f"waiting for approval: {decide}"
            self._line(
                f"? {step_id} waits for approval: {event.prompt[:200]}\n"
                f"  decide with: {decide}\n"
                f"  (or stop now with Ctrl-C, decide later, then: cadenza resume {self.run_id})"
            )
        elif isinstance(event, ev.ApprovalDecided):
            verdict = "approved" if event.approved else "rejected"
            if event.by == "timeout":
                verdict = "timed out waiting for approval"
            else:
                verdict += f" by {event.by}"
            row.note = verdict
            self._line(f"{step_id}: {verdict}" + (f" ({event.reason})" if event.reason else ""))
        elif isinstance(event, ev.StepCancelled):
            row.state, row.note = "cancelled", event.reason
            if row.started is not None:
                row.ended = time.monotonic()
            self._done(step_id, row)
        self.refresh()

    def _item_event(self, item_id: str, event: ev.Event) -> None:
        """An event about an item (``build[3]``): count it in its step's row."""
        parts = split_item_id(item_id) if item_id else None
        row = self.rows.get(parts[0]) if parts is not None else None
        if parts is None or row is None or row.items is None:
            return
        items, index = row.items, parts[1]
        if isinstance(event, ev.StepReady):
            items.move(index, "pending")
        elif isinstance(event, ev.AttemptStarted):
            items.move(index, "running")
            row.agent, row.attempts = event.agent, row.attempts + 1
            row.order = self._tick
        elif isinstance(event, ev.StepSucceeded):
            items.move(index, "succeeded")
        elif isinstance(event, ev.StepFailed):
            items.move(index, "failed")
            if items.failed_shown < FAILED_ITEMS_SHOWN:
                items.failed_shown += 1
                self._line(f"✗ {item_id}: {event.message}")
        elif isinstance(event, ev.StepSkipped):
            items.move(index, "skipped")
        elif isinstance(event, ev.StepCancelled):
            items.move(index, "cancelled")
        else:
            return
        tally = items.tally()
        row.note = tally.text()
        tenths = tally.done * 10 // max(tally.total, 1)
        if tenths > items.tenths and tally.done < tally.total:
            items.tenths = tenths
            self._line(f"  {parts[0]}: {row.note}")
        self.refresh()

    def _done(self, step_id: str, row: _Row) -> None:
        row.order = self._tick
        icon, _ = _STYLE[row.state]
        took = ""
        if row.started is not None and row.ended is not None:
            took = f" in {row.ended - row.started:.2f}s"
        agent = f" [{row.agent}]" if row.agent and row.state != "skipped" else ""
        note = f": {row.note}" if row.note else ""
        self._line(f"{icon} {step_id}{agent}{took}{note}")

    def _line(self, text: str) -> None:
        if self.live:
            return
        line = f"[{self.elapsed():7.2f}s] {text}"
        if ":" in line or "\t" in line:  # rich turns :name: into emoji and expands tabs
            self.console.print(line, markup=False, highlight=False, soft_wrap=True)
        else:  # the same text, without rich's rendering (a tenth of a millisecond a line)
            self.console.file.write(line.translate(_CONTROL_CODES) + "\n")

    def refresh(self, *, force: bool = False) -> None:
        if self._display is None:
            return
        now = time.monotonic()
        if force or now - self._last_refresh > 0.05:
            self._last_refresh = now
            self._display.update(self.render(), refresh=True)

    async def keep_fresh(self) -> None:
        """Redraw a few times a second so the elapsed time moves between events."""
        while True:
            await trio.sleep(0.25)
            self.refresh(force=True)

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for row in self.rows.values():
            out[row.state] = out.get(row.state, 0) + 1
        return out

    def render(self) -> Any:
        from rich.console import Group
        from rich.table import Table
        from rich.text import Text

        counts = self.counts()
        header = Text()
        header.append(f"{self.workflow.name}", style="bold")
        header.append(f"  run {self.run_id}  {self.elapsed():.1f}s  ")
        for state in _HEADER_STATES:
            if counts.get(state):
                icon, style = _STYLE[state]
                header.append(f"{icon} {counts[state]} {state}  ", style=style)
        table = Table(box=None, pad_edge=False, show_header=True, header_style="dim")
        for col in ("", "step", "agent", "try", "time", "note"):
            table.add_column(col, no_wrap=col != "note", overflow="ellipsis")
        shown = sorted(
            self.rows.items(),
            key=lambda kv: (kv[1].state not in ("running", "retrying", "failed"), -kv[1].order),
        )
        if len(shown) > _MAX_ROWS:
            shown = shown[:_MAX_ROWS]
        now = time.monotonic()
        for step_id, row in shown:
            icon, style = _STYLE[row.state]
            took = ""
            if row.started is not None:
                took = f"{(row.ended or now) - row.started:.2f}s"
            table.add_row(
                Text(icon, style=style),
                step_id,
                row.agent,
                str(row.attempts or ""),
                took,
                Text(row.note[:120], style="dim" if row.state != "failed" else "red"),
            )
        hidden = len(self.rows) - len(shown)
        parts: list[Any] = [header, table]
        if hidden > 0:
            parts.append(Text(f"… {hidden} more steps", style="dim"))
        return Group(*parts)


def summary_text(result: RunResult, workflow: Workflow) -> str:
    """The human summary printed after a run: status, counts, problems, leaf outputs."""
    import json

    counts = result.counts
    lines = [
        f"run {result.run_id}: {result.status.upper()} in {result.duration:.2f}s — "
        f"{counts['succeeded']} succeeded, {counts['failed']} failed, "
        f"{counts['skipped']} skipped, {counts['cancelled']} cancelled"
    ]
    if result.reason:
        lines.append(f"  reason: {result.reason}")
    lines.extend(_item_lines(result, workflow))
    for outcome in result.steps.values():
        if outcome.status == "failed":
            lines.append(
                f"  ✗ {outcome.step_id} failed after {outcome.attempts} attempt(s): {outcome.error}"
            )
    for outcome in result.steps.values():
        if outcome.status == "skipped":
            lines.append(f"  ⤳ {outcome.step_id} skipped: {outcome.reason}")
    lines.extend(_degraded_lines(result))
    lines.extend(_cost_lines(result))
    # The run's results: outputs that no succeeded step went on to consume.
    consumed = {
        need
        for sid, step in workflow.steps.items()
        if result.steps[sid].status == "succeeded"
        for need in step.needs
    }
    leaves = [
        o for sid, o in result.steps.items() if sid not in consumed and o.status == "succeeded"
    ]
    if leaves:
        lines.append("outputs:")
        for outcome in leaves:
            text = json.dumps(outcome.output, default=str)
            if len(text) > 300:
                text = text[:297] + "..."
            lines.append(f"  {outcome.step_id}: {text}")
    return "\n".join(lines)


def _item_lines(result: RunResult, workflow: Workflow) -> list[str]:
    """One line per ``for_each`` step that expanded: its items by how they ended."""
    lines = []
    for sid, outcome in result.steps.items():
        step = workflow.steps.get(sid)
        if step is None or step.for_each is None:
            continue
        if not outcome.items and outcome.status != "succeeded":
            continue  # never expanded: its own line (failed, skipped) says why
        ended = {state: 0 for state in ("succeeded", "failed", "skipped", "cancelled")}
        for item in outcome.items:
            ended[item.status] = ended.get(item.status, 0) + 1
        counted = ", ".join(f"{n:,} {state}" for state, n in ended.items() if n)
        lines.append(f"  ▤ {sid}: {len(outcome.items):,} items ({counted or 'none ran'})")
    return lines


def _degraded_lines(result: RunResult) -> list[str]:
    """One line per degraded step; a reason already given is referred to, not repeated."""
    lines: list[str] = []
    first_with: dict[str, str] = {}
    for outcome in result.steps.values():
        if not outcome.degraded:
            continue
        why = ""
        if outcome.reason and outcome.reason in first_with:
            why = f", for the same reason as {first_with[outcome.reason]}"
        elif outcome.reason:
            first_with[outcome.reason] = outcome.step_id
            why = f", because {outcome.reason}"
        lines.append(f"  ⚠ {outcome.step_id} degraded: {outcome.source or 'fallback'}{why}")
    return lines


def _cost_lines(result: RunResult) -> list[str]:
    """What the run spent, and each budget with what it allowed (only when there is a cost)."""
    cost = result.cost
    usd, tokens = cost.get("usd", 0.0), cost.get("tokens", 0)
    budgets = cost.get("budgets", {})
    if not usd and not tokens and not budgets:
        return []
    lines = [f"  cost: ${usd:.4f}, {tokens} tokens"]
    for label, b in budgets.items():
        limits = []
        if b.get("usd") is not None:
            limits.append(f"${b['spent_usd']:.4f} of ${b['usd']:g}")
        if b.get("tokens") is not None:
            limits.append(f"{b['spent_tokens']} of {b['tokens']} tokens")
        lines.append(f"  {label} budget: {', '.join(limits)}")
    return lines
