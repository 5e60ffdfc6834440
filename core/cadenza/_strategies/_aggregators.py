"""The built-in aggregation strategies, selected with ``aggregate: {strategy: NAME, ...}``.

Each is an attrs class whose ``from_options(options)`` parses the workflow's
mapping (without ``strategy``) and raises ``ValueError`` for unknown keys,
wrong types and out-of-range values; ``combine(answers, *, pending)`` follows
the contract of :mod:`cadenza._strategies._aggregation`: pure, never mutating the
answers, and always a :class:`~cadenza.strategies.Verdict` once nothing is pending.

- ``first_success``: the first usable answer, as soon as it arrives.
- ``hedged``: ``first_success`` that starts one call, and another only if no
  answer came within the ``percentile``-th percentile of recent latencies.
- ``majority_vote``: the (normalized) output more than half the agents gave.
- ``weighted_vote``: the same, counting weight * quality * confidence.
- ``highest_confidence``: the answer whose agent is most sure of it.
- ``merge``: a deep merge of mapping outputs, with per-field provenance.
- ``consensus``: the output a ``threshold`` share of the answers agree on.

Shared conventions: answers are in arrival order, and so are supporters;
ties between equal candidates go to the one that arrived first; a
Verdict's ``confidence`` is the mean confidence its supporters reported
(None when none did). Votes compare outputs after normalization (``normalize``
and ``key`` options), but the verdict's output is always the first-arrived
original output of the winning group.

The votes live in :mod:`._vote_aggregators`, ``merge`` in
:mod:`._merge_aggregator`; what they share in :mod:`._aggregator_options` and
:mod:`._aggregator_values`. This module holds the rest and the registry.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final, Self, final

import attrs

from .._spec._duration import parse_duration
from ._aggregation import Aggregator, Answer, Verdict
from ._aggregator_options import check_keys, int_option, share_option
from ._aggregator_values import pick, rank_value
from ._merge_aggregator import Merge
from ._vote_aggregators import Consensus, MajorityVote, WeightedVote


def _first_success(answers: Sequence[Answer], pending: int) -> Verdict | None:
    ok = [a for a in answers if a.ok]
    if ok:
        return pick(answers, ok[0], ok=ok)
    return None if pending > 0 else Verdict()


@final
@attrs.frozen(kw_only=True)
class FirstSuccess:
    """The first ok answer wins, even while other calls are still running."""

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> Self:
        check_keys("first_success", options, ())
        return cls()

    def combine(self, answers: Sequence[Answer], *, pending: int) -> Verdict | None:
        return _first_success(answers, pending)


@final
@attrs.frozen(kw_only=True)
class Hedged:
    """``first_success``, but calls start one by one, each after a percentile of latencies.

    The kernel starts one call and, while no verdict exists, another after
    :meth:`hedge_after` seconds, up to ``max_requests`` calls in all.
    """

    percentile: float = 95.0
    min_samples: int = 10
    delay: float = 1.0
    max_requests: int = 2

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> Self:
        name = "hedged"
        check_keys(name, options, ("delay", "max_requests", "min_samples", "percentile"))
        try:
            delay = float(parse_duration(options.get("delay", 1.0)))
        except ValueError as exc:
            raise ValueError(f"{name} aggregator: delay: {exc}") from None
        return cls(
            percentile=share_option(
                name, options, "percentile", 95.0, low=0, high=100, low_open=True, high_open=False
            ),
            min_samples=int_option(name, options, "min_samples", 10, minimum=1),
            delay=delay,
            max_requests=int_option(name, options, "max_requests", 2, minimum=2),
        )

    def hedge_after(self, latencies: Sequence[float]) -> float | None:
        """The ``percentile``-th latency (nearest rank), or ``delay`` with too few samples."""
        if len(latencies) < self.min_samples or not latencies:
            return self.delay
        ordered = sorted(latencies)
        rank = math.ceil(round(self.percentile * len(ordered) / 100, 9))
        return float(ordered[min(max(rank, 1), len(ordered)) - 1])

    def combine(self, answers: Sequence[Answer], *, pending: int) -> Verdict | None:
        return _first_success(answers, pending)


@final
@attrs.frozen(kw_only=True)
class HighestConfidence:
    """Once every answer is in, the ok answer reported with the highest confidence.

    No confidence ranks lowest; ties go to the higher quality (none counting
    as 1, as in the votes), then the higher weight, then the earlier answer.
    Answers with the very same output support it too.
    """

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> Self:
        check_keys("highest_confidence", options, ())
        return cls()

    def combine(self, answers: Sequence[Answer], *, pending: int) -> Verdict | None:
        if pending > 0:
            return None
        ok = [a for a in answers if a.ok]
        if not ok:
            return Verdict()
        _, winner = max(
            enumerate(ok),
            key=lambda item: (
                rank_value(item[1].confidence),
                rank_value(1.0 if item[1].quality is None else item[1].quality),
                rank_value(item[1].weight),
                -item[0],
            ),
        )
        return pick(answers, winner, ok=ok)


BUILTIN_AGGREGATORS: dict[str, Callable[[Mapping[str, Any]], Aggregator]] = {
    "first_success": FirstSuccess.from_options,
    "hedged": Hedged.from_options,
    "majority_vote": MajorityVote.from_options,
    "weighted_vote": WeightedVote.from_options,
    "highest_confidence": HighestConfidence.from_options,
    "merge": Merge.from_options,
    "consensus": Consensus.from_options,
}
"""The kernel's aggregation strategies by name, as ``cadenza_aggregators`` registers them."""

DEFAULT_AGGREGATOR: Final = "majority_vote"
"""The strategy of a multi-agent step without ``aggregate:``."""
