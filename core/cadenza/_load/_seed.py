"""The seed workflow format, recognised by a top-level ``workflows:`` key.

The format Cadenza started from: an ``agents:`` list (``id``, ``type``,
``api_endpoint``, ``api_key``, ``max_concurrent_tasks``), each served by the
built-in ``http`` agent kind, and named workflows whose ``steps:`` are lists
(``name``, ``agent_type``, ``priority``, ``dependencies``, ``data``,
``max_retries``). A file may hold several workflows; one is picked by name.

Seed files load into the same specs as native ones, with the seed's defaults
(priority 5, three retries with exponential backoff); the checks that span
steps are ``_load_checks``'s.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from .._paths import ValuePath, render_path
from .._spec._convert import describe_value, suggest
from .._spec._workflow import AgentConfig, RetryPolicy, Workflow
from ._agents import LoadedAgents, agent_options, report_unknown_kind
from ._checks import StepDraft, finish_steps
from ._context import LoadContext, listing
from ._executors import seed_executor

__all__ = ["SeedFormat"]

_SEED_KEYS = ("agents", "workflows")
_SEED_AGENT_KEYS = (
    "id",
    "type",
    "api_endpoint",
    "api_key",
    "max_concurrent_tasks",
    "kind",
    "options",
)
"""The seed's agent keys, plus two of ours: ``kind`` (default ``http``) and ``options``."""
_SEED_WORKFLOW_KEYS = ("description", "steps")
_SEED_STEP_KEYS = ("name", "agent_type", "priority", "dependencies", "data", "max_retries")

_SEED_RETRY = RetryPolicy(backoff=2.0, multiplier=2.0, max_backoff=300.0)
_SEED_DEFAULT_PRIORITY = 5
_SEED_DEFAULT_RETRIES = 3
_SEED_DEFAULT_CONCURRENT = 3


@attrs.define
class SeedFormat:
    """Reads a seed-format file: its agents list and one, several or all of its workflows."""

    ctx: LoadContext

    def load(
        self,
        data: Mapping[Any, Any],
        *,
        select: str | None,
        every: bool,
        common: dict[str, Any],
    ) -> tuple[dict[str, Workflow], tuple[str, ...]]:
        """The chosen workflows (``select``, all with ``every``, or the only one) and all names."""
        ctx = self.ctx
        ctx.keys(data, (), _SEED_KEYS, "at the top level of a seed-format file")
        agents = self.agents(data.get("agents"))
        section = ctx.mapping(
            data["workflows"],
            ("workflows",),
            "workflows",
            "Write workflows: {name: {description: ..., steps: [...]}}.",
        )
        if section is None:
            return {}, ()
        names: list[str] = []
        bodies: dict[str, tuple[Any, ValuePath]] = {}
        for key, body in section.items():
            name = ctx.name_key(key, ("workflows", key), "a workflow name")
            if name is not None:
                names.append(name)
                bodies[name] = (body, ("workflows", key))
        if not names:
            if not section:
                ctx.error(
                    ("workflows",),
                    "workflows is empty",
                    "Add a workflow: workflows: {name: {steps: [...]}}.",
                )
            return {}, ()
        if select is not None:
            if select not in bodies:
                hint = suggest(select, names) + f"Workflows in this file: {listing(names)}."
                ctx.error(
                    ("workflows",), f"no workflow named {select!r} in this file", hint, key=True
                )
                return {}, tuple(names)
            chosen = [select]
        elif every or len(names) == 1:
            chosen = names
        else:
            ctx.error(
                ("workflows",),
                f"this file has {len(names)} workflows: {', '.join(names)}",
                "Pick one with --workflow NAME.",
                key=True,
            )
            return {}, tuple(names)
        out: dict[str, Workflow] = {}
        for name in chosen:
            body, path = bodies[name]
            workflow = self.workflow(name, body, path, agents=agents, common=common)
            if workflow is not None:
                out[name] = workflow
        return out, tuple(names)

    def agents(self, value: Any) -> LoadedAgents:
        """``agents:``, a list of {id, type, api_endpoint, ...}, each an ``http`` agent."""
        ctx = self.ctx
        result = LoadedAgents()
        if value is None:
            return result
        if not isinstance(value, list):
            ctx.error(
                ("agents",),
                f"agents must be a list in a seed-format file, got {describe_value(value)}",
                "Write agents: [{id: ..., type: ..., api_endpoint: ..., api_key: ...}].",
            )
            ctx.malformed.add(("agents",))
            return result
        first_line: dict[str, int] = {}
        for i, raw in enumerate(value):
            path: ValuePath = ("agents", i)
            entry = ctx.mapping(
                raw, path, f"agents[{i}]", "Each agent is {id: ..., type: ..., api_endpoint: ...}."
            )
            if entry is None:
                ctx.malformed.add(("agents",))
                continue
            secrets: set[str] = set()
            entry = ctx.expand_env(entry, path, secrets)
            ctx.keys(entry, path, _SEED_AGENT_KEYS, "in a seed-format agent")
            agent_id = ctx.string(
                entry, "id", path, required="Add id: a unique name for this agent."
            )
            agent_type = ctx.string(
                entry,
                "type",
                path,
                required="Add type: the capability it serves, e.g. code_generator.",
            )
            kind = ctx.string(entry, "kind", path) or "http"
            endpoint = ctx.string(
                entry,
                "api_endpoint",
                path,
                required="Add api_endpoint: the URL tasks are POSTed to." if kind == "http" else "",
            )
            max_tasks = ctx.integer(
                entry,
                "max_concurrent_tasks",
                path,
                default=_SEED_DEFAULT_CONCURRENT,
                minimum=1,
                hint="max_concurrent_tasks is how many tasks this agent takes at once.",
            )
            if agent_id is None:
                ctx.malformed.add(("agents",))
                continue
            if not _first_definition(
                ctx, first_line, agent_id, path, "id", "agent id", "Give every agent a unique id."
            ):
                continue
            result.serves[agent_id] = {agent_type} if agent_type else set()
            if agent_type is None:
                ctx.malformed.add(("agents",))  # what it serves is unknown
            if agent_type is None or (kind == "http" and endpoint is None):
                continue
            reg = ctx.plugins.agent_kinds.get(kind)
            if reg is None:
                report_unknown_kind(ctx, kind, (*path, "kind") if "kind" in entry else path)
                continue
            options_data, rename = self._seed_options(entry, path, reg.options, kind)
            options = agent_options(ctx, kind=kind, data=options_data, path=path, rename=rename)
            if options is None:
                continue
            caps = {agent_type} | set(reg.capabilities)
            result.serves[agent_id] = caps
            result.configs[agent_id] = AgentConfig(
                name=agent_id,
                kind=kind,
                options=options,
                max_concurrent=max_tasks,
                capabilities=frozenset(caps),
                secrets=frozenset(secrets),
                base_dir=ctx.base_dir,
                location=ctx.loc(path),
                executor=seed_executor(reg.default_executor),
            )
        return result

    def _seed_options(
        self, entry: Mapping[Any, Any], path: ValuePath, options_cls: Any, kind: str
    ) -> tuple[dict[str, Any], dict[str, ValuePath]]:
        """A seed agent's options: its ``options:``, plus ``api_endpoint``/``api_key``.

        The seed's two connection keys become the kind's ``endpoint`` and
        ``api_key`` options when the kind has them (the ``http`` kind does);
        for a kind without them (a local one) they are ignored, with a warning.
        """
        ctx = self.ctx
        data: dict[str, Any] = {}
        raw = entry.get("options")
        if raw is not None:
            given = ctx.mapping(raw, (*path, "options"), "options", "Write options: {key: value}.")
            data.update(given or {})
        fields = set(attrs.fields_dict(options_cls)) if attrs.has(options_cls) else None
        rename: dict[str, ValuePath] = {}
        for seed_key, option in (("api_endpoint", "endpoint"), ("api_key", "api_key")):
            if seed_key not in entry or option in data:
                continue
            if fields is not None and option not in fields:
                ctx.warn(
                    (*path, seed_key),
                    f"agent kind {kind!r} has no {option!r} option: {seed_key} is ignored",
                    f"Remove {seed_key}, or give the kind's own options under options:.",
                )
                continue
            data[option] = entry[seed_key]
            rename[option] = (*path, seed_key)
        return data, rename

    def workflow(
        self,
        name: str,
        body: Any,
        path: ValuePath,
        *,
        agents: LoadedAgents,
        common: dict[str, Any],
    ) -> Workflow | None:
        """One named workflow: its description and its list of steps, over the file's agents."""
        ctx = self.ctx
        spec = ctx.mapping(
            body, path, f"workflow {name!r}", "Write {description: ..., steps: [...]}."
        )
        if spec is None:
            return None
        ctx.keys(spec, path, _SEED_WORKFLOW_KEYS, f"in workflow {name!r}")
        description = ctx.string(spec, "description", path) or ""
        steps_path = (*path, "steps")
        raw_steps = spec.get("steps")
        drafts: list[StepDraft] = []
        if "steps" not in spec:
            ctx.malformed.add(steps_path)
            ctx.error(
                path,
                "missing required key 'steps'",
                "Add steps: a list of {name: ..., agent_type: ...}.",
                key=True,
            )
        elif raw_steps is not None and not isinstance(raw_steps, list):
            ctx.malformed.add(steps_path)
            ctx.error(
                steps_path,
                f"steps must be a list in a seed-format workflow, got {describe_value(raw_steps)}",
                "Write steps: [{name: build, agent_type: code_generator}].",
            )
        elif raw_steps is not None:
            first_line: dict[str, int] = {}
            for i, raw in enumerate(raw_steps):
                draft = self.step(raw, (*steps_path, i), first_line)
                if draft is not None:
                    drafts.append(draft)
        steps = finish_steps(
            ctx, drafts, agents=agents, inputs={}, steps_path=steps_path, seed=True
        )
        return Workflow(
            name=name,
            steps=steps,
            agents=agents.configs,
            description=description,
            **common,
        )

    def step(self, raw: Any, path: ValuePath, first_line: dict[str, int]) -> StepDraft | None:
        """One item of a workflow's ``steps:`` list, read into a draft with the seed's defaults."""
        ctx = self.ctx
        spec = ctx.mapping(
            raw, path, f"{render_path(path)}", "Each step is {name: ..., agent_type: ...}."
        )
        if spec is None:
            return None
        ctx.keys(spec, path, _SEED_STEP_KEYS, "in a seed-format step")
        name = ctx.string(spec, "name", path, required="Add name: a unique id for this step.")
        uses = ctx.string(
            spec, "agent_type", path, required="Add agent_type: the capability it needs."
        )
        if name is None:
            return None
        if not _first_definition(
            ctx, first_line, name, path, "name", "step name", "Give every step a unique name."
        ):
            return None
        retries = ctx.integer(
            spec,
            "max_retries",
            path,
            default=_SEED_DEFAULT_RETRIES,
            minimum=0,
            hint="max_retries counts retries after the first attempt; 0 means try once.",
        )
        data = spec.get("data")
        if data is None:
            data = {}
        elif not isinstance(data, Mapping):
            ctx.error(
                (*path, "data"),
                f"data must be a mapping, got {describe_value(data)}",
                "Write data: {feature_description: ...}.",
            )
            data = {}
        return StepDraft(
            id=name,
            location=ctx.loc(path),
            uses=uses,
            uses_path=(*path, "agent_type"),
            needs=ctx.names(spec.get("dependencies"), (*path, "dependencies"), "dependencies"),
            with_value=data,
            with_path=(*path, "data"),
            when=None,
            when_path=path,
            priority=ctx.integer(spec, "priority", path, default=_SEED_DEFAULT_PRIORITY),
            retry=attrs.evolve(_SEED_RETRY, max_attempts=retries + 1),
            timeout=None,
            if_needs_skipped="skip",
        )


def _first_definition(
    ctx: LoadContext,
    first_line: dict[str, int],
    name: str,
    path: ValuePath,
    key: str,
    what: str,
    hint: str,
) -> bool:
    """Note where ``name`` is defined; False, with a problem, if it was defined before.

    Seed-format agents and steps are list items named by a key (``id``,
    ``name``), so nothing but this check keeps two of them from sharing a name.
    """
    if name in first_line:
        ctx.error(
            (*path, key),
            f"duplicate {what} {name!r} (first defined on line {first_line[name]})",
            hint,
        )
        return False
    loc = ctx.loc(path)
    first_line[name] = loc.line if loc else 0
    return True
