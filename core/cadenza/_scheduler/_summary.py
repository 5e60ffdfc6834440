"""How a run's steps and agents ended, as the runner reports them.

Read-only views over the scheduler's state (plus marking what never finished
as cancelled), kept out of the scheduler so it only decides what runs next.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from .. import _events as ev
from .._journal._bus import EventBus
from .._redact import redact
from .._resilience._budget import Ledger
from .._resilience._slots import _AgentSlot
from .._spec._outcome import StepOutcome, StepStatus
from ._item_maps import ItemMaps
from ._step_state import _TERMINAL, _StepState


@attrs.define(eq=False)
class RunSummary:
    """How a run's steps and agents ended.

    Receives the run's step ``states`` (step id to state, read live), its
    ``bus`` (for events and the secrets to redact), its ``slots`` (agent name
    to slot), its budget ``ledger`` and its ``for_each`` ``maps`` (items are
    reported inside their step's outcome, not beside it).
    """

    states: Mapping[str, _StepState]
    bus: EventBus
    slots: Mapping[str, _AgentSlot]
    ledger: Ledger
    maps: ItemMaps | None = None

    def mark_cancelled(self, reason: str) -> None:
        """Mark every step not yet ended as cancelled, with ``reason``."""
        for step_id, state in self.states.items():
            if state.status in _TERMINAL:
                continue
            in_flight = state.status == "running"
            state.status = "cancelled"
            state.reason = reason
            self.bus.emit(ev.StepCancelled, step_id=step_id, reason=reason, in_flight=in_flight)

    def cost_summary(self) -> dict[str, Any]:
        """What the run spent, and its budgets with what is left (see RunResult.cost)."""
        ledger = self.ledger
        budgets = {}
        for account in (ledger.run, *ledger.steps.values(), *ledger.agents.values()):
            if account is None:
                continue
            budgets[account.label] = {
                "usd": account.budget.usd,
                "tokens": account.budget.tokens,
                "spent_usd": round(account.spent_usd, 10),
                "spent_tokens": account.spent_tokens,
            }
        return {
            "usd": round(ledger.total_usd, 10),
            "tokens": ledger.total_tokens,
            "budgets": budgets,
        }

    def agent_stats(self) -> dict[str, dict[str, Any]]:
        """Passive health of each agent from this run's traffic (see RunResult.agents)."""
        return {
            name: {
                "calls": slot.calls,
                "failures": slot.failures,
                "latency": slot.latency,
                "quality": slot.quality,
                "breaker": slot.breaker.state if slot.breaker is not None else None,
            }
            for name, slot in self.slots.items()
        }

    def outcomes(self) -> dict[str, StepOutcome]:
        """How each step ended, with secrets redacted from outputs and errors."""
        hidden = self.bus.secrets
        clean = redact if hidden else _as_is  # nothing to hide: skip the walk per field
        out = {}
        for step_id, s in self.states.items():
            if s.parent is not None:
                continue  # an item: reported inside its step's outcome
            items: tuple[StepOutcome, ...] = ()
            if self.maps is not None and self.maps.is_mapped(step_id):
                items = tuple(
                    _outcome(i.step.id, i, clean, hidden) for i in self.maps.items_of(step_id)
                )
            out[step_id] = _outcome(step_id, s, clean, hidden, items)
        return out


def _outcome(
    step_id: str,
    s: _StepState,
    clean: Any,
    hidden: Any,
    items: tuple[StepOutcome, ...] = (),
) -> StepOutcome:
    """One step's (or item's) outcome, with secrets redacted from outputs and errors."""
    status: StepStatus = s.status  # type: ignore[assignment]
    duration = None
    if s.started_at is not None and s.ended_at is not None:
        duration = s.ended_at - s.started_at
    return StepOutcome(
        step_id=step_id,
        status=status,
        output=clean(s.output, hidden),
        attempts=s.attempts,
        agent=s.agent,
        error=clean(s.error, hidden),
        reason=clean(
            s.reason or (s.fallback_error if s.result is not None and s.result.degraded else None),
            hidden,
        ),
        degraded=bool(s.result and s.result.degraded),
        source=s.result.source if s.result is not None else "",
        duration=duration,
        cost_usd=s.cost_usd,
        tokens=s.tokens,
        provenance=clean(s.provenance, hidden),
        items=items,
    )


def _as_is(value: Any, secrets: Any) -> Any:
    """:func:`redact` for a run without secrets."""
    return value
