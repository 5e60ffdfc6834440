"""The native workflow format: top-level ``steps:`` and ``agents:`` mappings.

One file is one workflow (docs/workflow-reference.md)::

    name: report
    inputs: {topic: trio, review: false}
    defaults: {retry: 3, timeout: 5m}
    agents:
      writer: {kind: http, capabilities: [documentation], options: {...}}
    steps:
      draft: {uses: writer, with: {prompt: "About ${{ inputs.topic }}"}}
      review: {uses: documentation, needs: [draft], when: inputs.review}

This module reads each section into specs and step drafts, reporting every
problem through the :class:`~cadenza._load._context.LoadContext`; the checks
that span steps are ``_load_checks``'s.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

import attrs

from .._paths import ValuePath
from .._plugins._checks import check_made
from .._spec._convert import describe_value, structure, suggest
from .._spec._executors import DEFAULT_EXECUTOR
from .._spec._policies import BreakerPolicy, RateLimitPolicy
from .._spec._workflow import (
    AgentConfig,
    CachePolicy,
    FallbackSpec,
    HealthCheckPolicy,
    InputSpec,
    RetryPolicy,
    Workflow,
)
from ._agents import LoadedAgents, agent_options, report_unknown_kind
from ._approval import APPROVAL_KEYS, read_approval
from ._checks import StepDraft, finish_steps
from ._context import LoadContext
from ._executors import check_agent_executors, read_executors
from ._for_each import FOR_EACH_KEYS, read_for_each
from ._strategies import (
    AGENT_KEYS,
    STEP_KEYS,
    agent_extras,
    apply_step_extras,
    workflow_extras,
)
from ._subworkflow import AGENT_ONLY_KEYS

T = TypeVar("T")

__all__ = ["NativeFormat"]

_NATIVE_KEYS = (
    "name",
    "description",
    "inputs",
    "concurrency",
    "fail_fast",
    "deadline",
    "route",
    "budget",
    "defaults",
    "agents",
    "steps",
    "plugins",
    "executors",
)
_INPUT_KEYS = ("default", "description", "required")
_DEFAULTS_KEYS = ("retry", "timeout", "total_timeout", "cache")
_RETRY_KEYS = (
    "max_attempts",
    "backoff",
    "max_backoff",
    "multiplier",
    "jitter",
    "count_rate_limited",
    "max_rate_limited",
)
_CACHE_KEYS = ("ttl",)
_AGENT_KEYS = (
    "kind",
    "capabilities",
    "max_concurrent",
    "breaker",
    "rate_limit",
    "health_check",
    "executor",
    *AGENT_KEYS,
    "options",
)
_STEP_KEYS = (
    "uses",
    "with",
    "needs",
    "priority",
    "when",
    "retry",
    "timeout",
    "total_timeout",
    "if_needs_skipped",
    "cache",
    "fallback",
    *STEP_KEYS,
    *FOR_EACH_KEYS,
    "workflow",
    *APPROVAL_KEYS,
    "description",
)


@attrs.define
class NativeFormat:
    """Reads a native-format file: one workflow, its inputs, defaults, agents and steps."""

    ctx: LoadContext
    caches: dict[str, CachePolicy | None] = attrs.field(factory=dict, init=False)
    """Each step's ``cache:`` policy, by step id (step drafts do not carry it)."""
    total_timeouts: dict[str, float | None] = attrs.field(factory=dict, init=False)
    """Each step's ``total_timeout:``, by step id (step drafts do not carry it)."""
    fallbacks: dict[str, Any] = attrs.field(factory=dict, init=False)
    """Each step's raw ``fallback:`` list, checked once the agents are known."""
    extras: dict[str, Mapping[Any, Any]] = attrs.field(factory=dict, init=False)
    """Each step's routing, aggregation, validation and budget keys, read once steps exist."""

    def load(
        self,
        data: Mapping[Any, Any],
        *,
        select: str | None,
        default_name: str,
        common: dict[str, Any],
    ) -> tuple[dict[str, Workflow], tuple[str, ...]]:
        """The file's one workflow, keyed by its name; ``select``, if given, must be that name."""
        ctx = self.ctx
        ctx.keys(data, (), _NATIVE_KEYS, "at the top level")
        name = ctx.string(data, "name", ()) or default_name
        if select is not None and select != name:
            hint = suggest(select, [name]) + f"This file defines one workflow, {name!r}."
            ctx.error(("name",), f"no workflow named {select!r} in this file", hint)
        description = ctx.string(data, "description", ()) or ""
        inputs = self.inputs(data.get("inputs"), ("inputs",))
        concurrency = ctx.integer(
            data,
            "concurrency",
            (),
            default=16,
            minimum=1,
            hint="concurrency bounds attempts in flight over the whole run; use 1 or more.",
        )
        fail_fast = ctx.boolean(data, "fail_fast", (), default=False)
        deadline = None
        if data.get("deadline") is not None:
            deadline = ctx.duration(data["deadline"], ("deadline",), allow_zero=False)
        retry, timeout, cache = RetryPolicy(), None, None
        total_timeout = None
        if data.get("defaults") is not None:
            defaults = ctx.mapping(data["defaults"], ("defaults",), "defaults")
            if defaults is not None:
                ctx.keys(defaults, ("defaults",), _DEFAULTS_KEYS, "in defaults")
                if "retry" in defaults:
                    retry = _retry(ctx, defaults["retry"], ("defaults", "retry"), retry)
                if defaults.get("timeout") is not None:
                    timeout = ctx.duration(
                        defaults["timeout"], ("defaults", "timeout"), allow_zero=False
                    )
                if "cache" in defaults:
                    cache = _cache(ctx, defaults["cache"], ("defaults", "cache"))
                if defaults.get("total_timeout") is not None:
                    total_timeout = ctx.duration(
                        defaults["total_timeout"], ("defaults", "total_timeout"), allow_zero=False
                    )
        executors = read_executors(ctx, data.get("executors"))
        agents = self.agents(data.get("agents"))
        check_agent_executors(
            ctx, agents.configs, executors, data.get("executors"), by_kind=agents.kind_executors
        )
        drafts = self.steps(data, retry=retry, timeout=timeout, cache=cache)
        steps = finish_steps(
            ctx, drafts, agents=agents, inputs=inputs, steps_path=("steps",), seed=False
        )
        for step_id, policy in self.caches.items():
            if policy is not None and step_id in steps:
                steps[step_id] = attrs.evolve(steps[step_id], cache=policy)
        for step_id in steps:
            total = self.total_timeouts.get(step_id, total_timeout)
            if total is not None:
                steps[step_id] = attrs.evolve(steps[step_id], total_timeout=total)
        for step_id, raw in self.fallbacks.items():
            entries = _fallbacks(ctx, raw, ("steps", step_id, "fallback"), agents)
            if entries and step_id in steps:
                steps[step_id] = attrs.evolve(steps[step_id], fallback=entries)
        top = workflow_extras(ctx, data)
        apply_step_extras(ctx, steps, self.extras, agents.configs, top.get("route"), inputs=inputs)
        workflow = Workflow(
            name=name,
            steps=steps,
            agents=agents.configs,
            inputs=inputs,
            concurrency=concurrency,
            fail_fast=fail_fast,
            deadline=deadline,
            description=description,
            executors=executors,
            **top,
            **common,
        )
        return {name: workflow}, (name,)

    def inputs(self, value: Any, path: ValuePath) -> dict[str, InputSpec]:
        """``inputs:``, each ``name: default`` or ``name: {default, description, required}``."""
        ctx = self.ctx
        if value is None:
            return {}
        section = ctx.mapping(
            value, path, "inputs", "Write inputs as name: default, or name: {default: ...}."
        )
        if section is None:
            return {}
        out: dict[str, InputSpec] = {}
        for key, spec in section.items():
            name = ctx.name_key(key, (*path, key), "an input name")
            if name is None:
                continue
            where = (*path, key)
            if isinstance(spec, Mapping) and any(k in spec for k in _INPUT_KEYS):
                ctx.keys(spec, where, _INPUT_KEYS, f"in input {name!r}")
                required = ctx.boolean(spec, "required", where, default=False)
                if required and "default" in spec:
                    ctx.error(
                        (*where, "required"),
                        f"input {name!r} is required but also has a default",
                        "Remove required: true (the default is used when --set is not given) "
                        "or remove the default.",
                    )
                out[name] = InputSpec(
                    name=name,
                    default=spec.get("default"),
                    required=required,
                    description=ctx.string(spec, "description", where) or "",
                )
            else:
                out[name] = InputSpec(name=name, default=spec)
        return out

    def agents(self, value: Any) -> LoadedAgents:
        """``agents:``, name -> {kind, capabilities, max_concurrent, options}, env expanded."""
        ctx = self.ctx
        result = LoadedAgents()
        if value is None:
            return result
        section = ctx.mapping(
            value,
            ("agents",),
            "agents",
            "Write agents as a mapping: name -> {kind: ..., options: ...}.",
        )
        if section is None:
            ctx.malformed.add(("agents",))
            return result
        for key, raw in section.items():
            path = ("agents", key)
            name = ctx.name_key(key, path, "an agent name")
            if name is None:
                continue
            result.serves[name] = set()
            spec = ctx.mapping(
                raw,
                path,
                f"agent {name!r}",
                "Give it at least kind: (http, python, template, ...).",
            )
            if spec is None:
                continue
            secrets: set[str] = set()
            spec = ctx.expand_env(spec, path, secrets)
            ctx.keys(spec, path, _AGENT_KEYS, f"in agent {name!r}")
            known = ", ".join(sorted(ctx.plugins.agent_kinds)) or "none registered"
            kind = ctx.string(spec, "kind", path, required=f"Add kind: one of {known}.")
            caps = {
                c
                for c, _ in ctx.names(
                    spec.get("capabilities"), (*path, "capabilities"), "capabilities"
                )
            }
            reg = ctx.plugins.agent_kinds.get(kind) if kind is not None else None
            if kind is not None and reg is None:
                report_unknown_kind(ctx, kind, (*path, "kind"))
            if reg is not None:
                caps |= reg.capabilities
            result.serves[name] = caps
            max_concurrent: int | None = None
            if spec.get("max_concurrent") is not None:
                max_concurrent = ctx.integer(
                    spec,
                    "max_concurrent",
                    path,
                    default=1,
                    minimum=1,
                    hint="max_concurrent is how many calls this agent takes at once; "
                    "leave it out for no limit.",
                )
            breaker = None
            if spec.get("breaker") is not None:
                breaker = _policy(ctx, spec["breaker"], (*path, "breaker"), BreakerPolicy)
            health_check = None
            if spec.get("health_check") is not None:
                health_check = _policy(
                    ctx, spec["health_check"], (*path, "health_check"), HealthCheckPolicy
                )
            rate_limit = None
            if spec.get("rate_limit") is not None:
                rate_limit = _policy(
                    ctx, spec["rate_limit"], (*path, "rate_limit"), RateLimitPolicy
                )
            if reg is None or kind is None:
                continue
            executor = ctx.string(spec, "executor", path)
            if not executor and reg.default_executor:
                result.kind_executors.add(name)
            executor = executor or reg.default_executor or DEFAULT_EXECUTOR
            options = agent_options(
                ctx, kind=kind, data=spec.get("options"), path=(*path, "options")
            )
            if options is None:
                continue
            result.configs[name] = AgentConfig(
                name=name,
                kind=kind,
                options=options,
                max_concurrent=max_concurrent,
                breaker=breaker,
                rate_limit=rate_limit,
                health_check=health_check,
                capabilities=frozenset(caps),
                secrets=frozenset(secrets),
                base_dir=ctx.base_dir,
                location=ctx.loc(path, key=True),
                executor=executor,
                **agent_extras(ctx, spec, path),
            )
        return result

    def steps(
        self,
        data: Mapping[Any, Any],
        *,
        retry: RetryPolicy,
        timeout: float | None,
        cache: CachePolicy | None = None,
    ) -> list[StepDraft]:
        """``steps:``, step id -> step, each read into a draft over the file's defaults."""
        ctx = self.ctx
        ctx.malformed.add(("steps",))  # until proven otherwise
        if "steps" not in data:
            ctx.error(
                (),
                "missing required key 'steps'",
                "Add steps: a mapping of step id -> {uses: ...}.",
            )
            return []
        value = data["steps"]
        if isinstance(value, list):
            ctx.error(
                ("steps",),
                "steps must be a mapping of step id -> step, got a list",
                "Write steps: {build: {uses: writer}}; the list form with name: and "
                "agent_type: belongs to the seed format under workflows:.",
            )
            return []
        section = (
            ctx.mapping(value, ("steps",), "steps", "Write steps: {build: {uses: writer}}.")
            if value is not None
            else {}
        )
        if section is None:
            return []
        ctx.malformed.discard(("steps",))
        drafts = []
        for key, raw in section.items():
            path = ("steps", key)
            step_id = ctx.name_key(key, path, "a step id")
            if step_id is None:
                continue
            spec = ctx.mapping(
                raw, path, f"step {step_id!r}", "Give it at least uses: <agent or capability>."
            )
            if spec is None:
                continue
            ctx.keys(spec, path, _STEP_KEYS, f"in step {step_id!r}")
            drafts.append(self.step(step_id, spec, path, retry=retry, timeout=timeout))
            self.extras[step_id] = {k: spec[k] for k in STEP_KEYS if k in spec}
            self.caches[step_id] = (
                _cache(ctx, spec["cache"], (*path, "cache")) if "cache" in spec else cache
            )
        return drafts

    def step(
        self,
        step_id: str,
        spec: Mapping[Any, Any],
        path: ValuePath,
        *,
        retry: RetryPolicy,
        timeout: float | None,
    ) -> StepDraft:
        """One step read into a draft; its own ``retry:`` and ``timeout:`` override the defaults."""
        ctx = self.ctx
        uses = None
        if spec.get("workflow") is None:
            uses = ctx.string(
                spec,
                "uses",
                path,
                required="Add uses: <an agent name or a capability>, or workflow: <a file>.",
            )
        elif "uses" in spec:
            ctx.error(
                (*path, "uses"),
                "a step has uses: (an agent call) or workflow: (a sub-workflow), not both",
                "Remove one of them.",
            )
        else:
            for key in AGENT_ONLY_KEYS:
                if key in spec:
                    ctx.error(
                        (*path, key),
                        f"{key} applies to agent calls; a workflow: step runs a sub-workflow",
                        f"Remove {key}, or set it on the sub-workflow's steps.",
                    )
        with_value = spec.get("with")
        if with_value is None:
            with_value = {}
        elif not isinstance(with_value, Mapping):
            ctx.error(
                (*path, "with"),
                f"with must be a mapping of input name -> value, got {describe_value(with_value)}",
                "Write with: {prompt: 'Summarise ${{ steps.fetch.output }}'}.",
            )
            with_value = {}
        when = self.when(spec, path)
        if "retry" in spec:
            retry = _retry(ctx, spec["retry"], (*path, "retry"), retry)
        if "timeout" in spec:
            timeout = (
                None
                if spec["timeout"] is None
                else ctx.duration(spec["timeout"], (*path, "timeout"), allow_zero=False)
            )
        if spec.get("fallback") is not None:
            self.fallbacks[step_id] = spec["fallback"]
        if "total_timeout" in spec:
            self.total_timeouts[step_id] = (
                None
                if spec["total_timeout"] is None
                else ctx.duration(spec["total_timeout"], (*path, "total_timeout"), allow_zero=False)
            )
        mode = spec.get("if_needs_skipped", "skip")
        if mode not in ("skip", "run"):
            ctx.error(
                (*path, "if_needs_skipped"),
                f"if_needs_skipped must be 'skip' or 'run', got {describe_value(mode)}",
                "skip (the default) skips this step when a needed step was skipped by its when:; "
                "run runs it anyway.",
            )
            mode = "skip"
        return StepDraft(
            id=step_id,
            location=ctx.loc(path, key=True),
            uses=uses,
            uses_path=(*path, "uses"),
            needs=ctx.names(spec.get("needs"), (*path, "needs"), "needs"),
            with_value=with_value,
            with_path=(*path, "with"),
            when=when,
            when_path=(*path, "when"),
            priority=ctx.integer(spec, "priority", path, default=0),
            retry=retry,
            timeout=timeout,
            if_needs_skipped=mode,
            for_each=read_for_each(ctx, spec, path),
            workflow=spec.get("workflow"),
            approval=read_approval(ctx, spec, path),
        )

    def when(self, spec: Mapping[Any, Any], path: ValuePath) -> str | None:
        """``when:`` as expression text; a YAML ``true``/``false`` is accepted as its text."""
        value = spec.get("when")
        if value is None:
            return None
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, str):
            return value
        self.ctx.error(
            (*path, "when"),
            f"when must be an expression string, got {describe_value(value)}",
            'Write when: "inputs.publish" (a CEL expression).',
        )
        return None


def _cache(ctx: LoadContext, value: Any, path: ValuePath) -> CachePolicy | None:
    """``cache:`` as ``true``/``false``/``null`` or a mapping ``{ttl: <duration>}``."""
    if value is None or value is False:
        return None
    if value is True:
        return CachePolicy()
    if not isinstance(value, Mapping):
        ctx.error(
            path,
            f"cache must be true, false or a mapping, got {describe_value(value)}",
            "Write cache: true (reuse outputs with no age limit) or cache: {ttl: 1h}.",
        )
        return None
    ctx.keys(value, path, _CACHE_KEYS, "in cache")
    ttl = None
    if value.get("ttl") is not None:
        ttl = ctx.duration(value["ttl"], (*path, "ttl"), allow_zero=False)
        if ttl is None:
            return None
    return CachePolicy(ttl=ttl)


def _retry(ctx: LoadContext, value: Any, path: ValuePath, base: RetryPolicy) -> RetryPolicy:
    """``retry:`` as an int (max_attempts) or a mapping, merged over ``base``."""
    if isinstance(value, int) and not isinstance(value, bool):
        if value < 1:
            ctx.error(
                path,
                f"max_attempts must be at least 1, got {value}",
                "Use retry: 1 for no retries.",
            )
            return base
        return attrs.evolve(base, max_attempts=value)
    retry = ctx.mapping(
        value,
        path,
        "retry",
        "Write retry: 3 (max attempts) or retry: {max_attempts: 3, backoff: 1s}.",
    )
    if retry is None:
        return base
    ctx.keys(retry, path, _RETRY_KEYS, "in retry")
    changes: dict[str, Any] = {}
    if "max_attempts" in retry:
        changes["max_attempts"] = ctx.integer(
            retry,
            "max_attempts",
            path,
            default=base.max_attempts,
            minimum=1,
            hint="max_attempts counts every attempt, the first included: 1 means no retries.",
        )
    for key in ("backoff", "max_backoff"):
        if key in retry:
            seconds = ctx.duration(retry[key], (*path, key))
            if seconds is not None:
                changes[key] = seconds
    if "multiplier" in retry:
        mult = retry["multiplier"]
        if not isinstance(mult, int | float) or isinstance(mult, bool) or not mult >= 1:
            ctx.error(
                (*path, "multiplier"),
                f"multiplier must be a number >= 1, got {describe_value(mult)}",
                "Each retry waits multiplier times longer than the one before; 2 is common.",
            )
        else:
            changes["multiplier"] = float(mult)
    if "count_rate_limited" in retry:
        changes["count_rate_limited"] = ctx.boolean(
            retry, "count_rate_limited", path, default=base.count_rate_limited
        )
    if "max_rate_limited" in retry:
        changes["max_rate_limited"] = ctx.integer(
            retry,
            "max_rate_limited",
            path,
            default=base.max_rate_limited,
            minimum=0,
            hint="max_rate_limited bounds the uncounted retries after HTTP 429 answers.",
        )
    if "jitter" in retry:
        if retry["jitter"] in ("full", "none"):
            changes["jitter"] = retry["jitter"]
        else:
            ctx.error(
                (*path, "jitter"),
                f"jitter must be 'full' or 'none', got {describe_value(retry['jitter'])}",
            )
    return attrs.evolve(base, **changes)


def _policy(ctx: LoadContext, value: Any, path: ValuePath, cls: type[T]) -> T | None:
    """A policy mapping (``breaker:``) structured into ``cls``; problems at their paths.

    ``true`` means the defaults, ``false`` (like null) means none.
    """
    if value is False:
        return None
    if value is True:
        value = {}
    if not isinstance(value, Mapping):
        name = path[-1] if path else "policy"
        ctx.error(
            path,
            f"{name} must be a mapping (or true for the defaults), got {describe_value(value)}",
            f"Write {name}: true, or {name}: {{...}} with the fields described in "
            "docs/resilience.md.",
        )
        return None
    obj, issues = structure(value, cls)
    for issue in issues:
        ctx.error(path + issue.path, issue.message, issue.hint, key=issue.at_key)
    return obj


def _fallbacks(
    ctx: LoadContext, value: Any, path: ValuePath, agents: LoadedAgents
) -> tuple[FallbackSpec, ...]:
    """``fallback:``: a list of agent names, strategy names or ``{strategy: NAME, ...}``."""
    strategies = ctx.plugins.registered("cadenza_fallbacks")
    if not isinstance(value, list):
        value = [value]
    entries: list[FallbackSpec] = []
    for i, item in enumerate(value):
        where = (*path, i)
        options: dict[str, Any] = {}
        if isinstance(item, Mapping):
            options = {str(k): v for k, v in item.items() if k != "strategy"}
            item = item.get("strategy")
        if not isinstance(item, str):
            ctx.error(
                where,
                f"a fallback must be an agent name, a strategy name or {{strategy: NAME, ...}}, "
                f"got {describe_value(item)}",
                "Write fallback: [backup_agent, template] or fallback: "
                "[{strategy: template, output: 'unavailable'}].",
            )
            continue
        if item in agents.configs and not options:
            entries.append(FallbackSpec(agent=item))
            continue
        reg = strategies.get(item)
        if reg is None:
            known = [*agents.configs, *strategies]
            ctx.error(
                where,
                f"unknown fallback {item!r}: neither an agent nor a fallback strategy",
                suggest(item, known) + f"Agents and strategies: {', '.join(known) or 'none'}.",
            )
            continue
        try:
            made = reg.obj(options)  # strategies check their options when built; no I/O happens
        except (ValueError, TypeError) as exc:
            ctx.error(where, f"fallback {item!r}: {exc}", "Fix the strategy's options.")
            continue
        hook, plugin = "cadenza_fallbacks", reg.plugin
        if problem := check_made(made, hook=hook, name=item, plugin=plugin, factory=reg.obj):
            bug = f"This is a bug in {plugin}: report it to its author, or use another fallback."
            ctx.error(where, f"fallback {item!r} cannot be used: {problem}", bug)
            continue
        entries.append(FallbackSpec(strategy=item, options=options))
    return tuple(entries)
