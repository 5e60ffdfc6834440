"""``cadenza simulate``: predict a run's makespan, cost and critical path without running it.

The real scheduler (``run_workflow``) runs the workflow on trio's virtual
clock (``trio.testing.MockClock`` with ``autojump_threshold=0``), with every
agent replaced by a :class:`ModelledAgent` that sleeps a latency drawn from a
distribution, fails at a modelled rate and reports modelled token usage. So
limits, priorities, retries with backoff, breakers, budgets, deadlines,
routing and fan-out are the real ones; only the agents are assumed.

Agent models come from a model file (:func:`parse_model_file`), from the
journal of past runs (:func:`learn_models`) or from defaults: 1s fixed
latency, no failures, and the usage a real run estimates before each call
(input tokens from the call's ``with:``, output tokens from the agent's
``price.expected_output_tokens``), priced at the agent's ``price:``. So
without a model the predicted cost is what the run's budgets would reserve.
:func:`simulate` records where every parameter came from in
:attr:`SimulationReport.assumptions`.
"""

from __future__ import annotations

import functools
import math
import random
import statistics
import time
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import attrs
import trio
import trio.testing

from .. import _events as ev
from .._agents._contract import AgentRequest, AgentResult, Usage
from .._errors import ExpressionError, RetryableError, WorkflowError
from .._expr._expressions import ExpressionContext, ValueTemplate
from .._journal._store import Store
from .._plugins._registry import Plugins, Registration, new_plugin_manager
from .._problems import Problem
from .._resilience._ratelimit import estimate_tokens
from .._scheduler._calls import DEFAULT_OUTPUT_TOKENS
from .._scheduler._runner import run_workflow
from .._source_file import read_source
from .._spec._cost import Price
from .._spec._duration import parse_duration
from .._spec._workflow import AgentConfig, Workflow
from .._yaml import parse_yaml

SIM_KIND = "simulated"
"""The agent kind every agent of a simulated workflow is switched to."""

DEFAULT_LATENCY = 1.0
"""Seconds a call takes when neither a model file nor the journal says otherwise."""

LEARN_RUNS = 20
"""How many of the workflow's most recent journaled runs ``--learn`` reads."""

_LOGNORMAL_Z95 = 1.6448536269514722  # the standard normal's 95th percentile

Distribution = Literal["fixed", "uniform", "lognormal", "exponential", "empirical"]
_DISTRIBUTIONS: tuple[str, ...] = ("fixed", "uniform", "lognormal", "exponential")
_AGENT_KEYS = (
    "latency",
    "failure_rate",
    "retry_after",
    "input_tokens",
    "output_tokens",
    "price",
)
_PRICE_KEYS = ("input_per_1k", "output_per_1k", "per_call", "expected_output_tokens")
ESTIMATED = "estimated from with:"
"""The origin of input tokens no model sets: each call's, estimated as a real run does."""


# -- models ---------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class LatencyModel:
    """How long one call takes: a distribution and its parameters (seconds)."""

    distribution: Distribution = "fixed"
    value: float = DEFAULT_LATENCY
    """``fixed``: the latency; ``exponential``: the mean."""
    low: float = 0.0
    high: float = 0.0
    """``uniform``: the bounds."""
    mu: float = 0.0
    sigma: float = 0.0
    """``lognormal``: parameters of the underlying normal."""
    samples: tuple[float, ...] = ()
    """``empirical``: observed latencies, resampled."""

    @property
    def is_fixed(self) -> bool:
        return self.distribution == "fixed" or (
            self.distribution == "empirical" and len(set(self.samples)) == 1
        )

    def draw(self, rng: random.Random) -> float:
        if self.distribution == "fixed":
            return self.value
        if self.distribution == "uniform":
            return rng.uniform(self.low, self.high)
        if self.distribution == "lognormal":
            return rng.lognormvariate(self.mu, self.sigma)
        if self.distribution == "exponential":
            return rng.expovariate(1.0 / self.value) if self.value > 0 else 0.0
        return rng.choice(self.samples)

    def describe(self) -> str:
        if self.distribution == "fixed":
            return f"{_secs(self.value)} fixed"
        if self.distribution == "uniform":
            return f"uniform {_secs(self.low)}..{_secs(self.high)}"
        if self.distribution == "lognormal":
            p95 = math.exp(self.mu + _LOGNORMAL_Z95 * self.sigma)
            return f"lognormal median {_secs(math.exp(self.mu))}, p95 {_secs(p95)}"
        if self.distribution == "exponential":
            return f"exponential mean {_secs(self.value)}"
        ordered = sorted(self.samples)
        median = statistics.median(ordered)
        return f"empirical, {len(ordered)} samples, median {_secs(median)}"


@attrs.frozen(kw_only=True)
class AgentModel:
    """Everything assumed about one agent, and where each parameter came from.

    ``input_tokens`` None means each call's estimate from its inputs (what a
    real run reserves). ``price`` is what its calls cost (None: free);
    ``origins`` maps each parameter name to ``"model file"``, ``"model file
    (*)"``, ``"learned from N calls"``, ``"workflow"`` (the agent's ``price:``),
    ``"estimated from with:"`` or ``"default"``.
    """

    latency: LatencyModel = LatencyModel()
    failure_rate: float = 0.0
    retry_after: float | None = None
    input_tokens: int | None = None
    output_tokens: int = DEFAULT_OUTPUT_TOKENS
    price: Price | None = None
    origins: Mapping[str, str] = attrs.field(factory=dict)

    @property
    def is_deterministic(self) -> bool:
        return self.latency.is_fixed and self.failure_rate == 0.0


@attrs.frozen(kw_only=True)
class LearnedAgent:
    """What the journal says about one agent: observed latencies, failures and usage."""

    latencies: tuple[float, ...]
    calls: int
    failures: int
    input_tokens: int
    output_tokens: int


# -- the model file --------------------------------------------------------------


def parse_model_file(path: Path) -> dict[str, dict[str, Any]]:
    """Read a model file: agent name (or ``*``) to its parameters, checked.

    Returns per agent only the parameters the file sets, already parsed
    (``latency`` a :class:`LatencyModel`, ``price`` a mapping of the price
    fields it sets, made a :class:`Price` by :func:`resolve_models`). Raises
    :class:`WorkflowError` with every problem, each with file:line:col.
    """
    raw = read_source(path, what="model file")  # regular files within the size limit
    if isinstance(raw, Problem):
        raise WorkflowError([raw])
    return parse_model_text(raw[0], filename=str(path))


def parse_model_text(text: str, *, filename: str = "<model>") -> dict[str, dict[str, Any]]:
    """Like :func:`parse_model_file`, from YAML ``text``."""
    doc = parse_yaml(text, filename=filename)
    if doc.problems:
        raise WorkflowError(list(doc.problems))
    problems: list[Problem] = []

    def problem(where: tuple[Any, ...], message: str, hint: str = "") -> None:
        problems.append(
            Problem(
                message=message,
                path=".".join(str(p) for p in where),
                location=doc.locate(where),
                hint=hint,
            )
        )

    data = doc.data
    if data is None:
        return {}
    if not isinstance(data, Mapping):
        problem((), "a model file maps agent names (or '*') to their parameters")
        raise WorkflowError(problems)
    out: dict[str, dict[str, Any]] = {}
    for agent, spec in data.items():
        if not isinstance(spec, Mapping):
            problem((agent,), f"agent {agent!r}: expected a mapping of parameters")
            continue
        parsed: dict[str, Any] = {}
        for key, value in spec.items():
            where = (agent, key)
            try:
                if key == "latency":
                    parsed[key] = _latency(value)
                elif key == "failure_rate":
                    rate = _number(value)
                    if not 0.0 <= rate < 1.0:
                        raise ValueError(f"must be at least 0 and below 1, got {value!r}")
                    parsed[key] = rate
                elif key == "retry_after":
                    parsed[key] = float(parse_duration(value))
                elif key in ("input_tokens", "output_tokens"):
                    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                        raise ValueError(f"expected a whole number >= 0, got {value!r}")
                    parsed[key] = value
                elif key == "price":
                    parsed[key] = _price(value)
                else:
                    problem(
                        where,
                        f"unknown parameter {key!r}",
                        f"Known parameters: {', '.join(_AGENT_KEYS)}.",
                    )
            except (ValueError, TypeError) as exc:
                problem(where, str(exc))
        out[str(agent)] = parsed
    if problems:
        raise WorkflowError(problems)
    return out


def _number(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"expected a number, got {value!r}")
    return float(value)


def _secs_field(spec: Mapping[str, Any], key: str) -> float:
    if key not in spec:
        raise ValueError(f"{spec.get('distribution', 'fixed')} latency needs {key!r}")
    return float(parse_duration(spec[key]))


def _latency(value: object) -> LatencyModel:
    if not isinstance(value, Mapping):
        return LatencyModel(value=float(parse_duration(value)))
    dist = value.get("distribution", "fixed")
    if dist not in _DISTRIBUTIONS:
        raise ValueError(f"unknown distribution {dist!r} (known: {', '.join(_DISTRIBUTIONS)})")
    allowed = {
        "fixed": {"value", "mean"},
        "uniform": {"min", "max"},
        "lognormal": {"median", "p95"},
        "exponential": {"mean"},
    }[dist] | {"distribution"}
    unknown = sorted(str(k) for k in value if k not in allowed)
    if unknown:
        raise ValueError(
            f"{dist} latency does not take {', '.join(unknown)} "
            f"(it takes {', '.join(sorted(allowed - {'distribution'}))})"
        )
    if dist == "fixed":
        key = "value" if "value" in value else "mean"
        return LatencyModel(value=_secs_field(value, key))
    if dist == "uniform":
        low, high = _secs_field(value, "min"), _secs_field(value, "max")
        if high < low:
            raise ValueError(f"uniform latency: max ({high:g}s) is below min ({low:g}s)")
        return LatencyModel(distribution="uniform", low=low, high=high)
    if dist == "lognormal":
        median, p95 = _secs_field(value, "median"), _secs_field(value, "p95")
        if median <= 0 or p95 <= median:
            raise ValueError("lognormal latency needs 0 < median < p95")
        sigma = math.log(p95 / median) / _LOGNORMAL_Z95
        return LatencyModel(distribution="lognormal", mu=math.log(median), sigma=sigma)
    return LatencyModel(distribution="exponential", value=_secs_field(value, "mean"))


def _price(value: object) -> dict[str, float | int]:
    """The fields a model file's ``price:`` sets, checked (a Price is built per agent)."""
    if not isinstance(value, Mapping):
        raise ValueError(
            "price: expected a mapping with input_per_1k, output_per_1k, per_call "
            "and/or expected_output_tokens"
        )
    unknown = sorted(str(k) for k in value if k not in _PRICE_KEYS)
    if unknown:
        raise ValueError(
            f"price: unknown field {', '.join(unknown)} (known: {', '.join(_PRICE_KEYS)})"
        )
    fields: dict[str, float | int] = {}
    for key, item in value.items():
        if key == "expected_output_tokens":
            if isinstance(item, bool) or not isinstance(item, int) or item < 0:
                raise ValueError(f"price: {key}: expected a whole number >= 0, got {item!r}")
            fields[key] = item
        else:
            number = _number(item)
            if number < 0:
                raise ValueError(f"price: {key} must be >= 0, got {item!r}")
            fields[key] = number
    return fields


def _model_price(fields: Mapping[str, Any], declared: Price | None) -> Price:
    """A model file's price: its fields replace the agent's ``price:``, except that the
    agent's ``expected_output_tokens`` (what its calls reserve) stays unless it is set."""
    expected = (
        declared.expected_output_tokens if declared is not None else Price().expected_output_tokens
    )
    return Price(**{"expected_output_tokens": expected, **fields})


# -- learning from the journal ----------------------------------------------------


def learn_models(
    store: Store, workflow: Workflow, runs: int = LEARN_RUNS
) -> dict[str, LearnedAgent]:
    """Per agent, its calls in the workflow's last ``runs`` journaled runs (blocking).

    A call's latency runs from ``attempt_started`` to its ``step_succeeded``
    or ``attempt_failed``; usage is the mean of the successful calls' tokens.
    """
    latencies: dict[str, list[float]] = defaultdict(list)
    failures: Counter[str] = Counter()
    calls: Counter[str] = Counter()
    tokens: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for record in store.list_runs(limit=runs, workflow=workflow.name):
        started: dict[tuple[str, int, str], float] = {}
        for event in store.read_events(record.run_id):
            kind = event.get("kind")
            agent = event.get("agent", "")
            if agent not in workflow.agents:
                continue
            key = (event.get("step_id", ""), event.get("attempt", 0), agent)
            if kind == "attempt_started":
                started[key] = float(event["at"])
            elif kind == "attempt_failed":
                calls[agent] += 1
                failures[agent] += 1
                duration = event.get("duration")
                if isinstance(duration, int | float) and duration >= 0:
                    latencies[agent].append(float(duration))
            elif kind == "step_succeeded" and key in started and not event.get("degraded"):
                calls[agent] += 1
                latencies[agent].append(max(0.0, float(event["at"]) - started[key]))
                tokens[agent].append(
                    (int(event.get("input_tokens", 0)), int(event.get("output_tokens", 0)))
                )
    out = {}
    for agent, n in calls.items():
        used = tokens.get(agent, [])
        out[agent] = LearnedAgent(
            latencies=tuple(latencies.get(agent, ())),
            calls=n,
            failures=failures[agent],
            input_tokens=round(statistics.fmean(u[0] for u in used)) if used else 0,
            output_tokens=round(statistics.fmean(u[1] for u in used)) if used else 0,
        )
    return out


# -- resolving every agent's model --------------------------------------------------


def resolve_models(
    workflow: Workflow,
    *,
    model_file: Mapping[str, Mapping[str, Any]] | None = None,
    learned: Mapping[str, LearnedAgent] | None = None,
) -> tuple[dict[str, AgentModel], list[str]]:
    """Every agent's model, parameter by parameter, and notes about the inputs.

    Precedence per parameter: the agent's own entry in the model file, then
    what the journal shows of it, then the file's ``*`` entry, then what the
    workflow says: the agent's ``price:``, output tokens from its
    ``expected_output_tokens`` (256 without a price, as a real run reserves)
    and input tokens estimated per call from its inputs.
    """
    model_file = model_file or {}
    learned = learned or {}
    notes = [
        f"model file entry {name!r} matches no agent of the workflow (ignored)"
        for name in model_file
        if name != "*" and name not in workflow.agents
    ]
    star = model_file.get("*", {})
    models: dict[str, AgentModel] = {}
    for name, config in workflow.agents.items():
        own = model_file.get(name, {})
        seen = learned.get(name)
        values: dict[str, Any] = {}
        origins: dict[str, str] = {}
        for key in _AGENT_KEYS:
            if key in own:
                values[key], origins[key] = own[key], "model file"
                continue
            guess = _learned_value(seen, key)
            if guess is not None:
                assert seen is not None
                values[key], origins[key] = guess, f"learned from {seen.calls} calls"
            elif key in star:
                values[key], origins[key] = star[key], "model file (*)"
        # What the model does not say, the workflow does, as a real run estimates it.
        declared = config.price
        if "price" in values:
            values["price"] = _model_price(values["price"], declared)
        elif declared is not None:
            values["price"], origins["price"] = declared, "workflow"
        price = values.get("price")
        if "output_tokens" not in values:
            if price is not None:
                values["output_tokens"] = price.expected_output_tokens
                origins["output_tokens"] = f"expected_output_tokens of the {origins['price']} price"
            else:
                origins["output_tokens"] = "default"
        if "input_tokens" not in values:
            origins["input_tokens"] = ESTIMATED
        for key in ("latency", "failure_rate", "retry_after"):
            origins.setdefault(key, "default")
        models[name] = AgentModel(**values, origins=origins)
    return models, notes


def _learned_value(seen: LearnedAgent | None, key: str) -> Any:
    if seen is None or not seen.calls:
        return None
    if key == "latency":
        if not seen.latencies:
            return None
        return LatencyModel(distribution="empirical", samples=seen.latencies)
    if key == "failure_rate":
        return min(seen.failures / seen.calls, 0.99)
    if key == "input_tokens" and seen.calls > seen.failures:
        return seen.input_tokens
    if key == "output_tokens" and seen.calls > seen.failures:
        return seen.output_tokens
    return None


# -- the modelled agent and workflow -------------------------------------------------


@attrs.define(eq=False)
class ModelledAgent:
    """Sleeps a modelled latency (on the virtual clock), then fails or answers as modelled.

    Each call's draws come from a generator seeded with the call's identity
    (seed, repetition, step, attempt, agent), so a simulation does not depend
    on the order in which trio happens to run tasks woken at the same instant.
    """

    name: str
    model: AgentModel
    seed: str
    capabilities: frozenset[str] = frozenset()

    async def run(self, request: AgentRequest) -> AgentResult:
        rng = random.Random(f"{self.seed}:{request.step_id}:{request.attempt}:{self.name}")
        latency = self.model.latency.draw(rng)
        fails = self.model.failure_rate > 0 and rng.random() < self.model.failure_rate
        await trio.sleep(max(0.0, latency))
        if fails:
            raise RetryableError(
                f"simulated failure of agent {self.name!r}",
                retry_after=self.model.retry_after,
                agent=self.name,
                step_id=request.step_id,
            )
        input_tokens = self.model.input_tokens
        if input_tokens is None:  # as a real run estimates it before the call
            input_tokens = estimate_tokens(request.inputs)
        return AgentResult(
            output={"simulated": True, "step": request.step_id},
            usage=Usage(input_tokens=input_tokens, output_tokens=self.model.output_tokens),
        )

    async def aclose(self) -> None:
        return None


def simulated_workflow(
    workflow: Workflow, models: Mapping[str, AgentModel], inputs: Mapping[str, Any]
) -> tuple[Workflow, list[str]]:
    """The workflow with every agent of kind ``simulated``, and what that assumes.

    Agents keep their limits, breakers, rate limits, prices (unless the model
    sets one) and budgets; options and health checks are dropped. Steps keep
    everything the scheduler decides with, except what reads real outputs.
    A ``with:`` is rendered when it reads only run inputs, and taken as
    written when it reads step outputs: it only sizes a call's input tokens
    (modelled agents ignore their inputs otherwise). A ``when:`` reading step
    outputs is assumed true, and validators are assumed to pass.
    """
    notes: list[str] = []
    agents = {
        name: attrs.evolve(
            config,
            kind=SIM_KIND,
            options={},
            health_check=None,
            price=models[name].price if models[name].price is not None else config.price,
        )
        for name, config in workflow.agents.items()
    }
    steps = {}
    ctx = ExpressionContext(inputs=inputs, steps={})
    for step_id, step in workflow.steps.items():
        changes: dict[str, Any] = {"inputs": _sized_inputs(step_id, step.inputs, ctx, notes)}
        changes["cache"] = None
        condition = step.condition
        if condition is not None:
            if condition.step_refs:
                reads = ", ".join(sorted(condition.step_refs))
                notes.append(
                    f"step {step_id}: assumed when: {condition.source.strip()!r} is true "
                    f"(it reads the output of {reads})"
                )
                changes["condition"] = None
            else:
                try:
                    condition.evaluate(ctx)
                except ExpressionError as exc:
                    notes.append(
                        f"step {step_id}: assumed when: {condition.source.strip()!r} is true "
                        f"(cannot evaluate it: {exc})"
                    )
                    changes["condition"] = None
        if step.validate:
            notes.append(f"step {step_id}: assumed its validators pass")
            changes["validate"] = ()
            changes["min_quality"] = None
        steps[step_id] = attrs.evolve(step, **changes)
    return attrs.evolve(workflow, agents=agents, steps=steps), notes


def _sized_inputs(
    step_id: str, template: ValueTemplate, ctx: ExpressionContext, notes: list[str]
) -> ValueTemplate:
    """A step's ``with:`` as a fixed value: rendered when it reads only inputs, else as written.

    Modelled agents only measure it (their input tokens, as a real run
    estimates them), so the text of an expression stands in for a step
    output it reads.
    """
    value = template.value
    if not template.step_refs:
        try:
            value = template.render(ctx)
        except ExpressionError as exc:
            notes.append(f"step {step_id}: with: sized as written (cannot render it: {exc})")
    return ValueTemplate.static(value if isinstance(value, Mapping) else {})


def simulation_plugins(plugins: Plugins, models: Mapping[str, AgentModel], seed: str) -> Plugins:
    """``plugins``' routers, aggregators and fallbacks, with only the ``simulated`` agent kind.

    No ``cadenza_on_event`` observer is kept: a simulated run's events must
    not reach exporters or notifiers.
    """

    def factory(config: AgentConfig) -> ModelledAgent:
        return ModelledAgent(
            name=config.name,
            model=models[config.name],
            seed=seed,
            capabilities=config.capabilities,
        )

    registrations = dict(plugins.registrations)
    registrations["cadenza_agent_kinds"] = {
        SIM_KIND: Registration(
            hook="cadenza_agent_kinds", name=SIM_KIND, obj=factory, plugin="cadenza simulate"
        )
    }
    return Plugins(pm=new_plugin_manager(), registrations=registrations)


# -- running and reporting -----------------------------------------------------------


@attrs.frozen(kw_only=True)
class StepTiming:
    """When a step started and ended on the virtual clock (mean over the repetitions)."""

    start: float | None
    end: float | None
    attempts: float
    status: str
    """The most common way it ended."""


@attrs.frozen(kw_only=True)
class PathStep:
    """One step of the critical path and the time it waited after its last need ended."""

    step_id: str
    start: float
    end: float
    waited: float


@attrs.frozen(kw_only=True)
class SimulationReport:
    """What :func:`simulate` predicts, and everything it assumed to predict it."""

    workflow: str
    runs: int
    seed: int
    makespans: tuple[float, ...]
    costs: tuple[float, ...]
    tokens: tuple[int, ...]
    statuses: Mapping[str, int]
    steps: Mapping[str, StepTiming]
    critical_path: tuple[PathStep, ...]
    models: Mapping[str, AgentModel]
    assumptions: tuple[str, ...]
    wall_time: float

    @property
    def makespan(self) -> dict[str, float]:
        return _stats(self.makespans)

    @property
    def cost_usd(self) -> dict[str, float]:
        return _stats(self.costs)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (what ``cadenza simulate --json`` prints)."""
        return {
            "workflow": self.workflow,
            "runs": self.runs,
            "seed": self.seed,
            "makespan": {k: round(v, 6) for k, v in self.makespan.items()},
            "cost_usd": {k: round(v, 6) for k, v in self.cost_usd.items()},
            "tokens": {k: round(v, 1) for k, v in _stats([float(t) for t in self.tokens]).items()},
            "run_statuses": dict(self.statuses),
            "critical_path": [attrs.asdict(p) for p in self.critical_path],
            "steps": {sid: attrs.asdict(t) for sid, t in self.steps.items()},
            "agents": {
                name: {
                    "latency": m.latency.describe(),
                    "failure_rate": m.failure_rate,
                    "retry_after": m.retry_after,
                    "input_tokens": m.input_tokens,
                    "output_tokens": m.output_tokens,
                    "price": None if m.price is None else attrs.asdict(m.price),
                    "origins": dict(m.origins),
                }
                for name, m in self.models.items()
            },
            "assumptions": list(self.assumptions),
            "wall_time": round(self.wall_time, 4),
        }


def _stats(values: Sequence[float]) -> dict[str, float]:
    if not values:
        return {"min": 0.0, "median": 0.0, "mean": 0.0, "p95": 0.0, "max": 0.0}
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, math.ceil(0.95 * len(ordered)) - 1)]
    return {
        "min": ordered[0],
        "median": statistics.median(ordered),
        "mean": statistics.fmean(ordered),
        "p95": p95,
        "max": ordered[-1],
    }


def _secs(value: float) -> str:
    if value >= 3600:
        return f"{value / 3600:.3g}h"
    if value >= 60:
        return f"{value / 60:.3g}m"
    return f"{value:.3g}s"


@attrs.define
class _Trace:
    """One repetition's step times on the virtual clock, collected by an observer."""

    start: dict[str, float] = attrs.field(factory=dict)
    end: dict[str, float] = attrs.field(factory=dict)
    status: dict[str, str] = attrs.field(factory=dict)
    attempts: Counter[str] = attrs.field(factory=Counter)

    def observe(self, event: ev.Event) -> None:
        step_id = getattr(event, "step_id", None)
        if step_id is None:
            return
        now = trio.current_time()
        if isinstance(event, ev.AttemptStarted):
            self.start.setdefault(step_id, now)
            self.attempts[step_id] += 1
        elif isinstance(event, ev.StepSucceeded):
            self.end[step_id], self.status[step_id] = now, "succeeded"
        elif isinstance(event, ev.StepFailed):
            self.end[step_id], self.status[step_id] = now, "failed"
        elif isinstance(event, ev.StepSkipped):
            self.end[step_id], self.status[step_id] = now, "skipped"
        elif isinstance(event, ev.StepCancelled):
            self.end[step_id], self.status[step_id] = now, "cancelled"


def simulate(
    workflow: Workflow,
    *,
    plugins: Plugins,
    models: Mapping[str, AgentModel],
    inputs: Mapping[str, Any] | None = None,
    runs: int | None = None,
    seed: int = 0,
    notes: Sequence[str] = (),
) -> SimulationReport:
    """Run ``workflow`` ``runs`` times on the virtual clock with modelled agents.

    ``runs`` defaults to 1 when every model is deterministic (fixed latency,
    no failures), else 20. Blocking: call it outside trio (each repetition is
    its own ``trio.run`` with a ``MockClock``). Never calls a real agent.
    """
    began = time.perf_counter()
    inputs = dict(inputs or {})
    sim, assumed = simulated_workflow(workflow, models, inputs)
    if runs is None:
        runs = 1 if all(m.is_deterministic for m in models.values()) else 20
    traces: list[_Trace] = []
    makespans: list[float] = []
    costs: list[float] = []
    tokens: list[int] = []
    statuses: Counter[str] = Counter()
    for rep in range(runs):
        trace = _Trace()
        sim_plugins = simulation_plugins(plugins, models, seed=f"{seed}:{rep}")

        result = trio.run(
            functools.partial(
                run_workflow,
                sim,
                plugins=sim_plugins,
                inputs=inputs,
                run_id=f"simulated-{rep}",
                observers=[trace.observe],
                rng=random.Random(f"{seed}:{rep}:retries"),
                use_cache=False,
            ),
            clock=trio.testing.MockClock(autojump_threshold=0),
        )
        traces.append(trace)
        makespans.append(result.duration)
        costs.append(result.cost_usd)
        tokens.append(int(result.cost.get("tokens", 0) or 0))
        statuses[result.status] += 1
    steps = _timings(sim, traces)
    median_rep = sorted(range(runs), key=lambda i: makespans[i])[(runs - 1) // 2]
    return SimulationReport(
        workflow=workflow.name,
        runs=runs,
        seed=seed,
        makespans=tuple(makespans),
        costs=tuple(costs),
        tokens=tuple(tokens),
        statuses=dict(statuses),
        steps=steps,
        critical_path=critical_path(sim, traces[median_rep]) if traces else (),
        models=dict(models),
        assumptions=tuple(_model_notes(models)) + tuple(notes) + tuple(assumed),
        wall_time=time.perf_counter() - began,
    )


def _model_notes(models: Mapping[str, AgentModel]) -> list[str]:
    out = []
    for name, m in models.items():
        in_origin = m.origins.get("input_tokens", "default")
        out_origin = m.origins.get("output_tokens", "default")
        if m.input_tokens is not None and in_origin == out_origin:
            tokens = [f"tokens {m.input_tokens} in / {m.output_tokens} out ({in_origin})"]
        else:
            tokens = [
                f"input tokens {ESTIMATED}"
                if m.input_tokens is None
                else f"input tokens {m.input_tokens} ({in_origin})",
                f"output tokens {m.output_tokens} ({out_origin})",
            ]
        parts = [
            f"latency {m.latency.describe()} ({m.origins.get('latency', 'default')})",
            f"failure rate {m.failure_rate:g} ({m.origins.get('failure_rate', 'default')})",
            *tokens,
        ]
        if m.retry_after is not None:
            parts.append(f"retry_after {m.retry_after:g}s ({m.origins['retry_after']})")
        if m.price is not None:
            parts.append(f"price {_describe_price(m.price)} ({m.origins.get('price', 'default')})")
        out.append(f"agent {name}: " + ", ".join(parts))
    if any(m.input_tokens is None for m in models.values()):
        out.append(
            "input tokens not modelled are estimated per call from its with:, as a real run "
            "estimates them (one token per 4 characters); a with: reading step outputs is "
            "measured as written"
        )
    return out


def _describe_price(price: Price) -> str:
    """``$0.003/1k in, $0.015/1k out, $0.001/call``: the non-zero parts of a price."""
    parts = [
        f"${price.input_per_1k:g}/1k in" if price.input_per_1k else "",
        f"${price.output_per_1k:g}/1k out" if price.output_per_1k else "",
        f"${price.per_call:g}/call" if price.per_call else "",
    ]
    return ", ".join(p for p in parts if p) or "free"


def _timings(workflow: Workflow, traces: Sequence[_Trace]) -> dict[str, StepTiming]:
    out = {}
    for step_id in workflow.steps:
        starts = [t.start[step_id] for t in traces if step_id in t.start]
        ends = [t.end[step_id] for t in traces if step_id in t.end]
        ended = Counter(t.status.get(step_id, "unfinished") for t in traces)
        out[step_id] = StepTiming(
            start=statistics.fmean(starts) if starts else None,
            end=statistics.fmean(ends) if ends else None,
            attempts=statistics.fmean(t.attempts[step_id] for t in traces) if traces else 0.0,
            status=ended.most_common(1)[0][0] if ended else "unfinished",
        )
    return out


def critical_path(workflow: Workflow, trace: _Trace) -> tuple[PathStep, ...]:
    """The chain through ``needs`` that ended last: from the last step back to a root.

    Each step's predecessor is its need that ended latest; ``waited`` is the
    time between that end and the step's start (queued for capacity, or
    backing off before a retry).
    """
    ran = [s for s in workflow.steps if s in trace.start and s in trace.end]
    if not ran:
        return ()
    current: str | None = max(ran, key=lambda s: (trace.end[s], -list(workflow.steps).index(s)))
    path: list[PathStep] = []
    while current is not None:
        needs = [n for n in workflow.steps[current].needs if n in trace.end]
        previous = max(needs, key=lambda n: trace.end[n]) if needs else None
        ready = trace.end[previous] if previous is not None else 0.0
        start = trace.start.get(current, trace.end[current])
        path.append(
            PathStep(
                step_id=current,
                start=start,
                end=trace.end[current],
                waited=max(0.0, start - ready),
            )
        )
        current = previous if previous is not None and previous in trace.start else None
    return tuple(reversed(path))


def render_report(report: SimulationReport) -> str:
    """The text ``cadenza simulate`` prints."""
    m, c = report.makespan, report.cost_usd
    lines = [f"simulated workflow {report.workflow}: {report.runs} run(s), seed {report.seed}"]
    if report.runs == 1:
        lines.append(f"  makespan  {_secs(m['median'])} ({m['median']:.3f}s)")
        lines.append(f"  cost      ${c['median']:.4f}")
    else:
        lines.append(
            f"  makespan  median {_secs(m['median'])}, mean {_secs(m['mean'])}, "
            f"min {_secs(m['min'])}, p95 {_secs(m['p95'])}"
        )
        lines.append(f"  cost      median ${c['median']:.4f}, p95 ${c['p95']:.4f}")
    statuses = ", ".join(f"{n} {s}" for s, n in sorted(report.statuses.items()))
    lines.append(f"  runs      {statuses}")
    lines.append("critical path (the median run):")
    for p in report.critical_path:
        wait = f"  (waited {_secs(p.waited)})" if p.waited > 1e-9 else ""
        lines.append(f"  {p.step_id:<24} {p.start:>10.2f}s → {p.end:>10.2f}s{wait}")
    lines.append("assumptions:")
    lines.extend(f"  - {note}" for note in report.assumptions)
    lines.append(f"simulated in {report.wall_time:.3f}s of wall time")
    return "\n".join(lines)
