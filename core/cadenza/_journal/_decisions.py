"""Approval gates as the journal shows them, and recording a decision on one.

Shared by ``cadenza approve``, ``cadenza status`` and the dashboard, so all
three agree on which gates are open and refuse the same decisions with the
same messages. A gate is open from its ``approval_requested`` event until an
``approval_decided`` event for its step; a run stopped meanwhile (Ctrl-C,
kill -9, ``cadenza cancel``) keeps it open, and ``cadenza resume`` reopens it.
A decision is recorded in the store (:meth:`Store.record_decision`); the
run's process applies it within a second, or the next ``cadenza resume`` does.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from .._errors import ApprovalError
from ._store import ApprovalDecision, Store, SupportsApprovals, approvals_unsupported

__all__ = ["OpenGate", "open_gates", "record_approval"]


@attrs.frozen(kw_only=True)
class OpenGate:
    """An approval gate waiting for a decision, as its ``approval_requested`` event says."""

    step_id: str
    request: int
    """The ``seq`` of the request: decisions name it."""
    prompt: str
    approvers: tuple[str, ...] = ()
    expires_at: float | None = None
    requested_at: float = 0.0

    def expired(self, now: float) -> bool:
        return self.expires_at is not None and now >= self.expires_at

    def to_dict(self) -> dict[str, Any]:
        return {
            "step_id": self.step_id,
            "request": self.request,
            "prompt": self.prompt,
            "approvers": list(self.approvers),
            "expires_at": self.expires_at,
            "requested_at": self.requested_at,
        }


def open_gates(events: Sequence[Mapping[str, Any]]) -> dict[str, OpenGate]:
    """Step id to its open gate, in the order the gates opened."""
    gates: dict[str, OpenGate] = {}
    for event in events:
        kind, step_id = event.get("kind"), event.get("step_id")
        if not isinstance(step_id, str):
            continue
        if kind == "approval_requested":
            expires = event.get("expires_at")
            gates.pop(step_id, None)
            gates[step_id] = OpenGate(
                step_id=step_id,
                request=int(event["seq"]),
                prompt=str(event.get("prompt", "")),
                approvers=tuple(event.get("approvers") or ()),
                expires_at=None if expires is None else float(expires),
                requested_at=float(event.get("at", 0.0)),
            )
        elif kind == "approval_decided":
            gates.pop(step_id, None)
    return gates


def record_approval(
    store: Store,
    run_id: str,
    step_id: str,
    *,
    approved: bool,
    by: str,
    reason: str = "",
    now: float | None = None,
) -> OpenGate:
    """Record a decision on the step's open gate; :class:`ApprovalError` says why it cannot be.

    Refused: a step with no open gate (never asked, already decided, or not
    in the run), an expired gate, a decider not among the gate's approvers,
    and a gate already decided by someone else but not yet applied by the run.
    The caller has checked that the run exists.
    """
    if not isinstance(store, SupportsApprovals):
        raise ApprovalError(approvals_unsupported(store), **_ids(run_id, step_id))
    now = time.time() if now is None else now
    events = store.read_events(run_id)
    gates = open_gates(events)
    gate = gates.get(step_id)
    if gate is None:
        raise ApprovalError(_why_not_open(events, run_id, step_id, gates), **_ids(run_id, step_id))
    if gate.expired(now):
        raise ApprovalError(
            f"the approval gate of step {step_id!r} in run {run_id} expired at "
            f"{_utc(gate.expires_at)}; the step fails as timed out (when the run is running, "
            f"or at its next cadenza resume).",
            **_ids(run_id, step_id),
        )
    if gate.approvers and by not in gate.approvers:
        raise ApprovalError(
            f"{by!r} may not decide the approval of step {step_id!r}: its approvers are "
            f"{', '.join(gate.approvers)}. Decide as one of them (--as NAME).",
            **_ids(run_id, step_id),
        )
    decision = ApprovalDecision(
        run_id=run_id,
        step_id=step_id,
        request=gate.request,
        approved=approved,
        by=by,
        reason=reason,
        decided_at=now,
    )
    if not store.record_decision(decision):
        first = next(
            (
                d
                for d in store.read_decisions(run_id)
                if d.step_id == step_id and d.request == gate.request
            ),
            None,
        )
        said = ""
        if first is not None:
            said = f" ({'approved' if first.approved else 'rejected'} by {first.by})"
        raise ApprovalError(
            f"the approval of step {step_id!r} in run {run_id} was already decided{said}; "
            "the run applies that decision.",
            **_ids(run_id, step_id),
        )
    return gate


def _why_not_open(
    events: Sequence[Mapping[str, Any]], run_id: str, step_id: str, gates: Mapping[str, OpenGate]
) -> str:
    """Why ``step_id`` has no open gate: decided before, not in the run, or not there yet."""
    waiting = (
        f" Open gates: {', '.join(gates)}."
        if gates
        else f" Run {run_id} has no open approval gate."
    )
    decided = [e for e in events if e.get("kind") == "approval_decided"]
    for event in reversed(decided):
        if event.get("step_id") == step_id:
            verdict = "approved" if event.get("approved") else "rejected"
            return (
                f"the approval of step {step_id!r} in run {run_id} was already decided: "
                f"{verdict} by {event.get('by')}.{waiting}"
            )
    steps: list[str] = []
    for event in events:
        if event.get("kind") in ("run_started", "run_resumed"):
            steps = [*steps, *(s for s in event.get("steps", ()) if s not in steps)]
    if steps and step_id not in steps:
        return f"run {run_id} has no step {step_id!r} (its steps: {', '.join(steps)}).{waiting}"
    return (
        f"step {step_id!r} of run {run_id} is not waiting for approval (it has no approval:, "
        f"or has not reached its gate yet).{waiting}"
    )


def _ids(run_id: str, step_id: str) -> dict[str, str]:
    return {"run_id": run_id, "step_id": step_id}


def _utc(epoch: float | None) -> str:
    if epoch is None:
        return "never"
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(epoch))
