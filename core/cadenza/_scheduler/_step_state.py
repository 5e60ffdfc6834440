"""The mutable state of one step within a run.

Shared by the scheduler core and its helpers (fallbacks, summaries), so it
lives in its own module rather than in any one of them.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping
from typing import Any

import attrs

from .._agents._contract import AgentResult
from .._resilience._slots import _Pool
from .._spec._workflow import Step

_TERMINAL = frozenset({"succeeded", "failed", "skipped", "cancelled"})


@attrs.define(eq=False, slots=True)
class _StepState:
    step: Step
    pool: _Pool | None
    status: str = "pending"  # pending → ready → running ⇄ backoff → terminal
    waiting: int = 0
    attempts: int = 0
    inputs: Mapping[str, Any] | None = None
    output: Any = None
    result: AgentResult | None = None
    agent: str | None = None
    error: str | None = None
    reason: str | None = None
    ready_at: float = 0.0
    started_at: float | None = None
    ended_at: float | None = None
    last_agent: str | None = None  # the agent the last failed attempt ran on
    rate_limited: int = 0  # attempts answered "too many requests", not counted
    fallbacks_tried: int = 0
    estimated_tokens: int = 0  # the rate limiter's estimate, when an agent limits tokens
    input_tokens: int = 0  # the budgets' estimate of the inputs' tokens, once computed
    cost_usd: float = 0.0  # settled cost of every call the step made
    tokens: int = 0  # settled tokens of every call the step made
    budget_refusal: str = ""  # why no budget can ever fit the step's next call
    provenance: Mapping[str, Any] | None = None  # a multi-agent step's answers, for the result
    asks: itertools.count[int] = attrs.field(factory=itertools.count)  # request.ask() calls
    estimates: dict[str, tuple[float, int]] = attrs.field(factory=dict)  # per agent: usd, tokens
    error_note: str = ""  # the last attempt's error, for messages
    fallback_source: str | None = None  # set while a fallback serves the step
    fallback_error: str = ""  # the failure that sent the step to its fallbacks
    deadline: float = math.inf  # total_timeout, from the first attempt
