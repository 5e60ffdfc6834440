"""Running one claimed run: exactly as ``cadenza run`` would, or as ``cadenza resume`` on takeover.

A claim with no run in the journal yet starts the run under the queued run
id. A claim whose run is already in the journal is a takeover (the previous
worker died, hung past its lease, or released the run when it stopped): the
run resumes from its journal, so journaled successes are restored, never
executed again, and calls that were in flight repeat with the same
idempotency key. A run the journal already shows finished (its worker died
between the run's last write and marking the queue) is only marked; except a
run cancelled without a cancel request (``cadenza cancel`` sets one): a
stopping worker cancelled it to give it back, so it is resumed.

The run writes through a :class:`~cadenza._journal._fenced.FencedStore`: if
the claim is taken over meanwhile, its next write is refused and it stops.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs
import trio

from .._errors import ResumeError, WorkflowError
from .._journal._fenced import FencedStore
from .._journal._queue import QUEUE_STATE_FOR_RUN, QueuedRun, QueueState
from .._journal._readback import FINISHED
from .._journal._store import Store
from .._load._loader import LoadResult, load_workflow
from .._plugins._registry import Plugins
from .._redact import redact
from .._scheduler._resume import ResumePlan, plan_resume
from .._scheduler._runner import RunHandle, run_workflow
from .._spec._outcome import RunResult


@attrs.frozen(kw_only=True)
class Prepared:
    """What a claim turned into before anything ran: a run to start or resume, or an end."""

    loaded: LoadResult | None = None
    resume: ResumePlan | None = None
    ended: QueueState | None = None
    """Set when there is nothing to run: the queue state to finish the claim with."""
    reason: str = ""


def prepare(claim: QueuedRun, store: Store, plugins: Plugins) -> Prepared:
    """Load the claimed run's workflow and decide: start, resume, or end. Blocking."""
    entry = claim.entry
    record = store.get_run(entry.run_id)
    released = record is not None and record.status == "cancelled" and not record.cancel_requested
    if record is not None and record.status in FINISHED and not released:
        # Its worker died after the run ended, before marking the queue.
        return Prepared(ended=QUEUE_STATE_FOR_RUN[record.status], reason="already finished")
    try:
        loaded = load_workflow(entry.path, plugins=plugins, workflow=entry.workflow or None)
    except WorkflowError as exc:
        return Prepared(ended="failed", reason=f"the workflow no longer loads:\n{exc.render()}")
    workflow = loaded.workflow
    if redact(workflow.source_text, workflow.secrets) != entry.source:
        return Prepared(
            ended="failed",
            reason=f"{entry.path} changed since the run was submitted; every worker needs "
            "the file as submitted (submit the run again to use the file as it is now)",
        )
    if record is None:
        return Prepared(loaded=loaded)
    try:
        plan = plan_resume(store, entry.run_id, workflow, leased=True)
    except ResumeError as exc:
        return Prepared(ended="failed", reason=str(exc))
    return Prepared(loaded=loaded, resume=plan)


@attrs.define(eq=False)
class ClaimedRun:
    """One run a worker holds: its claim, the store it writes through, and its handle."""

    claim: QueuedRun
    store: FencedStore
    scope: trio.CancelScope = attrs.field(factory=trio.CancelScope)
    handle: RunHandle | None = None
    lost: bool = False
    """The claim was lost (renewal refused, or a write refused): write nothing more."""
    released: bool = False
    """The worker is stopping: give the run back instead of finishing it."""

    @property
    def run_id(self) -> str:
        return self.claim.run_id

    def lose(self) -> None:
        """The claim is gone: stop the run now, its journal writes are refused anyway."""
        self.lost = True
        self.scope.cancel()

    def give_back(self, reason: str) -> None:
        """Stop the run cleanly (as Ctrl-C would), to be released to another worker."""
        self.released = True
        if self.handle is not None:
            self.handle.cancel(reason)
        else:
            self.scope.cancel()


async def run_claimed(
    run: ClaimedRun,
    prepared: Prepared,
    plugins: Plugins,
    *,
    output_dir: str,
    observers: tuple[Callable[[Any], None], ...] = (),
) -> RunResult | None:
    """Start or resume the prepared run through the fenced store; its result (None if cut off)."""
    assert prepared.loaded is not None
    workflow = prepared.loaded.workflow
    box: list[RunResult] = []
    out = output_dir  # absolute (the worker made it so)
    if prepared.resume is not None and prepared.resume.output_dir:
        out = prepared.resume.output_dir

    async def runner(*, task_status: trio.TaskStatus[RunHandle]) -> None:
        box.append(
            await run_workflow(
                workflow,
                plugins=plugins,
                inputs=run.claim.entry.inputs,
                run_id=run.run_id,
                store=run.store,
                resume=prepared.resume,
                observers=observers,
                output_dir=out,
                task_status=task_status,
            )
        )

    with run.scope:
        async with trio.open_nursery() as nursery:
            run.handle = await nursery.start(runner)
            if run.released:  # asked to stop while it was starting
                run.handle.cancel("the worker is stopping")
    return box[0] if box else None
