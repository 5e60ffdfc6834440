"""Every deprecated public name, with its replacement and the release that removes it.

``cadenza.__getattr__`` consults :data:`MOVED`: a name that moved to a public
namespace stays importable from ``cadenza`` for the 0.x series, with a
DeprecationWarning that names its new home.
"""

from __future__ import annotations

import importlib
import warnings
from typing import NamedTuple


class Moved(NamedTuple):
    """A name that left ``cadenza`` for ``home`` and goes away in ``removal``."""

    home: str
    removal: str


_EVENTS = (
    "EVENT_KINDS", "AgentHealthChanged", "AnswersCombined", "AttemptFailed", "AttemptProgress",
    "AttemptStarted", "CircuitChanged", "CostIncurred", "Event", "FallbackStarted",
    "OutputValidated", "RouteChosen", "RunFinished", "RunResumed", "RunStarted", "StepCacheHit",
    "StepCancelled", "StepConflict", "StepFailed", "StepReady", "StepSkipped", "StepSucceeded",
    "event_from_dict",
)  # fmt: skip
_STORE = (
    "SCHEMA_VERSION", "CacheEntry", "RunRecord", "SqliteStore", "Store", "StoreError",
    "UnknownRunError", "WriteBatch", "open_store",
)  # fmt: skip
_PLUGINS = (
    "HOOK_API_VERSION", "DuplicateRegistrationError", "PluginError", "PluginInfo", "Plugins",
    "Registration", "hookspec", "load_plugins",
)  # fmt: skip
_STRATEGIES = (
    "AgentHistory", "Aggregator", "Answer", "Candidate", "Fallback", "FallbackContext", "Quality",
    "QualityError", "Route", "RouteRequest", "Router", "StrategySpec", "ValidationContext",
    "Validator", "Verdict",
)  # fmt: skip

MOVED: dict[str, Moved] = {
    **{name: Moved("cadenza.events", "1.0") for name in _EVENTS},
    **{name: Moved("cadenza.store", "1.0") for name in _STORE},
    **{name: Moved("cadenza.plugins", "1.0") for name in _PLUGINS},
    **{name: Moved("cadenza.strategies", "1.0") for name in _STRATEGIES},
}
"""Names that moved out of ``cadenza``: name -> (new home, removal release)."""


def moved_attribute(name: str) -> object:
    """Return ``cadenza.<name>`` from its new home, warning that the old path is deprecated.

    Raises AttributeError for a name that never moved, as a module attribute lookup does.
    """
    moved = MOVED.get(name)
    if moved is None:
        raise AttributeError(f"module 'cadenza' has no attribute {name!r}")
    warnings.warn(
        f"cadenza.{name} moved to {moved.home}.{name}; import it with "
        f"`from {moved.home} import {name}`. The old name goes away in Cadenza {moved.removal}.",
        DeprecationWarning,
        stacklevel=3,
    )
    return getattr(importlib.import_module(moved.home), name)
