"""Handing a finally failed step to its fallbacks, in the order the file lists them.

An agent fallback sends the step back through dispatch, to a pool of that one
agent; a strategy fallback (see :mod:`cadenza._strategies._fallback`) runs here, outside
the agents' limits. When one fails the next is tried; when none is left the
step fails with every error in its message.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

import attrs
import trio

from .. import _events as ev
from .._agents._contract import AgentRequest, AgentResult
from .._errors import PermanentError
from .._ids import idempotency_key
from .._journal._bus import EventBus
from .._journal._writer import Journal
from .._redact import redact
from .._resilience._slots import _Pool
from .._spec._workflow import CachePolicy, FallbackSpec
from .._strategies._fallback import FallbackContext, fallback_key
from ._cache import StepCache
from ._calls import progress_reporter
from ._step_state import _StepState


@attrs.define(eq=False)
class StepFallbacks:
    """A finally failed step's fallbacks, and what a success means for them.

    Receives the run's ``run_id``, ``bus``, ``journal`` (None when not
    journaled), ``output_dir``, ``strict`` (fallbacks off),
    ``strategies`` (fallback strategy name to factory) and ``pools`` (agent
    name to its one-agent pool, None when unavailable); and what it asks of
    the run: ``enqueue(state)`` (queue the step for dispatch), ``start(fn,
    *args)`` (a task in the run's nursery), ``fail(step_id, error_type,
    message)``, ``finish(state, agent, result)`` (record a success, release
    dependents once durable, dispatch) and ``dispatch()``.
    """

    run_id: str
    bus: EventBus
    journal: Journal | None
    output_dir: Path | None
    strict: bool
    strategies: Mapping[str, Callable[..., Any]]
    pools: Mapping[str, _Pool | None]
    enqueue: Callable[[_StepState], None]
    start: Callable[..., None]
    fail: Callable[[str, str, str], None]
    finish: Callable[[_StepState, str, AgentResult], Awaitable[None]]
    dispatch: Callable[[], None]

    def result_of(self, state: _StepState, result: AgentResult) -> AgentResult:
        """A success as the step records it: marked degraded when a fallback produced it.

        A success of the step's own agents is kept for a ``cached`` fallback of later runs.
        """
        step = state.step
        if state.fallback_source is not None:  # never passed off as the real thing
            source = f"fallback {state.fallback_source}"
            if result.source:
                source += f": {result.source}"
            return attrs.evolve(result, degraded=True, source=source)
        if (
            self.journal is not None
            and step.fallback
            and any(f.strategy == "cached" for f in step.fallback)
        ):
            self.journal.add_cache(
                StepCache.entry(
                    fallback_key(step, state.inputs or {}),
                    redact(result.output, self.bus.secrets),
                    CachePolicy(),
                    run_id=self.run_id,
                    step_id=step.id,
                )
            )
        return result

    def fall_back(self, state: _StepState, error: str) -> bool:
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
            pool = self.pools.get(entry.agent)
            if pool is None:
                return self.fall_back(state, f"agent {entry.agent} is not available")
            state.pool = pool
            state.status = "ready"
            state.ready_at = trio.current_time()
            state.last_agent = None
            self.enqueue(state)
            return True
        assert entry.strategy is not None
        state.status = "running"
        self.start(self._run_strategy, state, entry, error)
        return True

    async def _run_strategy(self, state: _StepState, entry: FallbackSpec, error: str) -> None:
        step = state.step
        output_dir = self.output_dir
        request = AgentRequest(
            run_id=self.run_id,
            step_id=step.id,
            task_type=step.uses,
            inputs=state.inputs or {},
            attempt=state.attempts,
            idempotency_key=idempotency_key(self.run_id, step.id),
            priority=step.priority,
            output_dir=state.folder(output_dir),
            progress=progress_reporter(self.bus, step.id, state.attempts, entry.label),
        )
        context = FallbackContext(
            step=step, error=error, store=self.journal.store if self.journal else None
        )
        try:
            factory = self.strategies[entry.strategy or ""]
            result = await factory(dict(entry.options)).run(request, context=context)
            if not isinstance(result, AgentResult):
                raise PermanentError(f"returned {type(result).__name__}, expected AgentResult")
        except Exception as exc:
            message = f"{error}; fallback {entry.label} failed: {exc}"
            if not self.fall_back(state, message):
                self.fail(step.id, type(exc).__name__, message)
            self.dispatch()
            return
        await self.finish(state, entry.label, result)
