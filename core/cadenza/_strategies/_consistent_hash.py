"""The ``consistent_hash`` routing strategy: the same key goes to the same agent.

A workflow gives the key with the route (``route: {strategy: consistent_hash,
key: "${{ inputs.customer }}"}``); the kernel renders it per call into
:attr:`RouteRequest.key <._routing.RouteRequest.key>`. The router ranks the
candidates by *weighted rendezvous hashing* (Thaler and Ravishankar, "A
Name-Based Mapping Scheme for Rendezvous", 1996; the weighting is Schindelhauer
and Schomaker's logarithmic method): each candidate scores ``-weight /
ln(h)`` where ``h`` in (0, 1) is a stable hash of the key and the agent's name,
and the highest score wins. So:

- a key goes to the same agent in every call and every run, whatever order the
  candidates come in, while that agent can take calls;
- when an agent cannot take a call (busy, unhealthy, out of budget, the one a
  retry avoids) only the keys it would have won move, each to its own
  next-best agent, and they come back when it does;
- an agent with twice the weight wins about twice the keys.

The hash is BLAKE2b (not Python's ``hash()``, which is salted per process),
so the mapping survives restarts. Without a key the step's id is hashed, so
each step sticks to one agent.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Self, final

import attrs

from ._router_options import agent_weights, check_options
from ._routing import Candidate, Route, RouteRequest

_SPAN = float(2**64)


def rendezvous_hash(key: str, agent: str) -> float:
    """A stable, uniform number in (0, 1) for the pair ``key``, ``agent``."""
    data = key.encode("utf-8", "surrogatepass") + b"\x00" + agent.encode("utf-8", "surrogatepass")
    digest = hashlib.blake2b(data, digest_size=8, person=b"cadenza-route").digest()
    return (int.from_bytes(digest, "big") + 0.5) / _SPAN


def rendezvous_score(key: str, agent: str, weight: float) -> float:
    """The agent's score for ``key``: the highest wins; ``weight`` > 0 scales its share."""
    return -weight / math.log(rendezvous_hash(key, agent))


@final
@attrs.frozen(kw_only=True)
class ConsistentHashRouter:
    """``consistent_hash``: weighted rendezvous hashing of the request's key.

    Weights come from each agent's ``weight:``, or the ``weights:`` option,
    which overrides the agents it names. Agents weighing 0 never win while
    another weighs more; when none does, every agent weighs the same.
    """

    wants_history: ClassVar[bool] = False
    weights: Mapping[str, float] = attrs.field(factory=dict)

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> Self:
        check_options("consistent_hash", options, ("weights",))
        weights = agent_weights("consistent_hash", options, "{big: 2, small: 1}")
        return cls(weights=weights)

    def _weight(self, candidate: Candidate) -> float:
        weight = self.weights.get(candidate.name, candidate.weight)
        return weight if math.isfinite(weight) and weight > 0 else 0.0

    def choose(self, candidates: Sequence[Candidate], request: RouteRequest) -> Route:
        key = request.key if request.key is not None else request.step_id
        weights = [self._weight(c) for c in candidates]
        if not any(weights):
            weights = [1.0] * len(candidates)
        best, best_score = 0, -math.inf
        for i, (candidate, weight) in enumerate(zip(candidates, weights, strict=True)):
            if weight <= 0:
                continue
            score = rendezvous_score(key, candidate.name, weight)
            # Ties (equal names cannot happen) are broken by name, not list order.
            if score > best_score or (
                score == best_score and candidate.name < candidates[best].name
            ):
                best, best_score = i, score
        what = f"key {_shown(key)}" if request.key is not None else f"step {request.step_id}"
        return Route(
            agent=candidates[best].name,
            reason=f"consistent hash: {what} maps to it among {len(candidates)} candidates",
        )


def _shown(key: str, most: int = 40) -> str:
    """The key quoted, cut to ``most`` characters for the event's reason."""
    return repr(key if len(key) <= most else key[: most - 1] + "…")
