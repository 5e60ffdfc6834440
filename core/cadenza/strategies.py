"""Strategies: the contracts a router, aggregator, validator or fallback implements.

A plugin offers strategies through the ``cadenza_routers``, ``cadenza_aggregators``,
``cadenza_validators`` and ``cadenza_fallbacks`` hooks (see docs/hooks.md); a
workflow picks one by name with a :class:`StrategySpec`. :class:`QualityError` is
what a step's attempt fails with when its validator's :class:`Quality` scores
below ``min_quality`` (see docs/validation.md).
"""

from __future__ import annotations

from ._errors import QualityError as QualityError
from ._public import publish as _publish
from ._spec._workflow import StrategySpec as StrategySpec
from ._strategies._aggregation import Aggregator as Aggregator
from ._strategies._aggregation import Answer as Answer
from ._strategies._aggregation import Verdict as Verdict
from ._strategies._fallback import Fallback as Fallback
from ._strategies._fallback import FallbackContext as FallbackContext
from ._strategies._routing import AgentHistory as AgentHistory
from ._strategies._routing import Candidate as Candidate
from ._strategies._routing import Route as Route
from ._strategies._routing import Router as Router
from ._strategies._routing import RouteRequest as RouteRequest
from ._strategies._validation import Quality as Quality
from ._strategies._validation import ValidationContext as ValidationContext
from ._strategies._validation import Validator as Validator

__all__ = [
    "AgentHistory",
    "Aggregator",
    "Answer",
    "Candidate",
    "Fallback",
    "FallbackContext",
    "Quality",
    "QualityError",
    "Route",
    "RouteRequest",
    "Router",
    "StrategySpec",
    "ValidationContext",
    "Validator",
    "Verdict",
]


_publish(globals(), __all__, __name__)
