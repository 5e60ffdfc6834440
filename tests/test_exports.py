"""The public API: exactly these names, each importable and reporting its public module."""

from __future__ import annotations

import ast
import importlib
import inspect
from pathlib import Path

import pytest

import cadenza
import cadenza.events
import cadenza.plugins
import cadenza.store
import cadenza.strategies
import cadenza.testing
from cadenza._deprecations import MOVED

PUBLIC = {
    "Agent", "AgentConfig", "AgentError", "AgentFactory", "AgentRequest", "AgentResult",
    "AgentTimeoutError", "BudgetExceededError", "CadenzaError", "Duration", "ExpressionError",
    "InputSpec", "LoadResult", "PermanentError", "Problem", "RetryPolicy", "RetryableError",
    "RunHandle", "RunResult", "SourceLocation", "Step", "StepOutcome", "SupportsHealth",
    "UnavailableError", "Usage", "Workflow", "WorkflowError", "__version__", "hookimpl",
    "load_workflow", "load_workflow_data", "load_workflow_text", "parse_duration",
    "resolve_inputs", "run_workflow", "ResumeError", "ResumePlan", "plan_resume", "CachePolicy",
    "BreakerPolicy", "FallbackSpec", "RateLimitPolicy", "HealthCheckPolicy", "Budget", "Price",
    "WorkflowBuilder", "run", "workflow",
}  # fmt: skip


def test_all_is_pinned() -> None:
    """Adding or removing a public name is a deliberate change to this list."""
    assert set(cadenza.__all__) == PUBLIC
    assert len(cadenza.__all__) == len(PUBLIC)


def test_the_top_namespace_stays_small() -> None:
    """cadenza keeps what a workflow user and an agent author need: at most 48 names.

    45 until workflows could be written in Python (issue 15): ``workflow``, ``run``
    and ``WorkflowBuilder`` are the whole of that surface; references and handles
    stay unnamed types reached through the builder.
    """
    assert len(cadenza.__all__) <= 48


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
    "CaptureRunner",
    "Drop", "Exchange", "Handler", "LoopbackRequest", "LoopbackServer", "MalformedJson", "Ok",
    "Responder", "RouterConformance",
    "ScriptExhaustedError", "ScriptedAgent", "ScriptedAgentKind", "SeedAgentServer", "SeedCall",
    "Stall", "Status", "StoreConformance", "RunQueueConformance", "listed_plugins",
    "WorkerTakeoverConformance", "WorkerHarness", "CallLog", "LoggedCall",
    "open_seed_agent_server",
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
    "EVENT_KINDS", "AgentHealthChanged", "AnswersCombined", "ApprovalDecided", "ApprovalRequested",
    "AttemptFailed", "AttemptProgress",
    "AttemptStarted", "CircuitChanged", "CostIncurred", "Event", "FallbackStarted",
    "ObserverFailed", "OutputValidated", "RouteChosen", "RunFinished", "RunResumed", "RunStarted",
    "StepCacheHit", "StepCancelled", "StepConflict", "StepFailed", "StepReady", "StepSkipped",
    "StepSucceeded", "event_from_dict",
}  # fmt: skip

STORE_PUBLIC = {
    "SCHEMA_VERSION", "ApprovalDecision", "CacheEntry", "RunRecord", "SqliteStore", "Store",
    "StoreError", "SupportsApprovals", "SupportsRunQueue", "Fence", "LeaseLostError",
    "QueueEntry", "QueuedRun", "WorkerInfo",
    "StoreFullError", "StoreReadOnlyError", "UnknownRunError", "WriteBatch", "open_store",
}  # fmt: skip

PLUGINS_PUBLIC = {
    "HOOK_API_VERSION", "DuplicateRegistrationError", "Executor", "PluginError", "PluginInfo",
    "Plugins", "Registration", "WorkerLostError", "executor_for", "get_logger", "hookspec",
    "load_plugins", "plugin_config", "project_config",
}  # fmt: skip

STRATEGIES_PUBLIC = {
    "AgentHistory", "Aggregator", "Answer", "Candidate", "Fallback", "FallbackContext", "Quality",
    "QualityError", "Route", "RouteRequest", "Router", "StrategySpec", "ValidationContext",
    "Validator", "Verdict",
}  # fmt: skip


@pytest.mark.parametrize(
    ("module", "pinned"),
    [
        (cadenza.events, EVENTS_PUBLIC),
        (cadenza.store, STORE_PUBLIC),
        (cadenza.plugins, PLUGINS_PUBLIC),
        (cadenza.strategies, STRATEGIES_PUBLIC),
    ],
    ids=["events", "store", "plugins", "strategies"],
)
def test_namespace_all_is_pinned(module: object, pinned: set[str]) -> None:
    """Each public namespace exports exactly these names, its classes and functions saying so."""
    names: list[str] = module.__all__
    assert set(names) == pinned
    assert len(names) == len(pinned)
    for name in names:
        obj = getattr(module, name)
        if isinstance(obj, type) or inspect.isfunction(obj):
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
    assert old is getattr(importlib.import_module(home), name)
    assert name not in cadenza.__all__


def test_every_moved_name_is_in_its_new_homes_all() -> None:
    """MOVED names a home that exports the name, so the warning's advice works."""
    for name, moved in MOVED.items():
        assert name in importlib.import_module(moved.home).__all__, name


def _type_checking_imports(tree: ast.Module) -> dict[str, str]:
    """name -> module of each ``from .x import name as name`` under ``if TYPE_CHECKING:``."""
    found = {}
    for node in tree.body:
        if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING":
            for inner in node.body:
                if isinstance(inner, ast.ImportFrom):
                    found.update({alias.name: f"cadenza.{inner.module}" for alias in inner.names})
    return found


@pytest.mark.parametrize("home", ["cadenza.plugins", "cadenza.strategies"])
def test_moved_names_keep_their_types_for_mypy(home: str) -> None:
    """Each name moved to plugins or strategies is declared for type checkers in cadenza."""
    tree = ast.parse(Path(cadenza.__file__).read_text(encoding="utf-8"))
    declared = _type_checking_imports(tree)
    moved = {name for name, m in MOVED.items() if m.home == home}
    assert {name for name, module in declared.items() if module == home} == moved


def test_an_unknown_name_is_still_an_attribute_error() -> None:
    """The deprecation hook does not swallow typos: cadenza.Nope raises AttributeError."""
    with pytest.raises(AttributeError, match="Nope"):
        cadenza.Nope  # noqa: B018
