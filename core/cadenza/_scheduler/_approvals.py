"""Approval gates: a step with ``approval:`` waits for a person's decision before it queues.

The run calls :meth:`Gates.hold` when a step's needs are met and its ``when:``
holds, just before the step would queue for an agent. A step with an
``approval:`` then *opens its gate*: ``approval_requested`` is emitted (the
prompt rendered, the approvers, ``expires_at`` in wall-clock epoch seconds)
and the step waits in status ``approval``, in no pool, holding no agent slot
and no share of the run's ``concurrency``.

Decisions come from other processes (``cadenza approve``, the dashboard)
through the store (:meth:`~cadenza.store.Store.record_decision`). While at
least one gate is open, one watcher task reads the run's decisions every
:data:`APPROVAL_CHECK_INTERVAL` seconds; this polling exists only because the
decision is made in another process (as ``Journal.watch_cancel`` does for
``cadenza cancel``), and it stops as soon as no gate is open. Each gate
with a timeout has one timer task, cancelled when the gate closes.

Approved, the step emits ``approval_decided`` and queues as usual; rejected
or timed out, ``approval_decided`` (``approved`` false, ``by`` the decider or
``"timeout"``) is followed by the step failing (``ApprovalRejected``,
``ApprovalTimedOut``), which skips its dependents as any failure does.

Restarts: the request is journaled, so a resumed run (:meth:`Gates.restore`)
reopens an undecided gate with its original request and ``expires_at`` (a
restart never extends the wait), applies a decision recorded meanwhile at
once, and does not ask again for a step approved before.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import attrs
import trio

from .. import _events as ev
from .._errors import ExpressionError, StoreError
from .._expr._expressions import ExpressionContext
from .._journal._bus import EventBus
from .._journal._store import ApprovalDecision, Store, approvals_unsupported
from .._logging import get_logger
from ._step_state import _StepState

__all__ = ["APPROVAL_CHECK_INTERVAL", "REJECTED", "TIMED_OUT", "Gates"]

log = get_logger()

APPROVAL_CHECK_INTERVAL = 1.0
"""Seconds between reads of the store for decisions, while at least one gate is open."""

REJECTED = "ApprovalRejected"
"""The ``error_type`` of a step whose gate was rejected."""
TIMED_OUT = "ApprovalTimedOut"
"""The ``error_type`` of a step whose gate expired undecided."""


@attrs.define(eq=False, kw_only=True)
class _Gate:
    """One open gate: the request it was opened with, and the step waiting behind it."""

    step_id: str
    request: int
    """The ``seq`` of its ``approval_requested`` event: decisions name it."""
    expires_at: float | None
    approvers: tuple[str, ...]
    state: _StepState | None = None
    timer: trio.CancelScope | None = None


@attrs.define(eq=False, kw_only=True)
class Gates:
    """The run's approval gates (see the module docstring).

    Receives the run's ``bus``, its ``store`` (None: decisions can only
    time out, as there is nowhere to record one), ``ready`` to queue a step
    whose gate approved it, ``fail`` to fail one rejected or timed out,
    ``dispatch`` to start what can start after either, and ``start`` to run a
    task in the run's nursery. ``durable`` asks for an event to be written
    now (the journal's ``want_durable``), so another process sees a gate soon.
    """

    bus: EventBus
    run_id: str
    store: Store | None
    ready: Callable[[_StepState], None]
    fail: Callable[[str, str, str], None]
    dispatch: Callable[[], None]
    start: Callable[..., None]
    durable: Callable[[int], None] | None = None
    open: dict[str, _Gate] = attrs.field(factory=dict)
    """Step id to its open gate."""
    journaled: dict[str, _Gate] = attrs.field(factory=dict)
    """Requests a resumed run found open in the journal, reopened when their step readies."""
    approved: set[str] = attrs.field(factory=set)
    """Steps approved earlier in the run (journaled): they pass without asking again."""
    _watch: trio.CancelScope | None = None
    _limiter: trio.CapacityLimiter = attrs.field(factory=lambda: trio.CapacityLimiter(1))

    # -- opening ---------------------------------------------------------------------

    def hold(self, state: _StepState, context: ExpressionContext) -> bool:
        """Open the step's gate if it has one: True if the step now waits (or failed)."""
        policy = state.step.approval
        step_id = state.step.id
        if policy is None or state.parent is not None or step_id in self.approved:
            return False
        unsupported = approvals_unsupported(self.store) if self.store is not None else ""
        if unsupported:
            self.fail(step_id, "PermanentError", f"approval: {unsupported}")
            return True
        gate = self.journaled.pop(step_id, None)
        if gate is None:
            try:
                rendered = policy.prompt.render(context)
            except ExpressionError as exc:
                self.fail(step_id, type(exc).__name__, f"approval.prompt: {exc}")
                return True
            expires_at = None if policy.timeout is None else time.time() + policy.timeout
            event = self.bus.emit(
                ev.ApprovalRequested,
                step_id=step_id,
                prompt=_text(rendered),
                approvers=policy.approvers,
                expires_at=expires_at,
            )
            if self.durable is not None:
                self.durable(event.seq)
            gate = _Gate(
                step_id=step_id,
                request=event.seq,
                expires_at=expires_at,
                approvers=policy.approvers,
            )
        gate.state = state
        state.status = "approval"
        self.open[step_id] = gate
        if gate.expires_at is not None:
            gate.timer = trio.CancelScope()
            self.start(self._expire, gate)
        if self.store is not None and self._watch is None:
            self._watch = trio.CancelScope()
            self.start(self._watch_decisions, self._watch)
        return True

    def restore(self, events: Iterable[Mapping[str, Any]], *, ask_again: Iterable[str]) -> None:
        """Take over a resumed run's gates from its journaled events.

        An undecided request is reopened as it was when its step readies; a
        step approved before passes without asking again, unless it is in
        ``ask_again`` (the steps this resume re-runs on purpose, ``--from``).
        """
        for event in events:
            kind, step_id = event.get("kind"), event.get("step_id")
            if not isinstance(step_id, str):
                continue
            if kind == "approval_requested":
                expires = event.get("expires_at")
                self.journaled[step_id] = _Gate(
                    step_id=step_id,
                    request=int(event["seq"]),
                    expires_at=None if expires is None else float(expires),
                    approvers=tuple(event.get("approvers") or ()),
                )
                self.approved.discard(step_id)
            elif kind == "approval_decided":
                self.journaled.pop(step_id, None)
                if event.get("approved"):
                    self.approved.add(step_id)
        for step_id in ask_again:
            self.approved.discard(step_id)
            self.journaled.pop(step_id, None)

    # -- closing ---------------------------------------------------------------------

    def decide(self, step_id: str, *, approved: bool, by: str, reason: str = "") -> None:
        """Close the step's open gate: queue the step, or fail it; then dispatch."""
        gate = self.open.pop(step_id)
        if gate.timer is not None:
            gate.timer.cancel()
        if not self.open and self._watch is not None:
            self._watch.cancel()
            self._watch = None
        self.bus.emit(ev.ApprovalDecided, step_id=step_id, approved=approved, by=by, reason=reason)
        state = gate.state
        assert state is not None
        if approved:
            self.approved.add(step_id)
            self.ready(state)
        elif by == "timeout":
            self.fail(step_id, TIMED_OUT, reason)
        else:
            because = f": {reason}" if reason else " (no reason given)"
            self.fail(step_id, REJECTED, f"approval rejected by {by}{because}")
        self.dispatch()

    async def _expire(self, gate: _Gate) -> None:
        """Time the gate out at its ``expires_at`` (wall clock), unless it closes first."""
        assert gate.timer is not None
        assert gate.expires_at is not None
        with gate.timer:
            await trio.sleep(max(0.0, gate.expires_at - time.time()))
            if self.store is not None:  # a decision made in time wins, even one not yet read
                self._apply(await self._read())
            if self.open.get(gate.step_id) is gate:
                who = ", ".join(gate.approvers) or "anyone"
                self.decide(
                    gate.step_id,
                    approved=False,
                    by="timeout",
                    reason=f"approval timed out: no decision (by {who}) before "
                    f"{_when(gate.expires_at)}",
                )

    async def _watch_decisions(self, scope: trio.CancelScope) -> None:
        """Apply decisions recorded in the store while gates are open (see module doc)."""
        with scope:
            while self.open:
                self._apply(await self._read())
                await trio.sleep(APPROVAL_CHECK_INTERVAL)

    async def _read(self) -> list[ApprovalDecision]:
        """The run's recorded decisions; none (logged) when the store cannot be read now."""
        store: Any = self.store  # a SupportsApprovals: checked when the gate opened
        try:
            return await trio.to_thread.run_sync(
                store.read_decisions, self.run_id, limiter=self._limiter
            )
        except StoreError as exc:
            log.warning("approval_check_failed", error=str(exc))
            return []

    def _apply(self, decisions: list[ApprovalDecision]) -> None:
        """Close each open gate a decision answers (a refused decider is logged, not applied)."""
        for decision in decisions:
            gate = self.open.get(decision.step_id)
            if gate is None or gate.request != decision.request:
                continue
            if gate.approvers and decision.by not in gate.approvers:
                log.warning(
                    "approval_decision_ignored",
                    step_id=decision.step_id,
                    by=decision.by,
                    approvers=list(gate.approvers),
                )
                continue
            self.decide(
                decision.step_id, approved=decision.approved, by=decision.by, reason=decision.reason
            )


def _text(value: Any) -> str:
    """A rendered prompt as text: strings as they are, other values as compact JSON."""
    if isinstance(value, str):
        return value
    return json.dumps(value, default=str, ensure_ascii=False)


def _when(epoch: float) -> str:
    if not math.isfinite(epoch):
        return "never"
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(epoch))
