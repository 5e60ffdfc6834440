"""Cadenza: reliable AI workflows on trio, extended through pluggy."""

from __future__ import annotations

from ._agent import Agent as Agent
from ._agent import AgentFactory as AgentFactory
from ._agent import AgentRequest as AgentRequest
from ._agent import AgentResult as AgentResult
from ._agent import SupportsHealth as SupportsHealth
from ._agent import Usage as Usage
from ._errors import AgentError as AgentError
from ._errors import AgentTimeoutError as AgentTimeoutError
from ._errors import BudgetExceededError as BudgetExceededError
from ._errors import CadenzaError as CadenzaError
from ._errors import DuplicateRegistrationError as DuplicateRegistrationError
from ._errors import ExpressionError as ExpressionError
from ._errors import PermanentError as PermanentError
from ._errors import PluginError as PluginError
from ._errors import RetryableError as RetryableError
from ._errors import UnavailableError as UnavailableError
from ._errors import WorkflowError as WorkflowError
from ._problems import Problem as Problem
from ._problems import SourceLocation as SourceLocation
from ._spec import AgentConfig as AgentConfig
from ._spec import InputSpec as InputSpec
from ._spec import RetryPolicy as RetryPolicy
from ._spec import Step as Step
from ._spec import Workflow as Workflow
from .hookspecs import hookimpl as hookimpl
from .hookspecs import hookspec as hookspec

__version__ = "0.1.0"

HOOK_API_VERSION = "1.0"
"""The version of the hook API this kernel implements (see cadenza.hookspecs)."""

__all__ = [
    "HOOK_API_VERSION",
    "Agent",
    "AgentConfig",
    "AgentError",
    "AgentFactory",
    "AgentRequest",
    "AgentResult",
    "AgentTimeoutError",
    "BudgetExceededError",
    "CadenzaError",
    "DuplicateRegistrationError",
    "ExpressionError",
    "InputSpec",
    "PermanentError",
    "PluginError",
    "Problem",
    "RetryPolicy",
    "RetryableError",
    "SourceLocation",
    "Step",
    "SupportsHealth",
    "UnavailableError",
    "Usage",
    "Workflow",
    "WorkflowError",
    "__version__",
    "hookimpl",
    "hookspec",
]
