"""The validated, immutable shape of a workflow: what the scheduler runs.

The loader (``_loader``) turns YAML in either supported format into these
classes; nothing else builds them from files. Durations are float seconds.
"""

from __future__ import annotations

import json
import random
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import attrs

from .._problems import SourceLocation
from ._approval import ApprovalPolicy
from ._cost import Budget, Price
from ._duration import Duration as Duration
from ._duration import parse_duration as parse_duration
from ._executors import DEFAULT_EXECUTOR, ExecutorSpec, executor_spec
from ._policies import BreakerPolicy, RateLimitPolicy

if TYPE_CHECKING:
    from .._expr._expressions import Condition, ValueTemplate

OptionsT = TypeVar("OptionsT")
"""The options class an agent kind asks :meth:`AgentConfig.options_as` for."""


def _positive(instance: object, attribute: attrs.Attribute[Any], value: float | None) -> None:
    if value is not None and value <= 0:
        raise ValueError(f"{attribute.name} must be > 0, got {value!r}")


@attrs.frozen(kw_only=True)
class RetryPolicy:
    """How often and how patiently a step is retried.

    ``max_attempts`` counts every attempt, the first included (the seed format's
    ``max_retries: 3`` means ``max_attempts: 4``). The delay before attempt
    ``n + 1`` is drawn with *full jitter*: uniform in ``[0, min(max_backoff,
    backoff * multiplier ** (n - 1))]`` (AWS architecture blog, "Exponential
    Backoff And Jitter"), so a fleet of retries does not stampede a provider.
    """

    max_attempts: int = attrs.field(default=3, validator=attrs.validators.ge(1))
    backoff: float = attrs.field(default=1.0, validator=attrs.validators.ge(0))
    max_backoff: float = attrs.field(default=60.0, validator=attrs.validators.ge(0))
    multiplier: float = attrs.field(default=2.0, validator=attrs.validators.ge(1))
    jitter: Literal["full", "none"] = "full"
    count_rate_limited: bool = False
    max_rate_limited: int = attrs.field(default=20, validator=attrs.validators.ge(0))

    def delay(self, failed_attempts: int, rng: random.Random) -> float:
        """Seconds to wait after ``failed_attempts`` failures (>= 1) before the next try."""
        ceiling = min(self.max_backoff, self.backoff * self.multiplier ** (failed_attempts - 1))
        if self.jitter == "none":
            return ceiling
        return rng.uniform(0.0, ceiling)


@attrs.frozen(kw_only=True)
class CachePolicy:
    """``cache:`` on a step: reuse an earlier output for identical work.

    Identical means the same agent kind, agent options (secrets excluded),
    ``uses`` and resolved inputs. ``ttl`` (seconds) bounds the age of a reused
    output; None keeps outputs until the journal is deleted.
    """

    ttl: float | None = attrs.field(default=None, validator=_positive)


@attrs.frozen(kw_only=True)
class HealthCheckPolicy:
    """``health_check:`` of an agent: call its ``health()`` every ``interval`` seconds.

    Off unless configured (probes cost the provider something); while the
    check fails the agent takes no calls.
    """

    interval: Duration = attrs.field(default=Duration(30.0), validator=_positive)


@attrs.frozen(kw_only=True)
class FallbackSpec:
    """One entry of a step's ``fallback:`` list: another agent, or a named strategy.

    Tried in order once the step's own attempts are exhausted; whatever a
    fallback produces is marked degraded, with this entry as its source.
    """

    agent: str | None = None
    strategy: str | None = None
    options: Mapping[str, Any] = attrs.field(factory=dict)

    @property
    def label(self) -> str:
        return f"agent {self.agent}" if self.agent else f"{self.strategy}"


@attrs.frozen(kw_only=True)
class StrategySpec:
    """A named strategy with its options: ``route:``, ``aggregate:`` or a ``validate:`` item.

    ``name`` is what the plugin registered (``cheapest``, ``majority_vote``,
    ``json_schema``); ``options`` the rest of the mapping, already checked by
    the strategy's factory when the file loaded. ``route_key`` is a ``route:``
    mapping's compiled ``key:`` (``"${{ inputs.customer }}"``), rendered per
    call into :attr:`RouteRequest.key <cadenza.strategies.RouteRequest.key>`;
    it is not an option, so the factory never sees it (None: no key).
    """

    name: str
    options: Mapping[str, Any] = attrs.field(factory=dict)
    route_key: ValueTemplate | None = None

    @property
    def key(self) -> str:
        """Identity of name and options, so equal specs share one strategy object per run."""
        return self.name + json.dumps(self.options, sort_keys=True, default=str)


DEFAULT_ROUTE = StrategySpec(name="least_busy")
DEFAULT_AGGREGATE = StrategySpec(name="majority_vote")


@attrs.frozen(kw_only=True)
class InputSpec:
    """A run input: ``--set name=value`` on the command line overrides ``default``."""

    name: str
    default: Any = None
    required: bool = False
    description: str = ""


@attrs.frozen(kw_only=True)
class AgentConfig:
    """One configured agent: which kind serves it, with which options and limits.

    ``breaker`` enables a circuit breaker for the agent (see ``_breaker``);
    ``rate_limit`` bounds its requests and tokens per minute (``_ratelimit``).
    ``tags``, ``weight`` and ``price`` are what routers and aggregators weigh;
    ``budget`` bounds what this agent may spend in one run.

    ``options`` is the kind's own options object (an attrs class the kernel's
    converter structured) or a plain mapping for kinds without one. ``secrets``
    holds the resolved values of secret fields (``api_key``, ``${ENV}``
    references) so every output channel can redact them.
    """

    name: str
    kind: str
    options: Any = attrs.field(factory=dict, repr=False)
    max_concurrent: int | None = attrs.field(default=None, validator=_positive)
    capabilities: frozenset[str] = frozenset()
    secrets: frozenset[str] = attrs.field(default=frozenset(), repr=False)
    base_dir: Path = Path()
    breaker: BreakerPolicy | None = None
    rate_limit: RateLimitPolicy | None = None
    health_check: HealthCheckPolicy | None = None
    tags: frozenset[str] = frozenset()
    weight: float = attrs.field(default=1.0, validator=attrs.validators.ge(0.0))
    price: Price | None = None
    budget: Budget | None = None
    location: SourceLocation | None = attrs.field(default=None, eq=False)
    executor: str = DEFAULT_EXECUTOR
    """Name of the executor the agent runs its work on (``executor:``; see ``executors:``).

    Agents get the run's executor of that name with
    :func:`cadenza.plugins.executor_for`.
    """
    plugin_config: Any = attrs.field(default=None, repr=False)
    """The configuration of the plugin that registered ``kind`` (``cadenza_plugin_config``).

    None when that plugin declares none, or is not configured and its class has
    required fields. Set by the loader (docs/plugin-configuration.md).
    """

    def options_as(self, cls: type[OptionsT]) -> OptionsT:
        """``options`` as the kind's options class ``cls``, checked, for ``from_config``.

        ``AgentFactory.from_config`` calls ``config.options_as(MyOptions)`` instead of
        checking the type itself. Raises TypeError naming the agent, the class asked for
        and the one it got: the kind was registered with another options class, or a
        test built the config by hand with a mapping.

        .. versionadded:: 0.2
        """
        options = self.options
        if not isinstance(options, cls):
            raise TypeError(
                f"agent {self.name!r}: options must be {cls.__name__}, got {type(options).__name__}"
            )
        return options


@attrs.frozen(kw_only=True)
class Step:
    """One node of the DAG.

    ``uses`` names an agent or a capability served by one or more agents.
    ``inputs`` is the compiled ``with:`` mapping; ``condition`` the compiled
    ``when:``. ``if_needs_skipped`` says what happens when a needed step was
    skipped by its ``when:`` (a *failed* need always skips its dependents).
    ``cache`` (when set) lets the step reuse an earlier identical output.
    ``timeout`` bounds each attempt; ``total_timeout`` all attempts and the
    waits between them. ``fallback`` lists what to try, in order, when every
    attempt failed.

    ``route`` picks the agent (None: the workflow's default). ``fan_out``
    makes a multi-agent step: an int asks the router for that many distinct
    agents, a tuple names them; ``aggregate`` combines their answers and
    ``on_conflict`` (``fail``, ``best``, ``judge`` with ``judge`` naming an
    agent) settles disagreement. ``validate`` scores outputs; below
    ``min_quality`` an attempt fails. ``budget`` bounds the step's spend.

    ``for_each`` (a compiled expression giving a list) runs the step once per
    item, each item its own journaled unit (``build[3]``) with ``item`` and
    ``index`` in its ``with:`` and ``when:``; at most ``max_parallel`` items
    are in flight, and ``on_item_failure`` says whether a failed item fails
    the step (``fail``) or leaves a null in its output (``skip``, degraded).

    ``approval`` (when set) makes the step wait, holding no slot, for a
    person's decision once its needs are met and its ``when:`` holds.
    """

    id: str
    uses: str
    inputs: ValueTemplate
    needs: tuple[str, ...] = ()
    priority: int = 0
    condition: Condition | None = None
    retry: RetryPolicy = RetryPolicy()
    timeout: float | None = attrs.field(default=None, validator=_positive)
    total_timeout: float | None = attrs.field(default=None, validator=_positive)
    if_needs_skipped: Literal["skip", "run"] = "skip"
    cache: CachePolicy | None = None
    fallback: tuple[FallbackSpec, ...] = ()
    route: StrategySpec | None = None
    fan_out: int | tuple[str, ...] | None = None
    aggregate: StrategySpec = DEFAULT_AGGREGATE
    on_conflict: Literal["fail", "best", "judge"] = "fail"
    judge: str | None = None
    validate: tuple[StrategySpec, ...] = ()
    min_quality: float | None = attrs.field(
        default=None,
        validator=attrs.validators.optional(
            attrs.validators.and_(attrs.validators.ge(0.0), attrs.validators.le(1.0))
        ),
    )
    budget: Budget | None = None
    for_each: ValueTemplate | None = None
    max_parallel: int | None = attrs.field(default=None, validator=_positive)
    on_item_failure: Literal["fail", "skip"] = "fail"
    workflow: Workflow | None = None
    """The sub-workflow a ``workflow:`` step runs instead of calling an agent (``uses`` is "")."""
    approval: ApprovalPolicy | None = None
    location: SourceLocation | None = attrs.field(default=None, eq=False)

    @property
    def quality_threshold(self) -> float:
        """The score an output needs: ``min_quality``, or 1.0 when validators are listed."""
        return 1.0 if self.min_quality is None else self.min_quality


@attrs.frozen(kw_only=True)
class Workflow:
    """A validated workflow, ready to run.

    ``steps`` keeps file order. ``concurrency`` bounds in-flight attempts over
    the whole run; each agent's ``max_concurrent`` bounds its own.
    ``fail_fast`` cancels the run at the first final step failure instead of
    skipping only the failed step's dependents. ``route`` is the routing
    strategy of steps that name none; ``budget`` bounds the run's spend.
    ``source_text`` is the file as loaded, kept so a resumed run can show what
    changed since it started. ``plugin_config`` holds each configured plugin's
    configuration object by plugin name (``plugins:`` over the project file);
    ``plugin_secrets`` the values expanded from ``${NAME}`` in it, for redaction.

    Equality is about what runs, not where it was written: ``source``,
    ``source_hash`` and ``source_text`` (and each step's and agent's
    ``location``) say where a workflow came from, so the same workflow loaded
    from YAML and built in Python (``cadenza.workflow``) compares equal.
    """

    name: str
    steps: Mapping[str, Step]
    agents: Mapping[str, AgentConfig]
    inputs: Mapping[str, InputSpec] = attrs.field(factory=dict)
    concurrency: int = attrs.field(default=16, validator=attrs.validators.ge(1))
    fail_fast: bool = False
    deadline: float | None = attrs.field(default=None, validator=_positive)
    route: StrategySpec = DEFAULT_ROUTE
    budget: Budget | None = None
    description: str = ""
    source: Path | None = attrs.field(default=None, eq=False)
    source_hash: str = attrs.field(default="", eq=False)
    source_text: str = attrs.field(default="", repr=False, eq=False)
    plugin_config: Mapping[str, Any] = attrs.field(factory=dict, repr=False)
    plugin_secrets: frozenset[str] = attrs.field(default=frozenset(), repr=False)
    executors: Mapping[str, ExecutorSpec] = attrs.field(factory=dict, repr=False)
    """The ``executors:`` the file declares; ``local`` and ``process`` exist without it."""

    def executor_spec(self, name: str) -> ExecutorSpec | None:
        """The executor ``name`` as this workflow configures it (None: no such executor)."""
        return executor_spec(self.executors, name)

    def agents_for(self, uses: str) -> tuple[str, ...]:
        """Names of the agents that can serve ``uses`` (an agent name or a capability)."""
        if uses in self.agents:
            return (uses,)
        return tuple(name for name, a in self.agents.items() if uses in a.capabilities)

    @property
    def secrets(self) -> frozenset[str]:
        """Every secret value of every agent and of the plugins' configuration, for redaction."""
        out: set[str] = set(self.plugin_secrets)
        for agent in self.agents.values():
            out |= agent.secrets
        for executor in self.executors.values():
            out |= executor.secrets
        for step in self.steps.values():
            if step.workflow is not None:  # a sub-workflow's output may carry its secrets
                out |= step.workflow.secrets
        return frozenset(out)
