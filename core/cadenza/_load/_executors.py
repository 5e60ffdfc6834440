"""The ``executors:`` section and each agent's ``executor:`` key, checked with file:line.

``executors:`` maps a name to ``{kind, options}`` (``${NAME}`` in options
expands from the environment, and the values are secrets); ``kind`` may be left out
when the name is itself a registered kind (``process: {options: {workers:
2}}``). Each entry's options are checked by calling the kind's factory, which
starts nothing (the executor contract), and the object is dropped: the run
builds its own. ``local`` and ``process`` exist without being declared.

An agent without ``executor:`` runs on its kind's choice (the
``default_executor`` its plugin registered, e.g. ``process`` for CPU-bound
kinds), else on ``local``; the loader writes the resolved name into the
agent's config, so the run builds it like any named executor.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

import attrs

from .._redact import redact
from .._spec._convert import suggest
from .._spec._executors import BUILTIN_EXECUTORS, DEFAULT_EXECUTOR, ExecutorSpec
from .._spec._workflow import AgentConfig
from ._context import LoadContext, listing

__all__ = ["EXECUTOR_KEYS", "check_agent_executors", "read_executors", "seed_executor"]

EXECUTOR_KEYS = ("kind", "options")
_HOOK = "cadenza_executors"


def read_executors(ctx: LoadContext, value: Any) -> dict[str, ExecutorSpec]:
    """``executors:``: name -> {kind, options}; every problem reported at its path."""
    out: dict[str, ExecutorSpec] = {}
    if value is None:
        return out
    section = ctx.mapping(
        value,
        ("executors",),
        "executors",
        "Write executors as a mapping: name -> {kind: process, options: {workers: 4}}.",
    )
    if section is None:
        return out
    registered = ctx.plugins.registered(_HOOK)
    for key, raw in section.items():
        path = ("executors", key)
        name = ctx.name_key(key, path, "an executor name")
        if name is None:
            continue
        spec = ctx.mapping(raw, path, f"executor {name!r}", "Give it kind: and options:.")
        if spec is None:
            continue
        ctx.keys(spec, path, EXECUTOR_KEYS, f"in executor {name!r}")
        known = listing(list(registered)) if registered else "none registered"
        if "kind" in spec:
            kind = ctx.string(spec, "kind", path, required=f"Add kind: one of {known}.")
        elif name in registered:
            kind = name
        else:
            ctx.error(path, "missing required key 'kind'", f"Add kind: one of {known}.", key=True)
            continue
        if kind is None:
            continue
        reg = registered.get(kind)
        if reg is None:
            hint = suggest(kind, registered) + f"Known executor kinds: {known}."
            if missing := ctx.plugins.not_loaded(_HOOK, kind):
                hint += " " + missing
            ctx.error((*path, "kind"), f"unknown executor kind {kind!r}", hint)
            continue
        options = spec.get("options")
        if options is None:
            options = {}
        elif ctx.mapping(options, (*path, "options"), "options") is None:
            continue
        secrets: set[str] = set()
        options = ctx.expand_env(options, (*path, "options"), secrets)
        try:
            reg.obj(dict(options))  # the factory checks its options and starts nothing
        except Exception as exc:
            message = redact(f"executor {name!r} (kind {kind}): {exc}", frozenset(secrets))
            ctx.error(
                (*path, "options") if "options" in spec else path,
                message,
                "Fix the executor's options (docs/workflow-reference.md, executors).",
            )
            continue
        out[name] = ExecutorSpec(
            name=name,
            kind=kind,
            options=dict(options),
            secrets=frozenset(secrets),
            location=ctx.loc(path, key=True),
        )
    return out


def check_agent_executors(
    ctx: LoadContext,
    agents: dict[str, AgentConfig],
    executors: Mapping[str, ExecutorSpec],
    declared: Any,
    *,
    by_kind: Collection[str] = (),
) -> None:
    """Report each agent whose executor is not in the workflow; ``declared`` is ``executors:``.

    ``by_kind`` names the agents without ``executor:`` whose kind chose one
    (``register(..., default_executor=...)``): their problem says so, at the
    agent. Names declared under ``executors:`` that failed to load are not
    reported again: their own problem is.
    """
    failed = {str(n) for n in declared} if isinstance(declared, Mapping) else set()
    names = [*BUILTIN_EXECUTORS, *sorted((set(executors) | failed) - set(BUILTIN_EXECUTORS))]
    for name, config in list(agents.items()):
        chosen = config.executor
        if chosen == DEFAULT_EXECUTOR or chosen in executors or chosen in BUILTIN_EXECUTORS:
            continue
        if chosen in failed:
            continue
        if name in by_kind:
            ctx.error(
                ("agents", name),
                f"agent {name!r}: its kind {config.kind!r} runs on the executor {chosen!r} "
                f"when none is given, and this workflow has no executor {chosen!r}",
                f"Declare {chosen!r} under executors:, or choose one with executor: "
                f"(executors of this workflow: {listing(names)}).",
                key=True,
            )
            agents[name] = attrs.evolve(config, executor=DEFAULT_EXECUTOR)
            continue
        ctx.error(
            ("agents", name, "executor"),
            f"agent {name!r}: unknown executor {chosen!r}",
            suggest(chosen, names)
            + f"Executors of this workflow: {listing(names)}; declare others under executors:.",
        )
        agents[name] = attrs.evolve(config, executor=DEFAULT_EXECUTOR)


def seed_executor(kind_default: str | None) -> str:
    """A seed-format agent's executor: its kind's choice when built in, else ``local``.

    The seed format has no ``executors:`` section, so a kind's default that
    must be declared (a cluster) cannot be honoured there.
    """
    if kind_default in BUILTIN_EXECUTORS:
        return kind_default
    return DEFAULT_EXECUTOR
