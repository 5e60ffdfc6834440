"""What an aggregation strategy sees and returns: the ``cadenza_aggregators`` contract.

A multi-agent step (``agents: 3`` or ``agents: [a, b]``) sends the same
request to several agents at once, inside the step's nursery. As each call
ends the kernel wraps it in an :class:`Answer` and asks the step's
aggregator to :meth:`~Aggregator.combine` the answers so far. The aggregator
returns ``None`` to wait for more, or a :class:`Verdict`; the kernel then
cancels the calls still running (their agents see the disconnect). With no
call left pending, ``combine`` must return a Verdict.

A Verdict with ``conflict`` set means the answers disagree beyond what the
strategy accepts: the kernel emits a conflict event and applies the step's
``on_conflict`` (fail, pick the best-scored answer, or ask a judge agent).
A Verdict with no ``supporters`` and no conflict means no answer was usable
(every call failed): the attempt fails, and is retried if a failure was
retryable.

Aggregators are called synchronously on the trio thread: keep them cheap.
An aggregator may define ``hedge_after(latencies) -> float | None``: the
kernel then starts one call, and starts the next only if no verdict arrived
``hedge_after(...)`` seconds later (``latencies`` are the recent call
durations of the agents serving the step, in seconds). Without it, every
call starts at once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import attrs

from .._agents._contract import AgentResult


@attrs.frozen(kw_only=True)
class Answer:
    """One agent's answer to a multi-agent step: a result, or the error its call ended with.

    ``weight`` is the agent's configured ``weight``; ``quality`` the step's
    validator score for this output (None without validators). An answer
    whose quality is below the step's ``min_quality`` arrives as an error
    (``error_type`` ``QualityError``), never as a result.
    """

    agent: str
    result: AgentResult | None = None
    error: str = ""
    error_type: str = ""
    retryable: bool = False
    weight: float = 1.0
    quality: float | None = None
    latency: float = 0.0

    @property
    def ok(self) -> bool:
        return self.result is not None

    @property
    def output(self) -> Any:
        return self.result.output if self.result is not None else None

    @property
    def confidence(self) -> float | None:
        return self.result.confidence if self.result is not None else None


@attrs.frozen(kw_only=True)
class Verdict:
    """What the answers add up to.

    ``output`` is the step's output; ``supporters`` the agents whose answers
    it is or agrees with; ``agreement`` the share (0..1) of the weight of
    usable answers behind it. ``fields`` maps each field path of a merged
    output (``"a.b"``) to the agent it came from. ``conflict`` (a sentence)
    says the answers disagree; ``output`` is then ignored.
    """

    output: Any = None
    supporters: tuple[str, ...] = ()
    agreement: float = 0.0
    confidence: float | None = None
    fields: Mapping[str, str] = attrs.field(factory=dict)
    conflict: str | None = None


class Aggregator(Protocol):
    """An aggregation strategy, built by the factory registered with ``cadenza_aggregators``.

    ``factory(options)`` receives the mapping a workflow gives (``aggregate:
    {strategy: NAME, ...options}``) and raises ``ValueError`` for bad options.
    ``combine`` is pure: the same answers give the same verdict.
    """

    def combine(self, answers: Sequence[Answer], *, pending: int) -> Verdict | None: ...
