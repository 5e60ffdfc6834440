"""The built-in routing strategies, registered through ``cadenza_routers``.

Each strategy is a class whose ``from_options(options)`` classmethod is the
factory the kernel registers: it receives a workflow's ``route:`` mapping
without its ``strategy`` key and raises ``ValueError`` naming the bad option
and what is allowed. ``choose(candidates, request)`` ranks the candidates the
kernel found able to take the call (see :mod:`._routing`) and returns a
:class:`~._routing.Route` whose ``reason`` is a short sentence with the
numbers that decided. Every strategy is O(n) in the candidates, does no I/O,
draws randomness only from ``request.rng`` and never mutates its arguments.

Built-ins (:data:`BUILTIN_ROUTERS`):

- ``least_busy`` (the default): fewest calls in flight; ties go to the lowest
  in-flight/limit ratio, then to the agent listed first.
- ``round_robin``: takes turns in list order, per ``uses``, skipping agents
  that cannot take this call.
- ``weighted``: a random draw proportional to each agent's ``weight:``
  (option ``weights: {agent: number}`` overrides them).
- ``cheapest``: the lowest estimated cost of this call, then least busy.
- ``fastest``: the lowest smoothed latency, measuring unmeasured agents first.
- ``capability``: agents whose tags and capabilities hold ``require:`` and
  whose options equal ``options:``, most ``prefer:`` tags first, then least busy.
- ``adaptive``: Thompson sampling on each agent's success record (past runs
  and this one), less latency and cost penalties.
- ``budget_aware``: another strategy while enough of the budget is left,
  ``cheapest`` below that.
- ``consistent_hash`` (in :mod:`._consistent_hash`): the agent the route's
  ``key:`` maps to by weighted rendezvous hashing.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar, Self, final

import attrs

from ._consistent_hash import ConsistentHashRouter
from ._router_options import agent_weights as _agent_weights
from ._router_options import check_options as _check_options
from ._router_options import number as _number
from ._routing import Candidate, Route, Router, RouteRequest

# -- option parsing --------------------------------------------------------------------


def _tags(strategy: str, key: str, value: object) -> tuple[str, ...]:
    """A tag list (or one tag) as a tuple of strings, or ValueError."""
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list | tuple) and all(isinstance(tag, str) for tag in value):
        return tuple(value)
    raise ValueError(
        f"{strategy} router: {key} must be a list of tag names (strings), got {value!r}"
    )


# -- formatting for reasons ------------------------------------------------------------


def _usd(amount: float) -> str:
    if amount == 0:
        return "$0"
    if abs(amount) >= 1:
        return f"${amount:,.2f}"
    return f"${amount:.2g}"


def _seconds(value: float) -> str:
    if value >= 10:
        return f"{value:.0f}s"
    if value >= 1:
        return f"{value:.1f}s"
    return f"{value:.2g}s"


def _load(candidate: Candidate) -> str:
    """``"1 of 4"`` (calls in flight of its limit) or ``"1, no limit"``."""
    if candidate.limit is None:
        return f"{candidate.in_flight}, no limit"
    return f"{candidate.in_flight} of {candidate.limit}"


def _in_flight(candidate: Candidate) -> str:
    """``"1 of 4 in flight"`` or ``"1 in flight, no limit"``."""
    if candidate.limit is None:
        return f"{candidate.in_flight} in flight, no limit"
    return f"{candidate.in_flight} of {candidate.limit} in flight"


def _names(names: Sequence[str], most: int = 3) -> str:
    if len(names) <= most:
        return ", ".join(names)
    return f"{', '.join(names[:most])} and {len(names) - most} more"


# -- shared ranking --------------------------------------------------------------------


def _ratio(candidate: Candidate) -> float:
    limit = candidate.limit
    return candidate.in_flight / limit if limit is not None and limit > 0 else 0.0


def _busy_key(candidates: Sequence[Candidate], index: int) -> tuple[int, float, int]:
    """Sort key of "least busy": calls in flight, then share of its limit, then list order."""
    candidate = candidates[index]
    return (candidate.in_flight, _ratio(candidate), index)


def _two_best(indices: Sequence[int], key: Callable[[int], Any]) -> tuple[int, int | None]:
    """The index with the lowest ``key`` and the runner-up (None for a single index), O(n)."""
    best, second = indices[0], None
    best_key, second_key = key(best), None
    for index in indices[1:]:
        k = key(index)
        if k < best_key:
            best, best_key, second, second_key = index, k, best, best_key
        elif second_key is None or k < second_key:
            second, second_key = index, k
    return best, second


def _least_busy(candidates: Sequence[Candidate], indices: Sequence[int]) -> int:
    return min(indices, key=lambda i: _busy_key(candidates, i))


# -- least_busy ------------------------------------------------------------------------


@final
@attrs.frozen(kw_only=True)
class LeastBusyRouter:
    """``least_busy``: the fewest calls in flight; ties by in-flight/limit ratio, then order."""

    wants_history: ClassVar[bool] = False

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> Self:
        _check_options("least_busy", options, ())
        return cls()

    def choose(self, candidates: Sequence[Candidate], request: RouteRequest) -> Route:
        best = _least_busy(candidates, range(len(candidates)))
        chosen = candidates[best]
        if len(candidates) == 1:
            return Route(agent=chosen.name, reason=f"only candidate ({_in_flight(chosen)})")
        tied = [c for c in candidates if c.in_flight == chosen.in_flight]
        reason = f"fewest calls in flight ({_load(chosen)})"
        if len(tied) > 1:
            freer = any(_ratio(c) > _ratio(chosen) for c in tied)
            reason += f", {'most room' if freer else 'listed first'} of {len(tied)} tied"
        return Route(agent=chosen.name, reason=reason)


# -- round_robin -----------------------------------------------------------------------


@attrs.define(eq=False)
class _Rotation:
    """The agents one ``uses`` has been routed among, in list order, and whose turn was last."""

    order: list[str] = attrs.field(factory=list)
    last: str | None = None

    def learn(self, candidates: Sequence[Candidate]) -> None:
        """Add agents not seen before, each after its predecessor in ``candidates``."""
        known = set(self.order)
        previous: str | None = None
        for candidate in candidates:
            name = candidate.name
            if name not in known:
                at = self.order.index(previous) + 1 if previous is not None else 0
                self.order.insert(at, name)
                known.add(name)
            previous = name


@final
@attrs.define(eq=False)
class RoundRobinRouter:
    """``round_robin``: each agent in turn, in list order, per ``uses``.

    Agents that cannot take a call are skipped for that call only, so over
    ``N * k`` calls with all ``N`` agents available each gets ``k``.
    """

    wants_history: ClassVar[bool] = False
    _rotations: dict[str, _Rotation] = attrs.field(factory=dict, init=False)

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> Self:
        _check_options("round_robin", options, ())
        return cls()

    def choose(self, candidates: Sequence[Candidate], request: RouteRequest) -> Route:
        rotation = self._rotations.setdefault(request.uses, _Rotation())
        rotation.learn(candidates)
        available = {c.name for c in candidates}
        order, last = rotation.order, rotation.last
        start = order.index(last) + 1 if last is not None and last in order else 0
        skipped: list[str] = []
        chosen = candidates[0].name  # replaced below: every candidate is in ``order``
        for step in range(len(order)):
            name = order[(start + step) % len(order)]
            if name in available:
                chosen = name
                break
            skipped.append(name)
        rotation.last = chosen
        if last is None:
            reason = f"round robin: starts with {chosen}"
        elif chosen == last:
            reason = f"round robin: {chosen} again, the only one available"
        else:
            reason = f"round robin: {chosen} follows {last}"
        if skipped and chosen != last:
            reason += f", skipping {_names(skipped)} (not available)"
        return Route(agent=chosen, reason=reason)


# -- weighted --------------------------------------------------------------------------


@final
@attrs.frozen(kw_only=True)
class WeightedRouter:
    """``weighted``: a random draw proportional to weight (``weights:`` overrides ``weight:``).

    Agents weighing 0 or less are never drawn, unless no candidate weighs
    more: then the draw is uniform.
    """

    wants_history: ClassVar[bool] = False
    weights: Mapping[str, float] = attrs.field(factory=dict)

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> Self:
        _check_options("weighted", options, ("weights",))
        weights = _agent_weights("weighted", options, "{fast: 3, slow: 1}")
        return cls(weights=weights)

    def _weight(self, candidate: Candidate) -> float:
        weight = self.weights.get(candidate.name, candidate.weight)
        return weight if math.isfinite(weight) and weight > 0 else 0.0

    def choose(self, candidates: Sequence[Candidate], request: RouteRequest) -> Route:
        weights = [self._weight(c) for c in candidates]
        total = sum(weights)
        if not total > 0:
            index = request.rng.randrange(len(candidates))
            return Route(
                agent=candidates[index].name,
                reason=f"weighted: no positive weight, uniform draw among {len(candidates)}",
            )
        point = request.rng.random() * total
        index = max(i for i, w in enumerate(weights) if w > 0)  # float rounding's safety net
        running = 0.0
        for i, weight in enumerate(weights):
            running += weight
            if weight > 0 and point < running:
                index = i
                break
        weight = weights[index]
        return Route(
            agent=candidates[index].name,
            reason=f"weighted draw: weight {weight:g} of {total:g} ({weight / total:.0%})",
        )


# -- cheapest --------------------------------------------------------------------------


def _price_cost(candidate: Candidate) -> float:
    """This call's estimated USD; agents without a ``price:`` count as free."""
    return 0.0 if candidate.price is None else candidate.estimated_cost


@final
@attrs.frozen(kw_only=True)
class CheapestRouter:
    """``cheapest``: the lowest estimated cost (no price counts as 0), then least busy."""

    wants_history: ClassVar[bool] = False

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> Self:
        _check_options("cheapest", options, ())
        return cls()

    def choose(self, candidates: Sequence[Candidate], request: RouteRequest) -> Route:
        costs = [_price_cost(c) for c in candidates]
        best, second = _two_best(
            range(len(candidates)), lambda i: (costs[i], *_busy_key(candidates, i))
        )
        chosen = candidates[best]
        if chosen.price is None:
            reason = "cheapest: no price declared (counted as $0)"
        else:
            reason = f"cheapest: {_usd(costs[best])} estimated"
        if second is None:
            reason += ", only candidate"
        elif costs[second] == costs[best]:
            reason += f", tied with {candidates[second].name}; least busy ({_load(chosen)})"
        else:
            reason += f"; next {candidates[second].name} at {_usd(costs[second])}"
        return Route(agent=chosen.name, reason=reason)


# -- fastest ---------------------------------------------------------------------------


def _latency(candidate: Candidate) -> float | None:
    """This run's smoothed latency, else past runs' mean, else None."""
    if candidate.latency is not None:
        return candidate.latency
    return candidate.history.mean_latency if candidate.history is not None else None


@final
@attrs.frozen(kw_only=True)
class FastestRouter:
    """``fastest``: the lowest smoothed latency; agents not measured yet are tried first.

    An unmeasured agent is tried only while none of its calls is in flight,
    so a burst of calls does not pile onto an agent still being measured.
    """

    wants_history: ClassVar[bool] = True

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> Self:
        _check_options("fastest", options, ())
        return cls()

    def choose(self, candidates: Sequence[Candidate], request: RouteRequest) -> Route:
        latencies = [_latency(c) for c in candidates]
        unmeasured_idle = [
            i for i, c in enumerate(candidates) if latencies[i] is None and c.in_flight == 0
        ]
        if unmeasured_idle:
            chosen = candidates[unmeasured_idle[0]]
            return Route(agent=chosen.name, reason="fastest: not measured yet, trying it first")
        measured = [i for i, latency in enumerate(latencies) if latency is not None]
        if not measured:
            best = _least_busy(candidates, range(len(candidates)))
            return Route(
                agent=candidates[best].name,
                reason=(
                    "fastest: none measured yet, all being measured; "
                    f"least busy ({_load(candidates[best])})"
                ),
            )
        best, second = _two_best(measured, lambda i: (latencies[i], *_busy_key(candidates, i)))
        chosen = candidates[best]
        source = "" if chosen.latency is not None else " (past runs)"
        reason = f"fastest: {_seconds(_latency(chosen) or 0.0)} latency{source}"
        if second is not None:
            reason += f"; next {candidates[second].name} at {_seconds(latencies[second] or 0.0)}"
        if len(measured) < len(candidates):
            reason += f"; {len(candidates) - len(measured)} still being measured"
        return Route(agent=chosen.name, reason=reason)


# -- capability ------------------------------------------------------------------------


@final
@attrs.frozen(kw_only=True)
class CapabilityRouter:
    """``capability``: the agent holding every ``require`` tag and ``options`` value.

    Tags are an agent's ``tags:`` and ``capabilities:`` together. Among agents
    that qualify, the most ``prefer`` tags wins, then the least busy. When
    none qualifies (a router cannot refuse a call) the closest match wins and
    the reason says what it lacks.
    """

    wants_history: ClassVar[bool] = False
    require: tuple[str, ...] = ()
    prefer: tuple[str, ...] = ()
    options: Mapping[str, Any] = attrs.field(factory=dict)

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> Self:
        _check_options("capability", options, ("require", "prefer", "options"))
        if not any(key in options for key in ("require", "prefer", "options")):
            raise ValueError(
                "the capability router needs require: (tags every agent must have), "
                "prefer: (tags that rank agents) or options: (agent options that must match)"
            )
        wanted = options.get("options", {})
        if not isinstance(wanted, Mapping) or not all(isinstance(k, str) for k in wanted):
            raise ValueError(
                "capability router: options must map agent option names to values, "
                f"e.g. {{model: gpt-4o}}; got {wanted!r}"
            )
        return cls(
            require=_tags("capability", "require", options.get("require", ())),
            prefer=_tags("capability", "prefer", options.get("prefer", ())),
            options=dict(wanted),
        )

    def _lacks(self, candidate: Candidate) -> list[str]:
        have = candidate.tags | candidate.capabilities
        lacks = [tag for tag in self.require if tag not in have]
        for key, value in self.options.items():
            if key not in candidate.options or candidate.options[key] != value:
                lacks.append(f"{key}={value}")
        return lacks

    def choose(self, candidates: Sequence[Candidate], request: RouteRequest) -> Route:
        lacks = [self._lacks(c) for c in candidates]
        preferred = [
            [tag for tag in self.prefer if tag in c.tags or tag in c.capabilities]
            for c in candidates
        ]
        best = min(
            range(len(candidates)),
            key=lambda i: (len(lacks[i]), -len(preferred[i]), *_busy_key(candidates, i)),
        )
        chosen = candidates[best]
        wanted = [*self.require, *(f"{k}={v}" for k, v in self.options.items())]
        parts = []
        if lacks[best]:
            parts.append(f"no candidate has all of {_names(wanted)}; lacks {_names(lacks[best])}")
        elif wanted:
            parts.append(f"has {_names(wanted)}")
        if self.prefer:
            matched = preferred[best]
            parts.append(
                f"{len(matched)} of {len(self.prefer)} preferred"
                + (f" ({_names(matched)})" if matched else "")
            )
        parts.append(_in_flight(chosen))
        return Route(agent=chosen.name, reason="capability: " + "; ".join(parts))


# -- adaptive --------------------------------------------------------------------------


def _record(candidate: Candidate) -> tuple[int, int]:
    """Successes and failures: past runs' (when loaded) plus this run's."""
    history = candidate.history
    failures = max(0, candidate.failures)
    successes = max(0, candidate.calls - failures)
    if history is not None:
        successes += max(0, history.successes)
        failures += max(0, history.failures)
    return successes, failures


def _expected_cost(candidate: Candidate) -> float:
    """This call's estimate, or past runs' mean cost for an agent without a ``price:``."""
    if candidate.price is None and candidate.history is not None:
        return candidate.history.mean_cost or 0.0
    return _price_cost(candidate)


@final
@attrs.frozen(kw_only=True)
class AdaptiveRouter:
    """``adaptive``: learns which agent does best for each ``uses``.

    Each call draws a success rate per agent from Beta(1 + successes,
    1 + failures) (past runs plus this one; an agent with no record draws
    from the uniform prior, so it gets tried), multiplies it by the agent's
    validator quality when known, and subtracts ``latency_weight`` times its
    latency over the slowest candidate's and ``cost_weight`` times its cost
    over the dearest candidate's. The highest score wins.
    """

    wants_history: ClassVar[bool] = True
    latency_weight: float = 0.1
    cost_weight: float = 0.1

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> Self:
        _check_options("adaptive", options, ("latency_weight", "cost_weight"))
        return cls(
            latency_weight=_number(
                "adaptive", "latency_weight", options.get("latency_weight", 0.1)
            ),
            cost_weight=_number("adaptive", "cost_weight", options.get("cost_weight", 0.1)),
        )

    def choose(self, candidates: Sequence[Candidate], request: RouteRequest) -> Route:
        latencies = [_latency(c) for c in candidates]
        costs = [_expected_cost(c) for c in candidates]
        slowest = max((x for x in latencies if x is not None and x > 0), default=0.0)
        dearest = max((x for x in costs if x > 0), default=0.0)
        scores: list[float] = []
        draws: list[float] = []
        for i, candidate in enumerate(candidates):
            successes, failures = _record(candidate)
            draw = request.rng.betavariate(1 + successes, 1 + failures)
            if candidate.quality is not None:
                draw *= min(1.0, max(0.0, candidate.quality))
            latency = latencies[i]
            score = draw
            if latency is not None and slowest > 0:
                score -= self.latency_weight * max(0.0, latency) / slowest
            if dearest > 0:
                score -= self.cost_weight * max(0.0, costs[i]) / dearest
            draws.append(draw)
            scores.append(score)
        best = min(range(len(candidates)), key=lambda i: (-scores[i], *_busy_key(candidates, i)))
        chosen = candidates[best]
        successes, failures = _record(chosen)
        calls = successes + failures
        if calls:
            parts = [f"success≈{successes / calls:.2f} ({calls} calls, drew {draws[best]:.2f})"]
        else:
            parts = [f"no record yet, exploring (drew {draws[best]:.2f})"]
        if chosen.quality is not None:
            parts.append(f"quality {chosen.quality:.2f}")
        latency = latencies[best]
        parts.append(f"latency {_seconds(latency)}" if latency is not None else "latency unknown")
        parts.append(f"cost {_usd(costs[best])}")
        parts.append(f"score {scores[best]:.2f}")
        return Route(agent=chosen.name, reason="adaptive: " + ", ".join(parts))


# -- budget_aware ----------------------------------------------------------------------


def _prefer_router(value: object) -> tuple[str, Router]:
    """``prefer:`` (a strategy name, or ``{strategy: NAME, ...options}``) built into a router."""
    choices = ", ".join(name for name in BUILTIN_ROUTERS if name != "budget_aware")
    if isinstance(value, str):
        name, options = value, {}
    elif isinstance(value, Mapping) and isinstance(value.get("strategy"), str):
        name = value["strategy"]
        options = {k: v for k, v in value.items() if k != "strategy"}
    else:
        raise ValueError(
            "budget_aware router: prefer must be a strategy name or "
            f"{{strategy: NAME, ...options}}, got {value!r}; strategies: {choices}"
        )
    if name not in BUILTIN_ROUTERS or name == "budget_aware":
        close = difflib.get_close_matches(name, list(BUILTIN_ROUTERS), n=1)
        hint = f" (did you mean {close[0]}?)" if close and close[0] != "budget_aware" else ""
        raise ValueError(
            f"budget_aware router: prefer: unknown strategy {name!r}{hint}; "
            f"it takes a built-in strategy: {choices}"
        )
    try:
        return name, BUILTIN_ROUTERS[name](options)
    except ValueError as exc:
        raise ValueError(f"budget_aware router: prefer: {exc}") from exc


@final
@attrs.frozen(kw_only=True)
class BudgetAwareRouter:
    """``budget_aware``: ``prefer`` while ``below`` or more of the budget is left, else cheapest.

    Without a run budget it always uses ``prefer``.
    """

    prefer: Router = attrs.field(factory=LeastBusyRouter)
    below: float = 0.5
    cheapest: CheapestRouter = attrs.field(factory=CheapestRouter)

    @property
    def wants_history(self) -> bool:
        return bool(getattr(self.prefer, "wants_history", False))

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> Self:
        _check_options("budget_aware", options, ("prefer", "below"))
        _, prefer = _prefer_router(options.get("prefer", "least_busy"))
        below = _number("budget_aware", "below", options.get("below", 0.5), high=1.0)
        return cls(prefer=prefer, below=below)

    def choose(self, candidates: Sequence[Candidate], request: RouteRequest) -> Route:
        left, total = request.budget_left, request.budget_total
        if left is None or total is None:
            inner = self.prefer.choose(candidates, request)
            return Route(agent=inner.agent, reason=f"no budget set: {inner.reason}")
        fraction = left / total if total > 0 else 0.0
        if fraction >= self.below:
            inner = self.prefer.choose(candidates, request)
            sign = "≥"
        else:
            inner = self.cheapest.choose(candidates, request)
            sign = "<"
        return Route(
            agent=inner.agent,
            reason=f"{fraction:.0%} of budget left ({sign} {self.below:.0%}): {inner.reason}",
        )


BUILTIN_ROUTERS: dict[str, Callable[[Mapping[str, Any]], Router]] = {
    "least_busy": LeastBusyRouter.from_options,
    "round_robin": RoundRobinRouter.from_options,
    "weighted": WeightedRouter.from_options,
    "cheapest": CheapestRouter.from_options,
    "fastest": FastestRouter.from_options,
    "capability": CapabilityRouter.from_options,
    "adaptive": AdaptiveRouter.from_options,
    "budget_aware": BudgetAwareRouter.from_options,
    "consistent_hash": ConsistentHashRouter.from_options,
}
"""The built-in strategies by name: ``factory(options) -> Router``, for ``cadenza_routers``."""
