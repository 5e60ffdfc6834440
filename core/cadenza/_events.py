"""Run events: every state change of a run, as a frozen, journal-ready record.

Events are the one stream that the log, the progress display, ``cadenza_on_event``
observers and (next) the journal consume. Each event is plain data: strings,
numbers, booleans, lists and mappings of those, so ``to_dict`` gives JSON and
``event_from_dict`` reverses it. ``kind`` is a stable, documented snake_case
name; ``seq`` orders events within a run; ``at`` is wall-clock epoch seconds
(for humans and reports; durations come from the monotonic trio clock).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Literal

import attrs

RunStatus = Literal["succeeded", "failed", "cancelled"]

_KINDS: dict[str, type[Event]] = {}


@attrs.frozen(kw_only=True)
class Event:
    """Base of all run events."""

    kind: ClassVar[str] = "event"
    transient: ClassVar[bool] = False
    """Transient events (progress) go to observers only: never journaled, ``seq`` -1."""
    run_id: str
    seq: int
    at: float

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "kind" in cls.__dict__:
            _KINDS[cls.kind] = cls

    def to_dict(self) -> dict[str, Any]:
        """Return the event as JSON-ready data, with ``kind`` first.

        The same as ``{"kind": ..., **attrs.asdict(self)}`` (a deep copy,
        collections keeping their types), built without attrs' per-call
        machinery: the journal calls this for every event.
        """
        cls = self.__class__
        names = _FIELD_NAMES.get(cls)
        if names is None:
            names = _FIELD_NAMES[cls] = tuple(f.name for f in attrs.fields(cls))
        data: dict[str, Any] = {"kind": self.kind}
        for name in names:
            value = getattr(self, name)
            data[name] = value if value.__class__ in _ATOMIC else _plain(value)
        return data


_FIELD_NAMES: dict[type, tuple[str, ...]] = {}
_ATOMIC = frozenset({type(None), bool, int, float, str})


def _plain(value: Any) -> Any:
    """``value`` as ``attrs.asdict(..., recurse=True)`` renders a field: a deep copy.

    Collections keep their type (``retain_collection_types``, the default of
    ``attrs.asdict``); mappings become dicts; attrs instances, dicts of fields.
    """
    cls = value.__class__
    if cls in _ATOMIC:
        return value
    if getattr(cls, "__attrs_attrs__", None) is not None:
        return attrs.asdict(value, recurse=True)
    if issubclass(cls, tuple | list | set | frozenset):
        items = [_plain(item) for item in value]
        try:
            return cls(items)
        except TypeError:  # a namedtuple takes its items as arguments
            if not issubclass(cls, tuple):
                raise
            return cls(*items)
    if issubclass(cls, dict):
        return {_plain(k): _plain(v) for k, v in value.items()}
    return value


def event_from_dict(data: Mapping[str, Any]) -> Event:
    """Rebuild an event from :meth:`Event.to_dict` output.

    Raises ``KeyError`` for an unknown ``kind`` and ``TypeError`` for fields that
    do not match it.
    """
    fields = dict(data)
    cls = _KINDS[fields.pop("kind")]
    for field in attrs.fields(cls):
        if field.name in fields and isinstance(fields[field.name], list):
            fields[field.name] = tuple(fields[field.name])
    return cls(**fields)


@attrs.frozen(kw_only=True)
class RunStarted(Event):
    """A run began: its workflow, inputs (secrets redacted) and steps in file order.

    ``output_dir`` is the run's output folder (absolute), or None when agents got none.
    A sub-workflow's run names the run and step that started it in
    ``parent_run_id`` and ``parent_step_id`` (None for a top-level run).
    ``needs`` (each step's, steps without needs left out), ``agents`` (each
    one's ``max_concurrent``) and ``budgets`` (US dollars by line: ``run``,
    ``agent NAME``, ``step ID``) let readers draw the run without loading its
    workflow; None in journals written before 0.2 carried them.
    """

    kind: ClassVar[str] = "run_started"
    workflow: str
    source: str
    source_hash: str
    inputs: Mapping[str, Any]
    steps: tuple[str, ...]
    output_dir: str | None = None
    parent_run_id: str | None = None
    parent_step_id: str | None = None
    needs: Mapping[str, tuple[str, ...]] | None = None
    agents: Mapping[str, Mapping[str, Any]] | None = None
    budgets: Mapping[str, float] | None = None


@attrs.frozen(kw_only=True)
class RunResumed(Event):
    """A run continues from its journal in a new process.

    ``restored`` steps keep the outputs journaled earlier and are not executed
    again; every other step runs (again). ``from_step`` is set when the user
    asked to re-run a step and its descendants. ``output_dir`` is the output
    folder of this part of the run (as in ``run_started``).
    """

    kind: ClassVar[str] = "run_resumed"
    workflow: str
    source_hash: str
    restored: tuple[str, ...]
    rerun: tuple[str, ...]
    from_step: str | None = None
    output_dir: str | None = None


@attrs.frozen(kw_only=True)
class StepReady(Event):
    """Every need of a step is satisfied and its ``when:`` held; it waits for capacity.

    ``inputs`` is its rendered ``with:`` (secrets redacted), what its agent will get.
    """

    kind: ClassVar[str] = "step_ready"
    step_id: str
    inputs: Mapping[str, Any] | None = None


@attrs.frozen(kw_only=True)
class AttemptStarted(Event):
    """An agent call began for a step. ``attempt`` counts from 1."""

    kind: ClassVar[str] = "attempt_started"
    step_id: str
    attempt: int
    agent: str
    idempotency_key: str
    queue_wait: float
    waited_for: str = ""
    """What last held the step back while it was ready (``concurrency``, ``agent_slots``,
    ``rate_limit``, ``budget``, ``breaker``); ``""`` when nothing the dispatcher saw did."""


@attrs.frozen(kw_only=True)
class AttemptProgress(Event):
    """An agent reported progress on a call: a short ``message`` and/or ``tokens`` so far.

    Transient: observers see it (the live progress display shows it), the
    journal does not, and ``seq`` is -1. The kernel passes on at most a few
    per second per call.
    """

    kind: ClassVar[str] = "attempt_progress"
    transient: ClassVar[bool] = True
    step_id: str
    attempt: int
    agent: str
    message: str = ""
    tokens: int | None = None


@attrs.frozen(kw_only=True)
class AttemptFailed(Event):
    """An agent call failed. ``retry_in`` is the delay before the next attempt, or None."""

    kind: ClassVar[str] = "attempt_failed"
    step_id: str
    attempt: int
    agent: str
    error_type: str
    message: str
    retryable: bool
    duration: float
    retry_in: float | None = None


@attrs.frozen(kw_only=True)
class StepSucceeded(Event):
    """A step finished with an output."""

    kind: ClassVar[str] = "step_succeeded"
    step_id: str
    attempt: int
    agent: str
    output: Any
    duration: float
    degraded: bool = False
    source: str = ""
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float | None = None


@attrs.frozen(kw_only=True)
class StepCacheHit(Event):
    """A step's output was reused from the cache instead of calling an agent.

    ``key`` identifies agent kind, options (secrets excluded), ``uses`` and the
    resolved inputs; ``source_run`` and ``source_step`` say where it came from.
    """

    kind: ClassVar[str] = "step_cache_hit"
    step_id: str
    key: str
    source_run: str
    source_step: str
    created_at: float


@attrs.frozen(kw_only=True)
class StepFailed(Event):
    """A step failed for good after ``attempts`` attempts."""

    kind: ClassVar[str] = "step_failed"
    step_id: str
    attempts: int
    error_type: str
    message: str


@attrs.frozen(kw_only=True)
class StepSkipped(Event):
    """A step will not run. ``cause`` is the step whose failure or skip led here, if any."""

    kind: ClassVar[str] = "step_skipped"
    step_id: str
    reason: str
    cause: str | None = None


@attrs.frozen(kw_only=True)
class StepMapped(Event):
    """A ``for_each`` step's list is known: the step runs once per item.

    Each item is journaled as a step of its own, ``<step_id>[<index>]``
    (``build[3]``), with the usual step and attempt events; once every item
    ended, ``step_succeeded`` (its output the list of the items' outputs) or
    ``step_failed`` follows for the step itself. ``items`` is the list's
    length, ``max_parallel`` the bound on items in flight (None: none),
    ``restored`` how many items a resumed run kept from the journal.
    """

    kind: ClassVar[str] = "step_mapped"
    step_id: str
    items: int
    max_parallel: int | None = None
    restored: int = 0


@attrs.frozen(kw_only=True)
class ApprovalRequested(Event):
    """A step's approval gate opened: it waits, holding no slot, for a person's decision.

    ``prompt`` is the step's ``approval.prompt`` rendered (secrets redacted);
    ``approvers`` who may decide (empty: anyone); ``expires_at`` the wall-clock
    epoch second at which the gate times out (None: never). A resumed run
    keeps the journaled request, so a restart does not extend the wait.
    """

    kind: ClassVar[str] = "approval_requested"
    step_id: str
    prompt: str
    approvers: tuple[str, ...] = ()
    expires_at: float | None = None


@attrs.frozen(kw_only=True)
class ApprovalDecided(Event):
    """A step's approval gate closed: ``approved`` or not, ``by`` whom and why.

    ``by`` is the name the decision was recorded under (``cadenza approve
    --as``, the dashboard's user), or ``"timeout"`` when the gate expired;
    ``reason`` is the free text given with it. Approved, the step queues for an
    agent; otherwise it fails (``ApprovalRejected`` or ``ApprovalTimedOut``).
    """

    kind: ClassVar[str] = "approval_decided"
    step_id: str
    approved: bool
    by: str
    reason: str = ""


@attrs.frozen(kw_only=True)
class StepCancelled(Event):
    """A step stopped (in flight) or never started because the run was cancelled."""

    kind: ClassVar[str] = "step_cancelled"
    step_id: str
    reason: str
    in_flight: bool = False


@attrs.frozen(kw_only=True)
class FallbackStarted(Event):
    """Every attempt of a step failed; the step now tries a fallback (``source``).

    Whatever the fallback produces is marked degraded in ``step_succeeded``.
    """

    kind: ClassVar[str] = "fallback_started"
    step_id: str
    source: str
    error: str


@attrs.frozen(kw_only=True)
class RouteChosen(Event):
    """A router chose the agent for a call among ``candidates`` (the agents that had room).

    Emitted when more than one agent could serve the step; ``strategy`` is the
    router's name and ``reason`` its explanation, with the numbers that decided.
    """

    kind: ClassVar[str] = "route_chosen"
    step_id: str
    attempt: int
    agent: str
    strategy: str
    reason: str
    candidates: tuple[str, ...] = ()


@attrs.frozen(kw_only=True)
class OutputValidated(Event):
    """A step's validators scored an output: ``score`` is the lowest of their scores.

    ``passed`` is false when ``score`` is below the step's ``min_quality``; the
    attempt then fails with a ``QualityError``. ``findings`` say what was wrong.
    """

    kind: ClassVar[str] = "output_validated"
    step_id: str
    attempt: int
    agent: str
    score: float
    findings: tuple[str, ...] = ()
    passed: bool = True


@attrs.frozen(kw_only=True)
class CostIncurred(Event):
    """A call's cost settled: its tokens and USD, and the run's totals so far.

    ``input_tokens`` and ``output_tokens`` are what the agent reported;
    ``tokens`` what was settled against token budgets (the reported total, or
    the estimate of a call cut off before it could report). ``estimated_usd``
    is what the call reserved before it ran; ``over_estimate`` marks a call
    that cost more than it reserved.
    """

    kind: ClassVar[str] = "cost_incurred"
    step_id: str
    attempt: int
    agent: str
    input_tokens: int
    output_tokens: int
    cost_usd: float
    tokens: int = 0
    estimated_usd: float = 0.0
    over_estimate: bool = False
    run_cost_usd: float = 0.0
    run_tokens: int = 0


@attrs.frozen(kw_only=True)
class AnswersCombined(Event):
    """A multi-agent step's answers were combined by its aggregation ``strategy``.

    ``answers`` has one entry per agent asked: ``agent``, ``status`` (``ok``,
    ``failed``, ``cancelled``), ``weight``, ``quality``, ``confidence``,
    ``supported`` (whether it backs the result) and ``error``. ``supporters``
    is empty when no answer was usable.
    """

    kind: ClassVar[str] = "answers_combined"
    step_id: str
    attempt: int
    strategy: str
    supporters: tuple[str, ...]
    agreement: float
    answers: tuple[Mapping[str, Any], ...] = ()
    fields: Mapping[str, str] = attrs.field(factory=dict)


@attrs.frozen(kw_only=True)
class StepConflict(Event):
    """A multi-agent step's answers disagreed beyond its strategy's tolerance.

    ``on_conflict`` says what happens next: ``fail``, ``best`` (the best-scored
    answer is taken) or ``judge`` (the judge agent decides).
    """

    kind: ClassVar[str] = "step_conflict"
    step_id: str
    attempt: int
    strategy: str
    message: str
    on_conflict: str


@attrs.frozen(kw_only=True)
class CircuitChanged(Event):
    """An agent's circuit breaker changed state (``closed``, ``open``, ``half_open``)."""

    kind: ClassVar[str] = "circuit_changed"
    agent: str
    state: str
    previous: str
    reason: str = ""


@attrs.frozen(kw_only=True)
class AgentHealthChanged(Event):
    """A configured health check found an agent unhealthy (it takes no calls) or healthy again."""

    kind: ClassVar[str] = "agent_health_changed"
    agent: str
    healthy: bool


@attrs.frozen(kw_only=True)
class ObserverFailed(Event):
    """A ``cadenza_observers`` observer raised or overran its time limit; the run goes on.

    ``call`` is ``create`` (its factory), ``run_started`` or ``run_finished``.
    """

    kind: ClassVar[str] = "observer_failed"
    observer: str
    plugin: str
    call: str
    error: str
    timed_out: bool = False


@attrs.frozen(kw_only=True)
class RunFinished(Event):
    """A run ended. ``counts`` maps step states to how many steps ended in each."""

    kind: ClassVar[str] = "run_finished"
    status: RunStatus
    duration: float
    counts: Mapping[str, int]
    reason: str = ""
    cost_usd: float = 0.0
    tokens: int = 0


EVENT_KINDS: Mapping[str, type[Event]] = _KINDS
"""Every event class by its ``kind``."""
