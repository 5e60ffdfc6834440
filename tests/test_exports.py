"""The public API: exactly these names, each importable and reporting its public module."""

from __future__ import annotations

import pytest

import cadenza
import cadenza.events
import cadenza.store
import cadenza.testing
from cadenza._deprecations import MOVED

PUBLIC = {
    "HOOK_API_VERSION", "Agent", "AgentConfig", "AgentError", "AgentFactory", "AgentRequest",
    "AgentResult", "AgentTimeoutError", "BudgetExceededError", "CadenzaError",
    "DuplicateRegistrationError", "Duration", "ExpressionError", "InputSpec", "LoadResult",
    "PermanentError", "PluginError", "PluginInfo", "Plugins", "Problem", "Registration",
    "RetryPolicy", "RetryableError", "RunHandle", "RunResult", "SourceLocation", "Step",
    "StepOutcome", "SupportsHealth", "UnavailableError", "Usage", "Workflow", "WorkflowError",
    "__version__", "hookimpl", "hookspec", "load_plugins", "load_workflow",
    "load_workflow_data", "load_workflow_text", "parse_duration", "resolve_inputs",
    "run_workflow", "ResumeError", "ResumePlan", "plan_resume", "CachePolicy", "BreakerPolicy",
    "FallbackSpec", "RateLimitPolicy", "HealthCheckPolicy", "Aggregator", "Answer", "Verdict",
    "Budget", "Price", "AgentHistory", "Candidate", "Route", "RouteRequest", "Router",
    "Quality", "ValidationContext", "Validator", "QualityError", "StrategySpec", "Fallback",
    "FallbackContext",
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
    "Drop", "Exchange", "Handler", "LoopbackRequest", "LoopbackServer", "MalformedJson", "Ok",
    "Responder", "RouterConformance",
    "ScriptExhaustedError", "ScriptedAgent", "ScriptedAgentKind", "SeedAgentServer", "SeedCall",
    "Stall", "Status", "StoreConformance", "listed_plugins", "open_seed_agent_server",
    "run_captured",
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


EVENTS_PUBLIC = {
    "EVENT_KINDS", "AgentHealthChanged", "AnswersCombined", "AttemptFailed", "AttemptProgress",
    "AttemptStarted", "CircuitChanged", "CostIncurred", "Event", "FallbackStarted",
    "OutputValidated", "RouteChosen", "RunFinished", "RunResumed", "RunStarted", "StepCacheHit",
    "StepCancelled", "StepConflict", "StepFailed", "StepReady", "StepSkipped", "StepSucceeded",
    "event_from_dict",
}  # fmt: skip

STORE_PUBLIC = {
    "SCHEMA_VERSION", "CacheEntry", "RunRecord", "SqliteStore", "Store", "StoreError",
    "StoreFullError", "StoreReadOnlyError", "UnknownRunError", "WriteBatch", "open_store",
}  # fmt: skip


@pytest.mark.parametrize(
    ("module", "pinned"),
    [(cadenza.events, EVENTS_PUBLIC), (cadenza.store, STORE_PUBLIC)],
    ids=["events", "store"],
)
def test_namespace_all_is_pinned(module: object, pinned: set[str]) -> None:
    """cadenza.events and cadenza.store export exactly these names, each saying its namespace."""
    names: list[str] = module.__all__
    assert set(names) == pinned
    assert len(names) == len(pinned)
    for name in names:
        obj = getattr(module, name)
        if isinstance(obj, type):
            assert obj.__module__ == module.__name__, name


def test_every_event_class_is_in_cadenza_events() -> None:
    """Each kind in EVENT_KINDS has its class exported by cadenza.events."""
    for cls in cadenza.events.EVENT_KINDS.values():
        assert getattr(cadenza.events, cls.__name__) is cls


def test_an_old_name_still_works_with_a_warning_naming_its_new_home() -> None:
    """cadenza.SqliteStore is cadenza.store.SqliteStore, with a DeprecationWarning saying so."""
    with pytest.warns(DeprecationWarning, match=r"cadenza\.store\.SqliteStore") as caught:
        old = cadenza.SqliteStore
    assert old is cadenza.store.SqliteStore
    assert "1.0" in str(caught[0].message)
    assert caught[0].filename == __file__


@pytest.mark.parametrize("name", sorted(MOVED))
def test_every_moved_name_resolves_to_its_new_home(name: str) -> None:
    """Each name that left cadenza is still importable from it, warning and naming the new home."""
    home = MOVED[name].home
    with pytest.warns(DeprecationWarning, match=rf"{home}\.{name}\b"):
        old = getattr(cadenza, name)
    assert old is getattr(cadenza.events if home == "cadenza.events" else cadenza.store, name)
    assert name not in cadenza.__all__


def test_an_unknown_name_is_still_an_attribute_error() -> None:
    """The deprecation hook does not swallow typos: cadenza.Nope raises AttributeError."""
    with pytest.raises(AttributeError, match="Nope"):
        cadenza.Nope  # noqa: B018
