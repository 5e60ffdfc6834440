"""Plugin configuration: the ``plugins:`` section and the project file, checked.

A plugin declares an attrs class with ``cadenza_plugin_config``
(``register(name, OptionsClass)``). Its configuration comes from two places:

* the project file, found upward from the workflow's folder as the journal's
  ``.cadenza/`` is: ``cadenza.toml`` (``[plugins.NAME]``) or pyproject.toml
  (``[tool.cadenza.plugins.NAME]``); the nearest folder holding either wins,
  and in one folder ``cadenza.toml`` wins over pyproject.toml;
* the workflow file's ``plugins: {NAME: {...}}`` (native format only).

They merge key by key, the workflow file over the project file, and the result
is structured into the declared class by the kernel's converter, so unknown
keys, wrong types and missing required fields are reported with file:line like
agent options. ``${NAME}`` in either expands from the environment; expanded
values are secrets, redacted from messages and from the run's output.

A plugin nobody configured still gets an object when its class builds from
defaults alone; otherwise it gets None, and using one of its agent kinds is an
error saying what to configure.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

import attrs

from .._errors import WorkflowError
from .._paths import ValuePath, render_path
from .._plugins._registry import CONFIG_HOOK, Plugins, Registration
from .._problems import Problem, SourceLocation
from .._spec._convert import ConvertIssue, describe_value, structure, suggest
from .._spec._workflow import AgentConfig, Workflow
from ._context import LoadContext, listing

__all__ = [
    "PROJECT_FILE",
    "LoadedPluginConfig",
    "ProjectFile",
    "attach_agent_config",
    "find_project_file",
    "load_plugin_config",
    "project_config",
]

T = TypeVar("T")

PROJECT_FILE = "cadenza.toml"
"""The project file's own name; ``pyproject.toml`` with ``[tool.cadenza]`` works too."""

_PYPROJECT = "pyproject.toml"
_SECTION: ValuePath = ("plugins",)


@attrs.frozen(kw_only=True)
class ProjectFile:
    """The project file that applies: where it is, its plugin tables, and how to locate keys.

    ``prefix`` is the TOML table path of the plugin tables (``("plugins",)`` in
    cadenza.toml, ``("tool", "cadenza", "plugins")`` in pyproject.toml).
    ``problem`` is set when the file could not be read or parsed.
    """

    path: Path
    text: str
    prefix: tuple[str, ...]
    plugins: Mapping[str, Any]
    problem: Problem | None = None

    def locate(self, name: str, path: ValuePath = ()) -> SourceLocation:
        """Where plugin ``name``'s key ``path[0]`` (or its table) is written in the file."""
        line, column = _toml_line(self.text, (*self.prefix, name), path[:1])
        return SourceLocation(file=str(self.path), line=line, column=column)

    def where(self, name: str) -> str:
        """How to write plugin ``name``'s table in this file, for hints."""
        return "[" + ".".join((*self.prefix, name)) + "]"


def find_project_file(start: Path, *, home: Path | None = None) -> ProjectFile | None:
    """The project file for a workflow in ``start``, searched upward like the journal.

    Looks in ``start`` and each parent for ``cadenza.toml``, or a pyproject.toml
    with a ``[tool.cadenza]`` table, and takes the nearest. The search stops
    below the home directory and the filesystem root (unless ``start`` is one
    of them), so a stray ``~/cadenza.toml`` does not configure every project.
    """
    start = start.absolute()
    home = Path.home() if home is None else home
    folders = [start]
    for parent in start.parents:
        if parent == home or parent == parent.parent:
            break
        folders.append(parent)
    for folder in folders:
        own = folder / PROJECT_FILE
        if _is_file(own):
            return _read_project_file(own, ("plugins",), ())
        pyproject = folder / _PYPROJECT
        if _is_file(pyproject) and _has_tool_cadenza(_text_or_empty(pyproject)):
            return _read_project_file(
                pyproject, ("tool", "cadenza", "plugins"), ("tool", "cadenza")
            )
    return None


def _has_tool_cadenza(text: str) -> bool:
    """Whether pyproject.toml ``text`` has a ``[tool.cadenza]`` table (or a broken one might)."""
    if not re.search(r"^\s*\[\s*tool\.cadenza\s*[.\]]|^\s*tool\.cadenza\s*[.=]", text, re.M):
        return False  # cheap: most pyproject.toml files never mention it
    try:
        tool = tomllib.loads(text).get("tool", {})
    except tomllib.TOMLDecodeError:
        return True  # reported with its line by _read_project_file
    return isinstance(tool, Mapping) and isinstance(tool.get("cadenza"), Mapping)


@attrs.frozen(kw_only=True)
class LoadedPluginConfig:
    """What :func:`load_plugin_config` found: the objects, their secrets, the unbuilt ones.

    ``unbuilt`` maps a plugin nobody configured, whose class needs values, to
    the first thing missing (for the error when one of its agent kinds is used).
    """

    configs: dict[str, Any]
    secrets: frozenset[str]
    unbuilt: dict[str, str]
    project: ProjectFile | None


def load_plugin_config(
    ctx: LoadContext, section: Any, *, allowed: bool = True
) -> LoadedPluginConfig:
    """Check the workflow's ``plugins:`` section and the project file; build every config.

    ``section`` is the workflow's ``plugins:`` value (None when absent);
    ``allowed`` is False for the seed format, whose files have no such section.
    Problems are reported through ``ctx``; project-file problems carry that
    file's locations.
    """
    declared = ctx.plugins.registered(CONFIG_HOOK)
    project = find_project_file(ctx.base_dir)
    secrets: set[str] = set()
    workflow_entries: dict[str, Mapping[Any, Any]] = {}
    if section is not None and allowed:
        workflow_entries = _workflow_entries(ctx, section, declared, secrets)
    project_entries: dict[str, Mapping[str, Any]] = {}
    if project is not None:
        if project.problem is not None:
            ctx.problems.append(project.problem)
        project_entries = _project_entries(ctx, project, declared, secrets)
    configs: dict[str, Any] = {}
    unbuilt: dict[str, str] = {}
    for name, reg in declared.items():
        cls = reg.obj
        if not (isinstance(cls, type) and attrs.has(cls)):
            continue  # reported by _declared_class when the plugin is configured
        from_workflow = workflow_entries.get(name)
        from_project = project_entries.get(name, {})
        if name not in workflow_entries and name not in project_entries:
            obj, issues = structure({}, cls)
            if issues:
                unbuilt[name] = issues[0].message
            else:
                configs[name] = obj
            continue
        merged = {**from_project, **(from_workflow or {})}
        obj, issues = structure(merged, cls)
        for issue in issues:
            _report(ctx, name, issue, from_workflow, project if name in project_entries else None)
        if not issues:
            configs[name] = obj
    return LoadedPluginConfig(
        configs=configs, secrets=frozenset(secrets), unbuilt=unbuilt, project=project
    )


def attach_agent_config(
    ctx: LoadContext, workflow: Workflow, loaded: LoadedPluginConfig
) -> Workflow:
    """``workflow`` with its plugin configuration, and each agent's plugin's in its config.

    An agent whose kind comes from a plugin that declares configuration it
    did not get (a required field and no value anywhere) is an error here,
    before anything runs.
    """
    by_plugin = {reg.plugin: name for name, reg in ctx.plugins.registered(CONFIG_HOOK).items()}
    agents: dict[str, AgentConfig] = {}
    for agent_name, config in workflow.agents.items():
        kind = ctx.plugins.agent_kinds.get(config.kind)
        name = by_plugin.get(kind.plugin) if kind is not None else None
        if name is None:
            agents[agent_name] = config
            continue
        if name in loaded.unbuilt:
            hint = _configure_hint(name, loaded.project)
            ctx.error(
                ("agents", agent_name, "kind"),
                f"agent kind {config.kind!r} needs the configuration of plugin {name!r}: "
                f"{loaded.unbuilt[name]}",
                hint,
            )
        agents[agent_name] = attrs.evolve(config, plugin_config=loaded.configs.get(name))
    return attrs.evolve(
        workflow,
        agents=agents,
        plugin_config=dict(loaded.configs),
        plugin_secrets=loaded.secrets,
    )


def project_config(
    name: str,
    cls: type[T],
    *,
    start: str | os.PathLike[str] | None = None,
    environ: Mapping[str, str] | None = None,
) -> T:
    """Plugin ``name``'s configuration from the project file, structured into ``cls``.

    For plugin commands (``cadenza_commands``), which run without a workflow:
    the project file is found from ``start`` (default: the working directory)
    upward, as for a workflow. No project file, or no table for ``name`` in it,
    means ``{}`` (the class's defaults). Raises :class:`~cadenza.WorkflowError`
    with file:line problems when the values do not fit ``cls``; the CLI prints
    them and exits with status 2.

    .. versionadded:: 0.2
    """
    folder = Path(os.getcwd()) if start is None else Path(start)
    project = find_project_file(folder)
    env = os.environ if environ is None else environ
    ctx = LoadContext(doc=None, plugins=_NO_PLUGINS, environ=env, base_dir=folder)
    data: Mapping[str, Any] = {}
    if project is not None:
        if project.problem is not None:
            raise WorkflowError([project.problem])
        raw = project.plugins.get(name)
        if raw is not None:
            data = _project_table(ctx, project, name, raw, set()) or {}
    obj, issues = structure(dict(data), cls)
    for issue in issues:
        _report(ctx, name, issue, None, project if project is not None and data else None)
    problems = ctx.finish()
    if problems or obj is None:
        raise WorkflowError(problems)
    return obj


# -- the workflow's plugins: section ---------------------------------------------------


def _workflow_entries(
    ctx: LoadContext,
    section: Any,
    declared: Mapping[str, Registration],
    secrets: set[str],
) -> dict[str, Mapping[Any, Any]]:
    """``plugins:`` checked: each key a plugin that declares configuration, each value a mapping."""
    mapping = ctx.mapping(
        section,
        _SECTION,
        "plugins",
        "Write plugins: {NAME: {option: value}}, one entry per plugin to configure.",
    )
    if mapping is None:
        return {}
    out: dict[str, Mapping[Any, Any]] = {}
    for key, raw in mapping.items():
        path = (*_SECTION, key)
        name = ctx.name_key(key, path, "a plugin name")
        if name is None:
            continue
        if name not in declared:
            ctx.error(path, *_unknown_plugin(ctx.plugins, name, declared), key=True)
            continue
        if _declared_class(ctx, name, declared[name], path) is None:
            continue
        if raw is None:
            raw = {}
        entry = ctx.mapping(raw, path, f"plugins.{name}", "Write its options as a mapping.")
        if entry is None:
            continue
        out[name] = ctx.expand_env(entry, path, secrets)
    return out


def _unknown_plugin(
    plugins: Plugins, name: str, declared: Mapping[str, Registration]
) -> tuple[str, str]:
    """The message and hint for a ``plugins:`` entry no loaded plugin declared."""
    loaded = {info.name for info in plugins.infos if info.status == "loaded"}
    if name in loaded:
        return (
            f"plugin {name!r} declares no configuration",
            f"Remove plugins.{name}: the plugin takes no options (it implements no "
            "cadenza_plugin_config hook).",
        )
    hint = suggest(name, declared)
    hint += (
        f"Plugins that take configuration: {listing(declared)}."
        if declared
        else "No loaded plugin takes configuration."
    )
    if missing := plugins.not_loaded(CONFIG_HOOK, name):
        hint += " " + missing
    else:
        hint += " Install the plugin, or remove the entry (see `cadenza plugins`)."
    return f"unknown plugin {name!r}", hint


def _declared_class(
    ctx: LoadContext, name: str, reg: Registration, path: ValuePath
) -> type[Any] | None:
    """The attrs class plugin ``name`` declared; a problem naming the plugin when it is not one."""
    cls = reg.obj
    if isinstance(cls, type) and attrs.has(cls):
        return cls
    ctx.error(
        path,
        f"plugin {name!r} ({reg.plugin}) declared its configuration as {cls!r}, "
        "which is not an attrs class",
        "This is a bug in the plugin: its cadenza_plugin_config hook must call "
        "register(name, OptionsClass) with an attrs class. Report it to the plugin's authors.",
        key=True,
    )
    return None


# -- the project file -----------------------------------------------------------------


_NO_PLUGINS: Any = None


def _project_entries(
    ctx: LoadContext,
    project: ProjectFile,
    declared: Mapping[str, Registration],
    secrets: set[str],
) -> dict[str, Mapping[str, Any]]:
    """The project file's plugin tables, env expanded; unknown plugins are warnings there.

    The project file is shared by every workflow of the project and by
    environments where not every plugin is loaded (``CADENZA_LOAD_PLUGINS``),
    so a table for a plugin that is not there only warns.
    """
    out: dict[str, Mapping[str, Any]] = {}
    for name, raw in project.plugins.items():
        if name not in declared:
            message, hint = _unknown_plugin(ctx.plugins, name, declared)
            ctx.problems.append(
                Problem(
                    message=message,
                    path=project.where(name),
                    location=project.locate(name),
                    hint=hint.replace(f"plugins.{name}", project.where(name)),
                    severity="warning",
                )
            )
            continue
        reg = declared[name]
        if not (isinstance(reg.obj, type) and attrs.has(reg.obj)):
            _declared_class(ctx, name, reg, _SECTION)
            continue
        table = _project_table(ctx, project, name, raw, secrets)
        if table is not None:
            out[name] = table
    return out


def _project_table(
    ctx: LoadContext, project: ProjectFile, name: str, raw: Any, secrets: set[str]
) -> Mapping[str, Any] | None:
    """Plugin ``name``'s table of the project file, ``${NAME}`` expanded, or None if not a table."""
    if not isinstance(raw, Mapping):
        ctx.problems.append(
            Problem(
                message=f"{project.where(name)} must be a table, got {describe_value(raw)}",
                path=_project_path(project, name, ()),
                location=project.locate(name),
                hint=f"Write the plugin's options under {project.where(name)}, one key = value "
                "a line.",
            )
        )
        return None
    expanded: dict[str, Any] = {}
    for key, value in raw.items():
        before = len(ctx.problems)
        expanded[key] = ctx.expand_env(value, (key,), secrets, secret=key == "api_key")
        for i in range(before, len(ctx.problems)):  # point env problems into the project file
            ctx.problems[i] = attrs.evolve(
                ctx.problems[i],
                path=_project_path(project, name, (key,)),
                location=project.locate(name, (key,)),
            )
    return expanded


def _report(
    ctx: LoadContext,
    name: str,
    issue: ConvertIssue,
    from_workflow: Mapping[Any, Any] | None,
    project: ProjectFile | None,
) -> None:
    """Report ``issue`` of plugin ``name`` where its value came from: workflow or project file.

    A missing field (no path) is reported at the workflow's entry when there is
    one, else at the project file's table; without either (a command's
    :func:`project_config` and no table), it says where to add the table.
    """
    head = issue.path[0] if issue.path else None
    in_workflow = from_workflow is not None and (head is None or head in from_workflow)
    if in_workflow:
        ctx.error(
            (*_SECTION, name, *issue.path),
            issue.message,
            issue.hint,
            key=issue.at_key or not issue.path,
        )
        return
    hint = issue.hint.replace(": <", " = <")
    if project is None:
        ctx.problems.append(
            Problem(
                message=f"plugin {name!r}: {issue.message}",
                path=render_path((*_SECTION, name, *issue.path)),
                hint=f"{hint} {_configure_hint(name, None)}".strip(),
            )
        )
        return
    ctx.problems.append(
        Problem(
            message=issue.message,
            path=_project_path(project, name, issue.path),
            location=project.locate(name, issue.path),
            hint=hint,
        )
    )


def _project_path(project: ProjectFile, name: str, path: ValuePath) -> str:
    """``tool.cadenza.plugins.webhook.url``: a value's path in the project file."""
    return render_path((*project.prefix, name, *path))


def _configure_hint(name: str, project: ProjectFile | None) -> str:
    where = (
        f"{project.where(name)} in {project.path.name}"
        if project is not None
        else (
            f"[plugins.{name}] in cadenza.toml or [tool.cadenza.plugins.{name}] in pyproject.toml"
        )
    )
    return f"Configure it under plugins: {{{name}: {{...}}}} in the workflow file, or {where}."


def _read_project_file(path: Path, prefix: tuple[str, ...], root: tuple[str, ...]) -> ProjectFile:
    """Read and parse a project file; its ``plugins`` tables, or a problem saying what is wrong."""
    text = _text_or_empty(path)
    try:
        data: Any = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        line, column = _toml_error_position(str(exc))
        return ProjectFile(
            path=path,
            text=text,
            prefix=prefix,
            plugins={},
            problem=Problem(
                message=f"{path.name} is not valid TOML: {exc}",
                location=SourceLocation(file=str(path), line=line, column=column),
                hint="Fix the TOML syntax (see https://toml.io).",
            ),
        )
    for key in (*root, "plugins"):
        data = data.get(key, {}) if isinstance(data, Mapping) else {}
    if not isinstance(data, Mapping):
        data = {}
    return ProjectFile(path=path, text=text, prefix=prefix, plugins=data)


def _text_or_empty(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return ""


def _is_file(path: Path) -> bool:
    try:
        return path.is_file()
    except OSError:  # unreadable folder on the way up
        return False


def _toml_error_position(message: str) -> tuple[int, int]:
    found = re.search(r"line (\d+), column (\d+)", message)
    return (int(found.group(1)), int(found.group(2))) if found else (1, 1)


_HEADER = re.compile(r"^\s*\[\s*([^\[\]]+?)\s*\]\s*(#.*)?$")


def _table_name(text: str) -> tuple[str, ...]:
    return tuple(part.strip().strip("\"'") for part in text.split("."))


def _toml_line(text: str, table: tuple[str, ...], keys: ValuePath) -> tuple[int, int]:
    """Line and column of ``keys[0]`` in TOML table ``table`` (or of the table), best effort.

    tomllib keeps no positions, so this reads the lines: a ``[a.b.NAME]``
    header and ``key = ...`` under it, or an inline ``NAME = {...}`` under
    ``[a.b]`` (then the key's line is that entry's). Falls back to line 1.
    """
    lines = text.splitlines()
    current: tuple[str, ...] = ()
    header_at: tuple[int, int] | None = None
    inline_at: tuple[int, int] | None = None
    for number, line in enumerate(lines, start=1):
        header = _HEADER.match(line)
        if header:
            current = _table_name(header.group(1))
            if current == table and header_at is None:
                header_at = (number, line.index("[") + 1)
            continue
        assigned = re.match(r"^(\s*)([A-Za-z0-9_\-\"'.]+)\s*=", line)
        if not assigned:
            continue
        key_path = (*current, *_table_name(assigned.group(2)))
        column = len(assigned.group(1)) + 1
        if keys and key_path == (*table, str(keys[0])):
            return number, column
        if key_path == table and inline_at is None:
            inline_at = (number, column)
    return header_at or inline_at or (1, 1)
