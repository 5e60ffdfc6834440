"""Cadenza: reliable AI workflows on trio, extended through pluggy.

Everything importable from here is public and documented; modules whose names
start with an underscore are private.
"""

from __future__ import annotations

from . import events as events
from . import store as store
from ._agents._contract import Agent as Agent
from ._agents._contract import AgentFactory as AgentFactory
from ._agents._contract import AgentRequest as AgentRequest
from ._agents._contract import AgentResult as AgentResult
from ._agents._contract import SupportsHealth as SupportsHealth
from ._agents._contract import Usage as Usage
from ._errors import AgentError as AgentError
from ._errors import AgentTimeoutError as AgentTimeoutError
from ._errors import BudgetExceededError as BudgetExceededError
from ._errors import CadenzaError as CadenzaError
from ._errors import DuplicateRegistrationError as DuplicateRegistrationError
from ._errors import ExpressionError as ExpressionError
from ._errors import PermanentError as PermanentError
from ._errors import PluginError as PluginError
from ._errors import QualityError as QualityError
from ._errors import ResumeError as ResumeError
from ._errors import RetryableError as RetryableError
from ._errors import UnavailableError as UnavailableError
from ._errors import WorkflowError as WorkflowError
from ._load._loader import LoadResult as LoadResult
from ._load._loader import load_workflow as load_workflow
from ._load._loader import load_workflow_data as load_workflow_data
from ._load._loader import load_workflow_text as load_workflow_text
from ._load._loader import resolve_inputs as resolve_inputs
from ._plugins._registry import PluginInfo as PluginInfo
from ._plugins._registry import Plugins as Plugins
from ._plugins._registry import Registration as Registration
from ._plugins._registry import load_plugins as load_plugins
from ._problems import Problem as Problem
from ._problems import SourceLocation as SourceLocation
from ._public import publish as _publish
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
from ._spec._workflow import StrategySpec as StrategySpec
from ._spec._workflow import Workflow as Workflow
from ._spec._workflow import parse_duration as parse_duration
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
