"""Which agents take a step's next call: admission, budgets, then the step's router.

Dispatch asks two questions of the step at the top of each pool. First,
synchronously and without side effects, *can it start now?*: which of the
pool's agents have room (health, breaker, concurrency, rate limit) and fit
every budget that covers the call (:meth:`RouteChoice.admissible`). Then, for the one
step dispatch picks, *which of them?*: the step's router ranks the
candidates (:meth:`RouteChoice.route`) and the decision is announced as a
``route_chosen`` event. Routers never see an agent that cannot take the
call, and a router that misbehaves (raises, or names a stranger) cannot stall
the run: the call goes to the least busy candidate and the event says why.
"""

from __future__ import annotations

import copy
import math
import random
from collections.abc import Callable, Mapping, Sequence
from types import MappingProxyType
from typing import Any

import attrs

from .. import _events as ev
from .._errors import PluginError
from .._expr._expressions import ExpressionContext
from .._expr._values import compact_json
from .._journal._bus import EventBus
from .._logging import get_logger
from .._plugins._checks import check_made, describe_returned
from .._redact import redact
from .._resilience._budget import Ledger
from .._resilience._ratelimit import estimate_tokens
from .._resilience._slots import _AgentSlot, _Pool
from .._spec._workflow import StrategySpec, Workflow
from .._strategies._routing import AgentHistory, Candidate, Route, Router, RouteRequest
from ._calls import call_estimate
from ._step_state import _StepState

log = get_logger()


def calls_needed(state: _StepState, hedged: bool) -> int:
    """How many agents the step's next attempt needs at once."""
    fan_out = state.step.fan_out
    if state.fallback_source is not None or fan_out is None or hedged:
        return 1
    return fan_out if isinstance(fan_out, int) else len(fan_out)


@attrs.define(eq=False)
class RouteChoice:
    """Which agents can take a step's next call, and which of them do.

    Receives the run's ``workflow``, ``bus``, ``rng`` (offered to routers),
    budget ``ledger``, ``router_factories`` (name to factory) and
    ``hedged(state)``, whether the step's aggregator hedges (it then needs
    one agent at a time). ``history`` (past runs' record per agent and
    ``uses``) is set by the runner before the run starts, when a router
    wants it (:meth:`wants_history`).
    """

    workflow: Workflow
    bus: EventBus
    rng: random.Random
    ledger: Ledger
    router_factories: Mapping[str, Callable[..., Any]]
    hedged: Callable[[_StepState], bool]
    history: Mapping[tuple[str, str], AgentHistory] = attrs.field(factory=dict)
    _routers: dict[str | int, Router] = attrs.field(factory=dict)
    _agent_options: dict[str, Mapping[str, Any]] = attrs.field(factory=dict)
    _keys: dict[str, str | None] = attrs.field(factory=dict)

    def render_key(self, state: _StepState, context: Callable[[], ExpressionContext]) -> None:
        """Render the step's route ``key:`` once its inputs are rendered, for every call.

        ``context()`` gives what the expression reads (called only for a step
        with a key). Raises :class:`~cadenza.ExpressionError` when the key's
        expression fails, which fails the step as a failing ``with:`` does. A
        ``null`` result is no key.
        """
        spec = state.step.route or self.workflow.route
        if spec.route_key is None:
            return
        value = spec.route_key.render(context())
        key = None if value is None else value if isinstance(value, str) else compact_json(value)
        self._keys[state.step.id] = None if key is None else redact(key, self.bus.secrets)

    def wants_history(self) -> bool:
        """Whether a router of this run learns from past runs (see ``_agent_history``)."""
        specs = {self.workflow.route.key: self.workflow.route}
        for step in self.workflow.steps.values():
            if step.route is not None:
                specs[step.route.key] = step.route
        return any(getattr(self.router(spec), "wants_history", False) for spec in specs.values())

    def pick(
        self, pools: Sequence[_Pool], states: Mapping[str, _StepState], now: float
    ) -> tuple[_Pool | None, list[_AgentSlot], float]:
        """The pool whose top ready step ranks first among those that can start now.

        Returns that pool and the agents that can take the call; with no such
        pool, ``(None, [], wait)``: ``wait`` is the soonest a rate limit admits a
        held step's call (``inf`` when none is held by a rate limit).
        """
        best_pool: _Pool | None = None
        best: list[_AgentSlot] = []
        rate_wait = math.inf
        for pool in pools:
            if not pool.heap or (best_pool is not None and pool.heap[0] >= best_pool.heap[0]):
                continue
            top = states[pool.heap[0][2]]
            if pool.counts_tokens and top.estimated_tokens == 0:
                top.estimated_tokens = estimate_tokens(top.inputs or {})
            candidates = self.admissible(top, pool, now)
            if candidates is not None:
                best_pool, best = pool, candidates
            else:
                waits = [s.rate_wait for s in pool.agents if s.rate_wait > 0]
                if waits:
                    rate_wait = min(rate_wait, *waits)
        return best_pool, best, rate_wait

    def admissible(self, state: _StepState, pool: _Pool, now: float) -> list[_AgentSlot] | None:
        """The agents that can take the step's next call now, or None if too few can.

        Sets ``state.budget_refusal`` (and returns ``[]``) when no budget could
        ever fit the call: the dispatcher then fails the step instead of letting
        it wait for a settlement that cannot help.
        """
        state.budget_refusal = ""
        fan_out = state.step.fan_out
        need = 1 if fan_out is None else calls_needed(state, self.hedged(state))
        named = fan_out if isinstance(fan_out, tuple) and need > 1 else None
        ready: list[_AgentSlot] = []
        possible = 0
        refusal = ""
        held = ""  # what kept the first held agent from taking the call (waited_for)
        for slot in pool.agents:
            if named is not None and slot.name not in named:
                continue
            if self.ledger.bounded:
                usd, tokens = call_estimate(self.workflow, slot.name, state)
                fit, why = self.ledger.fit(state.step.id, slot.name, usd, tokens)
                if fit == "never":
                    refusal = refusal or why
                    continue
                possible += 1
                if fit == "wait":
                    held = held or "budget"
                    continue
            else:
                possible += 1
            if slot.has_room(now, state.estimated_tokens):
                ready.append(slot)
            else:
                held = held or held_by(slot)
        if possible < need:
            state.budget_refusal = (
                f"no agent can serve the call within its budgets: {refusal}"
                if refusal
                else f"needs {need} agents but only {possible} can serve it"
            )
            return []
        if len(ready) < need:
            state.waited_for = held
            return None
        if len(ready) > need and state.last_agent is not None:
            ready = [s for s in ready if s.name != state.last_agent] or ready
        return ready

    def route(
        self, state: _StepState, pool: _Pool, candidates: list[_AgentSlot], need: int
    ) -> tuple[_AgentSlot, ...]:
        """Ask the step's router for ``need`` distinct agents among ``candidates``."""
        step = state.step
        spec = step.route or self.workflow.route
        if len(candidates) == need:
            if len(pool.agents) > need:
                for only in candidates:
                    self._announce(state, only, spec, "the only agent with room", candidates)
            return tuple(candidates)
        router = self.router(spec)
        remaining = list(candidates)
        chosen: list[_AgentSlot] = []
        wants_history = getattr(router, "wants_history", False)
        for _ in range(need):
            by_name = {s.name: s for s in remaining}
            offered = [self._candidate(s, state, wants_history) for s in remaining]
            request = RouteRequest(
                step_id=step.id,
                uses=step.uses,
                attempt=state.attempts if state.status == "running" else state.attempts + 1,
                estimated_tokens=state.input_tokens,
                budget_left=self.ledger.remaining_usd(),
                budget_total=(self.ledger.run.budget.usd if self.ledger.run is not None else None),
                inputs=self._inputs_of(state),
                key=self._keys.get(step.id),
                rng=self.rng,
            )
            slot: _AgentSlot | None
            try:
                route = router.choose(offered, request)
                slot = by_name.get(route.agent) if isinstance(route, Route) else None
                reason = route.reason if slot is not None else _not_a_candidate(route, by_name)
            except Exception as exc:  # a router bug must not stall the run
                log.exception("router_raised", step_id=step.id, strategy=spec.name)
                slot = None
                reason = f"router raised {type(exc).__name__}: {exc}; took the least busy"
            if slot is None:
                slot = min(remaining, key=lambda s: s.in_flight)
            self._announce(state, slot, spec, reason, remaining)
            chosen.append(slot)
            remaining.remove(slot)
        return tuple(chosen)

    def _announce(
        self,
        state: _StepState,
        slot: _AgentSlot,
        spec: StrategySpec,
        reason: str,
        candidates: list[_AgentSlot],
    ) -> None:
        # Dispatch routes before the attempt starts; a hedge routes during it.
        attempt = state.attempts if state.status == "running" else state.attempts + 1
        self.bus.emit(
            ev.RouteChosen,
            step_id=state.step.id,
            attempt=attempt,
            agent=slot.name,
            strategy=spec.name,
            reason=reason,
            candidates=tuple(s.name for s in candidates),
        )

    def router(self, spec: StrategySpec) -> Router:
        router = self._routers.get(id(spec))  # specs live as long as the workflow
        if router is None:
            key = spec.key  # equal specs share one router, so its state spans their steps
            router = self._routers.get(key)
            if router is None:
                factory = self.router_factories[spec.name]
                router = factory(dict(spec.options))
                label = f"router {spec.name!r}"
                made = check_made(
                    router, hook="cadenza_routers", name=spec.name, plugin=label, factory=factory
                )
                if made:
                    raise PluginError(made, plugin=label)
                self._routers[key] = router
            self._routers[id(spec)] = router
        return router

    def _candidate(self, slot: _AgentSlot, state: _StepState, with_history: bool) -> Candidate:
        config = self.workflow.agents[slot.name]
        # Unpriced agents cost nothing: skip estimating the inputs' tokens for them.
        usd = call_estimate(self.workflow, slot.name, state)[0] if config.price else 0.0
        return Candidate(
            name=slot.name,
            capabilities=config.capabilities,
            tags=config.tags,
            weight=config.weight,
            price=config.price,
            options=self._options_of(slot.name),
            in_flight=slot.in_flight,
            limit=slot.limit,
            calls=slot.calls,
            failures=slot.failures,
            latency=slot.latency,
            quality=slot.quality,
            estimated_cost=usd,
            history=self.history.get((slot.name, state.step.uses)) if with_history else None,
        )

    def _inputs_of(self, state: _StepState) -> Mapping[str, Any]:
        """The step's rendered inputs, secrets redacted, as a fresh read-only copy.

        A copy per call: a router that mutates what it was given changes
        neither the call's inputs nor what later routes of the step see.
        """
        inputs = dict(state.inputs or {})
        redacted = redact(inputs, self.bus.secrets)
        if redacted is inputs:  # no secrets to hide: nothing was copied yet
            redacted = copy.deepcopy(inputs)
        return MappingProxyType(redacted)

    def _options_of(self, agent: str) -> Mapping[str, Any]:
        """The agent's options as plain data with secrets redacted, computed once per run."""
        options = self._agent_options.get(agent)
        if options is None:
            raw = self.workflow.agents[agent].options
            data = attrs.asdict(raw) if attrs.has(type(raw)) else dict(raw or {})
            options = redact(data, self.bus.secrets)
            self._agent_options[agent] = options
        return options


def _not_a_candidate(route: object, by_name: Mapping[str, _AgentSlot]) -> str:
    """The ``route_chosen`` reason when a router's answer names no candidate: what it returned."""
    if isinstance(route, Route):
        what = f"Route(agent={route.agent!r}), which is not a candidate"
    else:
        what = f"{describe_returned(route)}, not a Route naming a candidate"
    return (
        f"router returned {what} (candidates: {', '.join(by_name)}); took the least busy. "
        "A router must return Route(agent=<one of the candidates' names>, reason=...)"
    )


def held_by(slot: _AgentSlot) -> str:
    """Why an agent without room cannot take a call now (after ``has_room`` said no)."""
    if not slot.healthy or (slot.breaker is not None and not slot.breaker.admits()):
        return "breaker"
    if slot.limit is not None and slot.in_flight >= slot.limit:
        return "agent_slots"
    return "rate_limit" if slot.rate_wait > 0 else ""
