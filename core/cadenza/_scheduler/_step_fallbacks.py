"""Handing a finally failed step to its fallbacks, in the order the file lists them.

An agent fallback sends the step back through dispatch, to a pool of that one
agent; a strategy fallback (see :mod:`cadenza._strategies._fallback`) runs here, outside
the agents' limits. When one fails the next is tried; when none is left the
step fails with every error in its message.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import trio

from .. import _events as ev
from .._agents._contract import AgentRequest, AgentResult
from .._errors import PermanentError
from .._ids import idempotency_key
from .._journal._bus import EventBus
from .._journal._writer import Journal
from .._resilience._slots import _Pool
from .._spec._workflow import FallbackSpec
from .._strategies._fallback import FallbackContext
from ._step_state import _StepState


class _FallbackMixin:
    """Fallback methods for :class:`~cadenza._scheduler._run._Run`.

    The host provides ``run_id``, ``bus``, ``journal``, ``strict``,
    ``fallback_strategies`` (name to factory), ``_fallback_pools`` (agent name
    to its one-agent pool), ``_nursery``, and the core's ``_enqueue()``,
    ``_succeed()``, ``_fail()``, ``_released_when_durable()`` and ``_dispatch()``.
    """

    __slots__ = ()

    if TYPE_CHECKING:
        run_id: str
        bus: EventBus
        journal: Journal | None
        strict: bool
        fallback_strategies: Mapping[str, Callable[..., Any]]
        _fallback_pools: dict[str, _Pool | None]
        _nursery: trio.Nursery | None

        def _enqueue(self, state: _StepState) -> None: ...

        def _succeed(
            self, state: _StepState, agent: str, result: AgentResult, end: float
        ) -> int: ...

        def _fail(self, step_id: str, error_type: str, message: str) -> None: ...

        async def _released_when_durable(self, step_id: str, seq: int) -> None: ...

        def _dispatch(self) -> None: ...

    def _fall_back(self, state: _StepState, error: str) -> bool:
        """Start the step's next fallback after a final failure; False when none is left."""
        step = state.step
        if self.strict or state.fallbacks_tried >= len(step.fallback):
            return False
        entry = step.fallback[state.fallbacks_tried]
        state.fallbacks_tried += 1
        if not state.fallback_error:  # why the step's own agents were not enough
            state.fallback_error = error
        state.fallback_source = entry.label
        self.bus.emit(ev.FallbackStarted, step_id=step.id, source=entry.label, error=error)
        if entry.agent is not None:
            pool = self._fallback_pools.get(entry.agent)
            if pool is None:
                return self._fall_back(state, f"agent {entry.agent} is not available")
            state.pool = pool
            state.status = "ready"
            state.ready_at = trio.current_time()
            state.last_agent = None
            self._enqueue(state)
            return True
        assert self._nursery is not None
        assert entry.strategy is not None
        state.status = "running"
        self._nursery.start_soon(self._run_strategy, state, entry, error)
        return True

    async def _run_strategy(self, state: _StepState, entry: FallbackSpec, error: str) -> None:
        step = state.step
        output_dir: Path | None = self.output_dir  # type: ignore[attr-defined]
        request = AgentRequest(
            run_id=self.run_id,
            step_id=step.id,
            task_type=step.uses,
            inputs=state.inputs or {},
            attempt=state.attempts,
            idempotency_key=idempotency_key(self.run_id, step.id),
            priority=step.priority,
            output_dir=output_dir / step.id if output_dir is not None else None,
            progress=self._reporter(  # type: ignore[attr-defined]
                step.id, state.attempts, entry.label
            ),
        )
        context = FallbackContext(
            step=step, error=error, store=self.journal.store if self.journal else None
        )
        try:
            factory = self.fallback_strategies[entry.strategy or ""]
            result = await factory(dict(entry.options)).run(request, context=context)
            if not isinstance(result, AgentResult):
                raise PermanentError(f"returned {type(result).__name__}, expected AgentResult")
        except Exception as exc:
            message = f"{error}; fallback {entry.label} failed: {exc}"
            if not self._fall_back(state, message):
                self._fail(step.id, type(exc).__name__, message)
            self._dispatch()
            return
        seq = self._succeed(state, entry.label, result, trio.current_time())
        await self._released_when_durable(step.id, seq)
        self._dispatch()
