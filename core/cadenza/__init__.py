"""Cadenza: reliable AI workflows on trio, extended through pluggy.

Everything importable from here is public and documented; modules whose names
start with an underscore are private.
"""

from __future__ import annotations

from . import events as events
from . import store as store
from ._agent import Agent as Agent
from ._agent import AgentFactory as AgentFactory
from ._agent import AgentRequest as AgentRequest
from ._agent import AgentResult as AgentResult
from ._agent import SupportsHealth as SupportsHealth
from ._agent import Usage as Usage
from ._aggregation import Aggregator as Aggregator
from ._aggregation import Answer as Answer
from ._aggregation import Verdict as Verdict
from ._breaker import BreakerPolicy as BreakerPolicy
from ._cost import Budget as Budget
from ._cost import Price as Price
from ._errors import AgentError as AgentError
from ._errors import AgentTimeoutError as AgentTimeoutError
from ._errors import BudgetExceededError as BudgetExceededError
from ._errors import CadenzaError as CadenzaError
from ._errors import DuplicateRegistrationError as DuplicateRegistrationError
from ._errors import ExpressionError as ExpressionError
from ._errors import PermanentError as PermanentError
from ._errors import PluginError as PluginError
from ._errors import QualityError as QualityError
from ._errors import RetryableError as RetryableError
from ._errors import UnavailableError as UnavailableError
from ._errors import WorkflowError as WorkflowError
from ._fallbacks import Fallback as Fallback
from ._fallbacks import FallbackContext as FallbackContext
from ._loader import LoadResult as LoadResult
from ._loader import load_workflow as load_workflow
from ._loader import load_workflow_data as load_workflow_data
from ._loader import load_workflow_text as load_workflow_text
from ._loader import resolve_inputs as resolve_inputs
from ._outcome import RunResult as RunResult
from ._outcome import StepOutcome as StepOutcome
from ._plugins import PluginInfo as PluginInfo
from ._plugins import Plugins as Plugins
from ._plugins import Registration as Registration
from ._plugins import load_plugins as load_plugins
from ._problems import Problem as Problem
from ._problems import SourceLocation as SourceLocation
from ._public import publish as _publish
from ._ratelimit import RateLimitPolicy as RateLimitPolicy
from ._resume import ResumeError as ResumeError
from ._resume import ResumePlan as ResumePlan
from ._resume import plan_resume as plan_resume
from ._routing import AgentHistory as AgentHistory
from ._routing import Candidate as Candidate
from ._routing import Route as Route
from ._routing import Router as Router
from ._routing import RouteRequest as RouteRequest
from ._runner import RunHandle as RunHandle
from ._runner import run_workflow as run_workflow
from ._spec import AgentConfig as AgentConfig
from ._spec import CachePolicy as CachePolicy
from ._spec import Duration as Duration
from ._spec import FallbackSpec as FallbackSpec
from ._spec import HealthCheckPolicy as HealthCheckPolicy
from ._spec import InputSpec as InputSpec
from ._spec import RetryPolicy as RetryPolicy
from ._spec import Step as Step
from ._spec import StrategySpec as StrategySpec
from ._spec import Workflow as Workflow
from ._spec import parse_duration as parse_duration
from ._validation import Quality as Quality
from ._validation import ValidationContext as ValidationContext
from ._validation import Validator as Validator
from ._version import HOOK_API_VERSION as HOOK_API_VERSION
from ._version import __version__ as __version__
from .hookspecs import hookimpl as hookimpl
from .hookspecs import hookspec as hookspec

__all__ = [
    "HOOK_API_VERSION",
    "Agent",
    "AgentConfig",
    "AgentError",
    "AgentFactory",
    "AgentHistory",
    "AgentRequest",
    "AgentResult",
    "AgentTimeoutError",
    "Aggregator",
    "Answer",
    "BreakerPolicy",
    "Budget",
    "BudgetExceededError",
    "CachePolicy",
    "CadenzaError",
    "Candidate",
    "DuplicateRegistrationError",
    "Duration",
    "ExpressionError",
    "Fallback",
    "FallbackContext",
    "FallbackSpec",
    "HealthCheckPolicy",
    "InputSpec",
    "LoadResult",
    "PermanentError",
    "PluginError",
    "PluginInfo",
    "Plugins",
    "Price",
    "Problem",
    "Quality",
    "QualityError",
    "RateLimitPolicy",
    "Registration",
    "ResumeError",
    "ResumePlan",
    "RetryPolicy",
    "RetryableError",
    "Route",
    "RouteRequest",
    "Router",
    "RunHandle",
    "RunResult",
    "SourceLocation",
    "Step",
    "StepOutcome",
    "StrategySpec",
    "SupportsHealth",
    "UnavailableError",
    "Usage",
    "ValidationContext",
    "Validator",
    "Verdict",
    "Workflow",
    "WorkflowError",
    "__version__",
    "hookimpl",
    "hookspec",
    "load_plugins",
    "load_workflow",
    "load_workflow_data",
    "load_workflow_text",
    "parse_duration",
    "plan_resume",
    "resolve_inputs",
    "run_workflow",
]


_publish(globals(), __all__, __name__)


def __getattr__(name: str) -> object:
    """Names that moved to ``cadenza.events`` or ``cadenza.store`` still work, with a warning."""
    from ._deprecations import moved_attribute

    return moved_attribute(name)
