"""cadenza_legacy_router: the `fair_share` routing strategy.

Each agent takes calls in proportion to its weight, deterministically: the
call goes to the candidate with the fewest calls (finished and in flight) per
unit of weight; ties go to the least busy, then to the agent defined first.

Written from the Cadenza docs as they were before the kernel reshape (issue 12,
docs at commit 93c1306: hooks.md "cadenza_routers", routing.md "Writing your
own router"), the way a third-party author would, with the names those docs
imported from ``cadenza`` (``cadenza.Route``), and kept unchanged since: it
proves that plugins written against those docs still work.
"""

import math

import cadenza

CADENZA_HOOK_API = ">=1.0,<2"


class FairShare:
    """The candidate furthest below its share of calls; shares follow the agents' weights."""

    def __init__(self, weights):
        self.weights = weights  # agent name -> weight, overriding the agent's `weight:`

    @classmethod
    def from_options(cls, options):
        unknown = sorted(set(options) - {"weights"})
        if unknown:
            raise ValueError(
                f"unknown option(s) {', '.join(unknown)} for the fair_share router; "
                "it takes weights:"
            )
        weights = options.get("weights", {})
        if not isinstance(weights, dict):
            raise ValueError(
                f"fair_share router: weights must map agent names to numbers >= 0, got {weights!r}"
            )
        for name, weight in weights.items():
            if type(weight) not in (int, float) or not weight >= 0:
                raise ValueError(
                    f"fair_share router: weights.{name} must be a number >= 0, got {weight!r}"
                )
        return cls(dict(weights))

    def weight(self, candidate):
        return self.weights.get(candidate.name, candidate.weight)

    def share_used(self, candidate):
        """Calls given to the agent per unit of weight; weight 0 only when nothing else is left."""
        weight = self.weight(candidate)
        given = candidate.calls + candidate.in_flight
        return given / weight if weight > 0 else math.inf

    def choose(self, candidates, request):
        # min() keeps the first of equals: ties go to the agent defined first.
        best = min(candidates, key=lambda c: (self.share_used(c), c.in_flight))
        given = best.calls + best.in_flight
        return cadenza.Route(
            agent=best.name,
            reason=(
                f"fair share: {given} call(s) so far for weight {self.weight(best):g}, "
                f"the least per weight of {len(candidates)}"
            ),
        )


@cadenza.hookimpl
def cadenza_routers(register):
    register("fair_share", FairShare.from_options)
