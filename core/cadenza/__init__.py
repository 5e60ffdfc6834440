"""Cadenza: reliable AI workflows on trio, extended through pluggy.

Everything importable from here is public and documented; modules whose names
start with an underscore are private.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._version import __version__ as __version__

if TYPE_CHECKING:
    # Public names, typed for mypy; at run time __getattr__ imports them on first use.
    from . import events as events
    from . import plugins as plugins
    from . import store as store
    from . import strategies as strategies
    from ._agents._contract import Agent as Agent
    from ._agents._contract import AgentFactory as AgentFactory
    from ._agents._contract import AgentRequest as AgentRequest
    from ._agents._contract import AgentResult as AgentResult
    from ._agents._contract import SupportsHealth as SupportsHealth
    from ._agents._contract import Usage as Usage
    from ._build._builder import WorkflowBuilder as WorkflowBuilder
    from ._build._builder import workflow as workflow
    from ._build._run import run as run
    from ._errors import AgentError as AgentError
    from ._errors import AgentTimeoutError as AgentTimeoutError
    from ._errors import BudgetExceededError as BudgetExceededError
    from ._errors import CadenzaError as CadenzaError
    from ._errors import ExpressionError as ExpressionError
    from ._errors import PermanentError as PermanentError
    from ._errors import ResumeError as ResumeError
    from ._errors import RetryableError as RetryableError
    from ._errors import UnavailableError as UnavailableError
    from ._errors import WorkflowError as WorkflowError
    from ._load._loader import LoadResult as LoadResult
    from ._load._loader import load_workflow as load_workflow
    from ._load._loader import load_workflow_data as load_workflow_data
    from ._load._loader import load_workflow_text as load_workflow_text
    from ._load._loader import resolve_inputs as resolve_inputs
    from ._problems import Problem as Problem
    from ._problems import SourceLocation as SourceLocation
    from ._scheduler._resume import ResumePlan as ResumePlan
    from ._scheduler._resume import plan_resume as plan_resume
    from ._scheduler._runner import RunHandle as RunHandle
    from ._scheduler._runner import run_workflow as run_workflow
    from ._spec._cost import Budget as Budget
    from ._spec._cost import Price as Price
    from ._spec._outcome import RunResult as RunResult
    from ._spec._outcome import StepOutcome as StepOutcome
    from ._spec._policies import BreakerPolicy as BreakerPolicy
    from ._spec._policies import RateLimitPolicy as RateLimitPolicy
    from ._spec._workflow import AgentConfig as AgentConfig
    from ._spec._workflow import CachePolicy as CachePolicy
    from ._spec._workflow import Duration as Duration
    from ._spec._workflow import FallbackSpec as FallbackSpec
    from ._spec._workflow import HealthCheckPolicy as HealthCheckPolicy
    from ._spec._workflow import InputSpec as InputSpec
    from ._spec._workflow import RetryPolicy as RetryPolicy
    from ._spec._workflow import Step as Step
    from ._spec._workflow import Workflow as Workflow
    from ._spec._workflow import parse_duration as parse_duration
    from .hookspecs import hookimpl as hookimpl

if TYPE_CHECKING:
    # Moved names (see _deprecations.MOVED): typed for mypy; at run time __getattr__ warns.
    from .plugins import HOOK_API_VERSION as HOOK_API_VERSION
    from .plugins import DuplicateRegistrationError as DuplicateRegistrationError
    from .plugins import PluginError as PluginError
    from .plugins import PluginInfo as PluginInfo
    from .plugins import Plugins as Plugins
    from .plugins import Registration as Registration
    from .plugins import hookspec as hookspec
    from .plugins import load_plugins as load_plugins
    from .strategies import AgentHistory as AgentHistory
    from .strategies import Aggregator as Aggregator
    from .strategies import Answer as Answer
    from .strategies import Candidate as Candidate
    from .strategies import Fallback as Fallback
    from .strategies import FallbackContext as FallbackContext
    from .strategies import Quality as Quality
    from .strategies import QualityError as QualityError
    from .strategies import Route as Route
    from .strategies import Router as Router
    from .strategies import RouteRequest as RouteRequest
    from .strategies import StrategySpec as StrategySpec
    from .strategies import ValidationContext as ValidationContext
    from .strategies import Validator as Validator
    from .strategies import Verdict as Verdict

__all__ = [
    "Agent",
    "AgentConfig",
    "AgentError",
    "AgentFactory",
    "AgentRequest",
    "AgentResult",
    "AgentTimeoutError",
    "BreakerPolicy",
    "Budget",
    "BudgetExceededError",
    "CachePolicy",
    "CadenzaError",
    "Duration",
    "ExpressionError",
    "FallbackSpec",
    "HealthCheckPolicy",
    "InputSpec",
    "LoadResult",
    "PermanentError",
    "Price",
    "Problem",
    "RateLimitPolicy",
    "ResumeError",
    "ResumePlan",
    "RetryPolicy",
    "RetryableError",
    "RunHandle",
    "RunResult",
    "SourceLocation",
    "Step",
    "StepOutcome",
    "SupportsHealth",
    "UnavailableError",
    "Usage",
    "Workflow",
    "WorkflowBuilder",
    "WorkflowError",
    "__version__",
    "hookimpl",
    "load_workflow",
    "load_workflow_data",
    "load_workflow_text",
    "parse_duration",
    "plan_resume",
    "resolve_inputs",
    "run",
    "run_workflow",
    "workflow",
]

_PUBLIC: dict[str, tuple[str, str | None]] = {
    "events": (".events", None),
    "plugins": (".plugins", None),
    "store": (".store", None),
    "strategies": (".strategies", None),
    "Agent": ("._agents._contract", "Agent"),
    "AgentFactory": ("._agents._contract", "AgentFactory"),
    "AgentRequest": ("._agents._contract", "AgentRequest"),
    "AgentResult": ("._agents._contract", "AgentResult"),
    "SupportsHealth": ("._agents._contract", "SupportsHealth"),
    "Usage": ("._agents._contract", "Usage"),
    "WorkflowBuilder": ("._build._builder", "WorkflowBuilder"),
    "workflow": ("._build._builder", "workflow"),
    "run": ("._build._run", "run"),
    "AgentError": ("._errors", "AgentError"),
    "AgentTimeoutError": ("._errors", "AgentTimeoutError"),
    "BudgetExceededError": ("._errors", "BudgetExceededError"),
    "CadenzaError": ("._errors", "CadenzaError"),
    "ExpressionError": ("._errors", "ExpressionError"),
    "PermanentError": ("._errors", "PermanentError"),
    "ResumeError": ("._errors", "ResumeError"),
    "RetryableError": ("._errors", "RetryableError"),
    "UnavailableError": ("._errors", "UnavailableError"),
    "WorkflowError": ("._errors", "WorkflowError"),
    "LoadResult": ("._load._loader", "LoadResult"),
    "load_workflow": ("._load._loader", "load_workflow"),
    "load_workflow_data": ("._load._loader", "load_workflow_data"),
    "load_workflow_text": ("._load._loader", "load_workflow_text"),
    "resolve_inputs": ("._load._loader", "resolve_inputs"),
    "Problem": ("._problems", "Problem"),
    "SourceLocation": ("._problems", "SourceLocation"),
    "ResumePlan": ("._scheduler._resume", "ResumePlan"),
    "plan_resume": ("._scheduler._resume", "plan_resume"),
    "RunHandle": ("._scheduler._runner", "RunHandle"),
    "run_workflow": ("._scheduler._runner", "run_workflow"),
    "Budget": ("._spec._cost", "Budget"),
    "Price": ("._spec._cost", "Price"),
    "RunResult": ("._spec._outcome", "RunResult"),
    "StepOutcome": ("._spec._outcome", "StepOutcome"),
    "BreakerPolicy": ("._spec._policies", "BreakerPolicy"),
    "RateLimitPolicy": ("._spec._policies", "RateLimitPolicy"),
    "AgentConfig": ("._spec._workflow", "AgentConfig"),
    "CachePolicy": ("._spec._workflow", "CachePolicy"),
    "Duration": ("._spec._workflow", "Duration"),
    "FallbackSpec": ("._spec._workflow", "FallbackSpec"),
    "HealthCheckPolicy": ("._spec._workflow", "HealthCheckPolicy"),
    "InputSpec": ("._spec._workflow", "InputSpec"),
    "RetryPolicy": ("._spec._workflow", "RetryPolicy"),
    "Step": ("._spec._workflow", "Step"),
    "Workflow": ("._spec._workflow", "Workflow"),
    "parse_duration": ("._spec._workflow", "parse_duration"),
    "hookimpl": (".hookspecs", "hookimpl"),
}
"""Public name -> (module relative to this package, attribute; None for a submodule)."""


def _import_public_api() -> None:
    """Import every public name into this module and publish it (once, on first use).

    ``import cadenza`` stays cheap (the CLI starts without the loader, the
    scheduler or CEL); the first public name used brings in all of them, so
    every exported class reports ``cadenza`` as its module from then on.
    """
    from importlib import import_module

    namespace = globals()
    for name, (module, attribute) in _PUBLIC.items():
        imported = import_module(module, __name__)
        namespace[name] = imported if attribute is None else getattr(imported, attribute)
    from ._public import publish

    publish(namespace, __all__, __name__)


def __getattr__(name: str) -> object:
    """Public names, imported on first use; names that moved to a public namespace
    (``cadenza.events``, ``.store``, ``.plugins``, ``.strategies``) still work, with a
    warning naming the new home."""
    if name in _PUBLIC:
        _import_public_api()
        return globals()[name]
    from ._deprecations import moved_attribute

    return moved_attribute(name)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_PUBLIC))
