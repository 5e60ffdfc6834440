"""The names of the built-in strategies, known without importing the modules that build them.

The kernel's plugin registers them by name (``_plugins._builtins``) and the
loader checks names against them, so a workflow that uses none of a family
(most use no router, aggregator, validator or fallback) never imports its
module. Each tuple is its module's table, in order (a test checks they agree).
"""

from __future__ import annotations

ROUTERS = (
    "least_busy",
    "round_robin",
    "weighted",
    "cheapest",
    "fastest",
    "capability",
    "adaptive",
    "budget_aware",
    "consistent_hash",
)
"""``_routers.BUILTIN_ROUTERS``."""

AGGREGATORS = (
    "first_success",
    "hedged",
    "majority_vote",
    "weighted_vote",
    "highest_confidence",
    "merge",
    "consensus",
)
"""``_aggregators.BUILTIN_AGGREGATORS``."""

VALIDATORS = ("json_schema", "required_keys", "python_parses")
"""``_validators.BUILTIN_VALIDATORS``."""

FALLBACKS = {"template": "TemplateFallback", "cached": "CachedFallback"}
"""Fallback name -> its class in ``_fallbacks`` (built by ``from_options``)."""
