"""The public API: exactly these names, each importable and reporting cadenza as its module."""

from __future__ import annotations

import cadenza

PUBLIC = {
    "EVENT_KINDS", "HOOK_API_VERSION", "Agent", "AgentConfig", "AgentError", "AgentFactory",
    "AgentRequest", "AgentResult", "AgentTimeoutError", "AttemptFailed", "AttemptStarted",
    "BudgetExceededError", "CadenzaError", "DuplicateRegistrationError", "Duration", "Event",
    "ExpressionError", "InputSpec", "LoadResult", "PermanentError", "PluginError", "PluginInfo",
    "Plugins", "Problem", "Registration", "RetryPolicy", "RetryableError", "RunFinished",
    "RunHandle", "RunResult", "RunStarted", "SourceLocation", "Step", "StepCancelled",
    "StepFailed", "StepOutcome", "StepReady", "StepSkipped", "StepSucceeded", "SupportsHealth",
    "UnavailableError", "Usage", "Workflow", "WorkflowError", "__version__", "event_from_dict",
    "hookimpl", "hookspec", "load_plugins", "load_workflow", "load_workflow_data",
    "load_workflow_text", "parse_duration", "resolve_inputs", "run_workflow",
    "RunResumed", "StepCacheHit", "ResumeError", "ResumePlan", "plan_resume", "CachePolicy",
    "SCHEMA_VERSION", "CacheEntry", "RunRecord", "Store", "StoreError", "UnknownRunError",
    "WriteBatch", "open_store", "SqliteStore", "BreakerPolicy", "CircuitChanged",
    "FallbackSpec", "FallbackStarted", "RateLimitPolicy",
    "AgentHealthChanged", "HealthCheckPolicy",
    "Aggregator", "Answer", "Verdict", "Budget", "Price", "AgentHistory", "Candidate", "Route",
    "RouteRequest", "Router", "Quality", "ValidationContext", "Validator", "QualityError",
    "AnswersCombined", "CostIncurred", "OutputValidated", "RouteChosen", "StepConflict",
    "StrategySpec", "AttemptProgress", "Fallback", "FallbackContext",
}  # fmt: skip


def test_all_is_pinned() -> None:
    """Adding or removing a public name is a deliberate change to this list."""
    assert set(cadenza.__all__) == PUBLIC
    assert len(cadenza.__all__) == len(PUBLIC)


def test_every_public_name_is_importable() -> None:
    """Each name in __all__ exists on the package."""
    for name in cadenza.__all__:
        assert hasattr(cadenza, name), name


def test_public_classes_report_the_public_module() -> None:
    """Tracebacks and reprs say cadenza.X, not the private module."""
    for name in cadenza.__all__:
        obj = getattr(cadenza, name)
        if isinstance(obj, type):
            assert obj.__module__ == "cadenza", name
