"""The public API: exactly these names, each importable and reporting cadenza as its module."""

from __future__ import annotations

import cadenza
import cadenza.testing

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


TESTING_PUBLIC = {
    "ECHO", "NO_DEFAULT", "AgentConformance", "AggregatorConformance", "CapturedRun", "Delay",
    "Drop", "Handler", "MalformedJson", "Ok", "Responder", "RouterConformance",
    "ScriptExhaustedError", "ScriptedAgent", "ScriptedAgentKind", "SeedAgentServer", "SeedCall",
    "Stall", "Status", "StoreConformance", "open_seed_agent_server", "run_captured",
    "scripted_agent_kind", "serve_seed_agent",
}  # fmt: skip


def test_testing_all_is_pinned() -> None:
    """Adding or removing a name of cadenza.testing is a deliberate change to this list."""
    assert set(cadenza.testing.__all__) == TESTING_PUBLIC
    assert len(cadenza.testing.__all__) == len(TESTING_PUBLIC)


def test_testing_names_are_importable_from_the_public_module() -> None:
    """Each name of cadenza.testing.__all__ exists, and its classes say cadenza.testing."""
    for name in cadenza.testing.__all__:
        obj = getattr(cadenza.testing, name)
        if isinstance(obj, type) and obj.__module__.startswith("cadenza"):
            assert obj.__module__ == "cadenza.testing", name
