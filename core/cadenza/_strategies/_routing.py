"""What a routing strategy sees and returns: the ``cadenza_routers`` contract.

A step that more than one agent can serve asks its router which one takes
the call. The kernel first narrows the agents to *candidates*: the ones that
are healthy, whose circuit admits a call, that are within their concurrency
and rate limits, whose budget fits the call, and (when others exist) not the
agent the step's previous attempt just failed on. A router only ranks them;
it never sees an agent that cannot take the call, and the list is never empty.

Routers are called synchronously on the trio thread inside the dispatcher,
once per call: they must be cheap and must not block or await. One router
object serves every step that names the same strategy and options in a run,
so it may keep state (a round-robin cursor) across calls.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any, Protocol

import attrs

from .._spec._cost import Price


@attrs.frozen(kw_only=True)
class AgentHistory:
    """What past runs in the journal say about one agent serving one ``uses``.

    ``successes`` and ``failures`` count calls (a call whose output failed
    validation counts as a failure); ``mean_latency`` is in seconds and
    ``mean_cost`` in USD per call (None when no call reported either).
    """

    successes: int = 0
    failures: int = 0
    mean_latency: float | None = None
    mean_cost: float | None = None

    @property
    def calls(self) -> int:
        return self.successes + self.failures


@attrs.frozen(kw_only=True)
class Candidate:
    """One agent that can take the call now, with everything a router may weigh.

    ``latency`` is the smoothed duration of this run's calls (None before
    the first), ``quality`` the smoothed validator score of its outputs
    (None without validators), ``estimated_cost`` this call's expected USD
    (0 for agents without a price). ``history`` holds past runs' record for
    this ``uses`` when the journal has one (loaded only for strategies that
    ask for it, see :attr:`Router.wants_history`).
    """

    name: str
    capabilities: frozenset[str] = frozenset()
    tags: frozenset[str] = frozenset()
    weight: float = 1.0
    price: Price | None = None
    options: Mapping[str, Any] = attrs.field(factory=dict)
    in_flight: int = 0
    limit: int | None = None
    calls: int = 0
    failures: int = 0
    latency: float | None = None
    quality: float | None = None
    estimated_cost: float = 0.0
    history: AgentHistory | None = None


def _no_inputs() -> Mapping[str, Any]:
    return MappingProxyType({})


def _read_only(inputs: Mapping[str, Any]) -> Mapping[str, Any]:
    """``inputs`` behind a read-only view (already one: as it is)."""
    return inputs if isinstance(inputs, MappingProxyType) else MappingProxyType(dict(inputs))


@attrs.frozen(kw_only=True)
class RouteRequest:
    """The call being routed.

    ``inputs`` are the step's rendered ``with:`` values, secrets redacted
    (``***``, as in events), read-only: a copy, so nothing a router does to it
    reaches the call. ``key`` is the route's ``key:`` rendered for this step
    (``route: {strategy: consistent_hash, key: "${{ inputs.customer }}"}``),
    secrets redacted too, or None when the route has no key or it rendered
    ``null``. ``budget_left`` and ``budget_total`` are the run's USD budget
    (None when the run has none); ``rng`` is the run's random source (seeded
    in tests): use it, not the ``random`` module, so runs can be reproduced.
    """

    step_id: str
    uses: str
    attempt: int = 1
    estimated_tokens: int = 0
    budget_left: float | None = None
    budget_total: float | None = None
    inputs: Mapping[str, Any] = attrs.field(factory=_no_inputs, converter=_read_only)
    key: str | None = None
    rng: random.Random = attrs.field(factory=random.Random, eq=False, repr=False)


@attrs.frozen(kw_only=True)
class Route:
    """A router's decision: ``agent`` (one of the candidates' names) and why, for the event."""

    agent: str
    reason: str


class Router(Protocol):
    """A routing strategy, built by the factory registered with ``cadenza_routers``.

    ``factory(options)`` receives the mapping a workflow gives (``route:
    {strategy: NAME, ...options}``) and raises ``ValueError`` for bad
    options; the loader reports them with file:line. ``choose`` must return a
    :class:`Route` naming one of ``candidates``. Set ``wants_history = True``
    on the router to receive :attr:`Candidate.history` from the journal.
    """

    def choose(self, candidates: Sequence[Candidate], request: RouteRequest) -> Route: ...
