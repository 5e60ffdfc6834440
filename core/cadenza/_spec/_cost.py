"""Prices and budgets: what a call costs and how much a run, step or agent may spend.

An agent's ``price:`` says what its calls cost (per 1k input and output
tokens, and/or a flat amount per call). A call's cost is what the agent
reports (``AgentResult.cost_usd``) or, when it reports none, its usage times
the agent's price. Budgets (``budget:`` on the workflow, a step or an agent)
bound spend in USD and/or tokens; :mod:`._budget` enforces them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import attrs

if TYPE_CHECKING:
    from .._agents._contract import Usage


def _non_negative(instance: object, attribute: attrs.Attribute[Any], value: float | None) -> None:
    if value is not None and value < 0:
        raise ValueError(f"{attribute.name} must be >= 0, got {value!r}")


@attrs.frozen(kw_only=True)
class Price:
    """``price:`` of an agent, in USD.

    ``expected_output_tokens`` is what a call is assumed to produce before it
    has run (routing by cost and budget reservations need a number); set it to
    the agent's ``max_tokens`` to make budget reservations an upper bound.
    """

    input_per_1k: float = attrs.field(default=0.0, validator=_non_negative)
    output_per_1k: float = attrs.field(default=0.0, validator=_non_negative)
    per_call: float = attrs.field(default=0.0, validator=_non_negative)
    expected_output_tokens: int = attrs.field(default=256, validator=attrs.validators.ge(0))

    def cost(self, usage: Usage) -> float:
        """USD for one call that consumed ``usage``."""
        return (
            self.per_call
            + usage.input_tokens * self.input_per_1k / 1000.0
            + usage.output_tokens * self.output_per_1k / 1000.0
        )

    def estimate(self, input_tokens: int) -> float:
        """USD a call with ``input_tokens`` of input is expected to cost, before it runs."""
        return (
            self.per_call
            + input_tokens * self.input_per_1k / 1000.0
            + self.expected_output_tokens * self.output_per_1k / 1000.0
        )


@attrs.frozen(kw_only=True)
class Budget:
    """``budget:``: the most a run, step or agent may spend. None means unbounded."""

    usd: float | None = attrs.field(default=None, validator=_non_negative)
    tokens: int | None = attrs.field(default=None, validator=_non_negative)
